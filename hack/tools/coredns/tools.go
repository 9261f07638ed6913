//go:build tools

// Package tools records CoreDNS's command so `go mod tidy` keeps its
// dependencies; hack/build-tools.sh builds it into bin/coredns, the local
// cluster's DNS server (kubernetes plugin).
package tools

import (
	_ "github.com/coredns/coredns"
)
