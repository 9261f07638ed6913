package charts

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// helmOnlyLabels are the chart's labels that manifests/ leaves out: applied
// with kubectl, they would claim Helm manages the objects.
var helmOnlyLabels = []string{"helm.sh/chart", "app.kubernetes.io/managed-by"}

func key(object *unstructured.Unstructured) string {
	return object.GetKind() + " " + object.GetNamespace() + "/" + object.GetName()
}

// TestChartRendersWhatManifestsInstall: `helm template` with the default
// values and `kustomize build manifests/` give the same objects, field for
// field, but for the documented differences: manifests/ also creates the
// elasticflux-system Namespace (helm install --create-namespace does that),
// and has no Helm labels. It fails when manifests/ is stale or when a
// change reaches one install and not the other.
func TestChartRendersWhatManifestsInstall(t *testing.T) {
	helmObjects := map[string]*unstructured.Unstructured{}
	for _, object := range mustRender(t) {
		labels := object.GetLabels()
		for _, label := range helmOnlyLabels {
			delete(labels, label)
		}
		if len(labels) == 0 {
			labels = nil
		}
		object.SetLabels(labels)
		helmObjects[key(object)] = object
	}

	built, err := run(t, "kustomize.sh", "build", filepath.Join(repoRoot(t), "manifests"))
	require.NoError(t, err)
	kustomizeObjects := map[string]*unstructured.Unstructured{}
	for _, object := range decode(t, built) {
		kustomizeObjects[key(object)] = object
	}

	namespace, ok := kustomizeObjects["Namespace /"+releaseNamespace]
	require.True(t, ok, "manifests/ creates the namespace")
	assert.Equal(t, "elasticflux", namespace.GetLabels()["app.kubernetes.io/name"])
	delete(kustomizeObjects, "Namespace /"+releaseNamespace)

	require.ElementsMatch(t, keys(helmObjects), keys(kustomizeObjects))
	for name, helmObject := range helmObjects {
		assert.Equal(t, helmObject.Object, kustomizeObjects[name].Object, name)
	}
}

func keys(objects map[string]*unstructured.Unstructured) []string {
	var out []string
	for name := range objects {
		out = append(out, name)
	}
	return out
}

// TestServiceMonitorSampleFindsTheService: the sample ServiceMonitor for the
// kustomize install selects the metrics Service manifests/ creates, by its
// labels, namespace and port name.
func TestServiceMonitorSampleFindsTheService(t *testing.T) {
	sample, err := os.ReadFile(filepath.Join(repoRoot(t), "manifests", "samples", "servicemonitor.yaml"))
	require.NoError(t, err)
	monitors := decode(t, string(sample))
	require.Len(t, monitors, 1)
	monitor := monitors[0]

	built, err := run(t, "kustomize.sh", "build", filepath.Join(repoRoot(t), "manifests"))
	require.NoError(t, err)
	service := find(decode(t, built), "Service", "elasticflux-controller-metrics")
	require.NotNil(t, service)

	selector, _, _ := unstructured.NestedStringMap(monitor.Object, "spec", "selector", "matchLabels")
	require.NotEmpty(t, selector)
	for key, value := range selector {
		assert.Equal(t, value, service.GetLabels()[key], "selects by %s", key)
	}
	namespaces, _, _ := unstructured.NestedStringSlice(monitor.Object, "spec", "namespaceSelector", "matchNames")
	assert.Equal(t, []string{service.GetNamespace()}, namespaces)
	endpoints, _, _ := unstructured.NestedSlice(monitor.Object, "spec", "endpoints")
	ports, _, _ := unstructured.NestedSlice(service.Object, "spec", "ports")
	assert.Equal(t, ports[0].(map[string]any)["name"], endpoints[0].(map[string]any)["port"])
	assert.Equal(t, "https", endpoints[0].(map[string]any)["scheme"])
}
