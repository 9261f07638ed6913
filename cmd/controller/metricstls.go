package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	certutil "k8s.io/client-go/util/cert"
)

// The files --metrics-cert-dir must hold: the names of a
// kubernetes.io/tls Secret's keys, so a cert-manager Certificate's Secret
// mounts as it is.
const (
	metricsCertFile = "tls.crt"
	metricsKeyFile  = "tls.key"
)

// selfSignedHost names the certificate the controller makes for itself
// when given none. Scrapers cannot verify it (nothing signed it) and must
// skip verification; a certificate they can verify comes through
// --metrics-cert-dir.
const selfSignedHost = "elasticflux-controller-metrics"

// metricsTLSConfig is the TLS setup of the metrics server: the certificate
// in certDir, reread when its files change, or, with no directory, one
// made in memory at start.
func metricsTLSConfig(certDir string) (*tls.Config, error) {
	config := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// HTTP/1.1 only: a scrape needs nothing more, and HTTP/2 has had
		// stream-flooding attacks (CVE-2023-44487) that this endpoint
		// need not be exposed to.
		NextProtos: []string{"http/1.1"},
	}
	if certDir == "" {
		certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey(selfSignedHost, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("generating a self-signed metrics certificate: %w", err)
		}
		certificate, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("loading the self-signed metrics certificate: %w", err)
		}
		config.Certificates = []tls.Certificate{certificate}
		return config, nil
	}
	loader := &certificateFiles{
		certFile: filepath.Join(certDir, metricsCertFile),
		keyFile:  filepath.Join(certDir, metricsKeyFile),
	}
	// Read once now, so a missing or broken pair fails the start-up.
	if _, err := loader.get(); err != nil {
		return nil, err
	}
	config.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return loader.get() }
	return config, nil
}

// certificateFiles serves a key pair from files and rereads it when either
// file's modification time changes, so a rotated certificate (cert-manager
// renews before expiry and the kubelet updates the mounted Secret) is used
// without a restart.
type certificateFiles struct {
	certFile, keyFile string

	mu                      sync.Mutex
	certificate             *tls.Certificate
	certModTime, keyModTime time.Time
}

func (c *certificateFiles) get() (*tls.Certificate, error) {
	certInfo, certErr := os.Stat(c.certFile)
	keyInfo, keyErr := os.Stat(c.keyFile)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := errors.Join(certErr, keyErr); err != nil {
		// A Secret update swaps the files under a symbolic link: keep
		// serving what was loaded if they are gone for a moment.
		if c.certificate != nil {
			return c.certificate, nil
		}
		return nil, fmt.Errorf("reading the metrics certificate: %w", err)
	}
	if c.certificate != nil && certInfo.ModTime().Equal(c.certModTime) && keyInfo.ModTime().Equal(c.keyModTime) {
		return c.certificate, nil
	}
	certificate, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		if c.certificate != nil {
			// A half-written pair during rotation: the next handshake
			// tries again.
			return c.certificate, nil
		}
		return nil, fmt.Errorf("loading the metrics certificate from %s and %s: %w", c.certFile, c.keyFile, err)
	}
	c.certificate, c.certModTime, c.keyModTime = &certificate, certInfo.ModTime(), keyInfo.ModTime()
	return c.certificate, nil
}
