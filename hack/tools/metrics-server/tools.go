//go:build tools

// Package tools records metrics-server's command so `go mod tidy` keeps its
// dependencies; hack/build-tools.sh builds it into bin/metrics-server.
package tools

import (
	_ "sigs.k8s.io/metrics-server/cmd/metrics-server"
)
