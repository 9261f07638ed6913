//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func evict(namespace, pod string) error {
	return kubeClient.PolicyV1().Evictions(namespace).Evict(context.Background(), &policyv1.Eviction{
		ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: namespace},
	})
}

// TestRankZeroDisruptionBudget: each MiniCluster gets a PodDisruptionBudget
// that the disruption controller applies to rank 0 alone. The API server
// refuses to evict rank 0 with 429 Too Many Requests (what kubectl drain
// waits on), evicts any other rank, and the budget goes with the
// MiniCluster.
func TestRankZeroDisruptionBudget(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startController(t, ns)
	mc := createMiniCluster(t, ns, miniCluster("flux-sample", 3, 1, 8))
	pods := waitForBrokers(t, ns, "flux-sample", 3)

	pdb, err := kubeClient.PolicyV1().PodDisruptionBudgets(ns).Get(context.Background(), "flux-sample-rank0", metav1.GetOptions{})
	require.NoError(t, err)
	assert.True(t, metav1.IsControlledBy(pdb, mc))
	assert.Equal(t, intstr.FromInt32(1), *pdb.Spec.MinAvailable)

	// The disruption controller counts exactly one pod, rank 0, healthy.
	eventually(t, shortWait, "the budget to cover rank 0", func() (bool, string) {
		pdb, err := kubeClient.PolicyV1().PodDisruptionBudgets(ns).Get(context.Background(), "flux-sample-rank0", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		s := pdb.Status
		return s.ObservedGeneration == pdb.Generation && s.ExpectedPods == 1 && s.CurrentHealthy == 1 && s.DisruptionsAllowed == 0,
			fmt.Sprintf("expected=%d healthy=%d allowed=%d", s.ExpectedPods, s.CurrentHealthy, s.DisruptionsAllowed)
	})

	err = evict(ns, pods["0"].Name)
	require.Error(t, err, "rank 0 must not be evicted")
	assert.True(t, apierrors.IsTooManyRequests(err), "refused with 429, got %v", err)
	status, ok := err.(apierrors.APIStatus)
	require.True(t, ok)
	assert.Contains(t, status.Status().Message, "would violate the pod's disruption budget")
	var causes []string
	if details := status.Status().Details; details != nil {
		for _, cause := range details.Causes {
			causes = append(causes, cause.Message)
		}
	}
	assert.Contains(t, fmt.Sprint(causes), "flux-sample-rank0", "the refusal names the budget")

	require.NoError(t, evict(ns, pods["2"].Name), "other ranks are not guarded")
	// The Job brings index 2 back; rank 0 never went.
	after := waitForBrokers(t, ns, "flux-sample", 3)
	assert.Equal(t, pods["0"].UID, after["0"].UID, "rank 0 is the same pod")
	assert.NotEqual(t, pods["2"].UID, after["2"].UID, "rank 2 was evicted and replaced")

	require.NoError(t, elasticClient.ElasticfluxV1alpha1().MiniClusters(ns).Delete(context.Background(), "flux-sample", metav1.DeleteOptions{}))
	eventually(t, shortWait, "the budget to go with its MiniCluster", func() (bool, string) {
		_, err := kubeClient.PolicyV1().PodDisruptionBudgets(ns).Get(context.Background(), "flux-sample-rank0", metav1.GetOptions{})
		return isNotFound(err), fmt.Sprint(err)
	})
}
