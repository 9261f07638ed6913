package fluxconfig

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRenderRGolden(t *testing.T) {
	tests := map[string]struct {
		hosts []string
		cores int
		gpus  int
	}{
		"eight brokers four cores":   {hosts: BrokerHostnames("flux-sample", 8), cores: 4},
		"one broker one core":        {hosts: BrokerHostnames("flux-sample", 1), cores: 1},
		"four brokers with two gpus": {hosts: BrokerHostnames("flux-sample", 4), cores: 16, gpus: 2},
		"two brokers with one gpu":   {hosts: BrokerHostnames("flux-sample", 2), cores: 2, gpus: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := RenderR(tc.hosts, tc.cores, tc.gpus)
			require.NoError(t, err)
			assertGolden(t, "R-"+sanitizeGoldenName(name)+".json", out)
		})
	}
}

func TestRenderRContent(t *testing.T) {
	out, err := RenderR(BrokerHostnames("flux-sample", 8), 4, 1)
	require.NoError(t, err)

	var r map[string]any
	require.NoError(t, json.Unmarshal(out, &r))
	assert.Equal(t, map[string]any{
		"version": float64(1),
		"execution": map[string]any{
			"R_lite": []any{map[string]any{
				"rank":     "0-7",
				"children": map[string]any{"core": "0-3", "gpu": "0"},
			}},
			"nodelist":   []any{"flux-sample-[0-7]"},
			"starttime":  float64(0),
			"expiration": float64(0),
		},
	}, r)

	// R must name exactly the hosts of the bootstrap list, in rank order.
	var typed resourceSet
	require.NoError(t, json.Unmarshal(out, &typed))
	require.Len(t, typed.Execution.Nodelist, 1)
	hosts, err := DecodeHostlist(typed.Execution.Nodelist[0])
	require.NoError(t, err)
	assert.Equal(t, BrokerHostnames("flux-sample", 8), hosts)
	again, err := json.Marshal(typed)
	require.NoError(t, err)
	assert.JSONEq(t, string(out), string(again))
}

func TestRenderRWithoutGPUsHasNoGPUChild(t *testing.T) {
	out, err := RenderR(BrokerHostnames("flux-sample", 2), 2, 0)
	require.NoError(t, err)
	var typed resourceSet
	require.NoError(t, json.Unmarshal(out, &typed))
	assert.Equal(t, map[string]string{"core": "0-1"}, typed.Execution.RLite[0].Children)
}

func TestRenderRRejects(t *testing.T) {
	tests := map[string]struct {
		hosts []string
		cores int
		gpus  int
	}{
		"no hosts":      {hosts: nil, cores: 1},
		"no cores":      {hosts: []string{"a-0"}, cores: 0},
		"negative gpus": {hosts: []string{"a-0"}, cores: 1, gpus: -1},
		"bad host":      {hosts: []string{"a[0]"}, cores: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := RenderR(tc.hosts, tc.cores, tc.gpus)
			assert.Error(t, err)
			assert.Nil(t, out)
		})
	}
}
