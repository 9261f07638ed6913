package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	clientmetrics "k8s.io/client-go/tools/metrics"
	"k8s.io/client-go/util/workqueue"

	"github.com/elasticflux/elasticflux/pkg/controller"
)

// newRegistry builds the registry /metrics serves: Go runtime and process
// metrics, the build info, the controller's own, and client-go's.
func newRegistry(client *clientMetrics) (*prometheus.Registry, error) {
	registry := prometheus.NewRegistry()
	all := append([]prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newBuildInfo(),
	}, client.collectors()...)
	for _, collector := range all {
		if err := registry.Register(collector); err != nil {
			return nil, fmt.Errorf("registering client metrics: %w", err)
		}
	}
	if err := controller.RegisterMetrics(registry); err != nil {
		return nil, fmt.Errorf("registering controller metrics: %w", err)
	}
	return registry, nil
}

// clientMetrics exports what the controller asks of the API server and how
// its workqueue keeps up. The benchmarks count the controller's reads here.
type clientMetrics struct {
	// requests counts every response (watches included) by status code
	// and HTTP method.
	requests *prometheus.CounterVec
	// latency and rateLimiter time requests other than watches, and the
	// wait the client's own rate limiter added to them: a large wait means
	// --kube-api-qps is too low for the load.
	latency     *prometheus.HistogramVec
	rateLimiter *prometheus.HistogramVec
	// gets counts GET requests as they leave, telling watches (cheap,
	// renewed every few minutes) from reads (GET and LIST). client-go's own
	// hooks cannot: watches never reach the latency hook, and the URL it is
	// given has every query value replaced by a placeholder.
	gets *prometheus.CounterVec

	workqueues *workqueueMetrics
}

// newClientMetrics makes the collectors; install hands them to client-go.
func newClientMetrics() *clientMetrics {
	latencyBuckets := prometheus.ExponentialBuckets(0.001, 2, 14)
	return &clientMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rest_client_requests_total",
			Help: "API server responses, by status code and HTTP method.",
		}, []string{"code", "method"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rest_client_request_duration_seconds",
			Help:    "API server request latency, watches excluded, by verb.",
			Buckets: latencyBuckets,
		}, []string{"verb"}),
		rateLimiter: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rest_client_rate_limiter_duration_seconds",
			Help:    "Time requests waited for the client's rate limiter, by verb.",
			Buckets: latencyBuckets,
		}, []string{"verb"}),
		gets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rest_client_get_requests_total",
			Help: "GET requests sent to the API server, by whether they open a watch; leader election excluded.",
		}, []string{"watch"}),
		workqueues: newWorkqueueMetrics(),
	}
}

func (m *clientMetrics) collectors() []prometheus.Collector {
	return append([]prometheus.Collector{m.requests, m.latency, m.rateLimiter, m.gets}, m.workqueues.collectors()...)
}

// install makes client-go report to m. Both hooks are process-wide and
// take only their first provider, so install runs once, before the
// controller creates its workqueue.
func (m *clientMetrics) install() {
	workqueue.SetProvider(m.workqueues)
	clientmetrics.Register(clientmetrics.RegisterOpts{
		RequestResult:      resultMetric{m.requests},
		RequestLatency:     latencyMetric{m.latency},
		RateLimiterLatency: latencyMetric{m.rateLimiter},
	})
}

// wrapTransport counts the GET requests a client sends; it is a
// rest.Config WrapTransport.
func (m *clientMetrics) wrapTransport(next http.RoundTripper) http.RoundTripper {
	return &getCounter{next: next, gets: m.gets}
}

// resultMetric is client-go's per-response hook.
type resultMetric struct{ counter *prometheus.CounterVec }

func (r resultMetric) Increment(_ context.Context, code, method, _ string) {
	r.counter.WithLabelValues(code, method).Inc()
}

// latencyMetric is client-go's per-request timing hook. The URL is left
// out: it would make a label value per object.
type latencyMetric struct{ histogram *prometheus.HistogramVec }

func (l latencyMetric) Observe(_ context.Context, verb string, _ url.URL, latency time.Duration) {
	l.histogram.WithLabelValues(verb).Observe(latency.Seconds())
}

// getCounter is an http.RoundTripper that counts GET requests by whether
// they open a watch.
type getCounter struct {
	next http.RoundTripper
	gets *prometheus.CounterVec
}

func (c *getCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet {
		c.gets.WithLabelValues(strconv.FormatBool(req.URL.Query().Get("watch") == "true")).Inc()
	}
	return c.next.RoundTrip(req)
}

// WrappedRoundTripper lets client-go reach the transport underneath, e.g.
// to close idle connections.
func (c *getCounter) WrappedRoundTripper() http.RoundTripper { return c.next }

// workqueueMetrics is a workqueue.MetricsProvider backed by Prometheus,
// with the metric names Kubernetes' own controllers export. One vector per
// metric, labelled by queue name, registered once: a second queue of the
// same name reuses its series instead of failing to register.
type workqueueMetrics struct {
	depth          *prometheus.GaugeVec
	adds           *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	workDuration   *prometheus.HistogramVec
	unfinished     *prometheus.GaugeVec
	longestRunning *prometheus.GaugeVec
	retries        *prometheus.CounterVec
}

func newWorkqueueMetrics() *workqueueMetrics {
	labels := []string{"name"}
	// From a microsecond to a thousand seconds: an item waits microseconds
	// in an idle queue and seconds or minutes behind a rate limit.
	buckets := prometheus.ExponentialBuckets(1e-6, 10, 10)
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Subsystem: "workqueue", Name: name, Help: help}, labels)
	}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Subsystem: "workqueue", Name: name, Help: help}, labels)
	}
	histogram := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Subsystem: "workqueue", Name: name, Help: help, Buckets: buckets}, labels)
	}
	return &workqueueMetrics{
		depth:          gauge("depth", "Current depth of the workqueue."),
		adds:           counter("adds_total", "Adds handled by the workqueue."),
		latency:        histogram("queue_duration_seconds", "Seconds an item waits in the workqueue before it is processed."),
		workDuration:   histogram("work_duration_seconds", "Seconds processing an item from the workqueue takes."),
		unfinished:     gauge("unfinished_work_seconds", "Seconds of work in progress that work_duration has not yet observed; large values mean stuck workers."),
		longestRunning: gauge("longest_running_processor_seconds", "Seconds the longest running processor of the workqueue has been running."),
		retries:        counter("retries_total", "Retries handled by the workqueue."),
	}
}

func (w *workqueueMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{w.depth, w.adds, w.latency, w.workDuration, w.unfinished, w.longestRunning, w.retries}
}

func (w *workqueueMetrics) NewDepthMetric(name string) workqueue.GaugeMetric {
	return w.depth.WithLabelValues(name)
}

func (w *workqueueMetrics) NewAddsMetric(name string) workqueue.CounterMetric {
	return w.adds.WithLabelValues(name)
}

func (w *workqueueMetrics) NewLatencyMetric(name string) workqueue.HistogramMetric {
	return w.latency.WithLabelValues(name)
}

func (w *workqueueMetrics) NewWorkDurationMetric(name string) workqueue.HistogramMetric {
	return w.workDuration.WithLabelValues(name)
}

func (w *workqueueMetrics) NewUnfinishedWorkSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return w.unfinished.WithLabelValues(name)
}

func (w *workqueueMetrics) NewLongestRunningProcessorSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return w.longestRunning.WithLabelValues(name)
}

func (w *workqueueMetrics) NewRetriesMetric(name string) workqueue.CounterMetric {
	return w.retries.WithLabelValues(name)
}
