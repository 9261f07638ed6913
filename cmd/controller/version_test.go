package main

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVersionFlagPrintsTheVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := runMain([]string{"--version"}, strings.NewReader(""), &stdout, &stderr)
	assert.Equal(t, exitOK, code, stderr.String())
	assert.Equal(t, "controller devel ("+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+")\n", stdout.String())
}

func TestBuildInfoMetric(t *testing.T) {
	registry := prometheus.NewRegistry()
	require.NoError(t, registry.Register(newBuildInfo()))
	families, err := registry.Gather()
	require.NoError(t, err)
	require.Len(t, families, 1)
	assert.Equal(t, "elasticflux_build_info", families[0].GetName())
	require.Len(t, families[0].GetMetric(), 1)
	metric := families[0].GetMetric()[0]
	labels := map[string]string{}
	for _, pair := range metric.GetLabel() {
		labels[pair.GetName()] = pair.GetValue()
	}
	assert.Equal(t, map[string]string{"version": "devel", "go_version": runtime.Version()}, labels)
	assert.Equal(t, 1.0, metric.GetGauge().GetValue())
}
