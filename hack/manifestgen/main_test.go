package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const rendered = `---
# Source: elasticflux/crds/elasticflux.io_miniclusters.yaml
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: miniclusters.elasticflux.io
---
# Source: elasticflux/templates/rbac/service_account.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: elasticflux-controller
  labels:
    app.kubernetes.io/name: elasticflux
    helm.sh/chart: elasticflux-0.1.0
    app.kubernetes.io/managed-by: Helm
---
# Source: elasticflux/templates/rbac/leader_election_role.yaml
kind: Role
metadata:
  name: a
---
# Source: elasticflux/templates/rbac/leader_election_role.yaml
kind: RoleBinding
metadata:
  name: a
`

func TestSplitMapsSourcesAndDropsHelmLabels(t *testing.T) {
	docs, err := split(strings.NewReader(rendered))
	require.NoError(t, err)
	require.Len(t, docs, 4)
	assert.Equal(t, "crd/elasticflux.io_miniclusters.yaml", docs[0].file)
	assert.True(t, strings.HasPrefix(docs[0].body, "apiVersion: apiextensions.k8s.io/v1\n"), "the CRD's own separator is not a document")
	assert.Equal(t, "rbac/service_account.yaml", docs[1].file)
	assert.Equal(t, "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: elasticflux-controller\n  labels:\n    app.kubernetes.io/name: elasticflux\n", docs[1].body)
	assert.Equal(t, docs[2].file, docs[3].file)
}

func TestSplitRefusesStrayText(t *testing.T) {
	_, err := split(strings.NewReader("kind: Pod\n"))
	require.ErrorContains(t, err, "without a '# Source:' line")
	_, err = split(strings.NewReader("# Source: elasticflux/NOTES.txt\nhello\n"))
	require.ErrorContains(t, err, "neither a template nor a CRD")
}

func TestWriteOwnsItsDirectoriesOnly(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "rbac"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "samples"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rbac", "gone.yaml"), []byte("old"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "samples", "mine.yaml"), []byte("kept"), 0o644))

	docs, err := split(strings.NewReader(rendered))
	require.NoError(t, err)
	require.NoError(t, write(dir, docs))

	_, err = os.Stat(filepath.Join(dir, "rbac", "gone.yaml"))
	assert.True(t, os.IsNotExist(err), "a file the chart no longer renders is removed")
	kept, err := os.ReadFile(filepath.Join(dir, "samples", "mine.yaml"))
	require.NoError(t, err)
	assert.Equal(t, "kept", string(kept))

	role, err := os.ReadFile(filepath.Join(dir, "rbac", "leader_election_role.yaml"))
	require.NoError(t, err)
	assert.Equal(t, generatedHeader+"kind: Role\nmetadata:\n  name: a\n---\nkind: RoleBinding\nmetadata:\n  name: a\n", string(role))

	kustomization, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(kustomization), "resources:\n- crd/elasticflux.io_miniclusters.yaml\n- rbac/service_account.yaml\n- rbac/leader_election_role.yaml\n")
}
