package controller

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// The self-scaling identity: a ServiceAccount for the broker pods, and a Role
// that lets it read its own MiniCluster and change its size through the
// scale subresource. resourceNames pins both rules to this one MiniCluster.

func newServiceAccount(mc *v1alpha1.MiniCluster) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: ownedMeta(mc, rbacName(mc))}
}

func newRole(mc *v1alpha1.MiniCluster) *rbacv1.Role {
	return &rbacv1.Role{
		ObjectMeta: ownedMeta(mc, rbacName(mc)),
		Rules: []rbacv1.PolicyRule{
			{
				APIGroups:     []string{v1alpha1.GroupName},
				Resources:     []string{"miniclusters/scale"},
				ResourceNames: []string{mc.Name},
				Verbs:         []string{"get", "update", "patch"},
			},
			{
				APIGroups:     []string{v1alpha1.GroupName},
				Resources:     []string{"miniclusters"},
				ResourceNames: []string{mc.Name},
				Verbs:         []string{"get"},
			},
		},
	}
}

func newRoleBinding(mc *v1alpha1.MiniCluster) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: ownedMeta(mc, rbacName(mc)),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: rbacName(mc)},
		Subjects: []rbacv1.Subject{{
			Kind: rbacv1.ServiceAccountKind, Name: rbacName(mc), Namespace: mc.Namespace,
		}},
	}
}
