package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/elasticflux/elasticflux/pkg/controller"
)

// renderFile renders a file and splits the stream into documents by kind.
func renderFile(t *testing.T, path string) map[string][]byte {
	t.Helper()
	var out bytes.Buffer
	require.NoError(t, render([]string{"-f", path}, nil, &out))
	documents := map[string][]byte{}
	for _, doc := range strings.Split(out.String(), "---\n")[1:] {
		var meta struct{ Kind string }
		require.NoError(t, yaml.Unmarshal([]byte(doc), &meta))
		documents[meta.Kind] = []byte(doc)
	}
	return documents
}

func TestRenderSamples(t *testing.T) {
	cases := map[string]struct {
		hosts       string
		size        int32
		selfScaling bool
	}{
		"minicluster.yaml": {hosts: "flux-sample-[0-7]", size: 2},
		"selfscaling.yaml": {hosts: "flux-elastic-[0-3]", size: 1, selfScaling: true},
		"job.yaml":         {hosts: "flux-hostname-[0-3]", size: 4},
	}
	for file, tc := range cases {
		t.Run(file, func(t *testing.T) {
			docs := renderFile(t, filepath.Join("..", "..", "manifests", "samples", file))

			var cm corev1.ConfigMap
			require.NoError(t, yaml.UnmarshalStrict(docs["ConfigMap"], &cm))
			assert.Contains(t, cm.Data["broker.toml"], tc.hosts)

			var job batchv1.Job
			require.NoError(t, yaml.UnmarshalStrict(docs["Job"], &job))
			assert.Equal(t, tc.size, *job.Spec.Parallelism)
			assert.Equal(t, tc.size, *job.Spec.Completions)

			var secret corev1.Secret
			require.NoError(t, yaml.UnmarshalStrict(docs["Secret"], &secret))
			assert.Equal(t, controller.RedactedCertificate, secret.StringData[controller.CurveCertKey])
			for kind, doc := range docs {
				assert.NotContains(t, string(doc), "secret-key", "%s shows key material", kind)
			}
			_, hasRole := docs["Role"]
			assert.Equal(t, tc.selfScaling, hasRole)
		})
	}
}

func TestRenderRefusesUnknownFields(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mc.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`apiVersion: elasticflux.io/v1alpha1
kind: MiniCluster
metadata: {name: x}
spec:
  sise: 3
  container: {image: flux}
`), 0o644))
	err := render([]string{"-f", path}, nil, &bytes.Buffer{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown field "sise"`)
}

func TestRenderReadsStdin(t *testing.T) {
	var out bytes.Buffer
	in := strings.NewReader("apiVersion: elasticflux.io/v1alpha1\nkind: MiniCluster\nmetadata: {name: x}\nspec: {container: {image: flux}}\n")
	require.NoError(t, render([]string{"-f", "-"}, in, &out))
	assert.Contains(t, out.String(), "kind: Job")
}

// TestManifestsParse: every manifest is valid YAML and the kustomization
// names files that exist.
func TestManifestsParse(t *testing.T) {
	root := filepath.Join("..", "..", "manifests")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		for _, doc := range strings.Split(string(data), "\n---\n") {
			var object map[string]any
			require.NoError(t, yaml.Unmarshal([]byte(doc), &object), path)
			assert.NotEmpty(t, object["kind"], "%s has no kind", path)
		}
		return nil
	})
	require.NoError(t, err)

	data, err := os.ReadFile(filepath.Join(root, "kustomization.yaml"))
	require.NoError(t, err)
	var kustomization struct{ Resources []string }
	require.NoError(t, yaml.Unmarshal(data, &kustomization))
	require.NotEmpty(t, kustomization.Resources)
	for _, resource := range kustomization.Resources {
		assert.FileExists(t, filepath.Join(root, resource))
	}
}
