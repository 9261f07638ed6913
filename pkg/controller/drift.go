package controller

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// Each owned object other than the Job and the Secret is made when missing
// and put back when it differs from what the MiniCluster asks for, e.g.
// after a hand edit: brokers depend on every one of them. Updates carry the
// resourceVersion the comparison was made on, so they land on the object
// checked to be ours, or fail and are retried.

// syncConfigMap keeps the broker ConfigMap's data what this version of the
// controller renders. Its content never depends on spec.size, so resizes
// do not touch it. Brokers read it when they start, so a rewrite reaches a
// running broker only when it restarts.
func (r *syncRun) syncConfigMap(ctx context.Context) error {
	desired, err := newConfigMap(r.mc, r.c.config.ClusterDomain)
	if err != nil {
		return &invalidSpecError{err: err}
	}
	existing, created, err := r.c.configMapAccess(r.mc).ensure(ctx, r.mc, func() (*corev1.ConfigMap, error) { return desired, nil })
	if err != nil || created {
		return err
	}
	if storedDataHash(existing) == hashConfigMapData(desired.Data, nil) {
		return nil
	}
	update := existing.DeepCopy()
	delete(update.Annotations, cachedDataHashAnnotation)
	delete(update.Annotations, staleConfigHashAnnotation)
	update.Data, update.BinaryData = desired.Data, nil
	if _, err := r.c.kubeClient.CoreV1().ConfigMaps(update.Namespace).Update(ctx, update, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("updating broker configmap: %w", err)
	}
	r.restored(ctx, "ConfigMap", update.Name, []string{"data"})
	return nil
}

// storedDataHash is the hash of the data a ConfigMap really holds: the
// cache keeps only that hash, and an object read live gets it computed the
// same way.
func storedDataHash(cm *corev1.ConfigMap) string {
	trimmed, _ := trimForCache(cm.DeepCopy())
	return trimmed.(*corev1.ConfigMap).Annotations[cachedDataHashAnnotation]
}

// syncService keeps the headless Service that gives brokers their names.
func (r *syncRun) syncService(ctx context.Context) error {
	desired := newService(r.mc)
	existing, created, err := r.c.serviceAccess(r.mc).ensure(ctx, r.mc, func() (*corev1.Service, error) { return desired, nil })
	if err != nil || created {
		return err
	}
	var differs []string
	if !equality.Semantic.DeepEqual(existing.Spec.Selector, desired.Spec.Selector) {
		differs = append(differs, "spec.selector")
	}
	if existing.Spec.PublishNotReadyAddresses != desired.Spec.PublishNotReadyAddresses {
		differs = append(differs, "spec.publishNotReadyAddresses")
	}
	if !samePorts(existing.Spec.Ports, desired.Spec.Ports) {
		differs = append(differs, "spec.ports")
	}
	if len(differs) == 0 {
		return nil
	}
	update := existing.DeepCopy()
	update.Spec.Selector = desired.Spec.Selector
	update.Spec.PublishNotReadyAddresses = desired.Spec.PublishNotReadyAddresses
	update.Spec.Ports = desired.Spec.Ports
	if _, err := r.c.kubeClient.CoreV1().Services(update.Namespace).Update(ctx, update, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("updating service: %w", err)
	}
	r.restored(ctx, "Service", update.Name, differs)
	return nil
}

// samePorts compares what the Service's ports are made of, not what the
// API server fills in.
func samePorts(have, want []corev1.ServicePort) bool {
	if len(have) != len(want) {
		return false
	}
	for i := range want {
		h, w := have[i], want[i]
		if h.Name != w.Name || h.Port != w.Port || h.TargetPort != w.TargetPort || h.Protocol != w.Protocol {
			return false
		}
	}
	return true
}

// syncSelfScalingRBAC keeps the identity of a self-scaling MiniCluster's
// pods. The Role and its binding are put back when edited: a widened Role
// would let every broker pod do more than resize its own MiniCluster.
func (r *syncRun) syncSelfScalingRBAC(ctx context.Context) error {
	if _, _, err := r.c.serviceAccountAccess(r.mc).ensure(ctx, r.mc, func() (*corev1.ServiceAccount, error) { return newServiceAccount(r.mc), nil }); err != nil {
		return err
	}

	desiredRole := newRole(r.mc)
	role, created, err := r.c.roleAccess(r.mc).ensure(ctx, r.mc, func() (*rbacv1.Role, error) { return desiredRole, nil })
	if err != nil {
		return err
	}
	if !created && !equality.Semantic.DeepEqual(role.Rules, desiredRole.Rules) {
		update := role.DeepCopy()
		update.Rules = desiredRole.Rules
		if _, err := r.c.kubeClient.RbacV1().Roles(update.Namespace).Update(ctx, update, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
			return fmt.Errorf("updating role: %w", err)
		}
		r.restored(ctx, "Role", update.Name, []string{"rules"})
	}

	desiredBinding := newRoleBinding(r.mc)
	binding, created, err := r.c.roleBindingAccess(r.mc).ensure(ctx, r.mc, func() (*rbacv1.RoleBinding, error) { return desiredBinding, nil })
	if err != nil {
		return err
	}
	// roleRef cannot change once made, so only the subjects can drift.
	if !created && !equality.Semantic.DeepEqual(binding.Subjects, desiredBinding.Subjects) {
		update := binding.DeepCopy()
		update.Subjects = desiredBinding.Subjects
		if _, err := r.c.kubeClient.RbacV1().RoleBindings(update.Namespace).Update(ctx, update, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
			return fmt.Errorf("updating rolebinding: %w", err)
		}
		r.restored(ctx, "RoleBinding", update.Name, []string{"subjects"})
	}
	return nil
}

// restored tells the user that an owned object was put back.
func (r *syncRun) restored(ctx context.Context, kind, name string, fields []string) {
	klog.FromContext(ctx).Info("Restored", "kind", kind, "object", klog.KRef(r.mc.Namespace, name), "fields", fields)
	r.c.recorder.Eventf(r.mc, corev1.EventTypeNormal, ReasonRestored, "%s %q differed from what this MiniCluster asks for (%s); restored it",
		kind, name, strings.Join(fields, ", "))
}
