package controller

import (
	"context"
	"fmt"
	"maps"

	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// jobCompletionIndexLabel is the label the Job controller puts on every pod
// of an Indexed Job with its index; index 0 runs rank 0.
const jobCompletionIndexLabel = "batch.kubernetes.io/job-completion-index"

// pdbName is the PodDisruptionBudget guarding rank 0.
func pdbName(mc *v1alpha1.MiniCluster) string { return mc.Name + "-rank0" }

// newPodDisruptionBudget protects rank 0 from voluntary disruption (a
// drain, a descheduler, a cluster autoscaler's scale-down). Rank 0 holds
// the instance: the job queue, the KVS and every other broker's connection.
// Losing any other rank costs that broker's jobs; losing rank 0 ends the
// whole instance. So an eviction of rank 0 is refused, and `kubectl drain`
// waits on its node until someone decides.
//
// Only rank 0, and minAvailable 1 as an integer: the other ranks come and
// go with resizes, and the disruption controller accepts only an integer
// minAvailable for pods whose controller (a Job) has no scale subresource.
//
// An unhealthy rank 0 (not Ready, e.g. still starting or crash-looping)
// may still be evicted: it is serving nothing, and holding a drain for a
// pod that never becomes ready would only stall the node's maintenance.
func newPodDisruptionBudget(mc *v1alpha1.MiniCluster) *policyv1.PodDisruptionBudget {
	selector := map[string]string{jobCompletionIndexLabel: "0"}
	maps.Copy(selector, brokerSelector(mc))
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: ownedMeta(mc, pdbName(mc)),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable:               ptr.To(intstr.FromInt32(1)),
			Selector:                   &metav1.LabelSelector{MatchLabels: selector},
			UnhealthyPodEvictionPolicy: ptr.To(policyv1.AlwaysAllow),
		},
	}
}

// syncPodDisruptionBudget keeps the PodDisruptionBudget. Its spec depends
// only on the MiniCluster's name; an edit that would let rank 0 be evicted,
// or guard other pods, is put back.
func (r *syncRun) syncPodDisruptionBudget(ctx context.Context) error {
	desired := newPodDisruptionBudget(r.mc)
	existing, created, err := r.c.pdbAccess(r.mc).ensure(ctx, r.mc, func() (*policyv1.PodDisruptionBudget, error) { return desired, nil })
	if err != nil || created {
		return err
	}
	var differs []string
	if !equality.Semantic.DeepEqual(existing.Spec.Selector, desired.Spec.Selector) {
		differs = append(differs, "spec.selector")
	}
	if !equality.Semantic.DeepEqual(existing.Spec.MinAvailable, desired.Spec.MinAvailable) || existing.Spec.MaxUnavailable != nil {
		differs = append(differs, "spec.minAvailable")
	}
	if !equality.Semantic.DeepEqual(existing.Spec.UnhealthyPodEvictionPolicy, desired.Spec.UnhealthyPodEvictionPolicy) {
		differs = append(differs, "spec.unhealthyPodEvictionPolicy")
	}
	if len(differs) == 0 {
		return nil
	}
	update := existing.DeepCopy()
	update.Spec = desired.Spec
	if _, err := r.c.kubeClient.PolicyV1().PodDisruptionBudgets(update.Namespace).Update(ctx, update, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("updating poddisruptionbudget: %w", err)
	}
	r.restored(ctx, "PodDisruptionBudget", update.Name, differs)
	return nil
}
