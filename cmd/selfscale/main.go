// Command selfscale resizes the MiniCluster it runs in, through the scale
// subresource, the same way kubectl scale and an HPA do.
//
//	selfscale get          print the current size (spec.size)
//	selfscale set N        make the size N
//	selfscale add N        grow by N brokers
//	selfscale remove N     shrink by N brokers
//	selfscale --version    print the version
//
// The controller runs the brokers of a MiniCluster with
// spec.elasticity.selfScaling under a service account whose Role allows
// exactly this, for that MiniCluster alone, and sets
// ELASTICFLUX_MINICLUSTER and ELASTICFLUX_NAMESPACE in their environment;
// --name and --namespace override them, and --kubeconfig replaces the pod's
// service account. The API server keeps the size within
// [spec.minSize, spec.maxSize]; when it refuses, its message is printed and
// selfscale exits 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	clientset "github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned"
	typedv1alpha1 "github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned/typed/elasticflux/v1alpha1"
	"github.com/elasticflux/elasticflux/pkg/version"
)

// The environment the controller gives a self-scaling MiniCluster's pods.
const (
	envMiniCluster = "ELASTICFLUX_MINICLUSTER"
	envNamespace   = "ELASTICFLUX_NAMESPACE"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	// exitUsage is for a command line selfscale cannot run.
	exitUsage = 2
)

// errUsage marks a command line error; the usage text goes with it.
var errUsage = errors.New("usage")

const usage = `Usage: selfscale [flags] get | set N | add N | remove N

Resizes the MiniCluster this pod belongs to through its scale subresource.

  get        print the current size (spec.size)
  set N      make the size N
  add N      grow by N brokers
  remove N   shrink by N brokers

The new size is printed. The API server keeps it within [spec.minSize, spec.maxSize].

Flags:
`

// newClientFunc builds the clientset from --kubeconfig; tests swap in a
// fake.
type newClientFunc func(kubeconfig string) (clientset.Interface, error)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr, newClient)
	stop()
	os.Exit(code)
}

// runMain runs selfscale and turns its error into a message and an exit
// code.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer, newClient newClientFunc) int {
	err := run(ctx, args, stdout, stderr, newClient)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case err == errUsage:
		// The flag package has already said what was wrong.
		return exitUsage
	}
	fmt.Fprintln(stderr, "selfscale:", err)
	if errors.Is(err, errUsage) {
		return exitUsage
	}
	return exitFailure
}

// command is one parsed request.
type command struct {
	verb   string // get, set, add or remove
	amount int32  // N; unused by get
}

// run parses args and carries out the command against the MiniCluster.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, newClient newClientFunc) error {
	fs := flag.NewFlagSet("selfscale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	kubeconfig := fs.String("kubeconfig", "", "Path to a kubeconfig. Empty: the pod's service account.")
	name := fs.String("name", os.Getenv(envMiniCluster), "The MiniCluster to resize (default $"+envMiniCluster+").")
	namespace := fs.String("namespace", os.Getenv(envNamespace), "Its namespace (default $"+envNamespace+").")
	timeout := fs.Duration("timeout", 30*time.Second, "Give up after this long, so a script is not held by an unreachable API server.")
	showVersion := fs.Bool("version", false, "Print the version and exit.")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if *showVersion {
		_, err := fmt.Fprintln(stdout, version.String("selfscale"))
		return err
	}
	cmd, err := parseCommand(fs.Args())
	if err != nil {
		return fmt.Errorf("%w: %w (see selfscale -h)", errUsage, err)
	}
	if *name == "" || *namespace == "" {
		return fmt.Errorf("%w: no MiniCluster named: set --name and --namespace, or run inside a broker pod of a self-scaling MiniCluster ($%s, $%s)",
			errUsage, envMiniCluster, envNamespace)
	}
	if *timeout <= 0 {
		return fmt.Errorf("%w: --timeout must be positive, got %v", errUsage, *timeout)
	}

	client, err := newClient(*kubeconfig)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	size, err := apply(ctx, client.ElasticfluxV1alpha1().MiniClusters(*namespace), *name, cmd)
	if err != nil {
		return fmt.Errorf("MiniCluster %s/%s: %w", *namespace, *name, err)
	}
	_, err = fmt.Fprintln(stdout, size)
	return err
}

// apply carries out cmd and returns the size the MiniCluster has after it.
// A change is read, computed and written again whenever someone else
// (an HPA, another broker, kubectl) resized in between, so "add 1" adds to
// the size that is really there.
func apply(ctx context.Context, miniClusters typedv1alpha1.MiniClusterInterface, name string, cmd command) (int32, error) {
	if cmd.verb == "get" {
		scale, err := miniClusters.GetScale(ctx, name, metav1.GetOptions{})
		if err != nil {
			return 0, fmt.Errorf("reading the size: %w", err)
		}
		return scale.Spec.Replicas, nil
	}

	var size int32
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		scale, err := miniClusters.GetScale(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading the size: %w", err)
		}
		current := scale.Spec.Replicas
		if size, err = cmd.newSize(current); err != nil {
			return err
		}
		if size == current {
			return nil
		}
		scale.Spec.Replicas = size
		// Range checks are the API server's: its message names the bounds.
		if _, err := miniClusters.UpdateScale(ctx, name, scale, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("resizing from %d to %d brokers: %w", current, size, err)
		}
		return nil
	})
	return size, err
}

// newSize is the size cmd asks for, given the current one.
func (cmd command) newSize(current int32) (int32, error) {
	var size int64
	switch cmd.verb {
	case "set":
		return cmd.amount, nil
	case "add":
		size = int64(current) + int64(cmd.amount)
	case "remove":
		size = int64(current) - int64(cmd.amount)
	}
	if size < 0 || size > math.MaxInt32 {
		return 0, fmt.Errorf("cannot %s %d brokers: the size is %d", cmd.verb, cmd.amount, current)
	}
	return int32(size), nil
}

// parseCommand reads "get", or a verb and a whole number of brokers.
func parseCommand(args []string) (command, error) {
	if len(args) == 0 {
		return command{}, errors.New("no command: want get, set N, add N or remove N")
	}
	verb := args[0]
	switch verb {
	case "get":
		if len(args) != 1 {
			return command{}, errors.New("get takes no argument")
		}
		return command{verb: verb}, nil
	case "set", "add", "remove":
	default:
		return command{}, fmt.Errorf("unknown command %q: want get, set, add or remove", verb)
	}
	if len(args) != 2 {
		return command{}, fmt.Errorf("%s takes one argument, a number of brokers", verb)
	}
	amount, err := strconv.ParseInt(args[1], 10, 32)
	if err != nil || amount < 0 {
		return command{}, fmt.Errorf("%s: %q is not a whole number of brokers", verb, args[1])
	}
	return command{verb: verb, amount: int32(amount)}, nil
}

// newClient builds a clientset from a kubeconfig, or from the pod's
// service account when kubeconfig is empty.
func newClient(kubeconfig string) (clientset.Interface, error) {
	var config *rest.Config
	var err error
	if kubeconfig != "" {
		config, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	} else {
		config, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("loading the client config: %w", err)
	}
	config.UserAgent = "elasticflux-selfscale"
	client, err := clientset.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("building the client: %w", err)
	}
	return client, nil
}
