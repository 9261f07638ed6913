package main

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	certutil "k8s.io/client-go/util/cert"
)

func writeKeyPair(t *testing.T, dir, host string) {
	t.Helper()
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey(host, nil, nil)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, metricsCertFile), certPEM, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, metricsKeyFile), keyPEM, 0o600))
}

// servedHost is the first DNS name of the certificate config serves.
func servedHost(t *testing.T, config *tls.Config) string {
	t.Helper()
	certificate := config.Certificates
	if config.GetCertificate != nil {
		served, err := config.GetCertificate(&tls.ClientHelloInfo{})
		require.NoError(t, err)
		certificate = []tls.Certificate{*served}
	}
	require.Len(t, certificate, 1)
	leaf, err := x509.ParseCertificate(certificate[0].Certificate[0])
	require.NoError(t, err)
	return leaf.DNSNames[0]
}

func TestMetricsTLSSelfSignedWhenNoCertDir(t *testing.T) {
	config, err := metricsTLSConfig("")
	require.NoError(t, err)
	assert.Equal(t, selfSignedHost, servedHost(t, config))
	assert.Equal(t, uint16(tls.VersionTLS12), config.MinVersion)
	assert.Equal(t, []string{"http/1.1"}, config.NextProtos)
}

func TestMetricsTLSFromCertDirFollowsRotation(t *testing.T) {
	dir := t.TempDir()
	writeKeyPair(t, dir, "first.example")
	config, err := metricsTLSConfig(dir)
	require.NoError(t, err)
	assert.Equal(t, "first.example", servedHost(t, config))

	writeKeyPair(t, dir, "second.example")
	later := time.Now().Add(time.Minute)
	for _, name := range []string{metricsCertFile, metricsKeyFile} {
		require.NoError(t, os.Chtimes(filepath.Join(dir, name), later, later))
	}
	assert.Equal(t, "second.example", servedHost(t, config), "a rotated certificate is served without a restart")

	require.NoError(t, os.Remove(filepath.Join(dir, metricsKeyFile)))
	assert.Equal(t, "second.example", servedHost(t, config), "a pair gone for a moment keeps the last one")
}

func TestMetricsTLSRefusesAMissingCertDir(t *testing.T) {
	_, err := metricsTLSConfig(filepath.Join(t.TempDir(), "absent"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tls.crt")
}
