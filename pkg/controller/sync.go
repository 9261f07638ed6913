package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// syncResult tells the worker when to look at a MiniCluster again without
// an error: only when no watch event would wake it.
type syncResult struct {
	requeueAfter time.Duration
}

// foreignObjectError: an object with the name we need exists and is not
// ours. We never overwrite it; the user must rename or remove something.
type foreignObjectError struct {
	kind, name string
}

func (e *foreignObjectError) Error() string {
	return fmt.Sprintf("%s %q exists and is not controlled by this MiniCluster", e.kind, e.name)
}

// invalidSpecError: the spec passed admission but cannot run, because the
// broker config cannot be rendered from it or the API server refused an
// object made from it. Retrying cannot help; the user must change the spec.
type invalidSpecError struct{ err error }

func (e *invalidSpecError) Error() string { return e.err.Error() }
func (e *invalidSpecError) Unwrap() error { return e.err }

// syncHandler converges one MiniCluster: it reads the world from the
// caches (and, where they cannot answer, from the API server), creates
// what is missing, puts back what was edited, resizes the Job when its size
// differs from the clamped spec.size, and records what it observed in
// status.
func (c *Controller) syncHandler(ctx context.Context, key cache.ObjectName) (syncResult, error) {
	logger := klog.FromContext(ctx)
	cached, err := c.miniClusters.MiniClusters(key.Namespace).Get(key.Name)
	if apierrors.IsNotFound(err) {
		// Everything it owned goes with it through the owner references.
		logger.V(4).Info("MiniCluster is gone")
		c.forgetSettling(key)
		return syncResult{}, nil
	}
	if err != nil {
		return syncResult{}, err
	}
	if cached.DeletionTimestamp != nil {
		c.forgetSettling(key)
		return syncResult{}, nil
	}
	mc := cached.DeepCopy()

	run, err := c.syncChildren(ctx, mc)
	var foreign *foreignObjectError
	var invalid *invalidSpecError
	switch {
	case errors.As(err, &foreign):
		c.setDegraded(mc, []degradation{{reason: ReasonForeignObject, message: err.Error() + "; rename or delete it"}})
		return syncResult{requeueAfter: c.config.ForeignRetryPeriod}, c.updateStatus(ctx, cached, mc, c.cachedJob(mc))
	case errors.As(err, &invalid):
		c.setDegraded(mc, []degradation{{reason: ReasonInvalidSpec, message: invalidSpecMessage(err)}})
		return syncResult{}, c.updateStatus(ctx, cached, mc, c.cachedJob(mc))
	case err != nil:
		return syncResult{}, err
	}

	problems := run.degradations
	if size, clamped := desiredJobSize(mc); clamped {
		problems = append(problems, degradation{reason: ReasonSizeOutOfRange, message: fmt.Sprintf(
			"spec.size %d is outside [%d, %d]; running %d brokers", mc.DesiredSize(), mc.MinimumSize(), mc.MaximumSize(), size)})
	}
	c.setDegraded(mc, problems)
	result := syncResult{requeueAfter: run.recheckAfter}

	if run.jobWritten {
		// The Job's status still describes the old size; the watch event
		// for our own write brings a sync that records the new one, so this
		// resize costs one status write, not two. A new problem is recorded
		// now, so its Warning event is not sent twice.
		if !sameDegraded(cached, mc) {
			return result, c.updateStatus(ctx, cached, mc, run.job)
		}
		return result, nil
	}
	if wait := c.settleWait(key, cached, mc, run.job); wait > 0 {
		if result.requeueAfter == 0 || wait < result.requeueAfter {
			result.requeueAfter = wait
		}
		return result, nil
	}
	return result, c.updateStatus(ctx, cached, mc, run.job)
}

// invalidSpecMessage says what was refused and what the user can do: the
// spec cannot change after creation, except the size.
func invalidSpecMessage(err error) string {
	return err.Error() + "; this spec cannot run: delete the MiniCluster and create it again with the spec corrected"
}

// cachedJob is the Job mc controls as the cache last saw it, for the
// status of a sync that stopped before reaching the Job.
func (c *Controller) cachedJob(mc *v1alpha1.MiniCluster) *batchv1.Job {
	job, err := c.jobs.Jobs(mc.Namespace).Get(jobName(mc))
	if err != nil || !metav1.IsControlledBy(job, mc) {
		return nil
	}
	return job
}

// settleWait says how long to hold back the status write of a MiniCluster
// whose brokers are still starting or stopping: the Job reports each step
// (pods created, then ready) in its own update, and writing every one would
// cost several status writes per resize. It holds back only changes of the
// counts, and at most StatusSettleTimeout; zero means write now.
func (c *Controller) settleWait(key cache.ObjectName, cached, mc *v1alpha1.MiniCluster, job *batchv1.Job) time.Duration {
	c.settlingLock.Lock()
	defer c.settlingLock.Unlock()
	computeStatus(mc, job)
	if equality.Semantic.DeepEqual(cached.Status, mc.Status) || job == nil {
		delete(c.settling, key)
		return 0
	}
	want, _ := desiredJobSize(mc)
	converging := jobFinished(job) == "" && (job.Status.Active != want || ptr.Deref(job.Status.Ready, 0) != want)
	if !converging || !sameDegraded(cached, mc) {
		delete(c.settling, key)
		return 0
	}
	now := c.now()
	since, held := c.settling[key]
	if !held {
		since = now
		c.settling[key] = now
	}
	if remaining := c.config.StatusSettleTimeout - now.Sub(since); remaining > 0 {
		return min(remaining, c.config.StatusBatchPeriod)
	}
	delete(c.settling, key)
	return 0
}

// forgetSettling drops what settleWait remembers of a MiniCluster that is
// gone, so the map does not grow with every MiniCluster ever deleted.
func (c *Controller) forgetSettling(key cache.ObjectName) {
	c.settlingLock.Lock()
	defer c.settlingLock.Unlock()
	delete(c.settling, key)
}

// syncChildren gets or creates every owned object, puts back what was
// edited, and resizes the Job. Problems that do not stop the rest (a
// missing curve Secret, an outdated Job) are collected in the run.
func (c *Controller) syncChildren(ctx context.Context, mc *v1alpha1.MiniCluster) (*syncRun, error) {
	run := &syncRun{c: c, mc: mc}
	if ownsCurveSecret(mc) {
		if err := run.syncCurveSecret(ctx); err != nil {
			return nil, err
		}
	} else if err := run.checkUserCurveSecret(ctx); err != nil {
		return nil, err
	}
	if err := run.syncConfigMap(ctx); err != nil {
		return nil, err
	}
	if err := run.syncService(ctx); err != nil {
		return nil, err
	}
	if mc.SelfScaling() {
		if err := run.syncSelfScalingRBAC(ctx); err != nil {
			return nil, err
		}
	}
	// Before the Job, so rank 0 is guarded from the moment it exists.
	if err := run.syncPodDisruptionBudget(ctx); err != nil {
		return nil, err
	}
	if err := run.syncJob(ctx); err != nil {
		return nil, err
	}
	return run, nil
}

// syncRun is one sync of one MiniCluster: the problems found so far, and
// what it already read live, so one read serves several decisions.
type syncRun struct {
	c  *Controller
	mc *v1alpha1.MiniCluster

	// job is the MiniCluster's Job, nil while none exists; jobWritten says
	// this sync created or patched it.
	job        *batchv1.Job
	jobLooked  bool
	jobWritten bool

	runningBrokers int
	brokersCounted bool

	// curveSecretMissing holds back a new Job: its brokers could not start.
	curveSecretMissing bool

	degradations []degradation
	// recheckAfter is when to look again because no watch event announces
	// the way out (broker pods stopping, a Secret the user creates).
	recheckAfter time.Duration
}

// degradation is a problem the user must know about.
type degradation struct {
	reason, message string
	// eventType is Warning unless the problem resolves itself.
	eventType string
}

// degrade records a problem, and asks to look again after recheck (zero:
// a watch event will).
func (r *syncRun) degrade(d degradation, recheck time.Duration) {
	r.degradations = append(r.degradations, d)
	if recheck > 0 && (r.recheckAfter == 0 || recheck < r.recheckAfter) {
		r.recheckAfter = recheck
	}
}

// lookupJob finds the MiniCluster's Job, through the cache and, on a miss,
// one live read: a Job we just created may not be cached yet.
func (r *syncRun) lookupJob(ctx context.Context) (*batchv1.Job, error) {
	if r.jobLooked {
		return r.job, nil
	}
	job, found, err := r.c.jobAccess(r.mc).find(ctx, r.mc)
	if err != nil {
		return nil, err
	}
	r.jobLooked = true
	if found {
		r.job = job
	}
	return r.job, nil
}

// countRunningBrokers counts the MiniCluster's broker pods that have not
// stopped, asking the API server: the controller keeps no pod cache, and
// this is asked only before making a Job or a certificate, never in a
// steady state. Pods of a deleted Job linger while they drain.
func (r *syncRun) countRunningBrokers(ctx context.Context) (int, error) {
	if r.brokersCounted {
		return r.runningBrokers, nil
	}
	pods, err := r.c.kubeClient.CoreV1().Pods(r.mc.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: brokerSelector(r.mc).String(),
	})
	if err != nil {
		return 0, fmt.Errorf("listing broker pods: %w", err)
	}
	for _, pod := range pods.Items {
		if pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
			r.runningBrokers++
		}
	}
	r.brokersCounted = true
	return r.runningBrokers, nil
}

// sameDegraded reports whether mc carries the Degraded condition cached has.
func sameDegraded(cached, mc *v1alpha1.MiniCluster) bool {
	return equality.Semantic.DeepEqual(
		findCondition(cached, ConditionDegraded),
		findCondition(mc, ConditionDegraded))
}
