//go:build e2e

package e2e

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestLeaderThatCannotWorkLetsGo: a leader whose controller cannot work
// (here it may hold the Lease but not list what it manages, so its caches
// never fill) does not sit on the Lease: it exits non-zero and releases
// it, so another replica can take over.
func TestLeaderThatCannotWorkLetsGo(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()
	_, err := kubeClient.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "lease-only"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = kubeClient.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "lease-only"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = kubeClient.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "lease-only"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "lease-only"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "lease-only", Namespace: ns}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	kubeconfig := filepath.Join(t.TempDir(), "lease-only.kubeconfig")
	require.NoError(t, writeServiceAccountKubeconfig(ctx, ns, "lease-only", kubeconfig))

	controller := startController(t, ns, "--kubeconfig="+kubeconfig, "--leader-elect=true", "--leader-elect-namespace="+ns, "--cache-sync-timeout=10s")
	var holder string
	eventually(t, shortWait, "the Lease taken", func() (bool, string) {
		lease, err := kubeClient.CoordinationV1().Leases(ns).Get(ctx, "elasticflux-controller", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		holder = ptr.Deref(lease.Spec.HolderIdentity, "")
		return holder != "", "no holder"
	})
	code, exited := controller.exitCode(longWait)
	require.True(t, exited, "a leader that cannot work must not hold the Lease for ever")
	assert.Equal(t, 1, code, "a failure, not a usage error")
	lease, err := kubeClient.CoordinationV1().Leases(ns).Get(ctx, "elasticflux-controller", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Empty(t, ptr.Deref(lease.Spec.HolderIdentity, ""), "released for the next leader (%s held it)", holder)
}
