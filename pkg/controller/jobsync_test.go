package controller

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	core "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2/ktesting"
	"k8s.io/utils/ptr"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// legacyJob is the Job an earlier version of the controller made for mc:
// every mode restarted in place, with a backoffLimit of 100 over the whole
// cluster.
func legacyJob(job *batchv1.Job) {
	job.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	job.Spec.BackoffLimit = ptr.To[int32](100)
	job.Spec.BackoffLimitPerIndex = nil
	job.Spec.PodFailurePolicy = nil
	job.Spec.PodReplacementPolicy = ptr.To(batchv1.TerminatingOrFailed)
}

// TestSyncOutdatedJob: a Job made by an earlier version keeps running as
// it is and is still resized; nothing Kubernetes would refuse to change,
// or that would change how its running brokers are handled, is written;
// the user hears what it means once.
func TestSyncOutdatedJob(t *testing.T) {
	cases := map[string]struct {
		command     []string
		wantMessage string
	}{
		"interactive": {
			wantMessage: `the broker Job "flux-sample" was made by an earlier version of elasticflux: it has backoffLimitPerIndex unset (now 2147483647). ` +
				"Its pod template cannot change, so it keeps running as it is and is still resized; when a restart of every broker is acceptable, " +
				"delete it (kubectl delete job -n default flux-sample) and the controller makes it again with the current failure handling",
		},
		"command": {
			command: []string{"hostname"},
			wantMessage: `the broker Job "flux-sample" was made by an earlier version of elasticflux: it has restartPolicy OnFailure (now Never), ` +
				"no podFailurePolicy (a failing command does not fail the MiniCluster at once). " +
				"Its pod template cannot change, so it keeps running as it is and is still resized; when a restart of every broker is acceptable, " +
				"delete it (kubectl delete job -n default flux-sample) and the controller makes it again with the current failure handling",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			mc := newMiniCluster("flux-sample", 4, 8)
			mc.Spec.Command = tc.command
			f.kubeObjects = steadyChildren(t, mc, 2)
			legacyJob(steadyJob(f.kubeObjects))
			f.miniClusters = append(f.miniClusters, withStatus(mc.DeepCopy(), steadyJob(f.kubeObjects)))
			f.sync(mc)

			require.Equal(t, []string{"patch jobs"}, f.kubeWrites())
			patch := f.kubeWriteAction(0).(core.PatchAction)
			assert.JSONEq(t, `{"metadata":{"uid":"uid-*v1.Job-flux-sample"},"spec":{"parallelism":4,"completions":4}}`, string(patch.GetPatch()),
				"only the size: backoffLimit and podReplacementPolicy stay as the running brokers were started with")
			require.Equal(t, []string{"update miniclusters/status"}, f.elasticWrites())
			status := f.elasticWriteAction(0).(core.UpdateAction).GetObject().(*v1alpha1.MiniCluster).Status
			degraded := meta.FindStatusCondition(status.Conditions, ConditionDegraded)
			require.NotNil(t, degraded)
			assert.Equal(t, ReasonJobShapeOutdated, degraded.Reason)
			assert.Equal(t, tc.wantMessage, degraded.Message)
			assert.Equal(t, []string{"Normal Resized Resized from 2 to 4 brokers", "Warning JobShapeOutdated " + tc.wantMessage}, f.events())
		})
	}
}

// TestSyncRestoresJobFailureHandling: the fields of the failure handling
// that Kubernetes lets change on a running Job are put back after a hand
// edit, in the patch that resizes it.
func TestSyncRestoresJobFailureHandling(t *testing.T) {
	f := newFixture(t)
	mc := newMiniCluster("flux-sample", 3, 8)
	f.kubeObjects = steadyChildren(t, mc, 3)
	job := steadyJob(f.kubeObjects)
	job.Spec.BackoffLimit = ptr.To[int32](2)
	job.Spec.PodReplacementPolicy = ptr.To(batchv1.TerminatingOrFailed)
	f.miniClusters = append(f.miniClusters, withStatus(mc, job))
	f.sync(mc)

	require.Equal(t, []string{"patch jobs"}, f.kubeWrites())
	patch := f.kubeWriteAction(0).(core.PatchAction)
	assert.JSONEq(t, `{"metadata":{"uid":"uid-*v1.Job-flux-sample"},"spec":{"backoffLimit":2147483647,"podReplacementPolicy":"Failed"}}`, string(patch.GetPatch()))
	assert.Equal(t, []string{`Normal Restored Job "flux-sample" differed from what this MiniCluster asks for (spec.backoffLimit, spec.podReplacementPolicy); restored it`}, f.events())
}

// TestSyncJobWaitsForEarlierBrokers: a Job made while brokers of a deleted
// one still drain would start a second broker for their ranks; the new
// Job waits, and the controller looks again since no pod event reaches it.
func TestSyncJobWaitsForEarlierBrokers(t *testing.T) {
	f := newFixture(t)
	mc := newMiniCluster("flux-sample", 2, 8)
	steady := steadyChildren(t, mc, 2)
	f.kubeObjects = append(steady[:4:4], brokerPod(mc, "1", corev1.PodRunning))
	f.miniClusters = append(f.miniClusters, withStatus(mc, steadyJob(steady)))
	result := f.sync(mc)

	assert.Empty(t, f.kubeWrites())
	assert.Equal(t, 5*time.Second, result.requeueAfter)
	require.Equal(t, []string{"update miniclusters/status"}, f.elasticWrites())
	status := f.elasticWriteAction(0).(core.UpdateAction).GetObject().(*v1alpha1.MiniCluster).Status
	assert.Equal(t, ReasonBrokersStopping, meta.FindStatusCondition(status.Conditions, ConditionDegraded).Reason)
	assert.Equal(t, ReasonNoJob, meta.FindStatusCondition(status.Conditions, ConditionReady).Reason)
	assert.Equal(t, int32(0), status.Size)
	assert.Equal(t, []string{"Normal BrokersStopping 1 broker pods of an earlier Job are still running; " +
		"the broker Job starts once they have stopped, so no two brokers hold one rank"}, f.events())
}

// TestSyncDeletingJob: a Job being deleted is neither resized nor made
// again until it is gone.
func TestSyncDeletingJob(t *testing.T) {
	f := newFixture(t)
	mc := newMiniCluster("flux-sample", 4, 8)
	f.kubeObjects = steadyChildren(t, mc, 2)
	job := steadyJob(f.kubeObjects)
	job.DeletionTimestamp = &metav1.Time{Time: time.Unix(1000, 0)}
	job.Finalizers = []string{"foregroundDeletion"}
	f.miniClusters = append(f.miniClusters, mc)
	f.sync(mc)

	assert.Empty(t, f.kubeWrites())
	status := f.elasticWriteAction(0).(core.UpdateAction).GetObject().(*v1alpha1.MiniCluster).Status
	assert.Equal(t, ReasonBrokersStopping, meta.FindStatusCondition(status.Conditions, ConditionDegraded).Reason)
	assert.Zero(t, status.ObservedGeneration, "a Job being deleted reflects no generation")
}

// invalidJob answers a Job create as the API server does for a pod
// template it refuses.
func invalidJob(core.Action) (bool, runtime.Object, error) {
	return true, nil, apierrors.NewInvalid(schema.GroupKind{Group: "batch", Kind: "Job"}, "flux-sample", field.ErrorList{
		field.Invalid(field.NewPath("spec", "template", "spec", "containers").Index(0).Child("resources", "requests"), "2", "must be less than or equal to cpu limit of 1"),
	})
}

// TestSyncInvalidJob: a spec that admission accepted but the Job API
// refuses is the user's to fix: a Degraded condition and a Warning event
// that quote the API server, no retry, and nothing more on the next sync.
func TestSyncInvalidJob(t *testing.T) {
	f := newFixture(t)
	f.reactors = []reactor{{verb: "create", resource: "jobs", react: invalidJob}}
	mc := newMiniCluster("flux-sample", 2, 8)
	f.miniClusters = append(f.miniClusters, mc)
	_, ctx := ktesting.NewTestContext(t)
	c := f.newController(ctx)
	key := cache.MetaObjectToName(mc)

	result, err := c.syncHandler(ctx, key)
	require.NoError(t, err, "the user's problem is not retried with backoff")
	assert.Zero(t, result.requeueAfter)
	assert.Equal(t, []string{"create secrets", "create configmaps", "create services", "create poddisruptionbudgets", "create jobs"}, f.kubeWrites())
	want := `the API server refused the Job: Job.batch "flux-sample" is invalid: spec.template.spec.containers[0].resources.requests: ` +
		`Invalid value: "2": must be less than or equal to cpu limit of 1; this spec cannot run: delete the MiniCluster and create it again with the spec corrected`
	updated, err := f.client.ElasticfluxV1alpha1().MiniClusters("default").Get(ctx, "flux-sample", metav1.GetOptions{})
	require.NoError(t, err)
	degraded := meta.FindStatusCondition(updated.Status.Conditions, ConditionDegraded)
	require.NotNil(t, degraded)
	assert.Equal(t, ReasonInvalidSpec, degraded.Reason)
	assert.Equal(t, want, degraded.Message)
	assert.Equal(t, []string{"Warning InvalidSpec " + want}, f.events())
	assert.Zero(t, updated.Status.ObservedGeneration, "no Job reflects this generation")

	// The status write wakes the MiniCluster again: the create is tried
	// once more, and nothing else happens.
	eventuallyCached(t, func() bool {
		cached, err := c.miniClusters.MiniClusters("default").Get("flux-sample")
		return err == nil && meta.IsStatusConditionTrue(cached.Status.Conditions, ConditionDegraded)
	})
	f.kubeClient.ClearActions()
	f.client.ClearActions()
	result, err = c.syncHandler(ctx, key)
	require.NoError(t, err)
	assert.Zero(t, result.requeueAfter)
	assert.Equal(t, []string{"create jobs"}, f.kubeWrites())
	assert.Empty(t, f.elasticWrites())
	assert.Empty(t, f.events())
}

// eventuallyCached waits for the controller's informers to catch up with
// a write.
func eventuallyCached(t *testing.T, condition func() bool) {
	t.Helper()
	require.Eventually(t, condition, 10*time.Second, 5*time.Millisecond, "the cache did not catch up")
}

// TestSyncRefusesBrokerPodBeforeJob: what admission should have refused
// makes no Job at all.
func TestSyncRefusesBrokerPodBeforeJob(t *testing.T) {
	f := newFixture(t)
	mc := newMiniCluster("flux-sample", 2, 8)
	mc.Spec.Container.Env = []v1alpha1.EnvVar{{Name: "JOB_COMPLETION_INDEX", Value: "0"}}
	f.miniClusters = append(f.miniClusters, mc)
	f.sync(mc)

	assert.NotContains(t, f.kubeWrites(), "create jobs")
	status := f.elasticWriteAction(0).(core.UpdateAction).GetObject().(*v1alpha1.MiniCluster).Status
	degraded := meta.FindStatusCondition(status.Conditions, ConditionDegraded)
	require.NotNil(t, degraded)
	assert.Equal(t, ReasonInvalidSpec, degraded.Reason)
	assert.Contains(t, degraded.Message, "spec.container.env: JOB_COMPLETION_INDEX is set by the controller or the Job controller")
	_, err := f.kubeClient.BatchV1().Jobs("default").Get(context.Background(), "flux-sample", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err))
}
