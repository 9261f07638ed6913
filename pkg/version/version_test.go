package version

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStringNamesProgramVersionAndToolchain(t *testing.T) {
	saved := version
	t.Cleanup(func() { version = saved })
	version = "v0.1.0-3-gabcdef0-dirty"

	assert.Equal(t, "v0.1.0-3-gabcdef0-dirty", Version())
	assert.Equal(t, "controller v0.1.0-3-gabcdef0-dirty ("+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+")", String("controller"))
}

func TestUnstampedBuildSaysSo(t *testing.T) {
	assert.Equal(t, "devel", Version(), "go test links no version")
}
