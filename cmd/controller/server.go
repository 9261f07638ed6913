package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
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

// startHTTPServers serves /metrics over TLS, behind auth, and the probes
// over plain HTTP (the kubelet probes without credentials), each on its
// own address. It binds every address before it returns, so a port
// already in use fails the start-up with a clear error instead of a log
// line next to a controller that runs unobserved. stop shuts the servers
// down.
func startHTTPServers(ctx context.Context, opts options, registry *prometheus.Registry, ready *readiness, auth *metricsAuth) (stop func(), err error) {
	logger := klog.FromContext(ctx)
	var servers []*http.Server
	stop = func() { shutdownHTTPServers(servers) }
	serve := func(address string, handler http.Handler, tlsConfig *tls.Config) error {
		listener, err := net.Listen("tcp", address)
		if err != nil {
			return fmt.Errorf("listening for HTTP: %w", err)
		}
		server := &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: 10 * time.Second,
			TLSConfig:         tlsConfig,
			// Requests carry the controller's logger, so the auth's log
			// lines look like the rest.
			BaseContext: func(net.Listener) context.Context { return ctx },
		}
		servers = append(servers, server)
		scheme := "http"
		if tlsConfig != nil {
			scheme = "https"
			listener = tls.NewListener(listener, tlsConfig)
		}
		logger.Info("Serving "+scheme, "address", listener.Addr().String())
		go func() {
			if err := server.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
				logger.Error(err, "HTTP server stopped", "address", listener.Addr().String())
			}
		}()
		return nil
	}

	if enabled(opts.metricsAddress) {
		tlsConfig, err := metricsTLSConfig(opts.metricsCertDir)
		if err != nil {
			return nil, err
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", auth.protect(promhttp.HandlerFor(registry, promhttp.HandlerOpts{})))
		if err := serve(opts.metricsAddress, mux, tlsConfig); err != nil {
			stop()
			return nil, err
		}
	}
	if enabled(opts.healthAddress) {
		mux := http.NewServeMux()
		addHealthHandlers(mux, ready)
		if err := serve(opts.healthAddress, mux, nil); err != nil {
			stop()
			return nil, err
		}
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
