package main

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/elasticflux/elasticflux/pkg/version"
)

// newBuildInfo is the elasticflux_build_info gauge: always 1, with the
// release and Go toolchain as labels, so a dashboard can tell which
// version each replica runs (and a query can join it to other series).
func newBuildInfo() prometheus.Collector {
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "elasticflux", Name: "build_info",
		Help: "The controller's version and Go toolchain; always 1.",
	}, []string{"version", "go_version"})
	info.WithLabelValues(version.Version(), runtime.Version()).Set(1)
	return info
}
