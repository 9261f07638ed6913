package controller

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// Condition types of a MiniCluster.
const (
	// ConditionReady is True when every wanted broker is ready.
	ConditionReady = "Ready"
	// ConditionResizing is True while the brokers that exist differ from
	// the size asked for.
	ConditionResizing = "Resizing"
	// ConditionCompleted mirrors the Job's Complete condition (command runs).
	ConditionCompleted = "Completed"
	// ConditionFailed mirrors the Job's Failed condition.
	ConditionFailed = "Failed"
	// ConditionDegraded is True when the controller cannot do exactly what
	// the spec asks: a size out of range, a foreign object in the way, or a
	// spec Flux cannot run.
	ConditionDegraded = "Degraded"
)

// Reasons, for conditions and events.
const (
	ReasonBrokersReady    = "BrokersReady"
	ReasonBrokersStarting = "BrokersStarting"
	ReasonScalingUp       = "ScalingUp"
	ReasonScalingDown     = "ScalingDown"
	ReasonStable          = "Stable"
	ReasonResized         = "Resized"
	ReasonJobComplete     = "JobComplete"
	ReasonJobFailed       = "JobFailed"
	ReasonSizeOutOfRange  = "SizeOutOfRange"
	ReasonForeignObject   = "ForeignObject"
	ReasonInvalidSpec     = "InvalidSpec"
)

// setDegraded records a problem the user must fix. The Warning event goes
// out only when the problem is new, so a blocked MiniCluster does not spam.
func (c *Controller) setDegraded(mc *v1alpha1.MiniCluster, reason, message string) {
	current := meta.FindStatusCondition(mc.Status.Conditions, ConditionDegraded)
	if current == nil || current.Reason != reason || current.Message != message {
		c.recorder.Event(mc, corev1.EventTypeWarning, reason, message)
	}
	meta.SetStatusCondition(&mc.Status.Conditions, metav1.Condition{
		Type: ConditionDegraded, Status: metav1.ConditionTrue, Reason: reason, Message: message,
		ObservedGeneration: mc.Generation,
	})
}

func (c *Controller) clearDegraded(mc *v1alpha1.MiniCluster) {
	meta.RemoveStatusCondition(&mc.Status.Conditions, ConditionDegraded)
}

// updateStatus writes mc's status, recomputed from job (nil when the Job
// could not be reached), through /status, and only when it changed.
func (c *Controller) updateStatus(ctx context.Context, cached, mc *v1alpha1.MiniCluster, job *batchv1.Job) error {
	computeStatus(mc, job)
	if equality.Semantic.DeepEqual(cached.Status, mc.Status) {
		return nil
	}
	if _, err := c.elasticClient.ElasticfluxV1alpha1().MiniClusters(mc.Namespace).UpdateStatus(ctx, mc,
		metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("updating status: %w", err)
	}
	return nil
}

// computeStatus fills mc.Status from what the Job reports. The counts come
// from the Job's status, so no Pod informer is needed. Messages hold no
// timestamps: a restarted controller computes the same status and writes
// nothing.
func computeStatus(mc *v1alpha1.MiniCluster, job *batchv1.Job) {
	status := &mc.Status
	status.MaxSize = mc.MaximumSize()
	status.Selector = labels.SelectorFromSet(brokerSelector(mc)).String()
	status.ObservedGeneration = mc.Generation
	if job == nil {
		return
	}
	want, _ := desiredJobSize(mc)
	status.Size = job.Status.Active
	status.ReadySize = ptr.Deref(job.Status.Ready, 0)

	set := func(conditionType string, ok bool, reason, message string) {
		s := metav1.ConditionFalse
		if ok {
			s = metav1.ConditionTrue
		}
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{
			Type: conditionType, Status: s, Reason: reason, Message: message, ObservedGeneration: mc.Generation,
		})
	}

	if finished := jobFinished(job); finished != "" {
		condition := jobCondition(job, finished)
		if finished == batchv1.JobComplete {
			set(ConditionCompleted, true, ReasonJobComplete, condition.Message)
			set(ConditionReady, false, ReasonJobComplete, "the command finished and the brokers exited")
		} else {
			set(ConditionFailed, true, ReasonJobFailed, condition.Reason+": "+condition.Message)
			set(ConditionReady, false, ReasonJobFailed, "the broker job failed")
		}
		set(ConditionResizing, false, ReasonStable, "the broker job has finished")
		return
	}

	brokers := fmt.Sprintf("%d of %d brokers ready", status.ReadySize, want)
	if status.ReadySize >= want && status.Size == want {
		set(ConditionReady, true, ReasonBrokersReady, brokers)
	} else {
		set(ConditionReady, false, ReasonBrokersStarting, brokers)
	}
	switch {
	case status.Size < want:
		set(ConditionResizing, true, ReasonScalingUp, fmt.Sprintf("%d brokers running, %d wanted", status.Size, want))
	case status.Size > want:
		set(ConditionResizing, true, ReasonScalingDown, fmt.Sprintf("%d brokers running, %d wanted", status.Size, want))
	default:
		set(ConditionResizing, false, ReasonStable, fmt.Sprintf("%d brokers running", want))
	}
}

// jobFinished returns the Job's terminal condition type, or "".
func jobFinished(job *batchv1.Job) batchv1.JobConditionType {
	for _, t := range []batchv1.JobConditionType{batchv1.JobComplete, batchv1.JobFailed} {
		if c := jobCondition(job, t); c != nil {
			return t
		}
	}
	return ""
}

func jobCondition(job *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range job.Status.Conditions {
		if c := &job.Status.Conditions[i]; c.Type == t && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}
