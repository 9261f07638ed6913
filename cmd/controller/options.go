package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Logging formats --logging-format accepts.
const (
	loggingFormatText = "text"
	loggingFormatJSON = "json"
)

// disabledAddress turns off an HTTP endpoint, as in controller-runtime based
// operators, so deployment habits carry over.
const disabledAddress = "0"

// options are the flags of the controller mode.
type options struct {
	kubeconfig    string
	workers       int
	namespace     string
	clusterDomain string

	// Leader election is off by default so that `make run`, the e2e suite
	// and a developer's terminal need no Lease; the Deployment turns it on.
	leaderElect          bool
	leaderElectNamespace string
	leaderElectID        string

	metricsAddress string
	metricsCertDir string
	healthAddress  string

	// The controller's client budget. One MiniCluster costs four creates
	// and about two status writes when it appears; at 1,000 of them
	// client-go's default of 5 requests/s would take minutes.
	apiQPS   float64
	apiBurst int

	statusBatchPeriod   time.Duration
	statusSettleTimeout time.Duration

	// cacheSyncTimeout bounds the wait for the informer caches: a leader
	// that cannot fill them would hold the Lease while doing nothing.
	cacheSyncTimeout time.Duration

	loggingFormat string
}

// defaultOptions are the flag defaults. The README's flag table repeats
// them; change both together.
func defaultOptions() options {
	return options{
		workers:             16,
		clusterDomain:       "cluster.local",
		leaderElectID:       "elasticflux-controller",
		metricsAddress:      ":8443",
		healthAddress:       ":8081",
		apiQPS:              200,
		apiBurst:            400,
		statusBatchPeriod:   time.Second,
		statusSettleTimeout: 5 * time.Second,
		cacheSyncTimeout:    2 * time.Minute,
		loggingFormat:       loggingFormatText,
	}
}

// addFlags registers the options on fs, with their current values as
// defaults.
func (o *options) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.kubeconfig, "kubeconfig", o.kubeconfig, "Path to a kubeconfig. Empty: the in-cluster config, else $KUBECONFIG or ~/.kube/config.")
	fs.IntVar(&o.workers, "workers", o.workers, "How many MiniClusters are synced at once.")
	fs.StringVar(&o.namespace, "namespace", o.namespace, "Watch only this namespace. Empty: all namespaces.")
	fs.StringVar(&o.clusterDomain, "cluster-domain", o.clusterDomain, "The cluster's DNS domain, used in the brokers' connect URIs.")
	fs.BoolVar(&o.leaderElect, "leader-elect", o.leaderElect, "Hold a coordination.k8s.io Lease before acting, so that of several replicas only one works at a time. The Deployment sets it to true.")
	fs.StringVar(&o.leaderElectNamespace, "leader-elect-namespace", o.leaderElectNamespace, "Namespace of the leader Lease. Empty: the pod's own namespace, else --namespace, else elasticflux-system.")
	fs.StringVar(&o.leaderElectID, "leader-elect-id", o.leaderElectID, "Name of the leader Lease.")
	fs.StringVar(&o.metricsAddress, "metrics-bind-address", o.metricsAddress, `Address of the Prometheus /metrics endpoint, served over HTTPS to callers the API server authenticates and allows to get /metrics; "0" disables it.`)
	fs.StringVar(&o.metricsCertDir, "metrics-cert-dir", o.metricsCertDir, "Directory holding tls.crt and tls.key for /metrics, reread when they change. Empty: a self-signed certificate made at start.")
	fs.StringVar(&o.healthAddress, "health-probe-bind-address", o.healthAddress, `Address of the /healthz and /readyz endpoints; "0" disables them.`)
	fs.Float64Var(&o.apiQPS, "kube-api-qps", o.apiQPS, "Sustained requests per second the controller may send to the API server.")
	fs.IntVar(&o.apiBurst, "kube-api-burst", o.apiBurst, "Requests the controller may send to the API server in a burst above --kube-api-qps.")
	fs.DurationVar(&o.statusBatchPeriod, "status-batch-period", o.statusBatchPeriod, "How long to gather a Job's status changes into one MiniCluster status write.")
	fs.DurationVar(&o.statusSettleTimeout, "status-settle-timeout", o.statusSettleTimeout, "How long a status write may wait for starting or stopping brokers to settle, so a resize costs one status write; bounds how stale status.size can be.")
	fs.DurationVar(&o.cacheSyncTimeout, "cache-sync-timeout", o.cacheSyncTimeout, "How long the informer caches may take to fill before the controller gives up and exits non-zero, so that with --leader-elect another replica takes over.")
	fs.StringVar(&o.loggingFormat, "logging-format", o.loggingFormat, `Log format: "text" (klog) or "json" (one JSON object a line; -v sets the verbosity, -vmodule is ignored).`)
}

// validate reports every flag value the controller cannot run with, so one
// start shows all the mistakes at once.
func (o *options) validate() error {
	var errs []error
	if o.workers < 1 {
		errs = append(errs, fmt.Errorf("--workers must be at least 1, got %d", o.workers))
	}
	if err := validateClusterDomain(o.clusterDomain); err != nil {
		errs = append(errs, err)
	}
	if o.namespace != "" {
		if msgs := validation.IsDNS1123Label(o.namespace); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("--namespace %q is not a namespace name: %s", o.namespace, strings.Join(msgs, "; ")))
		}
	}
	if o.leaderElect && o.leaderElectID == "" {
		errs = append(errs, errors.New("--leader-elect-id must not be empty with --leader-elect"))
	}
	// The metrics server speaks TLS and the probes do not, so they cannot
	// share a port.
	if enabled(o.metricsAddress) && enabled(o.healthAddress) && o.metricsAddress == o.healthAddress {
		errs = append(errs, fmt.Errorf("--metrics-bind-address and --health-probe-bind-address must differ, both are %q", o.metricsAddress))
	}
	if o.apiQPS <= 0 {
		errs = append(errs, fmt.Errorf("--kube-api-qps must be positive, got %v", o.apiQPS))
	}
	if o.apiBurst < 1 {
		errs = append(errs, fmt.Errorf("--kube-api-burst must be at least 1, got %d", o.apiBurst))
	}
	// The controller reads a zero period as "use the default", so a zero
	// here would silently mean one second or five.
	if o.statusBatchPeriod <= 0 {
		errs = append(errs, fmt.Errorf("--status-batch-period must be positive, got %v", o.statusBatchPeriod))
	}
	if o.statusSettleTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--status-settle-timeout must be positive, got %v", o.statusSettleTimeout))
	}
	if o.cacheSyncTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--cache-sync-timeout must be positive, got %v", o.cacheSyncTimeout))
	}
	if o.loggingFormat != loggingFormatText && o.loggingFormat != loggingFormatJSON {
		errs = append(errs, fmt.Errorf("--logging-format must be %q or %q, got %q", loggingFormatText, loggingFormatJSON, o.loggingFormat))
	}
	return errors.Join(errs...)
}

// enabled reports whether an HTTP endpoint's bind address turns it on.
func enabled(address string) bool {
	return address != "" && address != disabledAddress
}

// validateClusterDomain refuses a --cluster-domain that cannot end a host
// name: the brokers would never find each other.
func validateClusterDomain(domain string) error {
	if msgs := validation.IsDNS1123Subdomain(domain); len(msgs) > 0 {
		return fmt.Errorf("--cluster-domain %q is not a DNS name: %s", domain, strings.Join(msgs, "; "))
	}
	return nil
}
