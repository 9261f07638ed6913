// Command probe runs inside pods on the local cluster's real node for the
// end-to-end tests (e2e/node_test.go), which build it statically into an
// image of its own. Each subcommand checks one thing from the pod's side
// and says what it saw on stdout:
//
//	probe serve             log a line, answer TCP :8080 with the hostname, wait for SIGTERM
//	probe resolve NAME      print NAME's addresses (the pod's resolver: cluster DNS)
//	probe dial HOST:PORT    connect, print the first line the peer sends or "connected"
//	probe apiserver         GET /version and a SelfSubjectReview through rest.InClusterConfig
//	probe burn              keep one CPU busy until SIGTERM
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	authenticationclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	"k8s.io/client-go/rest"
)

// servePort is where `probe serve` answers.
const servePort = "8080"

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: probe serve|resolve NAME|dial HOST:PORT|apiserver|burn"))
	}
	var err error
	switch args := os.Args[2:]; os.Args[1] {
	case "serve":
		err = serve()
	case "resolve":
		err = resolve(args)
	case "dial":
		err = dial(args)
	case "apiserver":
		err = apiserver()
	case "burn":
		err = burn()
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "probe:", err)
	os.Exit(1)
}

// terminated is closed on SIGTERM or SIGINT.
func terminated() <-chan os.Signal {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	return signals
}

func serve() error {
	hostname, err := os.Hostname()
	if err != nil {
		return err
	}
	listener, err := net.Listen("tcp", ":"+servePort)
	if err != nil {
		return err
	}
	fmt.Printf("probe serving on %s port %s\n", hostname, servePort)
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			_, _ = fmt.Fprintln(conn, hostname)
			_ = conn.Close()
		}
	}()
	<-terminated()
	return listener.Close()
}

func resolve(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: probe resolve NAME")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addresses, err := net.DefaultResolver.LookupHost(ctx, args[0])
	if err != nil {
		return err
	}
	fmt.Println(strings.Join(addresses, " "))
	return nil
}

// dial reports a failure to connect with the kernel's reason, so a caller
// can tell "refused" (a packet got there) from "unreachable" (none did).
func dial(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: probe dial HOST:PORT")
	}
	conn, err := net.DialTimeout("tcp", args[0], 5*time.Second)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil && line == "" {
		fmt.Println("connected")
		return nil
	}
	fmt.Println(strings.TrimSpace(line))
	return nil
}

// apiserver talks to the API server the way any in-cluster client does:
// KUBERNETES_SERVICE_HOST/PORT, the mounted service account token and CA.
func apiserver() error {
	config, err := rest.InClusterConfig()
	if err != nil {
		return err
	}
	discoveryClient, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return err
	}
	version, err := discoveryClient.ServerVersion()
	if err != nil {
		return fmt.Errorf("GET /version: %w", err)
	}
	authentication, err := authenticationclient.NewForConfig(config)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	review, err := authentication.SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("SelfSubjectReview: %w", err)
	}
	fmt.Printf("server %s via %s as %s\n", version.GitVersion, config.Host, review.Status.UserInfo.Username)
	return nil
}

func burn() error {
	stop := terminated()
	for {
		select {
		case <-stop:
			return nil
		default:
			for i := 0; i < 1_000_000; i++ {
				_ = i * i
			}
		}
	}
}
