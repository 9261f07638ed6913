package controller

import (
	"crypto/rand"

	corev1 "k8s.io/api/core/v1"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
	"github.com/elasticflux/elasticflux/pkg/fluxconfig"
)

// newCurveCertificate makes a fresh certificate from the system's random
// source. The controller never logs it and never regenerates it: brokers
// started with one certificate cannot talk to brokers with another.
func newCurveCertificate(name string) ([]byte, error) {
	return fluxconfig.NewCurveCertificate(name, rand.Reader)
}

// newCurveSecret wraps a certificate in the Secret the brokers mount.
func newCurveSecret(mc *v1alpha1.MiniCluster, cert []byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: ownedMeta(mc, curveSecretName(mc)),
		Type:       corev1.SecretTypeOpaque,
		Immutable:  boolPtr(true),
		Data:       map[string][]byte{CurveCertKey: cert},
	}
}

func boolPtr(b bool) *bool { return &b }
