package fluxconfig

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidateBrokerName(t *testing.T) {
	tests := map[string]struct {
		name    string
		maxSize int
		wantErr string
	}{
		"sample":                {name: "flux-sample", maxSize: 8},
		"single letter":         {name: "a", maxSize: 1},
		"digits":                {name: "0", maxSize: 1},
		"fits exactly":          {name: strings.Repeat("a", 61), maxSize: 10},
		"hostname too long":     {name: strings.Repeat("a", 61), maxSize: 11, wantErr: "longer than 63"},
		"name too long":         {name: strings.Repeat("a", 64), maxSize: 1, wantErr: "longer than 63"},
		"underscore":            {name: "flux_sample", maxSize: 2, wantErr: "not a DNS label"},
		"uppercase":             {name: "Flux", maxSize: 2, wantErr: "not a DNS label"},
		"dot":                   {name: "flux.sample", maxSize: 2, wantErr: "not a DNS label"},
		"leading dash":          {name: "-flux", maxSize: 2, wantErr: "not a DNS label"},
		"trailing dash":         {name: "flux-", maxSize: 2, wantErr: "not a DNS label"},
		"hostlist characters":   {name: "flux[0]", maxSize: 2, wantErr: "not a DNS label"},
		"empty":                 {name: "", maxSize: 2, wantErr: "empty"},
		"zero size":             {name: "flux", maxSize: 0, wantErr: "at least 1"},
		"negative size":         {name: "flux", maxSize: -3, wantErr: "at least 1"},
		"large size still fits": {name: "flux-sample", maxSize: 100000},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := ValidateBrokerName(tc.name, tc.maxSize)
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestValidateDNSSubdomain(t *testing.T) {
	tests := map[string]struct {
		name    string
		wantErr bool
	}{
		"cluster.local":   {name: "cluster.local"},
		"single label":    {name: "internal"},
		"many labels":     {name: "k8s.example.com"},
		"empty":           {name: "", wantErr: true},
		"trailing dot":    {name: "cluster.local.", wantErr: true},
		"empty label":     {name: "cluster..local", wantErr: true},
		"uppercase":       {name: "Cluster.Local", wantErr: true},
		"underscore":      {name: "my_cluster.local", wantErr: true},
		"longer than 253": {name: strings.Repeat("a.", 127) + "a", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := validateDNSSubdomain(tc.name)
			if tc.wantErr {
				assert.Error(t, err)
				return
			}
			assert.NoError(t, err)
		})
	}
}
