package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
	"github.com/elasticflux/elasticflux/pkg/controller"
)

var samplesDir = filepath.Join("..", "..", "manifests", "samples")

// renderArgs runs `controller render` with args and returns its exit code,
// stdout and stderr.
func renderArgs(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = runMain(append([]string{"render"}, args...), strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// renderedObjects splits a rendered stream into its documents, keyed by
// kind, checking that each has an apiVersion and a kind.
func renderedObjects(t *testing.T, stream string) map[string]*unstructured.Unstructured {
	t.Helper()
	require.True(t, strings.HasPrefix(stream, "---\n"), "a stream of documents, each after ---")
	objects := map[string]*unstructured.Unstructured{}
	for _, document := range strings.Split(stream, "---\n")[1:] {
		object := &unstructured.Unstructured{}
		require.NoError(t, yaml.Unmarshal([]byte(document), &object.Object), document)
		require.NotEmpty(t, object.GetAPIVersion(), document)
		require.NotEmpty(t, object.GetKind(), document)
		require.NotContains(t, objects, object.GetKind(), "one object of each kind")
		objects[object.GetKind()] = object
	}
	return objects
}

// as converts a rendered object to its type.
func as[T any](t *testing.T, object *unstructured.Unstructured) *T {
	t.Helper()
	require.NotNil(t, object)
	typed := new(T)
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(object.Object, typed, true))
	return typed
}

// sampleMiniClusters reads every MiniCluster under manifests/samples.
func sampleMiniClusters(t *testing.T) map[string]*v1alpha1.MiniCluster {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(samplesDir, "*.yaml"))
	require.NoError(t, err)
	samples := map[string]*v1alpha1.MiniCluster{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		var typeMeta metav1.TypeMeta
		require.NoError(t, yaml.Unmarshal(data, &typeMeta), file)
		if typeMeta.Kind != "MiniCluster" {
			continue
		}
		mc := &v1alpha1.MiniCluster{}
		require.NoError(t, yaml.UnmarshalStrict(data, mc), file)
		samples[file] = mc
	}
	require.NotEmpty(t, samples)
	return samples
}

// TestRenderSamples renders every sample MiniCluster and checks what the
// design promises: the broker config lists every host up to maxSize, the
// Job runs size brokers, and no key material is shown.
func TestRenderSamples(t *testing.T) {
	for file, mc := range sampleMiniClusters(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			require.NotNil(t, mc.Spec.Size, "samples say their size")
			size := *mc.Spec.Size
			maxSize := size
			if mc.Spec.MaxSize != nil {
				maxSize = *mc.Spec.MaxSize
			}

			code, stdout, stderr := renderArgs(t, "", "-f", file)
			require.Equal(t, exitOK, code, stderr)
			objects := renderedObjects(t, stdout)

			configMap := as[corev1.ConfigMap](t, objects["ConfigMap"])
			assert.Equal(t, "default", configMap.Namespace, "namespace default when the file has none")
			var brokerConfig struct {
				Bootstrap struct {
					Hosts []struct{ Host string }
				}
			}
			require.NoError(t, toml.Unmarshal([]byte(configMap.Data["broker.toml"]), &brokerConfig))
			require.Len(t, brokerConfig.Bootstrap.Hosts, 1)
			assert.Equal(t, fmt.Sprintf("%s-[0-%d]", mc.Name, maxSize-1), brokerConfig.Bootstrap.Hosts[0].Host)

			job := as[batchv1.Job](t, objects["Job"])
			require.NotNil(t, job.Spec.Parallelism)
			require.NotNil(t, job.Spec.Completions)
			assert.Equal(t, size, *job.Spec.Parallelism)
			assert.Equal(t, size, *job.Spec.Completions)

			secret := as[corev1.Secret](t, objects["Secret"])
			assert.Equal(t, controller.RedactedCertificate, secret.StringData[controller.CurveCertKey])
			assert.Empty(t, secret.Data)
			for _, keyMaterial := range []string{"public-key", "secret-key"} {
				assert.NotContains(t, stdout, keyMaterial)
			}
			assert.NotRegexp(t, `(?m)^\s*curve$`, stdout, "no certificate section")

			_, hasRole := objects["Role"]
			assert.Equal(t, mc.SelfScaling(), hasRole, "a Role exactly for self-scaling")
			assert.NotContains(t, objects, "MiniCluster", "only what the controller creates")
		})
	}
}

// TestRenderShowsWhatTheControllerBuilds: the stream, read back, holds the
// objects controller.RenderObjects returns, byte for byte where it matters
// (the scripts are re-styled as YAML blocks, not changed).
func TestRenderShowsWhatTheControllerBuilds(t *testing.T) {
	file := filepath.Join(samplesDir, "minicluster.yaml")
	mc := sampleMiniClusters(t)[file]
	require.NotNil(t, mc)
	mc.Namespace = "default"
	want, err := controller.RenderObjects(mc, controller.Config{})
	require.NoError(t, err)

	code, stdout, stderr := renderArgs(t, "", "-f", file)
	require.Equal(t, exitOK, code, stderr)
	objects := renderedObjects(t, stdout)
	assert.Len(t, objects, len(want))
	for _, object := range want {
		switch object := object.(type) {
		case *corev1.ConfigMap:
			got := as[corev1.ConfigMap](t, objects["ConfigMap"])
			assert.Equal(t, object.Data, got.Data)
			assert.Equal(t, object.ObjectMeta, got.ObjectMeta)
		case *batchv1.Job:
			got := as[batchv1.Job](t, objects["Job"])
			assert.Equal(t, object.Spec, got.Spec)
			assert.Equal(t, object.ObjectMeta, got.ObjectMeta)
		case *corev1.Service:
			got := as[corev1.Service](t, objects["Service"])
			assert.Equal(t, object.Spec, got.Spec)
		}
	}
	assert.Contains(t, stdout, "  start.sh: |\n", "scripts read as blocks of text")
}

func TestRenderClusterDomain(t *testing.T) {
	code, stdout, stderr := renderArgs(t, "", "-f", filepath.Join(samplesDir, "minicluster.yaml"), "--cluster-domain", "hpc.example.org")
	require.Equal(t, exitOK, code, stderr)
	configMap := as[corev1.ConfigMap](t, renderedObjects(t, stdout)["ConfigMap"])
	assert.Contains(t, configMap.Data["broker.toml"], ".flux-sample.default.svc.hpc.example.org:")
}

// TestRenderStream: standard input, several MiniClusters in one stream, a
// namespace kept when given.
func TestRenderStream(t *testing.T) {
	stdin := `# two clusters
---
apiVersion: elasticflux.io/v1alpha1
kind: MiniCluster
metadata: {name: first, namespace: hpc}
spec: {size: 2, maxSize: 4, container: {image: flux}}
---
apiVersion: elasticflux.io/v1alpha1
kind: MiniCluster
metadata: {name: second}
spec: {container: {image: flux}}
`
	code, stdout, stderr := renderArgs(t, stdin, "-f", "-")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "name: first\n  namespace: hpc\n")
	assert.Contains(t, stdout, "name: second\n  namespace: default\n")
	assert.Equal(t, 2, strings.Count(stdout, "kind: Job\n"))
}

// TestRenderRefuses: what render will not read, and how it says so.
func TestRenderRefuses(t *testing.T) {
	const header = "apiVersion: elasticflux.io/v1alpha1\nkind: MiniCluster\nmetadata: {name: x}\n"
	cases := map[string]struct {
		args     []string
		stdin    string
		wantCode int
		wantErr  string
	}{
		"unknown field": {
			stdin:    header + "spec:\n  sise: 3\n  container: {image: flux}\n",
			wantCode: exitFailure, wantErr: `unknown field "spec.sise"`,
		},
		"unknown nested field": {
			stdin:    header + "spec:\n  container: {image: flux, imagePullPolicy: Always, cpus: 4}\n",
			wantCode: exitFailure, wantErr: `unknown field "spec.container.cpus"`,
		},
		"duplicate field": {
			stdin:    header + "spec:\n  size: 2\n  size: 3\n  container: {image: flux}\n",
			wantCode: exitFailure, wantErr: `key "size" already set`,
		},
		"another kind": {
			stdin:    "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: x}\n",
			wantCode: exitFailure, wantErr: `kind "HorizontalPodAutoscaler" of apiVersion "autoscaling/v2" is not a MiniCluster`,
		},
		"another version": {
			stdin:    "apiVersion: elasticflux.io/v1\nkind: MiniCluster\nmetadata: {name: x}\n",
			wantCode: exitFailure, wantErr: "is not a MiniCluster (apiVersion elasticflux.io/v1alpha1)",
		},
		"second document": {
			stdin:    header + "spec: {container: {image: flux}}\n---\n" + header + "spec: {color: blue}\n",
			wantCode: exitFailure, wantErr: "standard input, document 2:",
		},
		"no name": {
			stdin:    "apiVersion: elasticflux.io/v1alpha1\nkind: MiniCluster\nspec: {container: {image: flux}}\n",
			wantCode: exitFailure, wantErr: "no metadata.name",
		},
		"empty": {
			stdin:    "# nothing\n",
			wantCode: exitFailure, wantErr: "standard input holds no MiniCluster",
		},
		"not YAML": {
			stdin:    "{[",
			wantCode: exitFailure, wantErr: "not YAML",
		},
		"missing file": {
			args:     []string{"-f", filepath.Join(t.TempDir(), "absent.yaml")},
			wantCode: exitFailure, wantErr: "no such file",
		},
		"no -f": {
			args:     []string{},
			wantCode: exitUsage, wantErr: "-f FILE is required",
		},
		"extra argument": {
			args:     []string{"-f", "-", "more"},
			wantCode: exitUsage, wantErr: `unexpected argument "more"`,
		},
		"unknown flag": {
			args:     []string{"--workers=2"},
			wantCode: exitUsage, wantErr: "flag provided but not defined: -workers",
		},
		"bad cluster domain": {
			args:     []string{"-f", "-", "--cluster-domain", "Cluster_Local"},
			wantCode: exitUsage, wantErr: `--cluster-domain "Cluster_Local" is not a DNS name`,
		},
		"help": {
			args:     []string{"-h"},
			wantCode: exitOK, wantErr: "Usage: controller render -f FILE",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			args := tc.args
			if args == nil {
				args = []string{"-f", "-"}
			}
			code, stdout, stderr := renderArgs(t, tc.stdin, args...)
			assert.Equal(t, tc.wantCode, code, stderr)
			assert.Contains(t, stderr, tc.wantErr)
			assert.Empty(t, stdout, "nothing half-written")
		})
	}
}

// TestRenderRefusesNonMiniClusterSamples: the HPA samples are not
// MiniClusters, and render says so rather than guessing.
func TestRenderRefusesNonMiniClusterSamples(t *testing.T) {
	for _, file := range []string{"hpa-v1.yaml", "hpa-v2.yaml"} {
		code, _, stderr := renderArgs(t, "", "-f", filepath.Join(samplesDir, file))
		assert.Equal(t, exitFailure, code)
		assert.Contains(t, stderr, "is not a MiniCluster", file)
	}
}
