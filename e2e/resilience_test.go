//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func setSize(t *testing.T, ns, name string, size int) {
	t.Helper()
	_, err := elasticClient.ElasticfluxV1alpha1().MiniClusters(ns).Patch(context.Background(), name, types.MergePatchType,
		fmt.Appendf(nil, `{"spec":{"size":%d}}`, size), metav1.PatchOptions{})
	require.NoError(t, err)
}

// TestControllerRestartMidResize: a controller killed before it patches a
// resize, or right after, converges on restart with every index exactly
// once and a status that says so.
func TestControllerRestartMidResize(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	controller := startController(t, ns)
	createMiniCluster(t, ns, miniCluster("flux-sample", 2, 1, 8))
	waitForBrokers(t, ns, "flux-sample", 2)

	// Killed before the resize: nobody patches the Job until a controller
	// runs again.
	controller.kill()
	setSize(t, ns, "flux-sample", 6)
	parallelism, completions := jobSize(t, ns, "flux-sample")
	require.Equal(t, []int32{2, 2}, []int32{parallelism, completions}, "no controller ran")
	controller = startController(t, ns)
	waitForBrokers(t, ns, "flux-sample", 6)

	// Killed right after its patch, before the status that follows it:
	// the next controller finds the Job resized and records it.
	setSize(t, ns, "flux-sample", 4)
	eventually(t, shortWait, "the Job patched", func() (bool, string) {
		parallelism, completions := jobSize(t, ns, "flux-sample")
		return parallelism == 4 && completions == 4, fmt.Sprintf("%d/%d", parallelism, completions)
	})
	controller.kill()
	controller = startController(t, ns)
	waitForBrokers(t, ns, "flux-sample", 4)

	// Sizes that change while no controller runs: the last one wins.
	controller.kill()
	setSize(t, ns, "flux-sample", 7)
	setSize(t, ns, "flux-sample", 3)
	startController(t, ns)
	waitForBrokers(t, ns, "flux-sample", 3)
	parallelism, completions = jobSize(t, ns, "flux-sample")
	assert.Equal(t, []int32{3, 3}, []int32{parallelism, completions})
}

// TestLeaderElection: of two replicas only the lease holder syncs; when it
// dies the other takes over.
func TestLeaderElection(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	// The Lease lives where the shipped RBAC allows it, the controller's own
	// namespace, under a name of this test's own.
	election := []string{"--leader-elect=true", "--leader-elect-namespace=" + controllerNamespace, "--leader-elect-id=" + ns}
	first := startController(t, ns, election...)
	eventually(t, shortWait, "a lease holder", func() (bool, string) {
		lease, err := kubeClient.CoordinationV1().Leases(controllerNamespace).Get(context.Background(), ns, metav1.GetOptions{})
		return err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "", fmt.Sprint(err)
	})
	second := startController(t, ns, election...)

	createMiniCluster(t, ns, miniCluster("flux-sample", 2, 1, 8))
	waitForBrokers(t, ns, "flux-sample", 2)
	setSize(t, ns, "flux-sample", 4)
	waitForBrokers(t, ns, "flux-sample", 4)

	leaderSyncs, err := first.syncs()
	require.NoError(t, err)
	standbySyncs, err := second.syncs()
	require.NoError(t, err)
	assert.Positive(t, leaderSyncs, "the first replica holds the lease and acts")
	assert.Zero(t, standbySyncs, "the standby must not act")

	first.kill()
	setSize(t, ns, "flux-sample", 1)
	// A killed leader does not release its lease: the standby takes over
	// once it expires.
	waitForBrokers(t, ns, "flux-sample", 1)
	standbySyncs, err = second.syncs()
	require.NoError(t, err)
	assert.Positive(t, standbySyncs, "the standby took over")
}
