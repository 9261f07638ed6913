// Command controller runs the elasticflux MiniCluster controller, or, as
// `controller render -f FILE`, prints what it would create for a MiniCluster.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/klog/v2"
)

// options are the controller's flags.
type options struct {
	kubeconfig           string
	workers              int
	namespace            string
	clusterDomain        string
	leaderElect          bool
	leaderElectNamespace string
	leaderElectID        string
	metricsAddress       string
	healthAddress        string
	apiQPS               float64
	apiBurst             int
	statusBatchPeriod    time.Duration
	statusSettleTimeout  time.Duration
	loggingFormat        string
}

func (o *options) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "Path to a kubeconfig. Empty: in-cluster config, else $KUBECONFIG.")
	fs.IntVar(&o.workers, "workers", 16, "MiniClusters synced at once.")
	fs.StringVar(&o.namespace, "namespace", "", "Watch only this namespace. Empty: all namespaces.")
	fs.StringVar(&o.clusterDomain, "cluster-domain", "cluster.local", "The cluster's DNS domain, for the brokers' connect URIs.")
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "Hold a Lease before acting, so only one replica works at a time.")
	fs.StringVar(&o.leaderElectNamespace, "leader-elect-namespace", "", "Namespace of the leader Lease. Empty: the pod's namespace, else the watched one, else elasticflux-system.")
	fs.StringVar(&o.leaderElectID, "leader-elect-id", "elasticflux-controller", "Name of the leader Lease.")
	fs.StringVar(&o.metricsAddress, "metrics-bind-address", ":8080", "Address of the Prometheus /metrics endpoint; 0 disables it.")
	fs.StringVar(&o.healthAddress, "health-probe-bind-address", ":8081", "Address of /healthz and /readyz; 0 disables them.")
	fs.Float64Var(&o.apiQPS, "kube-api-qps", 200, "Sustained requests per second to the API server.")
	fs.IntVar(&o.apiBurst, "kube-api-burst", 400, "Burst of requests to the API server.")
	fs.DurationVar(&o.statusBatchPeriod, "status-batch-period", time.Second, "How long to gather a Job's status changes into one MiniCluster status write.")
	fs.DurationVar(&o.statusSettleTimeout, "status-settle-timeout", 5*time.Second, "How long a status write may wait for starting or stopping brokers to settle.")
	fs.StringVar(&o.loggingFormat, "logging-format", "text", "Log format: text or json.")
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "render" {
		if err := render(os.Args[2:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "render:", err)
			os.Exit(1)
		}
		return
	}

	fs := flag.NewFlagSet("controller", flag.ExitOnError)
	klog.InitFlags(fs)
	var opts options
	opts.addFlags(fs)
	_ = fs.Parse(os.Args[1:])
	if err := setUpLogging(opts.loggingFormat); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logger := klog.Background()
	ctx = klog.NewContext(ctx, logger)
	if err := run(ctx, opts); err != nil {
		logger.Error(err, "Controller stopped")
		klog.FlushAndExit(klog.ExitFlushTimeout, 1)
	}
	klog.Flush()
}

func setUpLogging(format string) error {
	switch format {
	case "text":
		return nil
	case "json":
		klog.SetSlogLogger(slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.Level(-10)})))
		return nil
	}
	return errors.New(`--logging-format must be "text" or "json"`)
}
