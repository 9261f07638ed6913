package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	"github.com/elasticflux/elasticflux/pkg/controller"
	clientset "github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned"
	informers "github.com/elasticflux/elasticflux/pkg/generated/informers/externalversions"
)

// resyncPeriod re-examines every MiniCluster from the caches now and then,
// a safety net that costs no API calls.
const resyncPeriod = 10 * time.Minute

func run(ctx context.Context, opts options) error {
	logger := klog.FromContext(ctx)
	config, err := restConfig(opts.kubeconfig)
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	config.QPS, config.Burst = float32(opts.apiQPS), opts.apiBurst
	config.UserAgent = "elasticflux-controller"

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerClientMetrics(registry)
	if err := controller.RegisterMetrics(registry); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}

	kubeClient, err := kubernetes.NewForConfig(config)
	if err != nil {
		return fmt.Errorf("building kubernetes client: %w", err)
	}
	elasticClient, err := clientset.NewForConfig(config)
	if err != nil {
		return fmt.Errorf("building elasticflux client: %w", err)
	}

	// ready is what /readyz reports: a standby waiting for the lease is
	// ready (it serves nothing yet), a leader once its caches synced.
	var ready atomic.Bool
	ready.Store(opts.leaderElect)
	servers := startServers(ctx, opts, registry, &ready)
	defer shutdown(servers)

	work := func(ctx context.Context) {
		ready.Store(false)
		if err := runController(ctx, opts, kubeClient, elasticClient, &ready); err != nil {
			logger.Error(err, "Controller failed")
		}
	}
	if !opts.leaderElect {
		work(ctx)
		return nil
	}
	return runWithLeaderElection(ctx, opts, kubeClient, work)
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	if config, err := rest.InClusterConfig(); err == nil {
		return config, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
}

func runController(ctx context.Context, opts options, kubeClient kubernetes.Interface, elasticClient clientset.Interface, ready *atomic.Bool) error {
	managedOnly := kubeinformers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = controller.ManagedSelector })
	kubeOptions := []kubeinformers.SharedInformerOption{managedOnly}
	var elasticOptions []informers.SharedInformerOption
	if opts.namespace != "" {
		kubeOptions = append(kubeOptions, kubeinformers.WithNamespace(opts.namespace))
		elasticOptions = append(elasticOptions, informers.WithNamespace(opts.namespace))
	}
	kubeInformers := kubeinformers.NewSharedInformerFactoryWithOptions(kubeClient, resyncPeriod, kubeOptions...)
	elasticInformers := informers.NewSharedInformerFactoryWithOptions(elasticClient, resyncPeriod, elasticOptions...)

	c, err := controller.NewController(ctx, kubeClient, elasticClient, kubeInformers, elasticInformers, controller.Config{
		ClusterDomain:       opts.clusterDomain,
		StatusBatchPeriod:   opts.statusBatchPeriod,
		StatusSettleTimeout: opts.statusSettleTimeout,
	})
	if err != nil {
		return err
	}
	kubeInformers.Start(ctx.Done())
	elasticInformers.Start(ctx.Done())
	defer kubeInformers.Shutdown()
	defer elasticInformers.Shutdown()
	go func() {
		kubeInformers.WaitForCacheSync(ctx.Done())
		elasticInformers.WaitForCacheSync(ctx.Done())
		ready.Store(ctx.Err() == nil)
	}()
	return c.Run(ctx, opts.workers)
}

func runWithLeaderElection(ctx context.Context, opts options, kubeClient kubernetes.Interface, work func(context.Context)) error {
	logger := klog.FromContext(ctx)
	hostname, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("reading hostname: %w", err)
	}
	identity := hostname + "_" + rand.String(8)
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: opts.leaderElectID, Namespace: leaseNamespace(opts)},
		Client:     kubeClient.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: identity},
	}
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		ReleaseOnCancel: true,
		LeaseDuration:   15 * time.Second,
		RenewDeadline:   10 * time.Second,
		RetryPeriod:     2 * time.Second,
		Name:            opts.leaderElectID,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: work,
			OnStoppedLeading: func() { logger.Info("Leader lease lost or released", "identity", identity) },
			OnNewLeader:      func(leader string) { logger.Info("Leader", "identity", leader, "self", leader == identity) },
		},
	})
	if err != nil {
		return fmt.Errorf("setting up leader election: %w", err)
	}
	elector.Run(ctx)
	if ctx.Err() == nil {
		// Lost the lease while still asked to run: exit so a fresh process
		// starts from clean caches.
		return errors.New("lost the leader lease")
	}
	return nil
}

func leaseNamespace(opts options) string {
	if opts.leaderElectNamespace != "" {
		return opts.leaderElectNamespace
	}
	if data, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil && len(data) > 0 {
		return string(data)
	}
	if opts.namespace != "" {
		return opts.namespace
	}
	return "elasticflux-system"
}

// startServers serves /metrics and the health probes.
func startServers(ctx context.Context, opts options, registry *prometheus.Registry, ready *atomic.Bool) []*http.Server {
	logger := klog.FromContext(ctx)
	var servers []*http.Server
	serve := func(address string, mux *http.ServeMux) {
		if address == "" || address == "0" {
			return
		}
		server := &http.Server{Addr: address, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, server)
		go func() {
			if err := server.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error(err, "HTTP server failed", "address", address)
			}
		}()
	}

	metrics := http.NewServeMux()
	metrics.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	serve(opts.metricsAddress, metrics)

	health := http.NewServeMux()
	health.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	health.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "informer caches not synced", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	serve(opts.healthAddress, health)
	return servers
}

func shutdown(servers []*http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, server := range servers {
		_ = server.Shutdown(ctx)
	}
}
