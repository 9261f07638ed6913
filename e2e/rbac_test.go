//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	clientset "github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned"
)

// impersonating is the elasticflux client of a plain user: the admin's
// credentials, acting as user (the API server checks that user's rights).
func impersonating(t *testing.T, user string) clientset.Interface {
	t.Helper()
	config := rest.CopyConfig(adminConfig)
	config.Impersonate = rest.ImpersonationConfig{UserName: user}
	client, err := clientset.NewForConfig(config)
	require.NoError(t, err)
	return client
}

// bindUser gives user the built-in clusterRole in namespace, the way an
// administrator hands out a namespace.
func bindUser(t *testing.T, namespace, user, clusterRole string) {
	t.Helper()
	_, err := kubeClient.RbacV1().RoleBindings(namespace).Create(context.Background(), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user + "-" + clusterRole},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
}

// TestAggregatedRoles: the ClusterRoles in manifests/rbac are aggregated by
// kube-controller-manager into the built-in edit, admin and view roles. A
// user who may edit a namespace creates and scales MiniClusters there
// (through the API and kubectl scale); a user who may view it reads them and
// their size but changes nothing; neither reaches another namespace.
func TestAggregatedRoles(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	elsewhere := newNamespace(t)
	editor, viewer := "editor-"+ns, "viewer-"+ns
	bindUser(t, ns, editor, "edit")
	bindUser(t, ns, viewer, "view")
	asEditor, asViewer := impersonating(t, editor), impersonating(t, viewer)
	ctx := context.Background()

	// Aggregation runs in a controller: wait for the rule to arrive.
	eventually(t, shortWait, "the editor allowed to create a MiniCluster", func() (bool, string) {
		_, err := asEditor.ElasticfluxV1alpha1().MiniClusters(ns).Create(ctx, miniCluster("flux-sample", 2, 1, 8), metav1.CreateOptions{})
		return err == nil, errString(err)
	})

	scale, err := asEditor.ElasticfluxV1alpha1().MiniClusters(ns).GetScale(ctx, "flux-sample", metav1.GetOptions{})
	require.NoError(t, err)
	scale.Spec.Replicas = 4
	_, err = asEditor.ElasticfluxV1alpha1().MiniClusters(ns).UpdateScale(ctx, "flux-sample", scale, metav1.UpdateOptions{})
	require.NoError(t, err, "the editor scales through the scale subresource")
	out, err := kubectl("--as="+editor, "-n", ns, "scale", "minicluster/flux-sample", "--replicas=3")
	require.NoError(t, err, "kubectl scale as the editor: %s", out)
	assert.Equal(t, int32(3), *getMiniCluster(t, ns, "flux-sample").Spec.Size)

	eventually(t, shortWait, "the viewer allowed to list MiniClusters", func() (bool, string) {
		list, err := asViewer.ElasticfluxV1alpha1().MiniClusters(ns).List(ctx, metav1.ListOptions{})
		return err == nil && len(list.Items) == 1, fmt.Sprint(err)
	})
	_, err = asViewer.ElasticfluxV1alpha1().MiniClusters(ns).Get(ctx, "flux-sample", metav1.GetOptions{})
	require.NoError(t, err, "the viewer reads a MiniCluster")
	viewed, err := asViewer.ElasticfluxV1alpha1().MiniClusters(ns).GetScale(ctx, "flux-sample", metav1.GetOptions{})
	require.NoError(t, err, "the viewer reads its size")
	assert.Equal(t, int32(3), viewed.Spec.Replicas)

	refusals := map[string]func() error{
		"create": func() error {
			_, err := asViewer.ElasticfluxV1alpha1().MiniClusters(ns).Create(ctx, miniCluster("flux-other", 1, 1, 2), metav1.CreateOptions{})
			return err
		},
		"scale": func() error {
			_, err := asViewer.ElasticfluxV1alpha1().MiniClusters(ns).UpdateScale(ctx, "flux-sample",
				&autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "flux-sample", Namespace: ns}, Spec: autoscalingv1.ScaleSpec{Replicas: 2}},
				metav1.UpdateOptions{})
			return err
		},
		"delete": func() error {
			return asViewer.ElasticfluxV1alpha1().MiniClusters(ns).Delete(ctx, "flux-sample", metav1.DeleteOptions{})
		},
	}
	for verb, attempt := range refusals {
		err := attempt()
		assert.True(t, apierrors.IsForbidden(err), "the viewer may not %s: %v", verb, err)
	}
	out, err = kubectl("--as="+viewer, "-n", ns, "scale", "minicluster/flux-sample", "--replicas=2")
	require.Error(t, err)
	assert.Contains(t, out, "forbidden", "kubectl scale as the viewer")

	_, err = asEditor.ElasticfluxV1alpha1().MiniClusters(elsewhere).List(ctx, metav1.ListOptions{})
	assert.True(t, apierrors.IsForbidden(err), "the editor's right ends at its namespace: %v", err)

	require.NoError(t, asEditor.ElasticfluxV1alpha1().MiniClusters(ns).Delete(ctx, "flux-sample", metav1.DeleteOptions{}), "the editor deletes")
}
