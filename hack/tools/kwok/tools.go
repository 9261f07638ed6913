//go:build tools

// Package tools records kwok's command so `go mod tidy` keeps its
// dependencies; hack/build-tools.sh builds it into bin/kwok.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
