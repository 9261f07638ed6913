package main

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/elasticflux/elasticflux/pkg/controller"
	clientset "github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned"
)

// userAgent names the controller's requests in the API server's audit log.
const userAgent = "elasticflux-controller"

// resyncPeriod re-examines every MiniCluster from the caches now and then:
// a safety net for a missed event that costs no API calls.
const resyncPeriod = 10 * time.Minute

// notSyncedReason is what /readyz says until the caches are filled.
const notSyncedReason = "waiting for informer caches to sync"

// run runs the controller until ctx is done: the HTTP endpoints at once,
// the controller itself at once or, with --leader-elect, while this process
// holds the Lease.
func run(ctx context.Context, opts options) error {
	config, err := loadRESTConfig(opts.kubeconfig)
	if err != nil {
		return fmt.Errorf("loading the client config: %w", err)
	}
	config.UserAgent = userAgent
	// Leader election gets a client of its own, with client-go's default
	// budget: renewals must not queue behind a thousand syncs in the main
	// client's rate limiter, or a busy leader would lose its Lease. It is
	// copied before the GET counter goes on, so the read counts the
	// benchmarks take are the controller's work only.
	electionConfig := rest.CopyConfig(config)
	electionConfig.UserAgent = userAgent + "/leader-election"
	config.QPS, config.Burst = float32(opts.apiQPS), opts.apiBurst

	metrics := newClientMetrics()
	metrics.install()
	config.Wrap(metrics.wrapTransport)
	registry, err := newRegistry(metrics)
	if err != nil {
		return err
	}
	kubeClient, err := kubernetes.NewForConfig(config)
	if err != nil {
		return fmt.Errorf("building the Kubernetes client: %w", err)
	}
	auth, err := newMetricsAuth(kubeClient)
	if err != nil {
		return err
	}
	ready := newReadiness(notSyncedReason)
	stopServers, err := startHTTPServers(ctx, opts, registry, ready, auth)
	if err != nil {
		return err
	}
	defer stopServers()

	elasticClient, err := clientset.NewForConfig(config)
	if err != nil {
		return fmt.Errorf("building the elasticflux client: %w", err)
	}
	work := func(ctx context.Context) error {
		return runController(ctx, opts, kubeClient, elasticClient, ready)
	}
	if !opts.leaderElect {
		return work(ctx)
	}

	electionClient, err := kubernetes.NewForConfig(electionConfig)
	if err != nil {
		return fmt.Errorf("building the leader election client: %w", err)
	}
	election, err := newLeaderElection(opts, electionClient)
	if err != nil {
		return err
	}
	return election.run(ctx, ready, work)
}

// loadRESTConfig reads --kubeconfig when given; else the in-cluster config,
// else $KUBECONFIG or ~/.kube/config, as kubectl would.
func loadRESTConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	config, inClusterErr := rest.InClusterConfig()
	if inClusterErr == nil {
		return config, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	config, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("not in a cluster (%w) and no usable kubeconfig: %w", inClusterErr, err)
	}
	return config, nil
}

// runController builds the informers and the controller and runs it until
// ctx is done. ready follows the informer caches.
func runController(ctx context.Context, opts options, kubeClient kubernetes.Interface, elasticClient clientset.Interface, ready *readiness) error {
	logger := klog.FromContext(ctx)
	ready.notReady(notSyncedReason)

	// Only the objects the controller manages, so memory stays flat as the
	// cluster fills with other workloads' Jobs, Secrets and ConfigMaps.
	kubeInformers, elasticInformers := controller.NewInformerFactories(kubeClient, elasticClient, opts.namespace, resyncPeriod)

	c, err := controller.NewController(ctx, kubeClient, elasticClient, kubeInformers, elasticInformers, controller.Config{
		ClusterDomain:       opts.clusterDomain,
		StatusBatchPeriod:   opts.statusBatchPeriod,
		StatusSettleTimeout: opts.statusSettleTimeout,
	})
	if err != nil {
		return fmt.Errorf("creating the controller: %w", err)
	}

	// Shutdown waits for the informers' goroutines, which end with ctx:
	// cancel runs first (defers run last-in, first-out).
	ctx, cancel := context.WithCancel(ctx)
	kubeInformers.Start(ctx.Done())
	elasticInformers.Start(ctx.Done())
	defer kubeInformers.Shutdown()
	defer elasticInformers.Shutdown()
	defer cancel()

	go func() {
		if allSynced(kubeInformers.WaitForCacheSync(ctx.Done())) && allSynced(elasticInformers.WaitForCacheSync(ctx.Done())) {
			logger.Info("Informer caches synced; ready")
			ready.ready()
		}
	}()

	if err := c.Run(ctx, opts.workers, opts.cacheSyncTimeout); err != nil && ctx.Err() == nil {
		return fmt.Errorf("running the controller: %w", err)
	}
	return nil
}

// allSynced reports whether every informer a factory waited for synced; a
// false means the wait was cut short.
func allSynced[K comparable](synced map[K]bool) bool {
	for _, ok := range synced {
		if !ok {
			return false
		}
	}
	return true
}
