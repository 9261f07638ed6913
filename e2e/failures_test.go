//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// Helpers for the tests of failure paths.

// holdAnnotation keeps kwok's pod-stop stage (hack/cluster/kwok) away from
// a deleted pod: it stays Running, as a broker draining in preStop does,
// until the test says how it ended.
const holdAnnotation = "pod-stop.stage.elasticflux.io/hold"

// holdFinalizer keeps a pod object after its deletion, whatever the Job
// controller does with its own finalizer, so a test can see whether a
// replacement started beside it.
const holdFinalizer = "e2e.elasticflux.io/hold"

// commandMiniCluster runs a command: it ends when the command does.
func commandMiniCluster(name string, size, minSize, maxSize int32) *v1alpha1.MiniCluster {
	mc := miniCluster(name, size, minSize, maxSize)
	mc.Spec.Command = []string{"flux", "run", "-N", "1", "sleep", "inf"}
	return mc
}

// condition is the MiniCluster's condition of that type, or nil.
func condition(t *testing.T, ns, name, conditionType string) *metav1.Condition {
	t.Helper()
	return meta.FindStatusCondition(getMiniCluster(t, ns, name).Status.Conditions, conditionType)
}

// waitForCondition waits until the MiniCluster has the condition with the
// status and reason, and returns it.
func waitForCondition(t *testing.T, ns, name, conditionType string, status metav1.ConditionStatus, reason string) *metav1.Condition {
	t.Helper()
	var found *metav1.Condition
	eventually(t, shortWait, fmt.Sprintf("%s=%s (%s) on %s/%s", conditionType, status, reason, ns, name), func() (bool, string) {
		found = condition(t, ns, name, conditionType)
		return found != nil && found.Status == status && found.Reason == reason, fmt.Sprintf("%+v", found)
	})
	return found
}

// waitForEvent waits for an event about the MiniCluster that starts with
// prefix ("Type Reason message...") and returns it.
func waitForEvent(t *testing.T, ns, name, prefix string) string {
	t.Helper()
	var found string
	eventually(t, shortWait, "an event "+prefix, func() (bool, string) {
		events, err := eventsFor(ns, name)
		if err != nil {
			return false, err.Error()
		}
		for _, e := range events {
			if strings.HasPrefix(e, prefix) {
				found = e
				return true, ""
			}
		}
		return false, strings.Join(events, "; ")
	})
	return found
}

// never fails the test as soon as violated holds, checking for the whole
// of window. It proves that something the cluster would do within window
// does not happen; everything else in these tests waits for what it needs.
func never(t *testing.T, window time.Duration, what string, violated func() (bool, string)) {
	t.Helper()
	var seen string
	err := poll(context.Background(), window, func() (bool, error) {
		var bad bool
		bad, seen = violated()
		return bad, nil
	})
	require.Error(t, err, "%s: %s", what, seen)
}

// allBrokerPods lists every pod of the MiniCluster's brokers, whatever its
// phase, deleting or not.
func allBrokerPods(t *testing.T, ns, name string) []corev1.Pod {
	t.Helper()
	pods, err := kubeClient.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: v1alpha1.LabelMiniCluster + "=" + name})
	require.NoError(t, err)
	return pods.Items
}

// podsAtIndex are the broker pods of that index, whatever their state.
func podsAtIndex(t *testing.T, ns, name, index string) []corev1.Pod {
	t.Helper()
	var out []corev1.Pod
	for _, pod := range allBrokerPods(t, ns, name) {
		if pod.Labels[batchv1.JobCompletionIndexAnnotation] == index {
			out = append(out, pod)
		}
	}
	return out
}

// getJob reads the MiniCluster's Job.
func getJob(t *testing.T, ns, name string) *batchv1.Job {
	t.Helper()
	job, err := kubeClient.BatchV1().Jobs(ns).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return job
}

// holdPod makes a pod stay, Running, after it is deleted, until release.
func holdPod(t *testing.T, pod corev1.Pod) {
	t.Helper()
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:"true"},"finalizers":%s}}`, holdAnnotation, finalizersWith(pod.Finalizers, holdFinalizer))
	_, err := kubeClient.CoreV1().Pods(pod.Namespace).Patch(context.Background(), pod.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	require.NoError(t, err)
}

func finalizersWith(finalizers []string, extra string) string {
	quoted := []string{fmt.Sprintf("%q", extra)}
	for _, f := range finalizers {
		quoted = append(quoted, fmt.Sprintf("%q", f))
	}
	return "[" + strings.Join(quoted, ",") + "]"
}

// exitBroker records in a pod's status what the kubelet records when its
// broker container exits with code: phase Failed (restartPolicy Never, or
// a pod being deleted), the container terminated with that code. kwok runs
// no containers, so the test reports what a real broker would; the exit
// codes of real brokers are proven on a real node.
func exitBroker(t *testing.T, ns, podName string, code int32) {
	t.Helper()
	ctx := context.Background()
	pod, err := kubeClient.CoreV1().Pods(ns).Get(ctx, podName, metav1.GetOptions{})
	require.NoError(t, err)
	now := metav1.Now()
	pod.Status.Phase = corev1.PodFailed
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: now}}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: "flux-broker", Image: pod.Spec.Containers[0].Image,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: "Error", FinishedAt: now}},
	}}
	_, err = kubeClient.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	require.NoError(t, err)
}

// release lets a held pod go.
func release(t *testing.T, ns, podName string) {
	t.Helper()
	ctx := context.Background()
	eventually(t, shortWait, "the hold released", func() (bool, string) {
		pod, err := kubeClient.CoreV1().Pods(ns).Get(ctx, podName, metav1.GetOptions{})
		if isNotFound(err) {
			return true, ""
		}
		if err != nil {
			return false, err.Error()
		}
		var kept []string
		for _, f := range pod.Finalizers {
			if f != holdFinalizer {
				kept = append(kept, f)
			}
		}
		pod.Finalizers = kept
		_, err = kubeClient.CoreV1().Pods(ns).Update(ctx, pod, metav1.UpdateOptions{})
		return err == nil, fmt.Sprint(err)
	})
}

// exitCode waits for the controller process to end and returns its exit
// code.
func (p *controllerProcess) exitCode(timeout time.Duration) (int, bool) {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), true
	case <-time.After(timeout):
		return 0, false
	}
}
