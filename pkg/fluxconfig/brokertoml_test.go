package fluxconfig

import (
	"bytes"
	"strings"
	"testing"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sampleBrokerConfig is a complete BrokerConfig for a MiniCluster
// flux-sample in namespace default that can grow to eight brokers.
func sampleBrokerConfig() BrokerConfig {
	return BrokerConfig{
		Name:          "flux-sample",
		ServiceName:   "flux-sample",
		Namespace:     "default",
		MaxSize:       8,
		CurveCertPath: "/run/elasticflux/curve.cert",
		RPath:         "/etc/elasticflux/R",
	}
}

func TestRenderBrokerTOMLGolden(t *testing.T) {
	tests := map[string]func(*BrokerConfig){
		"defaults": func(*BrokerConfig) {},
		"everything": func(c *BrokerConfig) {
			c.ClusterDomain = "k8s.example.com"
			c.Port = 9000
			c.Bind = "tcp://0.0.0.0:%p"
			c.QueuePolicy = "easy"
			c.TBONTopo = "kary:16"
			c.AllowGuestUser = true
			c.AllowRootOwner = true
		},
		"single broker": func(c *BrokerConfig) { c.MaxSize = 1 },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			config := sampleBrokerConfig()
			mutate(&config)
			out, err := RenderBrokerTOML(config)
			require.NoError(t, err)
			assertGolden(t, "broker-"+sanitizeGoldenName(name)+".toml", out)
		})
	}
}

func TestRenderBrokerTOMLParsesBack(t *testing.T) {
	config := sampleBrokerConfig()
	config.QueuePolicy = "hybrid"
	config.TBONTopo = "binomial"
	config.AllowGuestUser = true
	out, err := RenderBrokerTOML(config)
	require.NoError(t, err)

	var doc map[string]any
	require.NoError(t, toml.Unmarshal(out, &doc))
	assert.Equal(t, map[string]any{
		"bootstrap": map[string]any{
			"curve_cert":      "/run/elasticflux/curve.cert",
			"default_port":    int64(8050),
			"default_bind":    "tcp://eth0:%p",
			"default_connect": "tcp://%h.flux-sample.default.svc.cluster.local:%p",
			"hosts":           []any{map[string]any{"host": "flux-sample-[0-7]"}},
		},
		"access": map[string]any{
			"allow-guest-user": true,
			"allow-root-owner": false,
		},
		"resource": map[string]any{
			"path":     "/etc/elasticflux/R",
			"noverify": true,
		},
		"tbon":                   map[string]any{"topo": "binomial"},
		"sched-fluxion-qmanager": map[string]any{"queue-policy": "hybrid"},
	}, doc, "every key, and nothing else: Flux stops on a key it does not know")

	// The hosts entry names every broker up to maxSize, in rank order.
	hosts, err := DecodeHostlist(doc["bootstrap"].(map[string]any)["hosts"].([]any)[0].(map[string]any)["host"].(string))
	require.NoError(t, err)
	assert.Equal(t, BrokerHostnames("flux-sample", 8), hosts)

	var strict brokerTOML
	decoder := toml.NewDecoder(bytes.NewReader(out))
	decoder.DisallowUnknownFields()
	require.NoError(t, decoder.Decode(&strict))
}

func TestRenderBrokerTOMLOmitsOptionalTables(t *testing.T) {
	out, err := RenderBrokerTOML(sampleBrokerConfig())
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, toml.Unmarshal(out, &doc))
	assert.NotContains(t, doc, "tbon")
	assert.NotContains(t, doc, "sched-fluxion-qmanager")
	assert.NotContains(t, doc, "archive")
}

func TestRenderBrokerTOMLRejects(t *testing.T) {
	tests := map[string]struct {
		mutate  func(*BrokerConfig)
		wantErr string
	}{
		"no name":               {func(c *BrokerConfig) { c.Name = "" }, "name"},
		"underscore in name":    {func(c *BrokerConfig) { c.Name = "flux_sample" }, "not a DNS label"},
		"hostname too long":     {func(c *BrokerConfig) { c.Name = strings.Repeat("a", 62) }, "longer than 63"},
		"zero max size":         {func(c *BrokerConfig) { c.MaxSize = 0 }, "at least 1"},
		"max size over the cap": {func(c *BrokerConfig) { c.Name = "a"; c.MaxSize = MaxHostlistHosts + 1 }, "more than"},
		"no service":            {func(c *BrokerConfig) { c.ServiceName = "" }, "service name"},
		"bad service":           {func(c *BrokerConfig) { c.ServiceName = "Flux" }, "service name"},
		"no namespace":          {func(c *BrokerConfig) { c.Namespace = "" }, "namespace"},
		"bad cluster domain":    {func(c *BrokerConfig) { c.ClusterDomain = "cluster..local" }, "cluster domain"},
		"negative port":         {func(c *BrokerConfig) { c.Port = -1 }, "port"},
		"port too big":          {func(c *BrokerConfig) { c.Port = 70000 }, "port"},
		"bind localhost":        {func(c *BrokerConfig) { c.Bind = "tcp://localhost:%p" }, "bind"},
		"bind ipv6":             {func(c *BrokerConfig) { c.Bind = "tcp://[::1]:%p" }, "bind"},
		"bind wildcard port":    {func(c *BrokerConfig) { c.Bind = "tcp://eth0:*" }, "bind"},
		"bind not tcp":          {func(c *BrokerConfig) { c.Bind = "ipc:///tmp/x" }, "bind"},
		"no curve cert":         {func(c *BrokerConfig) { c.CurveCertPath = "" }, "curve certificate path"},
		"relative curve cert":   {func(c *BrokerConfig) { c.CurveCertPath = "curve.cert" }, "not absolute"},
		"no R":                  {func(c *BrokerConfig) { c.RPath = "" }, "R path"},
		"unclean R":             {func(c *BrokerConfig) { c.RPath = "/etc/../R" }, "not clean"},
		"newline in R":          {func(c *BrokerConfig) { c.RPath = "/etc/R\n[x]" }, "control character"},
		"unknown queue policy":  {func(c *BrokerConfig) { c.QueuePolicy = "lifo" }, "queue policy"},
		"unknown topology":      {func(c *BrokerConfig) { c.TBONTopo = "star" }, "tbon topology"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			config := sampleBrokerConfig()
			tc.mutate(&config)
			out, err := RenderBrokerTOML(config)
			assert.ErrorContains(t, err, tc.wantErr)
			assert.Nil(t, out)
		})
	}
}

func TestRenderBrokerTOMLReportsEveryProblem(t *testing.T) {
	_, err := RenderBrokerTOML(BrokerConfig{})
	require.Error(t, err)
	for _, want := range []string{"maxSize", "service name", "namespace", "curve certificate path", "R path"} {
		assert.ErrorContains(t, err, want)
	}
}
