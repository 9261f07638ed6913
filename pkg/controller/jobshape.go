package controller

import (
	"fmt"
	"math"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/ptr"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// brokerContainerName names the one container of a broker pod; the pod
// failure policy's exit-code rules apply to it.
const brokerContainerName = "flux-broker"

// exitCodeStopped is what the broker container exits with when Kubernetes
// stops it (SIGTERM, 128+15): a pod deleted, evicted or removed by a
// scale-down. The broker start script keeps to it, so a stopped broker's
// pod ends in phase Failed and is replaced, never recorded as a completed
// index. A user's command that itself exits 143 reads the same way.
const exitCodeStopped = 143

// commandBackoffLimit bounds, in command mode, the pod failures that no
// rule of the pod failure policy explains: pods that never ran a broker
// (a node refused them, or they were deleted before the container
// started). A handful of those means the brokers cannot be placed, and the
// run fails rather than retry for ever. It is Kubernetes' default, stated.
const commandBackoffLimit = 6

// jobShape is how the broker Job handles failures. Two modes, two shapes:
//
// Interactive (no command): brokers run until the MiniCluster is deleted.
// A crashed broker restarts in place (restartPolicy OnFailure) under its
// hostname and rejoins. Kubernetes adds container restarts up against
// backoffLimit, so it is math.MaxInt32: a long-lived cluster is never
// killed by restarts it recovered from. backoffLimitPerIndex counts only
// pods that reach phase Failed (a broker deleted, evicted, preempted or on
// a lost node), one count per rank, and backs off each rank on its own, so
// one rank lost again and again does not delay the others; it is
// math.MaxInt32 too, because a rank that exhausts it is never replaced and
// an interactive cluster must not lose a rank for good to disruptions it
// has long recovered from. podReplacementPolicy Failed starts a
// replacement only once the old pod has stopped, so two brokers never hold
// one hostname and rank.
//
// Command mode: the MiniCluster ends when the command does. restartPolicy
// Never, so a non-zero exit is a Failed pod the pod failure policy sees:
// the DisruptionTarget condition (eviction, preemption, a lost node) and
// exit code 143 (stopped by Kubernetes: deletion, scale-down) are ignored,
// and any other non-zero exit of the broker fails the Job at once, with the
// exit code in the Job's condition message. Kubernetes requires
// podReplacementPolicy Failed with a pod failure policy.
type jobShape struct {
	restartPolicy        corev1.RestartPolicy
	backoffLimit         int32
	backoffLimitPerIndex *int32
	podReplacementPolicy batchv1.PodReplacementPolicy
	podFailurePolicy     *batchv1.PodFailurePolicy
}

// isInteractive reports whether mc runs no command: its brokers stay up.
func isInteractive(mc *v1alpha1.MiniCluster) bool { return len(mc.Spec.Command) == 0 }

// shapeFor is the Job shape for mc's mode.
func shapeFor(mc *v1alpha1.MiniCluster) jobShape {
	if isInteractive(mc) {
		return jobShape{
			restartPolicy:        corev1.RestartPolicyOnFailure,
			backoffLimit:         math.MaxInt32,
			backoffLimitPerIndex: ptr.To[int32](math.MaxInt32),
			podReplacementPolicy: batchv1.Failed,
		}
	}
	return jobShape{
		restartPolicy:        corev1.RestartPolicyNever,
		backoffLimit:         commandBackoffLimit,
		podReplacementPolicy: batchv1.Failed,
		podFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
			{
				Action:          batchv1.PodFailurePolicyActionIgnore,
				OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
			},
			{
				Action: batchv1.PodFailurePolicyActionIgnore,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
					ContainerName: ptr.To(brokerContainerName),
					Operator:      batchv1.PodFailurePolicyOnExitCodesOpIn,
					Values:        []int32{exitCodeStopped},
				},
			},
			{
				Action: batchv1.PodFailurePolicyActionFailJob,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
					ContainerName: ptr.To(brokerContainerName),
					Operator:      batchv1.PodFailurePolicyOnExitCodesOpNotIn,
					Values:        []int32{0},
				},
			},
		}},
	}
}

// apply writes the shape into a Job being built.
func (s jobShape) apply(job *batchv1.Job) {
	job.Spec.Template.Spec.RestartPolicy = s.restartPolicy
	job.Spec.BackoffLimit = ptr.To(s.backoffLimit)
	job.Spec.BackoffLimitPerIndex = s.backoffLimitPerIndex
	job.Spec.PodReplacementPolicy = ptr.To(s.podReplacementPolicy)
	job.Spec.PodFailurePolicy = s.podFailurePolicy
}

// outdatedBy lists how an existing Job differs from the shape in what
// Kubernetes never lets change on a Job: its pod template's restart
// policy, backoffLimitPerIndex and podFailurePolicy. A Job made by an
// earlier version of the controller differs here. Such a Job keeps running
// as it is (replacing it would restart every broker); the user decides.
func (s jobShape) outdatedBy(job *batchv1.Job) []string {
	var differences []string
	if job.Spec.Template.Spec.RestartPolicy != s.restartPolicy {
		differences = append(differences, fmt.Sprintf("restartPolicy %s (now %s)", job.Spec.Template.Spec.RestartPolicy, s.restartPolicy))
	}
	if !equality.Semantic.DeepEqual(job.Spec.BackoffLimitPerIndex, s.backoffLimitPerIndex) {
		differences = append(differences, fmt.Sprintf("backoffLimitPerIndex %s (now %s)", int32OrUnset(job.Spec.BackoffLimitPerIndex), int32OrUnset(s.backoffLimitPerIndex)))
	}
	if !equality.Semantic.DeepEqual(job.Spec.PodFailurePolicy, s.podFailurePolicy) {
		switch {
		case s.podFailurePolicy == nil:
			differences = append(differences, "a podFailurePolicy (now none)")
		case job.Spec.PodFailurePolicy == nil:
			differences = append(differences, "no podFailurePolicy (a failing command does not fail the MiniCluster at once)")
		default:
			differences = append(differences, "another podFailurePolicy")
		}
	}
	return differences
}

// mutableDrift lists the fields of the shape that Kubernetes lets change
// on a running Job and that differ, e.g. after a hand edit; the controller
// puts them back in the patch that resizes the Job.
func (s jobShape) mutableDrift(job *batchv1.Job) (fields map[string]any) {
	fields = map[string]any{}
	if ptr.Deref(job.Spec.BackoffLimit, -1) != s.backoffLimit {
		fields["backoffLimit"] = s.backoffLimit
	}
	if ptr.Deref(job.Spec.PodReplacementPolicy, "") != s.podReplacementPolicy {
		fields["podReplacementPolicy"] = s.podReplacementPolicy
	}
	return fields
}

func int32OrUnset(v *int32) string {
	if v == nil {
		return "unset"
	}
	return fmt.Sprint(*v)
}

// outdatedJobMessage tells the user what an outdated Job means and what to
// do about it.
func outdatedJobMessage(job *batchv1.Job, differences []string) string {
	return fmt.Sprintf("the broker Job %q was made by an earlier version of elasticflux: it has %s. "+
		"Its pod template cannot change, so it keeps running as it is and is still resized; "+
		"when a restart of every broker is acceptable, delete it (kubectl delete job -n %s %s) and the controller makes it again with the current failure handling",
		job.Name, strings.Join(differences, ", "), job.Namespace, job.Name)
}
