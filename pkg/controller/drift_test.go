package controller

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// selfScalingChildren are the steady objects of a self-scaling cluster.
func selfScalingChildren(t *testing.T, mc *v1alpha1.MiniCluster) []runtime.Object {
	objects := steadyChildren(t, mc, 2)
	return append(objects, newServiceAccount(mc), newRole(mc), newRoleBinding(mc))
}

// TestSyncRestoresEditedObjects: an owned object edited by hand is put
// back, and the user is told.
func TestSyncRestoresEditedObjects(t *testing.T) {
	cases := map[string]struct {
		edit       func(objects []runtime.Object)
		wantWrites []string
		check      func(t *testing.T, f *fixture)
		wantEvent  string
	}{
		"the Service's selector": {
			edit: func(objects []runtime.Object) {
				child[*corev1.Service](objects).Spec.Selector = map[string]string{"app": "other"}
			},
			wantWrites: []string{"update services"},
			check: func(t *testing.T, f *fixture) {
				svc, err := f.kubeClient.CoreV1().Services("default").Get(context.Background(), "flux-sample", metav1.GetOptions{})
				require.NoError(t, err)
				assert.Equal(t, map[string]string{v1alpha1.LabelMiniCluster: "flux-sample"}, svc.Spec.Selector)
			},
			wantEvent: `Normal Restored Service "flux-sample" differed from what this MiniCluster asks for (spec.selector); restored it`,
		},
		"the Service's not-ready addresses and port": {
			edit: func(objects []runtime.Object) {
				svc := child[*corev1.Service](objects)
				svc.Spec.PublishNotReadyAddresses = false
				svc.Spec.Ports[0].Port = 9000
			},
			wantWrites: []string{"update services"},
			check: func(t *testing.T, f *fixture) {
				svc, err := f.kubeClient.CoreV1().Services("default").Get(context.Background(), "flux-sample", metav1.GetOptions{})
				require.NoError(t, err)
				assert.True(t, svc.Spec.PublishNotReadyAddresses)
				assert.Equal(t, int32(brokerPort), svc.Spec.Ports[0].Port)
			},
			wantEvent: `Normal Restored Service "flux-sample" differed from what this MiniCluster asks for (spec.publishNotReadyAddresses, spec.ports); restored it`,
		},
		"a Role widened": {
			edit: func(objects []runtime.Object) {
				role := child[*rbacv1.Role](objects)
				role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}})
			},
			wantWrites: []string{"update roles"},
			check: func(t *testing.T, f *fixture) {
				role, err := f.kubeClient.RbacV1().Roles("default").Get(context.Background(), "flux-sample-selfscale", metav1.GetOptions{})
				require.NoError(t, err)
				assert.Equal(t, newRole(newMiniCluster("flux-sample", 2, 8)).Rules, role.Rules)
			},
			wantEvent: `Normal Restored Role "flux-sample-selfscale" differed from what this MiniCluster asks for (rules); restored it`,
		},
		"a RoleBinding given to someone else": {
			edit: func(objects []runtime.Object) {
				binding := child[*rbacv1.RoleBinding](objects)
				binding.Subjects = append(binding.Subjects, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: "default"})
			},
			wantWrites: []string{"update rolebindings"},
			check: func(t *testing.T, f *fixture) {
				binding, err := f.kubeClient.RbacV1().RoleBindings("default").Get(context.Background(), "flux-sample-selfscale", metav1.GetOptions{})
				require.NoError(t, err)
				assert.Equal(t, []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "flux-sample-selfscale", Namespace: "default"}}, binding.Subjects)
			},
			wantEvent: `Normal Restored RoleBinding "flux-sample-selfscale" differed from what this MiniCluster asks for (subjects); restored it`,
		},
		"the PodDisruptionBudget loosened": {
			edit: func(objects []runtime.Object) {
				child[*policyv1.PodDisruptionBudget](objects).Spec.MinAvailable = ptr.To(intstr.FromInt32(0))
			},
			wantWrites: []string{"update poddisruptionbudgets"},
			check: func(t *testing.T, f *fixture) {
				pdb, err := f.kubeClient.PolicyV1().PodDisruptionBudgets("default").Get(context.Background(), "flux-sample-rank0", metav1.GetOptions{})
				require.NoError(t, err)
				assert.Equal(t, 1, pdb.Spec.MinAvailable.IntValue(), "rank 0 guarded again")
			},
			wantEvent: `Normal Restored PodDisruptionBudget "flux-sample-rank0" differed from what this MiniCluster asks for (spec.minAvailable); restored it`,
		},
		"the managed-by label removed from the Service": {
			edit: func(objects []runtime.Object) {
				delete(child[*corev1.Service](objects).Labels, v1alpha1.LabelManagedBy)
			},
			// Out of the cache it looks missing: the create is refused
			// (AlreadyExists) and a live read shows it is ours.
			wantWrites: []string{"create services", "patch services"},
			check: func(t *testing.T, f *fixture) {
				svc, err := f.kubeClient.CoreV1().Services("default").Get(context.Background(), "flux-sample", metav1.GetOptions{})
				require.NoError(t, err)
				assert.Equal(t, v1alpha1.ManagedByValue, svc.Labels[v1alpha1.LabelManagedBy], "back in the controller's cache")
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			mc := newMiniCluster("flux-sample", 2, 8)
			mc.Spec.Elasticity = &v1alpha1.ElasticitySpec{SelfScaling: ptr.To(true)}
			f.kubeObjects = selfScalingChildren(t, mc)
			tc.edit(f.kubeObjects)
			f.miniClusters = append(f.miniClusters, withStatus(mc, steadyJob(f.kubeObjects)))
			f.sync(mc)

			assert.Equal(t, tc.wantWrites, f.kubeWrites())
			assert.Empty(t, f.elasticWrites())
			tc.check(t, f)
			if tc.wantEvent != "" {
				assert.Equal(t, []string{tc.wantEvent}, f.events())
			} else {
				assert.Empty(t, f.events())
			}
		})
	}
}
