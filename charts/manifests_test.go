package charts

import (
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
