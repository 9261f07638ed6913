package controller

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	kubefake "k8s.io/client-go/kubernetes/fake"
	core "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"
	"k8s.io/utils/ptr"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
	"github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned/fake"
)

var (
	jobsResource         = batchv1.SchemeGroupVersion.WithResource("jobs")
	podsResource         = corev1.SchemeGroupVersion.WithResource("pods")
	servicesResource     = corev1.SchemeGroupVersion.WithResource("services")
	configMapsResource   = corev1.SchemeGroupVersion.WithResource("configmaps")
	secretsResource      = corev1.SchemeGroupVersion.WithResource("secrets")
	accountsResource     = corev1.SchemeGroupVersion.WithResource("serviceaccounts")
	rolesResource        = rbacv1.SchemeGroupVersion.WithResource("roles")
	bindingsResource     = rbacv1.SchemeGroupVersion.WithResource("rolebindings")
	pdbsResource         = policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets")
	miniClustersResource = v1alpha1.SchemeGroupVersion.WithResource("miniclusters")
)

// TestConvergenceProperty drives a running controller through random
// sequences of what happens to a MiniCluster in a real cluster: size
// changes, deletions and hand edits of every object it owns, objects of
// someone else taking an owned object's name, controller restarts and
// status conflicts, while a stand-in for the Job controller runs broker
// pods. After each sequence, once the user has done what the MiniCluster's
// conditions ask, the world must converge to the spec. Throughout, the
// controller must never make a certificate while brokers may run, and never
// write an object it does not control.
//
// PROPERTY_SEED=n replays one sequence; PROPERTY_RUNS=n runs more.
func TestConvergenceProperty(t *testing.T) {
	runs, first := 12, uint64(1)
	if s := os.Getenv("PROPERTY_RUNS"); s != "" {
		runs, _ = strconv.Atoi(s)
	}
	if s := os.Getenv("PROPERTY_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
		runs, first = 1, seed
	}
	for seed := first; seed < first+uint64(runs); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			newWorld(t, seed).play(40)
		})
	}
}

// world is one MiniCluster in a fake cluster, its controller, and what was
// seen to go wrong.
type world struct {
	t        *testing.T
	rand     *rand.Rand
	versions resourceVersions
	kube     *kubefake.Clientset
	elastic  *fake.Clientset
	ctx      context.Context
	mc       *v1alpha1.MiniCluster

	mu         sync.Mutex
	violations []string
	conflicts  bool
	// history of what was done, for the failure message.
	history []string

	// kubelet is held by the Job controller's stand-in while it acts, and
	// by the test while it deletes or stops something, so the stand-in
	// never acts on a Job the test has just removed.
	kubelet sync.Mutex

	// watches counts the watches informers have started.
	watches atomic.Int64

	stopController func()
	stopSimulator  func()
}

// informerCount is how many informers a controller starts: seven for what
// it owns and one for MiniClusters.
const informerCount = 8

func (w *world) watchStarted() { w.watches.Add(1) }

func newWorld(t *testing.T, seed uint64) *world {
	// Only the controller's V(0) lines, shown when the test fails.
	ctx := klog.NewContext(context.Background(), ktesting.NewLogger(t, ktesting.NewConfig(ktesting.Verbosity(0))))
	w := &world{t: t, rand: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), ctx: ctx}

	mc := newMiniCluster("flux-sample", 2, 6)
	if w.rand.IntN(2) == 0 {
		mc.Spec.Command = []string{"flux", "run", "hostname"}
	}
	if w.rand.IntN(2) == 0 {
		mc.Spec.Elasticity = &v1alpha1.ElasticitySpec{SelfScaling: ptr.To(true)}
	}
	mc.ResourceVersion = w.versions.next()
	w.mc = mc
	w.logf("MiniCluster: command=%v selfScaling=%v", mc.Spec.Command, mc.SelfScaling())

	w.kube = kubefake.NewClientset()
	w.elastic = fake.NewSimpleClientset(mc)
	filterWatchesByLabel(&w.kube.Fake, w.kube.Tracker(), w.watchStarted)
	filterWatchesByLabel(&w.elastic.Fake, w.elastic.Tracker(), w.watchStarted)
	likeAPIServer(&w.kube.Fake, w.kube.Tracker(), &w.versions, w.checkKubeWrite, func() bool { return false })
	likeAPIServer(&w.elastic.Fake, w.elastic.Tracker(), &w.versions, func(core.Action, runtime.Object, runtime.Object) {}, w.statusConflict)

	w.startController()
	w.stopSimulator = w.simulateJobController()
	t.Cleanup(func() {
		w.stopController()
		w.stopSimulator()
		if t.Failed() {
			t.Logf("what happened (replay with PROPERTY_SEED=%d):\n%s", seed, strings.Join(w.history, "\n"))
		}
	})
	return w
}

func (w *world) logf(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.history = append(w.history, fmt.Sprintf(format, args...))
}

// startController starts a controller with fresh informers, as a new
// process would.
func (w *world) startController() {
	kubeInformers, elasticInformers := NewInformerFactories(w.kube, w.elastic, "", 0)
	c, err := NewController(w.ctx, w.kube, w.elastic, kubeInformers, elasticInformers, Config{
		StatusBatchPeriod:         time.Millisecond,
		StatusSettleTimeout:       5 * time.Millisecond,
		ForeignRetryPeriod:        20 * time.Millisecond,
		StoppingBrokersPollPeriod: 20 * time.Millisecond,
	})
	require.NoError(w.t, err)
	c.recorder = &record.FakeRecorder{} // events are dropped
	var certificates int
	c.newCurveCertBytes = func(name string) ([]byte, error) {
		certificates++
		return fmt.Appendf(nil, "certificate %d of %s", certificates, name), nil
	}
	ctx, cancel := context.WithCancel(w.ctx)
	watching := w.watches.Load() + informerCount
	kubeInformers.Start(ctx.Done())
	elasticInformers.Start(ctx.Done())
	// The fake's watches deliver no deletion that happened before they
	// started (the API server's would, from its history): wait for them,
	// so what the test does next is seen.
	require.Eventually(w.t, func() bool { return w.watches.Load() >= watching }, 10*time.Second, time.Millisecond)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(ctx, 2, 10*time.Second); err != nil {
			w.violate("the controller failed: %v", err)
		}
	}()
	w.stopController = func() {
		cancel()
		<-done
		kubeInformers.Shutdown()
		elasticInformers.Shutdown()
	}
}

func (w *world) violate(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.violations = append(w.violations, fmt.Sprintf(format, args...))
}

// statusConflict refuses two status writes in three while conflicts are
// on. It runs on the controller's goroutines, so it does not draw from the
// sequence's seeded source.
func (w *world) statusConflict() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.conflicts && rand.IntN(3) > 0
}

// checkKubeWrite holds the two safety properties against every write the
// controller gets through: it writes only objects it controls, and it
// makes a certificate only when no broker that holds the old one runs, so
// the cluster is never split. (A broker pod that starts later mounts the
// Secret as it is then: the new certificate, or none yet.)
func (w *world) checkKubeWrite(action core.Action, stored, written runtime.Object) {
	if action.GetResource().Resource == "events" {
		return
	}
	for _, obj := range []runtime.Object{stored, written} {
		if obj != nil && !metav1.IsControlledBy(metaOf(obj), w.mc) {
			w.violate("%s %s %s/%s, which the MiniCluster does not control", action.GetVerb(), action.GetResource().Resource,
				action.GetNamespace(), metaOf(obj).GetName())
		}
	}
	if action.GetVerb() != "create" || action.GetResource() != secretsResource {
		return
	}
	if running := w.runningPods(); len(running) > 0 {
		w.violate("a new certificate while broker pods %v run with the old one", running)
	}
	w.logf("  (a new certificate was made)")
}

// certificateAnnotation records, on a simulated broker pod, the
// certificate it started with.
const certificateAnnotation = "test/certificate"

// runningPods lists the broker pods that run, each holding the certificate
// it started with.
func (w *world) runningPods() map[string]string {
	list, err := w.kube.Tracker().List(podsResource, corev1.SchemeGroupVersion.WithKind("Pod"), "default")
	require.NoError(w.t, err)
	running := map[string]string{}
	for _, pod := range list.(*corev1.PodList).Items {
		if pod.Status.Phase == corev1.PodRunning {
			running[pod.Name] = pod.Annotations[certificateAnnotation]
		}
	}
	return running
}

// put stores an object as a user or another controller would write it:
// straight to storage, with a new resourceVersion, bypassing the checks
// that hold the controller's own writes.
func (w *world) put(gvr schema.GroupVersionResource, obj runtime.Object) {
	object := metaOf(obj)
	object.SetResourceVersion(w.versions.next())
	tracker := w.kube.Tracker()
	if gvr == miniClustersResource {
		tracker = w.elastic.Tracker()
	}
	var err error
	if _, err = tracker.Get(gvr, object.GetNamespace(), object.GetName()); apierrors.IsNotFound(err) {
		err = tracker.Create(gvr, obj, object.GetNamespace())
	} else {
		err = tracker.Update(gvr, obj, object.GetNamespace())
	}
	// The controller may have made or removed the object meanwhile: this
	// write lost the race, as a user's would.
	if apierrors.IsAlreadyExists(err) || apierrors.IsNotFound(err) {
		w.logf("  (%s %s changed meanwhile; not written)", gvr.Resource, object.GetName())
		return
	}
	require.NoError(w.t, err)
}

// get reads an object from storage, nil when there is none.
func (w *world) get(gvr schema.GroupVersionResource, name string) runtime.Object {
	tracker := w.kube.Tracker()
	if gvr == miniClustersResource {
		tracker = w.elastic.Tracker()
	}
	obj, err := tracker.Get(gvr, "default", name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	require.NoError(w.t, err)
	return obj.DeepCopyObject()
}

func (w *world) remove(gvr schema.GroupVersionResource, name string) {
	err := w.kube.Tracker().Delete(gvr, "default", name)
	if !apierrors.IsNotFound(err) {
		require.NoError(w.t, err)
	}
}

// simulateJobController stands in for the Job controller and the kubelet:
// a Job of the MiniCluster has one pod per index below its parallelism,
// and its status counts them. A pod starts (Running) once the curve Secret
// exists, holding the certificate it had then; until then it waits
// (Pending), as a pod whose Secret volume cannot mount does. Pods of
// removed indexes stop at once; pods of a deleted Job linger until
// stopLingeringPods, as brokers draining in preStop do.
func (w *world) simulateJobController() (stop func()) {
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			w.stepJobController()
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (w *world) stepJobController() {
	w.kubelet.Lock()
	defer w.kubelet.Unlock()
	defer w.checkOneBrokerPerRank()
	obj := w.get(jobsResource, "flux-sample")
	if obj == nil {
		return
	}
	job := obj.(*batchv1.Job)
	if !metav1.IsControlledBy(job, w.mc) {
		return
	}
	want := int(ptr.Deref(job.Spec.Parallelism, 0))
	for index := range want {
		name := fmt.Sprintf("flux-sample-%d-%s", index, job.UID)
		if w.get(podsResource, name) == nil {
			w.put(podsResource, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{
					v1alpha1.LabelMiniCluster: "flux-sample", batchv1.JobCompletionIndexAnnotation: strconv.Itoa(index), "job-uid": string(job.UID),
				}},
				Status: corev1.PodStatus{Phase: corev1.PodPending},
			})
		}
	}
	var certificate []byte
	if secret := w.get(secretsResource, "flux-sample-curve"); secret != nil {
		certificate = secret.(*corev1.Secret).Data[CurveCertKey]
	}
	list, err := w.kube.Tracker().List(podsResource, corev1.SchemeGroupVersion.WithKind("Pod"), "default")
	require.NoError(w.t, err)
	var active, ready int32
	for _, pod := range list.(*corev1.PodList).Items {
		if pod.Labels["job-uid"] != string(job.UID) {
			continue
		}
		if index, _ := strconv.Atoi(pod.Labels[batchv1.JobCompletionIndexAnnotation]); index >= want {
			w.remove(podsResource, pod.Name)
			continue
		}
		active++
		if pod.Status.Phase == corev1.PodPending && certificate != nil {
			pod.Status.Phase = corev1.PodRunning
			pod.Annotations = map[string]string{certificateAnnotation: string(certificate)}
			w.put(podsResource, &pod)
		}
		if pod.Status.Phase == corev1.PodRunning {
			ready++
		}
	}
	if job.Status.Active != active || ptr.Deref(job.Status.Ready, -1) != ready {
		job.Status.Active, job.Status.Ready = active, ptr.To(ready)
		w.put(jobsResource, job)
	}
}

// checkOneBrokerPerRank holds a safety property: no two broker pods, of
// one Job or of two, hold one rank (and so one hostname).
func (w *world) checkOneBrokerPerRank() {
	list, err := w.kube.Tracker().List(podsResource, corev1.SchemeGroupVersion.WithKind("Pod"), "default")
	require.NoError(w.t, err)
	byRank := map[string][]string{}
	for _, pod := range list.(*corev1.PodList).Items {
		rank := pod.Labels[batchv1.JobCompletionIndexAnnotation]
		byRank[rank] = append(byRank[rank], pod.Name)
	}
	for rank, pods := range byRank {
		if len(pods) > 1 {
			w.violate("two brokers hold rank %s: %v", rank, pods)
		}
	}
}

// stopLingeringPods lets pods whose Job is gone finish stopping.
func (w *world) stopLingeringPods() {
	job := w.get(jobsResource, "flux-sample")
	list, err := w.kube.Tracker().List(podsResource, corev1.SchemeGroupVersion.WithKind("Pod"), "default")
	require.NoError(w.t, err)
	for _, pod := range list.(*corev1.PodList).Items {
		if job == nil || pod.Labels["job-uid"] != string(metaOf(job).GetUID()) {
			w.remove(podsResource, pod.Name)
		}
	}
}

// ownedKinds are the objects the MiniCluster owns, by resource and name.
func (w *world) ownedKinds() map[schema.GroupVersionResource]string {
	kinds := map[schema.GroupVersionResource]string{
		jobsResource: "flux-sample", servicesResource: "flux-sample", configMapsResource: "flux-sample-flux", secretsResource: "flux-sample-curve",
		pdbsResource: "flux-sample-rank0",
	}
	if w.mc.SelfScaling() {
		kinds[accountsResource], kinds[rolesResource], kinds[bindingsResource] = "flux-sample-selfscale", "flux-sample-selfscale", "flux-sample-selfscale"
	}
	return kinds
}

// pickOwned picks one owned object that exists.
func (w *world) pickOwned() (schema.GroupVersionResource, runtime.Object) {
	var present []schema.GroupVersionResource
	for gvr, name := range w.ownedKinds() {
		if obj := w.get(gvr, name); obj != nil && metav1.IsControlledBy(metaOf(obj), w.mc) {
			present = append(present, gvr)
		}
	}
	if len(present) == 0 {
		return schema.GroupVersionResource{}, nil
	}
	// Map order is random but not seeded: sort for a replayable pick.
	slicesSortGVR(present)
	gvr := present[w.rand.IntN(len(present))]
	return gvr, w.get(gvr, w.ownedKinds()[gvr])
}

func slicesSortGVR(list []schema.GroupVersionResource) {
	for i := range list {
		for j := i + 1; j < len(list); j++ {
			if list[j].String() < list[i].String() {
				list[i], list[j] = list[j], list[i]
			}
		}
	}
}

// play applies steps random operations, each after a random short pause
// in which the controller works, then checks convergence.
func (w *world) play(steps int) {
	for range steps {
		w.operate()
		time.Sleep(time.Duration(w.rand.IntN(15)) * time.Millisecond)
	}
	w.settle()
}

func (w *world) operate() {
	w.kubelet.Lock()
	defer w.kubelet.Unlock()
	switch op := w.rand.IntN(100); {
	case op < 25:
		mc := w.get(miniClustersResource, "flux-sample").(*v1alpha1.MiniCluster)
		size := int32(1 + w.rand.IntN(int(*mc.Spec.MaxSize)))
		mc.Spec.Size = ptr.To(size)
		mc.Generation++
		w.put(miniClustersResource, mc)
		w.logf("size %d (generation %d)", size, mc.Generation)
	case op < 42:
		if gvr, obj := w.pickOwned(); obj != nil {
			w.remove(gvr, metaOf(obj).GetName())
			w.logf("delete %s %s", gvr.Resource, metaOf(obj).GetName())
		}
	case op < 67:
		if gvr, obj := w.pickOwned(); obj != nil {
			what := w.edit(obj)
			w.put(gvr, obj)
			w.logf("edit %s %s: %s", gvr.Resource, metaOf(obj).GetName(), what)
		}
	case op < 72:
		if gvr, obj := w.pickOwned(); obj != nil {
			// Someone else's object takes the name.
			name := metaOf(obj).GetName()
			w.remove(gvr, name)
			foreign := obj.DeepCopyObject()
			metaOf(foreign).SetOwnerReferences(nil)
			metaOf(foreign).SetUID("someone-else")
			w.put(gvr, foreign)
			w.logf("replace %s %s with someone else's", gvr.Resource, name)
		}
	case op < 80:
		w.stopLingeringPods()
		w.logf("lingering broker pods stop")
	case op < 90:
		w.kubelet.Unlock() // the new controller's first syncs may need the stand-in
		w.stopController()
		w.startController()
		w.kubelet.Lock()
		w.logf("controller restart")
	default:
		w.mu.Lock()
		w.conflicts = !w.conflicts
		w.mu.Unlock()
		w.logf("status conflicts %v", w.conflicts)
	}
}

// edit changes an owned object by hand; it says what it did.
func (w *world) edit(obj runtime.Object) string {
	if w.rand.IntN(5) == 0 {
		labels := metaOf(obj).GetLabels()
		delete(labels, v1alpha1.LabelManagedBy)
		metaOf(obj).SetLabels(labels)
		return "managed-by label removed"
	}
	switch o := obj.(type) {
	case *batchv1.Job:
		switch w.rand.IntN(3) {
		case 0:
			n := int32(1 + w.rand.IntN(6))
			o.Spec.Parallelism, o.Spec.Completions = ptr.To(n), ptr.To(n)
			return fmt.Sprintf("size %d", n)
		case 1:
			o.Spec.BackoffLimit = ptr.To[int32](3)
			return "backoffLimit 3"
		default:
			if o.Spec.PodFailurePolicy == nil {
				o.Spec.PodReplacementPolicy = ptr.To(batchv1.TerminatingOrFailed)
				return "podReplacementPolicy TerminatingOrFailed"
			}
			o.Spec.BackoffLimit = ptr.To[int32](0)
			return "backoffLimit 0"
		}
	case *corev1.ConfigMap:
		o.Data[startScriptKey] = "#!/bin/sh\nexit 0\n"
		return "start script replaced"
	case *corev1.Service:
		o.Spec.Selector = map[string]string{"app": "other"}
		o.Spec.PublishNotReadyAddresses = false
		return "selector and publishNotReadyAddresses"
	case *rbacv1.Role:
		o.Rules = append(o.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}})
		return "rule added"
	case *rbacv1.RoleBinding:
		o.Subjects = append(o.Subjects, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: "default"})
		return "subject added"
	case *policyv1.PodDisruptionBudget:
		o.Spec.MinAvailable = ptr.To(intstr.FromInt32(0))
		return "minAvailable 0"
	case *corev1.Secret, *corev1.ServiceAccount:
		annotations := metaOf(obj).GetAnnotations()
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations["edited"] = "true"
		metaOf(obj).SetAnnotations(annotations)
		return "annotation added" // a Secret's data is immutable
	}
	return "nothing"
}

// settle stops the disturbances, does what the MiniCluster's conditions
// ask of a user, and waits for convergence.
func (w *world) settle() {
	w.mu.Lock()
	w.conflicts = false
	w.mu.Unlock()
	w.kubelet.Lock()
	defer w.kubelet.Unlock()
	for gvr, name := range w.ownedKinds() {
		if obj := w.get(gvr, name); obj != nil && !metav1.IsControlledBy(metaOf(obj), w.mc) {
			w.remove(gvr, name) // the user removes what was in the way
			w.logf("settle: remove someone else's %s %s", gvr.Resource, name)
		}
	}
	w.stopLingeringPods()

	var last error
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		w.stopLingeringPods()
		w.kubelet.Unlock()
		time.Sleep(10 * time.Millisecond)
		w.kubelet.Lock()
		last = w.converged()
		if last == nil {
			break
		}
		if w.curveSecretBlocked() {
			// What the condition asks: delete the Job to restart every
			// broker with a new certificate.
			w.remove(jobsResource, "flux-sample")
			w.stopLingeringPods()
			w.logf("settle: delete the Job, as the CurveSecretMissing condition says")
		}
	}
	w.mu.Lock()
	violations := w.violations
	w.mu.Unlock()
	require.Empty(w.t, violations, "safety properties")
	if last != nil {
		mc := w.get(miniClustersResource, "flux-sample").(*v1alpha1.MiniCluster)
		w.t.Logf("the MiniCluster's status: %+v", mc.Status)
	}
	require.NoError(w.t, last, "the world did not converge to the spec")
}

func (w *world) curveSecretBlocked() bool {
	mc := w.get(miniClustersResource, "flux-sample").(*v1alpha1.MiniCluster)
	c := meta.FindStatusCondition(mc.Status.Conditions, ConditionDegraded)
	return c != nil && c.Reason == ReasonCurveSecretMissing && w.get(secretsResource, "flux-sample-curve") == nil && w.get(jobsResource, "flux-sample") != nil
}

// converged says how the world differs from what the spec asks, or nil.
func (w *world) converged() error {
	mc := w.get(miniClustersResource, "flux-sample").(*v1alpha1.MiniCluster)
	want, _ := desiredJobSize(mc)
	for gvr, name := range w.ownedKinds() {
		obj := w.get(gvr, name)
		if obj == nil {
			return fmt.Errorf("%s %s is missing", gvr.Resource, name)
		}
		if !metav1.IsControlledBy(metaOf(obj), mc) {
			return fmt.Errorf("%s %s is not controlled by the MiniCluster", gvr.Resource, name)
		}
		for key, value := range managedLabels(mc) {
			if metaOf(obj).GetLabels()[key] != value {
				return fmt.Errorf("%s %s lacks the label %s", gvr.Resource, name, key)
			}
		}
	}
	job := w.get(jobsResource, "flux-sample").(*batchv1.Job)
	shape := shapeFor(mc)
	switch {
	case *job.Spec.Parallelism != want || *job.Spec.Completions != want:
		return fmt.Errorf("the Job runs %d/%d brokers, want %d", *job.Spec.Parallelism, *job.Spec.Completions, want)
	case len(shape.outdatedBy(job)) > 0 || len(shape.mutableDrift(job)) > 0:
		return fmt.Errorf("the Job's failure handling differs: %v %v", shape.outdatedBy(job), shape.mutableDrift(job))
	}
	desiredConfig, err := newConfigMap(mc, "cluster.local")
	require.NoError(w.t, err)
	if cm := w.get(configMapsResource, "flux-sample-flux").(*corev1.ConfigMap); !equality.Semantic.DeepEqual(cm.Data, desiredConfig.Data) || cm.BinaryData != nil {
		return fmt.Errorf("the ConfigMap's data differs")
	}
	svc, desiredService := w.get(servicesResource, "flux-sample").(*corev1.Service), newService(mc)
	if !equality.Semantic.DeepEqual(svc.Spec, desiredService.Spec) {
		return fmt.Errorf("the Service's spec differs")
	}
	if pdb := w.get(pdbsResource, "flux-sample-rank0").(*policyv1.PodDisruptionBudget); !equality.Semantic.DeepEqual(pdb.Spec, newPodDisruptionBudget(mc).Spec) {
		return fmt.Errorf("the PodDisruptionBudget's spec differs")
	}
	if mc.SelfScaling() {
		if role := w.get(rolesResource, "flux-sample-selfscale").(*rbacv1.Role); !equality.Semantic.DeepEqual(role.Rules, newRole(mc).Rules) {
			return fmt.Errorf("the Role's rules differ")
		}
		if binding := w.get(bindingsResource, "flux-sample-selfscale").(*rbacv1.RoleBinding); !equality.Semantic.DeepEqual(binding.Subjects, newRoleBinding(mc).Subjects) {
			return fmt.Errorf("the RoleBinding's subjects differ")
		}
	}
	secret := w.get(secretsResource, "flux-sample-curve").(*corev1.Secret)
	if len(secret.Data[CurveCertKey]) == 0 {
		return fmt.Errorf("the Secret holds no certificate")
	}
	for pod, certificate := range w.runningPods() {
		if certificate != string(secret.Data[CurveCertKey]) {
			return fmt.Errorf("the cluster is split: broker pod %s holds %q, the Secret %q", pod, certificate, secret.Data[CurveCertKey])
		}
	}
	status := mc.Status
	switch {
	case status.ObservedGeneration != mc.Generation:
		return fmt.Errorf("status.observedGeneration %d, generation %d", status.ObservedGeneration, mc.Generation)
	case status.Size != want || status.ReadySize != want:
		return fmt.Errorf("status says %d brokers, %d ready; want %d", status.Size, status.ReadySize, want)
	case meta.FindStatusCondition(status.Conditions, ConditionDegraded) != nil:
		return fmt.Errorf("still degraded: %s", meta.FindStatusCondition(status.Conditions, ConditionDegraded).Message)
	case !meta.IsStatusConditionTrue(status.Conditions, ConditionReady):
		return fmt.Errorf("not ready")
	}
	return nil
}
