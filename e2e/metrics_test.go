//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMetricsAuthentication: /metrics is served over TLS to callers the API
// server vouches for. No token: 401. A valid token of an account without
// the elasticflux-metrics-reader role: 403. With it: 200, and the
// metrics name the version make build stamped.
func TestMetricsAuthentication(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	controller := startController(t, ns)
	url := "https://" + controller.metricsAddr + "/metrics"
	// A fresh account per run: a denial is cached for half a minute.
	unboundToken, err := serviceAccountToken(context.Background(), ns, "no-metrics-role", "")
	require.NoError(t, err)

	cases := []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"a token that is no token", "not-a-token", http.StatusUnauthorized},
		{"a token without the role", unboundToken, http.StatusForbidden},
		{"a token with the role", metricsReaderToken, http.StatusOK},
	}
	for _, tc := range cases {
		var status int
		var body string
		// The server comes up with the controller; wait for it, not for an answer.
		eventually(t, shortWait, "/metrics answering "+tc.name, func() (bool, string) {
			var err error
			status, body, err = scrapeMetrics(url, tc.token)
			return err == nil, errString(err)
		})
		assert.Equal(t, tc.want, status, "%s: %s", tc.name, body)
		if status == http.StatusOK {
			version, err := exec.Command(filepath.Join(repoRoot, "bin", "controller"), "--version").Output()
			require.NoError(t, err)
			stamped := strings.Fields(string(version))[1]
			assert.NotEqual(t, "devel", stamped, "make build stamps the version")
			assert.Contains(t, body, `elasticflux_build_info{go_version="`)
			assert.Contains(t, body, `version="`+stamped+`"} 1`)
		}
	}

	// Plain HTTP gets nothing.
	status, _, err := scrapeMetrics("http://"+controller.metricsAddr+"/metrics", metricsReaderToken)
	if err == nil {
		assert.Equal(t, http.StatusBadRequest, status, "an HTTP request to the TLS port is refused")
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
