package controller

import "time"

// FieldManager is the field manager of every write the controller makes.
const FieldManager = "elasticflux-controller"

// Config holds what the controller needs to know about the cluster it runs in.
type Config struct {
	// ClusterDomain is the cluster's DNS domain, used in the brokers'
	// connect URIs. Empty means cluster.local.
	ClusterDomain string
	// StatusBatchPeriod delays the status sync that follows a Job status
	// change, so the Job controller's separate active and ready updates
	// land in one status write.
	StatusBatchPeriod time.Duration
	// StatusSettleTimeout is how long the status of a MiniCluster whose
	// brokers are still starting or stopping may wait for them to settle,
	// so a resize costs one status write rather than one per step. It
	// bounds how stale status.size can be while the Job catches up.
	StatusSettleTimeout time.Duration
	// ForeignRetryPeriod is how often a MiniCluster blocked by an object it
	// does not own is looked at again (such objects are outside the
	// controller's label-filtered caches, so no event would wake it); also a
	// missing Secret named by spec.flux.curveCertSecretName.
	ForeignRetryPeriod time.Duration
	// StoppingBrokersPollPeriod is how often a MiniCluster waiting for the
	// broker pods of an earlier Job to stop is looked at again (the
	// controller keeps no pod cache, so no event would wake it).
	StoppingBrokersPollPeriod time.Duration
}

func (c Config) withDefaults() Config {
	if c.ClusterDomain == "" {
		c.ClusterDomain = "cluster.local"
	}
	if c.StatusBatchPeriod == 0 {
		c.StatusBatchPeriod = time.Second
	}
	if c.StatusSettleTimeout == 0 {
		c.StatusSettleTimeout = 5 * time.Second
	}
	if c.ForeignRetryPeriod == 0 {
		c.ForeignRetryPeriod = time.Minute
	}
	if c.StoppingBrokersPollPeriod == 0 {
		c.StoppingBrokersPollPeriod = 5 * time.Second
	}
	return c
}
