package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// syncJob creates the broker Job, or resizes the one that runs and puts
// back its failure handling after a hand edit.
func (r *syncRun) syncJob(ctx context.Context) error {
	job, err := r.lookupJob(ctx)
	if err != nil {
		return err
	}
	if job == nil {
		return r.createJob(ctx)
	}
	if job.DeletionTimestamp != nil {
		// A new Job starts once this one and its brokers are gone; its
		// deletion is a watch event.
		r.degrade(degradation{reason: ReasonBrokersStopping, eventType: corev1.EventTypeNormal, message: fmt.Sprintf(
			"the broker Job %q is being deleted; a new one starts once its brokers have stopped", job.Name)}, 0)
		return nil
	}
	if jobFinished(job) != "" {
		// Its brokers are gone and a finished Job never runs again.
		return nil
	}
	shape := shapeFor(r.mc)
	outdated := shape.outdatedBy(job)
	if len(outdated) > 0 {
		r.degrade(degradation{reason: ReasonJobShapeOutdated, message: outdatedJobMessage(job, outdated)}, 0)
	}
	return r.patchJob(ctx, job, shape, len(outdated) > 0)
}

// createJob makes the broker Job, once nothing stands in the way: a spec
// the brokers could not run with, a missing curve Secret, or brokers of an
// earlier Job that still run. Those would hold a hostname and a rank that
// a new broker would claim too.
func (r *syncRun) createJob(ctx context.Context) error {
	if err := validateBrokerPod(r.mc); err != nil {
		return &invalidSpecError{err: err}
	}
	if r.curveSecretMissing {
		return nil
	}
	running, err := r.countRunningBrokers(ctx)
	if err != nil {
		return err
	}
	if running > 0 {
		r.degrade(degradation{reason: ReasonBrokersStopping, eventType: corev1.EventTypeNormal, message: fmt.Sprintf(
			"%d broker pods of an earlier Job are still running; the broker Job starts once they have stopped, so no two brokers hold one rank", running)},
			r.c.config.StoppingBrokersPollPeriod)
		return nil
	}
	job, created, err := r.c.jobAccess(r.mc).ensure(ctx, r.mc, func() (*batchv1.Job, error) { return newJob(r.mc), nil })
	if err != nil {
		return err
	}
	r.job, r.jobLooked, r.jobWritten = job, true, created
	return nil
}

// patchJob makes the Job's parallelism and completions the clamped size
// and, unless the Job is outdated, puts back the failure handling fields
// Kubernetes lets change (backoffLimit, podReplacementPolicy), all in one
// merge patch. The Job controller adds the missing indexes or removes the
// highest ones. The patch carries the Job's UID, so it lands on the Job we
// checked is ours or not at all.
func (r *syncRun) patchJob(ctx context.Context, job *batchv1.Job, shape jobShape, outdated bool) error {
	want, _ := desiredJobSize(r.mc)
	have := ptr.Deref(job.Spec.Parallelism, 1)
	spec := map[string]any{}
	resized := have != want || ptr.Deref(job.Spec.Completions, 1) != want
	if resized {
		spec["parallelism"], spec["completions"] = want, want
	}
	var restored []string
	if !outdated {
		drift := shape.mutableDrift(job)
		restored = slices.Sorted(maps.Keys(drift))
		maps.Copy(spec, drift)
	}
	if len(spec) == 0 {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"uid": job.UID}, "spec": spec})
	if err != nil {
		return err
	}
	patched, err := r.c.kubeClient.BatchV1().Jobs(job.Namespace).Patch(ctx, job.Name, types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: FieldManager})
	if err != nil {
		return fmt.Errorf("patching job: %w", err)
	}
	r.job, r.jobWritten = patched, true
	logger := klog.FromContext(ctx)
	if resized {
		resizesTotal.Inc()
		logger.Info("Resized broker job", "job", klog.KObj(job), "from", have, "to", want)
		r.c.recorder.Eventf(r.mc, corev1.EventTypeNormal, ReasonResized, "Resized from %d to %d brokers", have, want)
	}
	if len(restored) > 0 {
		for i := range restored {
			restored[i] = "spec." + restored[i]
		}
		r.restored(ctx, "Job", job.Name, restored)
	}
	return nil
}
