package controller

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	syncTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "elasticflux", Name: "reconcile_total",
		Help: "MiniCluster syncs run.",
	})
	syncErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "elasticflux", Name: "reconcile_errors_total",
		Help: "MiniCluster syncs that failed and were requeued.",
	})
	syncDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "elasticflux", Name: "reconcile_duration_seconds",
		Help:    "How long a MiniCluster sync took.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	})
	resizesTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "elasticflux", Name: "resizes_total",
		Help: "Job resizes the controller made.",
	})
)

// RegisterMetrics adds the controller's metrics to a registry.
func RegisterMetrics(registry prometheus.Registerer) error {
	for _, collector := range []prometheus.Collector{syncTotal, syncErrors, syncDuration, resizesTotal} {
		if err := registry.Register(collector); err != nil {
			return err
		}
	}
	return nil
}

func observeSync(start, end time.Time, err error) {
	syncTotal.Inc()
	if err != nil {
		syncErrors.Inc()
	}
	syncDuration.Observe(end.Sub(start).Seconds())
}
