package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/klog/v2"
)

// shutdownTimeout bounds how long a stopping HTTP server waits for a scrape
// or probe in flight; the pod's termination grace period must cover it.
const shutdownTimeout = 5 * time.Second

// readiness is what /readyz answers: ready, or why not.
type readiness struct {
	reason atomic.Pointer[string]
}

// newReadiness starts not ready, for the reason given.
func newReadiness(reason string) *readiness {
	r := &readiness{}
	r.notReady(reason)
	return r
}

func (r *readiness) ready() { r.reason.Store(nil) }

func (r *readiness) notReady(reason string) { r.reason.Store(&reason) }

// check reports whether the process is ready, and if not, why.
func (r *readiness) check() (ready bool, reason string) {
	if p := r.reason.Load(); p != nil {
		return false, *p
	}
	return true, ""
}

// addHealthHandlers serves the probes. /healthz answers ok for as long as
// the process can serve HTTP at all: a controller that waits (for caches,
// for the lease) is healthy, and restarting it would only make it wait
// again.
func addHealthHandlers(mux *http.ServeMux, ready *readiness) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ok, reason := ready.check(); !ok {
			http.Error(w, reason, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}

// startHTTPServers serves /metrics and the probes on their addresses (one
// server when both share an address). It binds every address before it
// returns, so a port already in use fails the start-up with a clear error
// instead of a log line next to a controller that runs unobserved. stop
// shuts the servers down.
func startHTTPServers(ctx context.Context, opts options, registry *prometheus.Registry, ready *readiness) (stop func(), err error) {
	logger := klog.FromContext(ctx)
	muxes := map[string]*http.ServeMux{}
	muxFor := func(address string) *http.ServeMux {
		if muxes[address] == nil {
			muxes[address] = http.NewServeMux()
		}
		return muxes[address]
	}
	if enabled(opts.metricsAddress) {
		muxFor(opts.metricsAddress).Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	}
	if enabled(opts.healthAddress) {
		addHealthHandlers(muxFor(opts.healthAddress), ready)
	}

	addresses := make([]string, 0, len(muxes))
	for address := range muxes {
		addresses = append(addresses, address)
	}
	sort.Strings(addresses)
	var servers []*http.Server
	stop = func() { shutdownHTTPServers(servers) }
	for _, address := range addresses {
		listener, err := net.Listen("tcp", address)
		if err != nil {
			stop()
			return nil, fmt.Errorf("listening for HTTP: %w", err)
		}
		server := &http.Server{Handler: muxes[address], ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, server)
		logger.Info("Serving HTTP", "address", listener.Addr().String())
		go func() {
			if err := server.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
				logger.Error(err, "HTTP server stopped", "address", listener.Addr().String())
			}
		}()
	}
	return stop, nil
}

func shutdownHTTPServers(servers []*http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	for _, server := range servers {
		_ = server.Shutdown(ctx)
	}
}
