package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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

// invalidSpecError: the spec passed admission but cannot be rendered into
// a broker config. Retrying cannot help; the user must change the spec.
type invalidSpecError struct{ err error }

func (e *invalidSpecError) Error() string { return e.err.Error() }
func (e *invalidSpecError) Unwrap() error { return e.err }

// syncHandler converges one MiniCluster: it reads the world from the
// caches, creates what is missing, resizes the Job when its size differs
// from the clamped spec.size, and records what it observed in status.
func (c *Controller) syncHandler(ctx context.Context, key cache.ObjectName) (syncResult, error) {
	logger := klog.FromContext(ctx)
	cached, err := c.miniClusters.MiniClusters(key.Namespace).Get(key.Name)
	if apierrors.IsNotFound(err) {
		// Everything it owned goes with it through the owner references.
		logger.V(4).Info("MiniCluster is gone")
		return syncResult{}, nil
	}
	if err != nil {
		return syncResult{}, err
	}
	if cached.DeletionTimestamp != nil {
		return syncResult{}, nil
	}
	mc := cached.DeepCopy()

	job, jobChanged, err := c.syncChildren(ctx, mc)
	var foreign *foreignObjectError
	var invalid *invalidSpecError
	switch {
	case errors.As(err, &foreign):
		c.setDegraded(mc, ReasonForeignObject, err.Error()+"; rename or delete it")
		return syncResult{requeueAfter: c.config.ForeignRetryPeriod}, c.updateStatus(ctx, cached, mc, nil)
	case errors.As(err, &invalid):
		c.setDegraded(mc, ReasonInvalidSpec, err.Error())
		return syncResult{}, c.updateStatus(ctx, cached, mc, nil)
	case err != nil:
		return syncResult{}, err
	}

	if size, clamped := desiredJobSize(mc); clamped {
		c.setDegraded(mc, ReasonSizeOutOfRange, fmt.Sprintf(
			"spec.size %d is outside [%d, %d]; running %d brokers", mc.DesiredSize(), mc.MinimumSize(), mc.MaximumSize(), size))
	} else {
		c.clearDegraded(mc)
	}
	if jobChanged {
		// The Job's status still describes the old size; the watch event
		// for our own write brings a sync that records the new one, so this
		// resize costs one status write, not two. A new problem is recorded
		// now, so its Warning event is not sent twice.
		if !sameDegraded(cached, mc) {
			return syncResult{}, c.updateStatus(ctx, cached, mc, job)
		}
		return syncResult{}, nil
	}
	if wait := c.settleWait(key, cached, mc, job); wait > 0 {
		return syncResult{requeueAfter: wait}, nil
	}
	return syncResult{}, c.updateStatus(ctx, cached, mc, job)
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
	if equality.Semantic.DeepEqual(cached.Status, mc.Status) {
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

// syncChildren gets or creates every owned object and resizes the Job. It
// reports whether it wrote the Job.
func (c *Controller) syncChildren(ctx context.Context, mc *v1alpha1.MiniCluster) (*batchv1.Job, bool, error) {
	if ownsCurveSecret(mc) {
		if _, err := c.ensureCurveSecret(ctx, mc); err != nil {
			return nil, false, err
		}
	}
	if err := c.ensureConfigMap(ctx, mc); err != nil {
		return nil, false, err
	}
	if _, err := ensure(ctx, mc, "Service",
		func() (*corev1.Service, error) { return c.services.Services(mc.Namespace).Get(serviceName(mc)) },
		func() (*corev1.Service, error) { return newService(mc), nil },
		c.kubeClient.CoreV1().Services(mc.Namespace).Create,
		c.kubeClient.CoreV1().Services(mc.Namespace).Get,
	); err != nil {
		return nil, false, err
	}
	if mc.SelfScaling() {
		if err := c.ensureSelfScalingRBAC(ctx, mc); err != nil {
			return nil, false, err
		}
	}

	// Before the Job, so rank 0 is guarded from the moment it exists.
	if err := c.ensurePodDisruptionBudget(ctx, mc); err != nil {
		return nil, false, err
	}

	var created bool
	job, err := ensure(ctx, mc, "Job",
		func() (*batchv1.Job, error) { return c.jobs.Jobs(mc.Namespace).Get(jobName(mc)) },
		func() (*batchv1.Job, error) { created = true; return newJob(mc), nil },
		c.kubeClient.BatchV1().Jobs(mc.Namespace).Create,
		c.kubeClient.BatchV1().Jobs(mc.Namespace).Get,
	)
	if err != nil {
		return nil, false, err
	}
	if created {
		return job, true, nil
	}
	resized, err := c.resizeJob(ctx, mc, job)
	return job, resized, err
}

// resizeJob makes the Job's parallelism and completions the clamped size in
// one merge patch. The Job controller adds the missing indexes or removes
// the highest ones. A finished Job is left alone: its brokers are gone.
func (c *Controller) resizeJob(ctx context.Context, mc *v1alpha1.MiniCluster, job *batchv1.Job) (bool, error) {
	want, _ := desiredJobSize(mc)
	have := ptr.Deref(job.Spec.Parallelism, 1)
	if have == want && ptr.Deref(job.Spec.Completions, 1) == want {
		return false, nil
	}
	if jobFinished(job) != "" {
		return false, nil
	}
	patch := fmt.Appendf(nil, `{"spec":{"parallelism":%d,"completions":%d}}`, want, want)
	if _, err := c.kubeClient.BatchV1().Jobs(job.Namespace).Patch(ctx, job.Name, types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
		return false, fmt.Errorf("patching job size: %w", err)
	}
	resizesTotal.Inc()
	klog.FromContext(ctx).Info("Resized broker job", "job", klog.KObj(job), "from", have, "to", want)
	c.recorder.Eventf(mc, corev1.EventTypeNormal, ReasonResized, "Resized from %d to %d brokers", have, want)
	return true, nil
}

func (c *Controller) ensureCurveSecret(ctx context.Context, mc *v1alpha1.MiniCluster) (*corev1.Secret, error) {
	return ensure(ctx, mc, "Secret",
		func() (*corev1.Secret, error) { return c.secrets.Secrets(mc.Namespace).Get(curveSecretName(mc)) },
		func() (*corev1.Secret, error) {
			cert, err := c.newCurveCertBytes(mc.Name)
			if err != nil {
				return nil, fmt.Errorf("generating the curve certificate: %w", err)
			}
			return newCurveSecret(mc, cert), nil
		},
		c.kubeClient.CoreV1().Secrets(mc.Namespace).Create,
		c.kubeClient.CoreV1().Secrets(mc.Namespace).Get,
	)
}

// ensureConfigMap creates the broker ConfigMap, or rewrites its data when
// it differs from what this version of the controller renders. Its content
// never depends on spec.size, so resizes do not touch it.
func (c *Controller) ensureConfigMap(ctx context.Context, mc *v1alpha1.MiniCluster) error {
	desired, err := newConfigMap(mc, c.config.ClusterDomain)
	if err != nil {
		return &invalidSpecError{err: err}
	}
	existing, err := ensure(ctx, mc, "ConfigMap",
		func() (*corev1.ConfigMap, error) { return c.configMaps.ConfigMaps(mc.Namespace).Get(configMapName(mc)) },
		func() (*corev1.ConfigMap, error) { return desired, nil },
		c.kubeClient.CoreV1().ConfigMaps(mc.Namespace).Create,
		c.kubeClient.CoreV1().ConfigMaps(mc.Namespace).Get,
	)
	// The cache holds no data, only its hash (see trimForCache).
	if err != nil || existing.Annotations[configHashAnnotation] == desired.Annotations[configHashAnnotation] {
		return err
	}
	update := existing.DeepCopy()
	update.Data = desired.Data
	if update.Annotations == nil {
		update.Annotations = map[string]string{}
	}
	update.Annotations[configHashAnnotation] = desired.Annotations[configHashAnnotation]
	if _, err := c.kubeClient.CoreV1().ConfigMaps(mc.Namespace).Update(ctx, update, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("updating broker configmap: %w", err)
	}
	return nil
}

func (c *Controller) ensureSelfScalingRBAC(ctx context.Context, mc *v1alpha1.MiniCluster) error {
	if _, err := ensure(ctx, mc, "ServiceAccount",
		func() (*corev1.ServiceAccount, error) {
			return c.serviceAccounts.ServiceAccounts(mc.Namespace).Get(rbacName(mc))
		},
		func() (*corev1.ServiceAccount, error) { return newServiceAccount(mc), nil },
		c.kubeClient.CoreV1().ServiceAccounts(mc.Namespace).Create,
		c.kubeClient.CoreV1().ServiceAccounts(mc.Namespace).Get,
	); err != nil {
		return err
	}
	if _, err := ensure(ctx, mc, "Role",
		func() (*rbacv1.Role, error) { return c.roles.Roles(mc.Namespace).Get(rbacName(mc)) },
		func() (*rbacv1.Role, error) { return newRole(mc), nil },
		c.kubeClient.RbacV1().Roles(mc.Namespace).Create,
		c.kubeClient.RbacV1().Roles(mc.Namespace).Get,
	); err != nil {
		return err
	}
	_, err := ensure(ctx, mc, "RoleBinding",
		func() (*rbacv1.RoleBinding, error) {
			return c.roleBindings.RoleBindings(mc.Namespace).Get(rbacName(mc))
		},
		func() (*rbacv1.RoleBinding, error) { return newRoleBinding(mc), nil },
		c.kubeClient.RbacV1().RoleBindings(mc.Namespace).Create,
		c.kubeClient.RbacV1().RoleBindings(mc.Namespace).Get,
	)
	return err
}

// ensure returns the object mc controls under a deterministic name, creating
// it from desired when the cache has none. An object of that name that mc
// does not control is a foreignObjectError, never overwritten. Such an
// object lacks our managed-by label and so is not in the cache: the create
// answers AlreadyExists, and one live read tells whose it is.
func ensure[T metav1.Object](
	ctx context.Context,
	mc *v1alpha1.MiniCluster,
	kind string,
	cached func() (T, error),
	desired func() (T, error),
	create func(context.Context, T, metav1.CreateOptions) (T, error),
	live func(context.Context, string, metav1.GetOptions) (T, error),
) (T, error) {
	var zero T
	existing, err := cached()
	switch {
	case err == nil:
		if !metav1.IsControlledBy(existing, mc) {
			return zero, &foreignObjectError{kind: kind, name: existing.GetName()}
		}
		return existing, nil
	case !apierrors.IsNotFound(err):
		return zero, err
	}

	want, err := desired()
	if err != nil {
		return zero, err
	}
	created, err := create(ctx, want, metav1.CreateOptions{FieldManager: FieldManager})
	if apierrors.IsAlreadyExists(err) {
		existing, err = live(ctx, want.GetName(), metav1.GetOptions{})
		if err != nil {
			return zero, fmt.Errorf("reading existing %s: %w", kind, err)
		}
		if !metav1.IsControlledBy(existing, mc) {
			return zero, &foreignObjectError{kind: kind, name: existing.GetName()}
		}
		return existing, nil
	}
	if err != nil {
		return zero, fmt.Errorf("creating %s: %w", kind, err)
	}
	klog.FromContext(ctx).V(2).Info("Created", "kind", kind, "object", klog.KObj(created))
	return created, nil
}

// sameDegraded reports whether mc carries the Degraded condition cached has.
func sameDegraded(cached, mc *v1alpha1.MiniCluster) bool {
	return equality.Semantic.DeepEqual(
		meta.FindStatusCondition(cached.Status.Conditions, ConditionDegraded),
		meta.FindStatusCondition(mc.Status.Conditions, ConditionDegraded))
}
