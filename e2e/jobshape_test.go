//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
	"github.com/elasticflux/elasticflux/pkg/controller"
)

// The Job controller's side of the two Job shapes, on a real control
// plane. kwok runs no containers: a deleted broker ends as the start script
// makes it (exit 143, hack/cluster/kwok/pod-stop.yaml), and a test that
// needs another exit code reports it in the pod's status as the kubelet
// would. The exit codes of real brokers are proven on a real node.

// replacedOnlyOnceStopped deletes the broker of index 1, holds it draining,
// and checks that the Job controller starts no second broker for that
// rank until it has stopped with exit code 143; then it is replaced, and
// its index is never recorded as completed.
func replacedOnlyOnceStopped(t *testing.T, ns string) *batchv1.Job {
	t.Helper()
	ctx := context.Background()
	old := waitForBrokers(t, ns, "flux-sample", 2)["1"]
	holdPod(t, old)
	require.NoError(t, kubeClient.CoreV1().Pods(ns).Delete(ctx, old.Name, metav1.DeleteOptions{}))

	// The Job controller writes the count of terminating pods in the same
	// sync in which it would start a replacement.
	eventually(t, shortWait, "the Job to see its broker terminating", func() (bool, string) {
		job := getJob(t, ns, "flux-sample")
		return ptr.Deref(job.Status.Terminating, 0) == 1, fmt.Sprintf("%+v", job.Status)
	})
	job := getJob(t, ns, "flux-sample")
	assert.Equal(t, int32(1), job.Status.Active, "no replacement while the old broker drains")
	// A replacement would not come at once: the Job controller backs off
	// a first failure by 10 s (DefaultJobPodFailureBackOff) before it
	// replaces it. So keep the old broker draining for three times that,
	// and look all along for a second broker of its rank.
	never(t, 30*time.Second, "a second broker for rank 1 while the first drains", func() (bool, string) {
		pods := podsAtIndex(t, ns, "flux-sample", "1")
		var seen []string
		for _, pod := range pods {
			seen = append(seen, fmt.Sprintf("%s %s deleting=%v", pod.Name, pod.Status.Phase, pod.DeletionTimestamp != nil))
		}
		return len(pods) > 1, strings.Join(seen, ", ")
	})
	pods := podsAtIndex(t, ns, "flux-sample", "1")
	require.Len(t, pods, 1, "one broker holds rank 1: the draining one")
	assert.Equal(t, old.UID, pods[0].UID)

	exitBroker(t, ns, old.Name, 143)
	release(t, ns, old.Name)
	eventually(t, shortWait, "a new broker for rank 1, once the old one is gone", func() (bool, string) {
		pods := podsAtIndex(t, ns, "flux-sample", "1")
		var seen []string
		for _, pod := range pods {
			seen = append(seen, fmt.Sprintf("%s %s deleting=%v", pod.Name, pod.Status.Phase, pod.DeletionTimestamp != nil))
		}
		return len(pods) == 1 && pods[0].UID != old.UID && pods[0].Status.Phase == corev1.PodRunning, strings.Join(seen, ", ")
	})
	waitForBrokers(t, ns, "flux-sample", 2)
	job = getJob(t, ns, "flux-sample")
	assert.Empty(t, job.Status.CompletedIndexes, "a stopped broker's index is not completed")
	for _, c := range job.Status.Conditions {
		assert.NotEqual(t, batchv1.JobFailed, c.Type, "the Job did not fail: %+v", c)
	}
	assert.True(t, condition(t, ns, "flux-sample", "Ready").Status == metav1.ConditionTrue)
	return job
}

// TestInteractiveBrokerReplacedOnlyOnceStopped: in an interactive
// cluster, a deleted broker is replaced, but never while it still drains.
func TestInteractiveBrokerReplacedOnlyOnceStopped(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startController(t, ns)
	createMiniCluster(t, ns, miniCluster("flux-sample", 2, 1, 4))
	job := replacedOnlyOnceStopped(t, ns)
	assert.Equal(t, int32(1), job.Status.Failed, "a lost broker counts once against its own index")
	assert.Equal(t, int32(math.MaxInt32), ptr.Deref(job.Spec.BackoffLimitPerIndex, 0), "and never exhausts it")
}

// TestCommandBrokerStoppedIsNotAFailure: in command mode, a broker stopped
// by Kubernetes (exit 143) is replaced and counts as no failure at all.
func TestCommandBrokerStoppedIsNotAFailure(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startController(t, ns)
	createMiniCluster(t, ns, commandMiniCluster("flux-sample", 2, 1, 4))
	job := replacedOnlyOnceStopped(t, ns)
	assert.Zero(t, job.Status.Failed, "ignored by the pod failure policy")
	assert.Nil(t, condition(t, ns, "flux-sample", "Degraded"), "the Job the controller made is not outdated")
}

// TestCommandFailureFailsMiniCluster: a broker whose command fails ends
// the MiniCluster at once, and its Failed condition carries the exit code.
func TestCommandFailureFailsMiniCluster(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startController(t, ns)
	createMiniCluster(t, ns, commandMiniCluster("flux-sample", 2, 1, 4))
	rank0 := waitForBrokers(t, ns, "flux-sample", 2)["0"]

	exitBroker(t, ns, rank0.Name, 3)
	failed := waitForCondition(t, ns, "flux-sample", "Failed", metav1.ConditionTrue, "JobFailed")
	assert.Contains(t, failed.Message, "PodFailurePolicy: Container flux-broker for pod "+ns+"/"+rank0.Name+" failed with exit code 3 matching FailJob rule at index 2")
	assert.Equal(t, metav1.ConditionFalse, condition(t, ns, "flux-sample", "Ready").Status)
	eventually(t, shortWait, "the other broker stopped", func() (bool, string) {
		pods, err := brokerPods(ns, "flux-sample")
		return err == nil && len(pods) == 0, fmt.Sprintf("%d running, %v", len(pods), err)
	})
}

// TestCommandScaleDownIsNotAFailure: brokers removed by a scale-down stop
// with exit 143 and fail nothing, though the Job controller looks at the
// exit codes of every failed pod of the Job, in range or not; their ranks
// come back on a scale-up.
func TestCommandScaleDownIsNotAFailure(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()
	startController(t, ns)
	createMiniCluster(t, ns, commandMiniCluster("flux-sample", 3, 1, 4))
	brokers := waitForBrokers(t, ns, "flux-sample", 3)
	// Keep the leaving brokers in sight until the Job controller has seen
	// how they ended (it drops its own finalizer from pods it removes).
	leaving := []corev1.Pod{brokers["1"], brokers["2"]}
	for _, pod := range leaving {
		holdPod(t, pod)
	}

	setSize(t, ns, "flux-sample", 1)
	eventually(t, shortWait, "the Job to remove ranks 1 and 2", func() (bool, string) {
		job := getJob(t, ns, "flux-sample")
		return ptr.Deref(job.Status.Terminating, 0) == 2, fmt.Sprintf("%+v", job.Status)
	})
	for _, pod := range leaving {
		exitBroker(t, ns, pod.Name, 143)
	}
	// Once the Job controller has seen them stopped it counts no
	// terminating pod; that sync also weighed their exit codes.
	eventually(t, shortWait, "the Job to see the brokers stopped", func() (bool, string) {
		job := getJob(t, ns, "flux-sample")
		return ptr.Deref(job.Status.Terminating, -1) == 0, fmt.Sprintf("%+v", job.Status)
	})
	job := getJob(t, ns, "flux-sample")
	for _, c := range job.Status.Conditions {
		assert.NotContains(t, []batchv1.JobConditionType{batchv1.JobFailed, batchv1.JobFailureTarget}, c.Type, "the Job did not fail: %+v", c)
	}
	assert.Zero(t, job.Status.Failed)
	for _, pod := range leaving {
		release(t, ns, pod.Name)
	}
	waitForBrokers(t, ns, "flux-sample", 1)
	eventually(t, shortWait, "the removed brokers gone", func() (bool, string) {
		pods := allBrokerPods(t, ns, "flux-sample")
		return len(pods) == 1, fmt.Sprintf("%d pods", len(pods))
	})
	assert.Nil(t, condition(t, ns, "flux-sample", "Failed"))
	_, err := kubeClient.BatchV1().Jobs(ns).Get(ctx, "flux-sample", metav1.GetOptions{})
	require.NoError(t, err)

	setSize(t, ns, "flux-sample", 4)
	waitForBrokers(t, ns, "flux-sample", 4)
	assert.Empty(t, getJob(t, ns, "flux-sample").Status.CompletedIndexes)
	assert.Nil(t, condition(t, ns, "flux-sample", "Failed"))
}

// TestOutdatedJobKeepsRunning: a Job made by an earlier version of the
// controller, with the one shape it knew, is never replaced behind the
// user's back: it keeps its brokers and its failure handling, it is still
// resized, and the MiniCluster says what it means and what to do.
func TestOutdatedJobKeepsRunning(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()
	mc := createMiniCluster(t, ns, commandMiniCluster("flux-sample", 2, 1, 4))
	// What the earlier version made: the same objects, and the one Job
	// shape it knew.
	objects, err := controller.RenderObjects(mc, controller.Config{})
	require.NoError(t, err)
	owner := []metav1.OwnerReference{*metav1.NewControllerRef(mc, v1alpha1.SchemeGroupVersion.WithKind("MiniCluster"))}
	for _, obj := range objects {
		switch o := obj.(type) {
		case *corev1.Secret:
			o.OwnerReferences = owner
			_, err = kubeClient.CoreV1().Secrets(ns).Create(ctx, o, metav1.CreateOptions{})
		case *corev1.ConfigMap:
			o.OwnerReferences = owner
			_, err = kubeClient.CoreV1().ConfigMaps(ns).Create(ctx, o, metav1.CreateOptions{})
		case *corev1.Service:
			o.OwnerReferences = owner
			_, err = kubeClient.CoreV1().Services(ns).Create(ctx, o, metav1.CreateOptions{})
		case *batchv1.Job:
			o.OwnerReferences = owner
			o.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			o.Spec.BackoffLimit = ptr.To[int32](100)
			o.Spec.BackoffLimitPerIndex, o.Spec.PodFailurePolicy, o.Spec.PodReplacementPolicy = nil, nil, nil
			_, err = kubeClient.BatchV1().Jobs(ns).Create(ctx, o, metav1.CreateOptions{})
		}
		require.NoError(t, err)
	}

	startController(t, ns)
	before := waitForBrokers(t, ns, "flux-sample", 2)
	outdated := waitForCondition(t, ns, "flux-sample", "Degraded", metav1.ConditionTrue, "JobShapeOutdated")
	assert.Contains(t, outdated.Message, "restartPolicy OnFailure (now Never), no podFailurePolicy")
	assert.Contains(t, outdated.Message, "kubectl delete job -n "+ns+" flux-sample")
	waitForEvent(t, ns, "flux-sample", "Warning JobShapeOutdated the broker Job \"flux-sample\" was made by an earlier version")

	setSize(t, ns, "flux-sample", 3)
	after := waitForBrokers(t, ns, "flux-sample", 3)
	for _, index := range []string{"0", "1"} {
		assert.Equal(t, before[index].UID, after[index].UID, "broker %s kept running", index)
	}
	kept := getJob(t, ns, "flux-sample")
	assert.Equal(t, corev1.RestartPolicyOnFailure, kept.Spec.Template.Spec.RestartPolicy)
	assert.Equal(t, int32(100), *kept.Spec.BackoffLimit, "what its brokers run under is left as it was")
	assert.Equal(t, batchv1.TerminatingOrFailed, *kept.Spec.PodReplacementPolicy)
	assert.Nil(t, kept.Spec.PodFailurePolicy)
}
