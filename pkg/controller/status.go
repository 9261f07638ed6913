package controller

import (
	"context"
	"fmt"
	"strings"

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
	// the spec asks, or the user must act: a size out of range, a foreign
	// object in the way, a spec that cannot run, a missing curve Secret, a
	// Job made by an earlier version, brokers of an earlier Job still
	// stopping. Its reason is the first problem's; its message says all.
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
	ReasonNoJob           = "NoJob"
	// ReasonCurveSecretMissing: the curve certificate's Secret is gone (or,
	// when the user names it, was never made).
	ReasonCurveSecretMissing = "CurveSecretMissing"
	// ReasonCurveSecretCreated: a new certificate was made because the old
	// Secret was gone and no broker was running.
	ReasonCurveSecretCreated = "CurveSecretCreated"
	// ReasonBrokersStopping: a new broker Job waits for the brokers of an
	// earlier one to stop.
	ReasonBrokersStopping = "BrokersStopping"
	// ReasonJobShapeOutdated: the Job was made by an earlier version with
	// other failure handling, which cannot change on a running Job.
	ReasonJobShapeOutdated = "JobShapeOutdated"
	// ReasonRestored: an owned object that differed from the spec, e.g.
	// after a hand edit, was put back.
	ReasonRestored = "Restored"
)

// setDegraded records the problems the user must know about in one
// Degraded condition, or removes it when there are none. An event goes out
// for each problem the condition did not already tell, so a blocked
// MiniCluster does not spam.
func (c *Controller) setDegraded(mc *v1alpha1.MiniCluster, problems []degradation) {
	if len(problems) == 0 {
		meta.RemoveStatusCondition(&mc.Status.Conditions, ConditionDegraded)
		return
	}
	current := meta.FindStatusCondition(mc.Status.Conditions, ConditionDegraded)
	messages := make([]string, 0, len(problems))
	for _, p := range problems {
		messages = append(messages, p.message)
		if current == nil || !strings.Contains(current.Message, p.message) {
			eventType := p.eventType
			if eventType == "" {
				eventType = corev1.EventTypeWarning
			}
			c.recorder.Event(mc, eventType, p.reason, p.message)
		}
	}
	meta.SetStatusCondition(&mc.Status.Conditions, metav1.Condition{
		Type: ConditionDegraded, Status: metav1.ConditionTrue, Reason: problems[0].reason, Message: strings.Join(messages, "; "),
		ObservedGeneration: mc.Generation,
	})
}

// findCondition is mc's condition of that type, or nil.
func findCondition(mc *v1alpha1.MiniCluster, conditionType string) *metav1.Condition {
	return meta.FindStatusCondition(mc.Status.Conditions, conditionType)
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

// computeStatus fills mc.Status from what the Job reports (job is nil when
// none exists). The counts come from the Job's status, so no Pod informer
// is needed. Messages hold no timestamps: a restarted controller computes
// the same status and writes nothing.
func computeStatus(mc *v1alpha1.MiniCluster, job *batchv1.Job) {
	status := &mc.Status
	status.MaxSize = mc.MaximumSize()
	status.Selector = labels.SelectorFromSet(brokerSelector(mc)).String()
	if jobReflects(mc, job) {
		status.ObservedGeneration = mc.Generation
	}
	set := func(conditionType string, ok bool, reason, message string) {
		s := metav1.ConditionFalse
		if ok {
			s = metav1.ConditionTrue
		}
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{
			Type: conditionType, Status: s, Reason: reason, Message: message, ObservedGeneration: mc.Generation,
		})
	}
	if job == nil {
		status.Size, status.ReadySize = 0, 0
		set(ConditionReady, false, ReasonNoJob, "the broker Job does not exist")
		return
	}
	want, _ := desiredJobSize(mc)
	status.Size = job.Status.Active
	status.ReadySize = ptr.Deref(job.Status.Ready, 0)

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

// jobReflects reports whether the Job is what mc's generation asks for:
// only spec.size can change after creation, so its size must be the clamped
// spec.size. A finished Job is never resized again, and so reflects every
// generation. observedGeneration means that and nothing less, so a client
// waiting for it knows the Job has been told.
func jobReflects(mc *v1alpha1.MiniCluster, job *batchv1.Job) bool {
	if job == nil || job.DeletionTimestamp != nil {
		return false
	}
	if jobFinished(job) != "" {
		return true
	}
	want, _ := desiredJobSize(mc)
	return ptr.Deref(job.Spec.Parallelism, -1) == want && ptr.Deref(job.Spec.Completions, -1) == want
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
