package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

func TestNewPodDisruptionBudget(t *testing.T) {
	// The labels a broker pod of "flux-sample" carries, as the Job
	// controller sets them, plus a user's own.
	brokerPod := func(mc, index string) labels.Set {
		return labels.Set{
			v1alpha1.LabelMiniCluster:      mc,
			jobCompletionIndexLabel:        index,
			"batch.kubernetes.io/job-name": mc,
			"team":                         "hpc",
		}
	}
	cases := map[string]struct {
		pod     labels.Set
		matches bool
	}{
		"rank 0":                          {brokerPod("flux-sample", "0"), true},
		"rank 1":                          {brokerPod("flux-sample", "1"), false},
		"rank 10":                         {brokerPod("flux-sample", "10"), false},
		"rank 0 of another MiniCluster":   {brokerPod("flux-other", "0"), false},
		"a pod of the same Job name only": {labels.Set{"batch.kubernetes.io/job-name": "flux-sample", jobCompletionIndexLabel: "0"}, false},
	}
	mc := newMiniCluster("flux-sample", 4, 8)
	pdb := newPodDisruptionBudget(mc)

	assert.Equal(t, "flux-sample-rank0", pdb.Name)
	assert.Equal(t, "default", pdb.Namespace)
	assert.True(t, metav1.IsControlledBy(pdb, mc), "owned, so it goes with the MiniCluster")
	assert.Equal(t, managedLabels(mc), pdb.Labels, "the controller's informer sees only managed objects")
	require.NotNil(t, pdb.Spec.MinAvailable)
	assert.Equal(t, intstr.FromInt32(1), *pdb.Spec.MinAvailable, "an integer: Job pods refuse a percentage")
	assert.Nil(t, pdb.Spec.MaxUnavailable)
	assert.Equal(t, policyv1.AlwaysAllow, *pdb.Spec.UnhealthyPodEvictionPolicy)

	selector, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	require.NoError(t, err)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.matches, selector.Matches(tc.pod))
		})
	}
}

func TestNewPodDisruptionBudgetDoesNotDependOnSize(t *testing.T) {
	small := newPodDisruptionBudget(newMiniCluster("flux-sample", 1, 8))
	large := newPodDisruptionBudget(newMiniCluster("flux-sample", 8, 8))
	assert.Equal(t, small.Spec, large.Spec, "a resize never needs a PDB update")
}
