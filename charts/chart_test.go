// Package charts holds the Helm chart and the tests that render it with the
// Helm pinned in hack/tools/helm/go.mod.
package charts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

const (
	releaseName      = "elasticflux"
	releaseNamespace = "elasticflux-system"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	_, here, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Dir(filepath.Dir(here))
}

// run runs one of the repo's hack/ wrappers and returns its stdout, or its
// stderr as the error.
func run(t *testing.T, script string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(repoRoot(t), "hack", script), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %v: %w: %s", script, args, err, stderr.String())
	}
	return stdout.String(), nil
}

// render runs helm template on the chart with the given --set values.
func render(t *testing.T, set ...string) ([]*unstructured.Unstructured, error) {
	t.Helper()
	args := []string{"template", releaseName, filepath.Join(repoRoot(t), "charts", "elasticflux"), "--namespace", releaseNamespace, "--include-crds"}
	for _, value := range set {
		args = append(args, "--set", value)
	}
	out, err := run(t, "helm.sh", args...)
	if err != nil {
		return nil, err
	}
	return decode(t, out), nil
}

func mustRender(t *testing.T, set ...string) []*unstructured.Unstructured {
	t.Helper()
	objects, err := render(t, set...)
	require.NoError(t, err)
	return objects
}

// decode reads a stream of YAML documents, numbers as int64 as the API
// server would.
func decode(t *testing.T, stream string) []*unstructured.Unstructured {
	t.Helper()
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewBufferString(stream), 4096)
	var objects []*unstructured.Unstructured
	for {
		var raw json.RawMessage
		err := decoder.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return objects
		}
		require.NoError(t, err)
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		object := &unstructured.Unstructured{}
		require.NoError(t, object.UnmarshalJSON(raw))
		objects = append(objects, object)
	}
}

// find returns the object of that kind and name, or nil.
func find(objects []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, object := range objects {
		if object.GetKind() == kind && object.GetName() == name {
			return object
		}
	}
	return nil
}

func kinds(objects []*unstructured.Unstructured) []string {
	var out []string
	for _, object := range objects {
		out = append(out, object.GetKind()+"/"+object.GetName())
	}
	slices.Sort(out)
	return out
}

// controllerArgs are the controller container's arguments.
func controllerArgs(t *testing.T, objects []*unstructured.Unstructured) []string {
	t.Helper()
	deployment := find(objects, "Deployment", "elasticflux-controller")
	require.NotNil(t, deployment)
	containers, _, err := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "containers")
	require.NoError(t, err)
	require.Len(t, containers, 1)
	args, _, err := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	require.NoError(t, err)
	return args
}

func TestChartDefaults(t *testing.T) {
	objects := mustRender(t)
	assert.Equal(t, []string{
		"ClusterRole/elasticflux-controller",
		"ClusterRole/elasticflux-metrics-auth",
		"ClusterRole/elasticflux-metrics-reader",
		"ClusterRole/elasticflux-minicluster-editor",
		"ClusterRole/elasticflux-minicluster-viewer",
		"ClusterRoleBinding/elasticflux-controller",
		"ClusterRoleBinding/elasticflux-metrics-auth",
		"CustomResourceDefinition/miniclusters.elasticflux.io",
		"Deployment/elasticflux-controller",
		"Role/elasticflux-controller-leader-election",
		"RoleBinding/elasticflux-controller-leader-election",
		"Service/elasticflux-controller-metrics",
		"ServiceAccount/elasticflux-controller",
	}, kinds(objects))

	deployment := find(objects, "Deployment", "elasticflux-controller")
	replicas, _, _ := unstructured.NestedInt64(deployment.Object, "spec", "replicas")
	assert.Equal(t, int64(2), replicas)
	containers, _, _ := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "containers")
	image, _, _ := unstructured.NestedString(containers[0].(map[string]any), "image")
	assert.Equal(t, "ghcr.io/elasticflux/elasticflux:v0.1.0", image, "a release tag, the chart's appVersion")
	assert.Subset(t, controllerArgs(t, objects), []string{"--leader-elect=true", "--metrics-bind-address=:8443", "--health-probe-bind-address=:8081"})
	assert.NotContains(t, fmt.Sprint(controllerArgs(t, objects)), "--namespace=")

	for _, role := range []struct{ name, label string }{
		{"elasticflux-minicluster-editor", "rbac.authorization.k8s.io/aggregate-to-edit"},
		{"elasticflux-minicluster-editor", "rbac.authorization.k8s.io/aggregate-to-admin"},
		{"elasticflux-minicluster-viewer", "rbac.authorization.k8s.io/aggregate-to-view"},
	} {
		assert.Equal(t, "true", find(objects, "ClusterRole", role.name).GetLabels()[role.label], "%s carries %s", role.name, role.label)
	}
	for _, object := range objects {
		// Helm installs crds/ as they are, untemplated.
		if object.GetKind() != "CustomResourceDefinition" {
			assert.Equal(t, "Helm", object.GetLabels()["app.kubernetes.io/managed-by"], "%s/%s", object.GetKind(), object.GetName())
		}
	}
}

// TestChartWatchingOneNamespace: the controller's rights shrink to a Role in
// that namespace; what cannot be namespaced stays cluster-wide.
func TestChartWatchingOneNamespace(t *testing.T) {
	objects := mustRender(t, "watchNamespace=team-a")
	assert.Nil(t, find(objects, "ClusterRole", "elasticflux-controller"))
	assert.Nil(t, find(objects, "ClusterRoleBinding", "elasticflux-controller"))
	role := find(objects, "Role", "elasticflux-controller")
	require.NotNil(t, role)
	assert.Equal(t, "team-a", role.GetNamespace())
	binding := find(objects, "RoleBinding", "elasticflux-controller")
	require.NotNil(t, binding)
	assert.Equal(t, "team-a", binding.GetNamespace())
	subjects, _, _ := unstructured.NestedSlice(binding.Object, "subjects")
	assert.Equal(t, []any{map[string]any{"kind": "ServiceAccount", "name": "elasticflux-controller", "namespace": releaseNamespace}}, subjects)
	roleRef, _, _ := unstructured.NestedString(binding.Object, "roleRef", "kind")
	assert.Equal(t, "Role", roleRef)
	assert.Contains(t, controllerArgs(t, objects), "--namespace=team-a")
	assert.NotNil(t, find(objects, "ClusterRole", "elasticflux-metrics-auth"), "TokenReviews are cluster-scoped")
	assert.NotNil(t, find(objects, "Role", "elasticflux-controller-leader-election"))
}

func TestChartMetrics(t *testing.T) {
	t.Run("disabled", func(t *testing.T) {
		objects := mustRender(t, "metrics.enabled=false")
		assert.Contains(t, controllerArgs(t, objects), "--metrics-bind-address=0")
		for _, gone := range []struct{ kind, name string }{
			{"Service", "elasticflux-controller-metrics"},
			{"ClusterRole", "elasticflux-metrics-auth"},
			{"ClusterRoleBinding", "elasticflux-metrics-auth"},
			{"ClusterRole", "elasticflux-metrics-reader"},
		} {
			assert.Nil(t, find(objects, gone.kind, gone.name), "%s/%s", gone.kind, gone.name)
		}
	})
	t.Run("a certificate from a Secret", func(t *testing.T) {
		objects := mustRender(t, "metrics.tls.secretName=elasticflux-metrics-tls", "metrics.port=9443")
		assert.Subset(t, controllerArgs(t, objects), []string{"--metrics-cert-dir=/etc/elasticflux/metrics-tls", "--metrics-bind-address=:9443"})
		volumes, _, _ := unstructured.NestedSlice(find(objects, "Deployment", "elasticflux-controller").Object, "spec", "template", "spec", "volumes")
		assert.Equal(t, []any{map[string]any{"name": "metrics-tls", "secret": map[string]any{"secretName": "elasticflux-metrics-tls"}}}, volumes)
		port, _, _ := unstructured.NestedSlice(find(objects, "Service", "elasticflux-controller-metrics").Object, "spec", "ports")
		assert.Equal(t, int64(9443), port[0].(map[string]any)["port"])
	})
	t.Run("a ServiceMonitor that finds the Service", func(t *testing.T) {
		objects := mustRender(t, "metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.labels.release=prometheus")
		monitor := find(objects, "ServiceMonitor", "elasticflux-controller")
		require.NotNil(t, monitor)
		assert.Equal(t, "prometheus", monitor.GetLabels()["release"])
		selector, _, _ := unstructured.NestedStringMap(monitor.Object, "spec", "selector", "matchLabels")
		service := find(objects, "Service", "elasticflux-controller-metrics")
		for key, value := range selector {
			assert.Equal(t, value, service.GetLabels()[key], "the ServiceMonitor selects the metrics Service by %s", key)
		}
		endpoints, _, _ := unstructured.NestedSlice(monitor.Object, "spec", "endpoints")
		require.Len(t, endpoints, 1)
		endpoint := endpoints[0].(map[string]any)
		assert.Equal(t, "https", endpoint["scheme"])
		assert.Equal(t, "https-metrics", endpoint["port"])
		assert.Equal(t, "/var/run/secrets/kubernetes.io/serviceaccount/token", endpoint["bearerTokenFile"])
	})
}

func TestChartImageAndScheduling(t *testing.T) {
	objects := mustRender(t, "image.repository=registry.example/ef", "image.tag=v9.9.9", "image.pullPolicy=Never",
		"replicas=3", "nodeSelector.disk=ssd", "resources.limits.memory=1Gi")
	spec, _, _ := unstructured.NestedMap(find(objects, "Deployment", "elasticflux-controller").Object, "spec")
	assert.Equal(t, int64(3), spec["replicas"])
	pod := spec["template"].(map[string]any)["spec"].(map[string]any)
	container := pod["containers"].([]any)[0].(map[string]any)
	assert.Equal(t, "registry.example/ef:v9.9.9", container["image"])
	assert.Equal(t, "Never", container["imagePullPolicy"])
	assert.Equal(t, map[string]any{"disk": "ssd"}, pod["nodeSelector"])
	assert.Equal(t, "1Gi", container["resources"].(map[string]any)["limits"].(map[string]any)["memory"])
}

func TestChartRefusesValuesThatCannotWork(t *testing.T) {
	cases := map[string]struct {
		set  []string
		want string
	}{
		"replicas without leader election": {[]string{"leaderElection.enabled=false"}, "replicas > 1 needs leaderElection.enabled"},
		"metrics and probes on one port":   {[]string{"metrics.port=8081"}, "metrics.port and health.port must differ"},
		"a ServiceMonitor without metrics": {[]string{"metrics.enabled=false", "metrics.serviceMonitor.enabled=true"}, "needs metrics.enabled"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := render(t, tc.set...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	objects := mustRender(t, "leaderElection.enabled=false", "replicas=1")
	assert.Contains(t, controllerArgs(t, objects), "--leader-elect=false")
	assert.Nil(t, find(objects, "Role", "elasticflux-controller-leader-election"), "no Lease, no right to one")
}
