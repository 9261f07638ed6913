// Package version holds the release the binaries were built from. The
// build stamps it (make build, make image):
//
//	go build -ldflags "-X github.com/elasticflux/elasticflux/pkg/version.version=$(git describe --tags --always --dirty)"
//
// so --version, the build-info metric and the image tag all name the same
// thing.
package version

import (
	"fmt"
	"runtime"
)

// unstamped is what a binary built without the -X flag reports, e.g. from
// `go run` or `go test`.
const unstamped = "devel"

// version is set at link time; a var, because -X cannot set a constant.
var version = unstamped

// Version is the release the binary was built from: `git describe --tags
// --always --dirty` at build time, or "devel" for an unstamped build.
func Version() string { return version }

// String is the one line --version prints: the program, its version, and
// the Go toolchain and platform it was built with.
func String(program string) string {
	return fmt.Sprintf("%s %s (%s %s/%s)", program, version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
