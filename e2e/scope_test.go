//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestNamespaceScopedInstall: the chart with watchNamespace gives the
// controller a Role in that namespace instead of a ClusterRole, and that
// is enough. The RBAC is rendered by helm template and applied; the
// controller runs as the chart's ServiceAccount, watching that namespace
// and holding its Lease in its own, and serves a MiniCluster there, while
// the API server refuses it MiniClusters anywhere else.
func TestNamespaceScopedInstall(t *testing.T) {
	t.Parallel()
	watched := newNamespace(t)
	home := newNamespace(t)
	const release = "scoped"
	account := release + "-elasticflux-controller"

	out, err := helm("template", release, filepath.Join(repoRoot, "charts", "elasticflux"), "--namespace", home, "--set", "watchNamespace="+watched)
	require.NoError(t, err, "helm template: %s", out)
	// Everything but the controller itself, which runs here as a process.
	var rbac []string
	for doc := range strings.SplitSeq(out, "\n---\n") {
		if strings.Contains(doc, "\nkind: Deployment\n") || strings.Contains(doc, "\nkind: Service\n") {
			continue
		}
		rbac = append(rbac, doc)
	}
	manifest := filepath.Join(t.TempDir(), "rbac.yaml")
	require.NoError(t, os.WriteFile(manifest, []byte(strings.Join(rbac, "\n---\n")), 0o600))
	out, err = kubectl("apply", "-f", manifest)
	require.NoError(t, err, "applying the scoped RBAC: %s", out)
	t.Cleanup(func() { _, _ = kubectl("delete", "-f", manifest, "--ignore-not-found", "--wait=false") })
	assert.NotContains(t, out, "clusterrole.rbac.authorization.k8s.io/"+account+" ", "no ClusterRole for the controller")
	assert.Contains(t, out, "role.rbac.authorization.k8s.io/"+account+" created")

	kubeconfig := filepath.Join(t.TempDir(), "scoped.kubeconfig")
	require.NoError(t, writeServiceAccountKubeconfig(context.Background(), home, account, kubeconfig))
	startController(t, watched, "--kubeconfig="+kubeconfig, "--leader-elect=true", "--leader-elect-namespace="+home)

	createMiniCluster(t, watched, miniCluster("flux-sample", 2, 1, 4))
	waitForBrokers(t, watched, "flux-sample", 2)
	setSize(t, watched, "flux-sample", 3)
	waitForBrokers(t, watched, "flux-sample", 3)

	review, err := kubeClient.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               "system:serviceaccount:" + home + ":" + account,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Group: "elasticflux.io", Resource: "miniclusters", Verb: "list"},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	assert.False(t, review.Status.Allowed, "the scoped controller may not list MiniClusters cluster-wide")
}
