//go:build e2e

package e2e

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestJobAPIRefusalIsReported: a spec that admission accepts but the Job
// API refuses (here a CPU request above the CPU limit) is reported as
// Degraded/InvalidSpec with the API server's own words and a Warning
// event, and is not retried in a loop.
func TestJobAPIRefusalIsReported(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	controller := startController(t, ns)
	mc := miniCluster("flux-sample", 2, 1, 4)
	mc.Spec.Container.Resources.Limits = map[corev1.ResourceName]resource.Quantity{corev1.ResourceCPU: resource.MustParse("250m")}
	createMiniCluster(t, ns, mc)

	degraded := waitForCondition(t, ns, "flux-sample", "Degraded", metav1.ConditionTrue, "InvalidSpec")
	assert.Contains(t, degraded.Message, `the API server refused the Job: Job.batch "flux-sample" is invalid: spec.template.spec.containers[0].resources.requests: Invalid value: "500m": must be less than or equal to cpu limit of 250m`)
	assert.Contains(t, degraded.Message, "delete the MiniCluster and create it again with the spec corrected")
	waitForEvent(t, ns, "flux-sample", "Warning InvalidSpec the API server refused the Job")
	_, err := kubeClient.BatchV1().Jobs(ns).Get(context.Background(), "flux-sample", metav1.GetOptions{})
	assert.True(t, isNotFound(err), "no Job: %v", err)
	assert.Zero(t, getMiniCluster(t, ns, "flux-sample").Status.ObservedGeneration, "no Job reflects the spec")

	// A resize wakes it: the same answer, no second warning.
	setSize(t, ns, "flux-sample", 3)
	eventually(t, shortWait, "the resize seen", func() (bool, string) {
		c := condition(t, ns, "flux-sample", "Degraded")
		return c != nil && c.ObservedGeneration == 2, "degraded for generation 1"
	})
	events, err := kubeClient.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=flux-sample,reason=InvalidSpec"})
	require.NoError(t, err)
	require.Len(t, events.Items, 1)
	assert.Equal(t, int32(1), events.Items[0].Count, "the warning is not repeated")

	// No hot loop: a user's mistake is not an error the workqueue retries
	// with backoff, and a healthy MiniCluster beside it comes up while the
	// broken one stays quiet.
	createMiniCluster(t, ns, miniCluster("healthy", 1, 1, 2))
	waitForBrokers(t, ns, "healthy", 1)
	errorsSeen, err := controller.metric("elasticflux_reconcile_errors_total")
	require.NoError(t, err)
	assert.Zero(t, errorsSeen, "no sync failed and was retried")
	syncs, err := controller.syncs()
	require.NoError(t, err)
	assert.Less(t, syncs, 40.0, "syncs stay few")
}
