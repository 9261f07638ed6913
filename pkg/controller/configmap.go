package controller

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
	"github.com/elasticflux/elasticflux/pkg/fluxconfig"
)

// newConfigMap renders what every broker reads: the broker TOML (hosts up to
// maxSize), R when the cores are known, and the start and preStop scripts.
// It holds no secret: the certificate is only in its Secret. An error here
// is the user's (a spec Flux cannot run), not a transient one.
func newConfigMap(mc *v1alpha1.MiniCluster, clusterDomain string) (*corev1.ConfigMap, error) {
	cores, gpus := brokerCores(mc)
	renderedR := cores > 0
	data := map[string]string{}

	toml, err := fluxconfig.RenderBrokerTOML(brokerConfig(mc, clusterDomain, renderedR))
	if err != nil {
		return nil, fmt.Errorf("rendering the broker config: %w", err)
	}
	data[brokerTOMLKey] = string(toml)

	if renderedR {
		r, err := fluxconfig.RenderR(fluxconfig.BrokerHostnames(mc.Name, int(mc.MaximumSize())), cores, gpus)
		if err != nil {
			return nil, fmt.Errorf("rendering R: %w", err)
		}
		data[rKey] = string(r)
	}

	options := scriptOptions(mc, renderedR)
	start, err := fluxconfig.RenderStartScript(options)
	if err != nil {
		return nil, fmt.Errorf("rendering the start script: %w", err)
	}
	data[startScriptKey] = start
	preStop, err := fluxconfig.RenderPreStopScript(options)
	if err != nil {
		return nil, fmt.Errorf("rendering the preStop script: %w", err)
	}
	data[preStopKey] = preStop

	return &corev1.ConfigMap{ObjectMeta: ownedMeta(mc, configMapName(mc)), Data: data}, nil
}

// ownedMeta is the metadata of an object mc controls.
func ownedMeta(mc *v1alpha1.MiniCluster, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       mc.Namespace,
		Labels:          managedLabels(mc),
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(mc, controllerKind)},
	}
}
