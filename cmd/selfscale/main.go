// Command selfscale resizes the MiniCluster it runs in, through the scale
// subresource of the generated clientset. The controller gives the broker
// pods of a self-scaling MiniCluster a service account allowed to do that
// for their own MiniCluster only, and sets ELASTICFLUX_MINICLUSTER and
// ELASTICFLUX_NAMESPACE.
//
//	selfscale get          print the current size
//	selfscale set N        make the size N
//	selfscale add N        grow by N
//	selfscale remove N     shrink by N
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	clientset "github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "selfscale:", err)
		os.Exit(1)
	}
}

// run parses args and acts; client is injected by tests, else built from
// the kubeconfig flag or the in-cluster config.
func run(ctx context.Context, args []string, stdout io.Writer, client clientset.Interface) error {
	fs := flag.NewFlagSet("selfscale", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "Path to a kubeconfig. Empty: the pod's service account.")
	name := fs.String("name", os.Getenv("ELASTICFLUX_MINICLUSTER"), "MiniCluster to resize (default $ELASTICFLUX_MINICLUSTER).")
	namespace := fs.String("namespace", os.Getenv("ELASTICFLUX_NAMESPACE"), "Its namespace (default $ELASTICFLUX_NAMESPACE).")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" || *namespace == "" {
		return fmt.Errorf("no MiniCluster: set --name and --namespace, or run inside a broker pod")
	}
	command, amount, err := parseCommand(fs.Args())
	if err != nil {
		return err
	}
	if client == nil {
		config, err := loadConfig(*kubeconfig)
		if err != nil {
			return fmt.Errorf("loading client config: %w", err)
		}
		if client, err = clientset.NewForConfig(config); err != nil {
			return err
		}
	}
	miniClusters := client.ElasticfluxV1alpha1().MiniClusters(*namespace)

	if command == "get" {
		scale, err := miniClusters.GetScale(ctx, *name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%d\n", scale.Spec.Replicas)
		return err
	}
	var size int32
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		scale, err := miniClusters.GetScale(ctx, *name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		switch command {
		case "set":
			size = amount
		case "add":
			size = scale.Spec.Replicas + amount
		case "remove":
			size = scale.Spec.Replicas - amount
		}
		scale.Spec.Replicas = size
		// The API server checks the range; its message says what is allowed.
		_, err = miniClusters.UpdateScale(ctx, *name, scale, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%d\n", size)
	return err
}

func parseCommand(args []string) (string, int32, error) {
	if len(args) == 1 && args[0] == "get" {
		return "get", 0, nil
	}
	if len(args) != 2 {
		return "", 0, fmt.Errorf("usage: selfscale [flags] get | set N | add N | remove N")
	}
	switch args[0] {
	case "set", "add", "remove":
	default:
		return "", 0, fmt.Errorf("unknown command %q: want get, set, add or remove", args[0])
	}
	n, err := strconv.ParseInt(args[1], 10, 32)
	if err != nil || n < 0 {
		return "", 0, fmt.Errorf("%q is not a whole number of brokers", args[1])
	}
	return args[0], int32(n), nil
}

func loadConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	return rest.InClusterConfig()
}
