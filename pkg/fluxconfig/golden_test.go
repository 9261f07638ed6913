package fluxconfig

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the current output")

// assertGolden compares got with testdata/<name>, or rewrites that file when
// the test runs with -update.
func assertGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(golden, got, 0o644))
		return
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "missing golden file: run go test ./pkg/fluxconfig/ -update")
	assert.Equal(t, string(want), string(got), "output differs from %s: run go test ./pkg/fluxconfig/ -update if the change is intended", golden)
}

// sanitizeGoldenName turns a test case name into a file name.
func sanitizeGoldenName(name string) string {
	return strings.ReplaceAll(name, " ", "-")
}
