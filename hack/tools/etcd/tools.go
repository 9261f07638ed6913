//go:build tools

// Package tools records etcd's server command so `go mod tidy` keeps its
// dependencies; hack/build-tools.sh builds it into bin/etcd.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
