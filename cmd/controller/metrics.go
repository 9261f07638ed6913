package main

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientmetrics "k8s.io/client-go/tools/metrics"
	"k8s.io/client-go/util/workqueue"
)

// registerClientMetrics exposes client-go's workqueue and REST client
// metrics. They count what the controller asks of the API server, which is
// how the benchmarks count its reads.
func registerClientMetrics(registry prometheus.Registerer) {
	provider := &workqueueMetrics{registry: registry}
	workqueue.SetProvider(provider)

	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rest_client_requests_total",
		Help: "API server requests by verb-less method and status code.",
	}, []string{"code", "method"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "rest_client_request_duration_seconds",
		Help:    "API server request latency by verb.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
	}, []string{"verb"})
	// GETs split into watches (cheap, served from the watch cache, renewed
	// every few minutes) and reads (GET and LIST of objects).
	gets := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rest_client_get_requests_total",
		Help: "API server GET requests, by whether they were watches.",
	}, []string{"watch"})
	registry.MustRegister(requests, latency, gets)
	clientmetrics.Register(clientmetrics.RegisterOpts{
		RequestResult:  resultAdapter{requests},
		RequestLatency: latencyAdapter{latency, gets},
	})
}

type resultAdapter struct{ counter *prometheus.CounterVec }

func (r resultAdapter) Increment(_ context.Context, code, method, _ string) {
	r.counter.WithLabelValues(code, method).Inc()
}

type latencyAdapter struct {
	histogram *prometheus.HistogramVec
	gets      *prometheus.CounterVec
}

func (l latencyAdapter) Observe(_ context.Context, verb string, u url.URL, latency time.Duration) {
	l.histogram.WithLabelValues(verb).Observe(latency.Seconds())
	if verb == "GET" {
		l.gets.WithLabelValues(strconv.FormatBool(u.Query().Get("watch") == "true")).Inc()
	}
}

// workqueueMetrics is a workqueue.MetricsProvider backed by Prometheus.
type workqueueMetrics struct{ registry prometheus.Registerer }

func (w *workqueueMetrics) register(c prometheus.Collector) {
	// A queue name registered twice (a second controller in one process,
	// as in tests) keeps the first collector.
	_ = w.registry.Register(c)
}

func (w *workqueueMetrics) gauge(name, metric, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Subsystem: "workqueue", Name: metric, Help: help, ConstLabels: prometheus.Labels{"name": name}})
	w.register(g)
	return g
}

func (w *workqueueMetrics) counter(name, metric, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Subsystem: "workqueue", Name: metric, Help: help, ConstLabels: prometheus.Labels{"name": name}})
	w.register(c)
	return c
}

func (w *workqueueMetrics) histogram(name, metric, help string) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Subsystem: "workqueue", Name: metric, Help: help, ConstLabels: prometheus.Labels{"name": name},
		Buckets: prometheus.ExponentialBuckets(1e-6, 10, 10),
	})
	w.register(h)
	return h
}

func (w *workqueueMetrics) NewDepthMetric(name string) workqueue.GaugeMetric {
	return w.gauge(name, "depth", "Current depth of the workqueue.")
}

func (w *workqueueMetrics) NewAddsMetric(name string) workqueue.CounterMetric {
	return w.counter(name, "adds_total", "Adds handled by the workqueue.")
}

func (w *workqueueMetrics) NewLatencyMetric(name string) workqueue.HistogramMetric {
	return w.histogram(name, "queue_duration_seconds", "Seconds an item waits in the workqueue before it is processed.")
}

func (w *workqueueMetrics) NewWorkDurationMetric(name string) workqueue.HistogramMetric {
	return w.histogram(name, "work_duration_seconds", "Seconds processing an item takes.")
}

func (w *workqueueMetrics) NewUnfinishedWorkSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return w.gauge(name, "unfinished_work_seconds", "Seconds of work in progress not yet observed by work_duration.")
}

func (w *workqueueMetrics) NewLongestRunningProcessorSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return w.gauge(name, "longest_running_processor_seconds", "Seconds the longest running processor has been running.")
}

func (w *workqueueMetrics) NewRetriesMetric(name string) workqueue.CounterMetric {
	return w.counter(name, "retries_total", "Retries handled by the workqueue.")
}
