package controller

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
	core "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2/ktesting"
	"k8s.io/utils/ptr"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
	"github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned/fake"
)

// fixture puts objects into fake clientsets, builds a controller whose
// informers fill their caches from them exactly as in production (the same
// label filter, the same transform), runs syncs, and exposes the write
// actions both clients saw.
type fixture struct {
	t          testing.TB
	kubeClient *kubefake.Clientset
	client     *fake.Clientset
	recorder   *record.FakeRecorder

	miniClusters []*v1alpha1.MiniCluster
	kubeObjects  []runtime.Object
	// config is the controller's Config; zero values take the defaults.
	config Config
	// reactors run before the fake's own, e.g. to make a write fail.
	reactors []reactor
}

// reactor makes the fake kube clientset answer verb on resource.
type reactor struct {
	verb, resource string
	react          core.ReactionFunc
}

func newFixture(t testing.TB) *fixture {
	return &fixture{t: t}
}

// newController builds the clients and a controller, starts its informers
// and waits until their caches hold what the clients hold.
func (f *fixture) newController(ctx context.Context) *Controller {
	var elasticObjects []runtime.Object
	for _, mc := range f.miniClusters {
		elasticObjects = append(elasticObjects, mc)
	}
	f.client = fake.NewSimpleClientset(elasticObjects...)
	f.kubeClient = kubefake.NewClientset(f.kubeObjects...)
	filterWatchesByLabel(&f.kubeClient.Fake, f.kubeClient.Tracker(), nil)
	filterWatchesByLabel(&f.client.Fake, f.client.Tracker(), nil)
	for _, r := range f.reactors {
		f.kubeClient.PrependReactor(r.verb, r.resource, r.react)
	}
	kubeInformers, elasticInformers := NewInformerFactories(f.kubeClient, f.client, "", 0)

	c, err := NewController(ctx, f.kubeClient, f.client, kubeInformers, elasticInformers, f.config)
	require.NoError(f.t, err)
	f.recorder = record.NewFakeRecorder(20)
	c.recorder = f.recorder
	c.newCurveCertBytes = func(string) ([]byte, error) { return []byte("test certificate"), nil }

	informerCtx, stop := context.WithCancel(ctx)
	f.t.Cleanup(stop)
	kubeInformers.Start(informerCtx.Done())
	elasticInformers.Start(informerCtx.Done())
	for informer, synced := range kubeInformers.WaitForCacheSync(informerCtx.Done()) {
		require.True(f.t, synced, "cache of %v", informer)
	}
	for informer, synced := range elasticInformers.WaitForCacheSync(informerCtx.Done()) {
		require.True(f.t, synced, "cache of %v", informer)
	}
	f.kubeClient.ClearActions()
	f.client.ClearActions()
	return c
}

// sync runs the handler once for mc and returns the result.
func (f *fixture) sync(mc *v1alpha1.MiniCluster) syncResult {
	_, ctx := ktesting.NewTestContext(f.t)
	c := f.newController(ctx)
	result, err := c.syncHandler(ctx, cache.MetaObjectToName(mc))
	require.NoError(f.t, err)
	return result
}

// writes lists the mutating actions as "verb resource[/subresource]".
func writes(actions []core.Action) []string {
	var out []string
	for _, a := range actions {
		if a.GetVerb() == "get" || a.GetVerb() == "list" || a.GetVerb() == "watch" {
			continue
		}
		r := a.GetResource().Resource
		if a.GetSubresource() != "" {
			r += "/" + a.GetSubresource()
		}
		out = append(out, a.GetVerb()+" "+r)
	}
	return out
}

func (f *fixture) kubeWrites() []string    { return writes(f.kubeClient.Actions()) }
func (f *fixture) elasticWrites() []string { return writes(f.client.Actions()) }

// kubeWriteAction and elasticWriteAction are the i-th write action; reads,
// including the informers' watches, are skipped.
func (f *fixture) kubeWriteAction(i int) core.Action {
	return writeActions(f.t, f.kubeClient.Actions())[i]
}
func (f *fixture) elasticWriteAction(i int) core.Action {
	return writeActions(f.t, f.client.Actions())[i]
}

func writeActions(t testing.TB, actions []core.Action) []core.Action {
	var out []core.Action
	for _, a := range actions {
		if a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
			out = append(out, a)
		}
	}
	require.NotEmpty(t, out, "no write")
	return out
}

func (f *fixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func newMiniCluster(name string, size, maxSize int32) *v1alpha1.MiniCluster {
	return &v1alpha1.MiniCluster{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "MiniCluster"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Generation: 1},
		Spec: v1alpha1.MiniClusterSpec{
			Size:      ptr.To(size),
			MinSize:   ptr.To[int32](1),
			MaxSize:   ptr.To(maxSize),
			Container: v1alpha1.ContainerSpec{Image: "flux:latest"},
		},
	}
}

// steadyChildren are the objects an earlier sync made for mc, with the Job
// at jobSize and its pods all running and ready. Each has a UID of its
// own, as the API server gives.
func steadyChildren(t testing.TB, mc *v1alpha1.MiniCluster, jobSize int32) []runtime.Object {
	cm, err := newConfigMap(mc, "cluster.local")
	require.NoError(t, err)
	job := newJob(mc)
	job.Spec.Parallelism, job.Spec.Completions = ptr.To(jobSize), ptr.To(jobSize)
	job.Status.Active, job.Status.Ready = jobSize, ptr.To(jobSize)
	objects := []runtime.Object{newCurveSecret(mc, []byte("cert")), cm, newService(mc), newPodDisruptionBudget(mc), job}
	for _, obj := range objects {
		object := metaOf(obj)
		object.SetUID(types.UID(fmt.Sprintf("uid-%T-%s", obj, object.GetName())))
	}
	return objects
}

// steadyJob is the Job among steadyChildren.
func steadyJob(objects []runtime.Object) *batchv1.Job {
	return child[*batchv1.Job](objects)
}

// child is the object of type T among objects, or nil.
func child[T runtime.Object](objects []runtime.Object) T {
	for _, obj := range objects {
		if typed, ok := obj.(T); ok {
			return typed
		}
	}
	var none T
	return none
}

// withStatus gives mc the status a sync computes for job, as if written.
func withStatus(mc *v1alpha1.MiniCluster, job *batchv1.Job) *v1alpha1.MiniCluster {
	computeStatus(mc, job)
	return mc
}

func TestSyncCreatesChildren(t *testing.T) {
	f := newFixture(t)
	mc := newMiniCluster("flux-sample", 2, 8)
	f.miniClusters = append(f.miniClusters, mc)
	f.sync(mc)

	assert.Equal(t, []string{"create secrets", "create configmaps", "create services", "create poddisruptionbudgets", "create jobs"}, f.kubeWrites())
	assert.Empty(t, f.elasticWrites(), "status waits for the Job's first status")

	job, err := f.kubeClient.BatchV1().Jobs("default").Get(context.Background(), "flux-sample", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(2), *job.Spec.Parallelism)
	assert.Equal(t, int32(2), *job.Spec.Completions)
	assert.True(t, metav1.IsControlledBy(job, mc))

	cm, err := f.kubeClient.CoreV1().ConfigMaps("default").Get(context.Background(), "flux-sample-flux", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Contains(t, cm.Data[brokerTOMLKey], `flux-sample-[0-7]`)
	for key, value := range cm.Data {
		assert.NotContains(t, value, "test certificate", "certificate leaked into ConfigMap key %s", key)
	}
	assert.Empty(t, f.events(), "creation is not an event")
}

func TestSyncSteadyStateWritesNothing(t *testing.T) {
	f := newFixture(t)
	mc := newMiniCluster("flux-sample", 2, 8)
	f.kubeObjects = steadyChildren(t, mc, 2)
	f.miniClusters = append(f.miniClusters, withStatus(mc, steadyJob(f.kubeObjects)))
	f.sync(mc)

	assert.Empty(t, f.kubeWrites())
	assert.Empty(t, f.elasticWrites())
	assert.Empty(t, f.events())
}

func TestSyncResizes(t *testing.T) {
	cases := map[string]struct {
		size, jobSize int32
		wantPatch     string
		wantEvent     string
	}{
		"scale up":   {size: 6, jobSize: 2, wantPatch: `{"metadata":{"uid":"uid-*v1.Job-flux-sample"},"spec":{"parallelism":6,"completions":6}}`, wantEvent: "Normal Resized Resized from 2 to 6 brokers"},
		"scale down": {size: 1, jobSize: 4, wantPatch: `{"metadata":{"uid":"uid-*v1.Job-flux-sample"},"spec":{"parallelism":1,"completions":1}}`, wantEvent: "Normal Resized Resized from 4 to 1 brokers"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			mc := newMiniCluster("flux-sample", tc.size, 8)
			f.kubeObjects = steadyChildren(t, mc, tc.jobSize)
			f.miniClusters = append(f.miniClusters, mc)
			f.sync(mc)

			require.Equal(t, []string{"patch jobs"}, f.kubeWrites())
			patch := f.kubeWriteAction(0).(core.PatchAction)
			assert.JSONEq(t, tc.wantPatch, string(patch.GetPatch()))
			assert.Empty(t, f.elasticWrites(), "the Job's next status brings the one status write")
			assert.Equal(t, []string{tc.wantEvent}, f.events())
		})
	}
}

func TestSyncClampsOutOfRangeSize(t *testing.T) {
	f := newFixture(t)
	mc := newMiniCluster("flux-sample", 12, 8) // only possible when admission was bypassed
	f.kubeObjects = steadyChildren(t, mc, 8)
	f.miniClusters = append(f.miniClusters, mc)
	f.sync(mc)

	assert.Empty(t, f.kubeWrites(), "the Job is already at the ceiling")
	require.Equal(t, []string{"update miniclusters/status"}, f.elasticWrites())
	updated := f.elasticWriteAction(0).(core.UpdateAction).GetObject().(*v1alpha1.MiniCluster)
	degraded := meta.FindStatusCondition(updated.Status.Conditions, ConditionDegraded)
	require.NotNil(t, degraded)
	assert.Equal(t, ReasonSizeOutOfRange, degraded.Reason)
	assert.Equal(t, "spec.size 12 is outside [1, 8]; running 8 brokers", degraded.Message)
	assert.Equal(t, int32(12), *updated.Spec.Size, "the user's spec is never rewritten")
	assert.Equal(t, []string{"Warning SizeOutOfRange spec.size 12 is outside [1, 8]; running 8 brokers"}, f.events())
}

// TestSyncClampRecordsProblemWithResize: a clamp that also resizes the Job
// records the condition at once, so the next sync sends no second warning.
func TestSyncClampRecordsProblemWithResize(t *testing.T) {
	f := newFixture(t)
	mc := newMiniCluster("flux-sample", 12, 8)
	f.kubeObjects = steadyChildren(t, mc, 2)
	f.miniClusters = append(f.miniClusters, mc)
	f.sync(mc)

	assert.Equal(t, []string{"patch jobs"}, f.kubeWrites())
	require.Equal(t, []string{"update miniclusters/status"}, f.elasticWrites())
	updated := f.elasticWriteAction(0).(core.UpdateAction).GetObject().(*v1alpha1.MiniCluster)
	assert.True(t, meta.IsStatusConditionTrue(updated.Status.Conditions, ConditionDegraded))
	assert.Equal(t, []string{
		"Normal Resized Resized from 2 to 8 brokers",
		"Warning SizeOutOfRange spec.size 12 is outside [1, 8]; running 8 brokers",
	}, f.events())
}

func TestSyncStatusFollowsJob(t *testing.T) {
	f := newFixture(t)
	mc := newMiniCluster("flux-sample", 4, 8)
	f.kubeObjects = steadyChildren(t, mc, 4)
	job := steadyJob(f.kubeObjects)
	job.Status.Active, job.Status.Ready = 3, ptr.To[int32](2)
	f.miniClusters = append(f.miniClusters, mc)
	_, ctx := ktesting.NewTestContext(t)
	c := f.newController(ctx)
	clock := time.Unix(1000, 0)
	c.now = func() time.Time { return clock }

	// Brokers still starting: the write waits for them to settle.
	result, err := c.syncHandler(ctx, cache.MetaObjectToName(mc))
	require.NoError(t, err)
	assert.Empty(t, f.elasticWrites(), "held back while the brokers settle")
	assert.Equal(t, time.Second, result.requeueAfter)

	// They did not settle in time: status says what exists now.
	clock = clock.Add(5 * time.Second)
	result, err = c.syncHandler(ctx, cache.MetaObjectToName(mc))
	require.NoError(t, err)
	assert.Zero(t, result.requeueAfter)
	assert.Empty(t, f.kubeWrites())
	require.Equal(t, []string{"update miniclusters/status"}, f.elasticWrites())
	status := f.elasticWriteAction(0).(core.UpdateAction).GetObject().(*v1alpha1.MiniCluster).Status
	assert.Equal(t, int32(3), status.Size)
	assert.Equal(t, int32(2), status.ReadySize)
	assert.Equal(t, int32(8), status.MaxSize)
	assert.Equal(t, "elasticflux.io/minicluster=flux-sample", status.Selector)
	assert.Equal(t, int64(1), status.ObservedGeneration)
	assert.True(t, meta.IsStatusConditionFalse(status.Conditions, ConditionReady))
	resizing := meta.FindStatusCondition(status.Conditions, ConditionResizing)
	require.NotNil(t, resizing)
	assert.Equal(t, ReasonScalingUp, resizing.Reason)
}

// TestSyncWritesSettledStatusAtOnce: once the Job has caught up, the one
// status write of a resize happens without waiting.
func TestSyncWritesSettledStatusAtOnce(t *testing.T) {
	f := newFixture(t)
	mc := newMiniCluster("flux-sample", 4, 8)
	f.kubeObjects = steadyChildren(t, mc, 2)
	f.miniClusters = append(f.miniClusters, withStatus(mc.DeepCopy(), steadyJob(f.kubeObjects)))
	job := steadyJob(f.kubeObjects)
	job.Spec.Parallelism, job.Spec.Completions = ptr.To[int32](4), ptr.To[int32](4)
	job.Status.Active, job.Status.Ready = 4, ptr.To[int32](4)
	f.sync(mc)

	require.Equal(t, []string{"update miniclusters/status"}, f.elasticWrites())
	status := f.elasticWriteAction(0).(core.UpdateAction).GetObject().(*v1alpha1.MiniCluster).Status
	assert.Equal(t, int32(4), status.Size)
	assert.True(t, meta.IsStatusConditionTrue(status.Conditions, ConditionReady))
}

// TestTrimForCache: the caches keep no pod templates (but the restart
// policy that tells a Job's shape), no config data (but its hash), no key
// material and no managed fields; trimming twice changes nothing.
func TestTrimForCache(t *testing.T) {
	mc := newMiniCluster("flux-sample", 2, 8)
	objects := steadyChildren(t, mc, 2)
	for _, obj := range objects {
		metaOf(obj).SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "x"}})
		original := obj.DeepCopyObject()
		trimmed, err := trimForCache(obj)
		require.NoError(t, err)
		assert.Empty(t, metaOf(trimmed).GetManagedFields())
		switch o := trimmed.(type) {
		case *batchv1.Job:
			assert.Equal(t, corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure}}, o.Spec.Template)
			assert.Equal(t, int32(2), *o.Spec.Parallelism, "the size stays")
			assert.Equal(t, int32(math.MaxInt32), *o.Spec.BackoffLimitPerIndex, "the shape stays")
		case *corev1.ConfigMap:
			assert.Nil(t, o.Data)
			assert.Equal(t, hashConfigMapData(original.(*corev1.ConfigMap).Data, nil), o.Annotations[cachedDataHashAnnotation], "the data's hash stays")
		case *corev1.Secret:
			assert.Nil(t, o.Data)
		}
		again, err := trimForCache(trimmed.(runtime.Object).DeepCopyObject())
		require.NoError(t, err)
		assert.Equal(t, trimmed, again, "trimming is idempotent")
	}
}

func TestHashConfigMapData(t *testing.T) {
	base := hashConfigMapData(map[string]string{"a": "1", "b": "2"}, nil)
	assert.Equal(t, base, hashConfigMapData(map[string]string{"b": "2", "a": "1"}, nil), "order does not matter")
	assert.NotEqual(t, base, hashConfigMapData(map[string]string{"a": "1", "b": "3"}, nil), "a value")
	assert.NotEqual(t, base, hashConfigMapData(map[string]string{"a": "1"}, nil), "a key fewer")
	assert.NotEqual(t, base, hashConfigMapData(map[string]string{"a": "1", "b": "2"}, map[string][]byte{"c": nil}), "binary data")
	assert.NotEqual(t, hashConfigMapData(map[string]string{"ab": ""}, nil), hashConfigMapData(map[string]string{"a": "b"}, nil), "key and value are kept apart")
	assert.NotEqual(t, hashConfigMapData(map[string]string{"a": ""}, nil), hashConfigMapData(nil, map[string][]byte{"a": nil}), "data and binary data are kept apart")
}

// TestSyncRewritesDriftedConfigMap: a ConfigMap whose data differs from
// what the MiniCluster renders is put back, whatever its annotations say:
// drift is read from the data itself, and its cached copy holds only the
// hash.
func TestSyncRewritesDriftedConfigMap(t *testing.T) {
	cases := map[string]func(cm *corev1.ConfigMap){
		"a key edited by hand": func(cm *corev1.ConfigMap) {
			cm.Data[startScriptKey] = "#!/bin/sh\nexec sleep infinity\n"
		},
		"a key added by hand": func(cm *corev1.ConfigMap) { cm.Data["extra"] = "x" },
		"a key removed":       func(cm *corev1.ConfigMap) { delete(cm.Data, preStopKey) },
		"binary data added":   func(cm *corev1.ConfigMap) { cm.BinaryData = map[string][]byte{"blob": {1}} },
		"rendered by an earlier version, with the hash it trusted": func(cm *corev1.ConfigMap) {
			cm.Data[brokerTOMLKey] = "[bootstrap]\n"
			cm.Annotations = map[string]string{staleConfigHashAnnotation: hashConfigMapData(cm.Data, nil)}
		},
		"edited, with a forged cache annotation": func(cm *corev1.ConfigMap) {
			cm.Annotations = map[string]string{cachedDataHashAnnotation: hashConfigMapData(cm.Data, nil)}
			cm.Data[brokerTOMLKey] = "[bootstrap]\n"
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			mc := newMiniCluster("flux-sample", 2, 8)
			f.kubeObjects = steadyChildren(t, mc, 2)
			want := f.kubeObjects[1].(*corev1.ConfigMap).DeepCopy()
			edit(f.kubeObjects[1].(*corev1.ConfigMap))
			f.miniClusters = append(f.miniClusters, withStatus(mc, steadyJob(f.kubeObjects)))
			f.sync(mc)

			require.Equal(t, []string{"update configmaps"}, f.kubeWrites())
			updated, err := f.kubeClient.CoreV1().ConfigMaps("default").Get(context.Background(), "flux-sample-flux", metav1.GetOptions{})
			require.NoError(t, err)
			assert.Equal(t, want.Data, updated.Data)
			assert.Nil(t, updated.BinaryData)
			assert.NotContains(t, updated.Annotations, cachedDataHashAnnotation, "the cache's own annotation never reaches the API server")
			assert.NotContains(t, updated.Annotations, staleConfigHashAnnotation)
			assert.Equal(t, []string{`Normal Restored ConfigMap "flux-sample-flux" differed from what this MiniCluster asks for (data); restored it`}, f.events())
		})
	}
}

func TestSyncMirrorsJobCompletion(t *testing.T) {
	f := newFixture(t)
	mc := newMiniCluster("flux-sample", 2, 8)
	f.kubeObjects = steadyChildren(t, mc, 2)
	job := steadyJob(f.kubeObjects)
	job.Status.Active, job.Status.Ready = 0, ptr.To[int32](0)
	job.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Message: "Reached expected number of succeeded pods"}}
	mc.Spec.Size = ptr.To[int32](3) // a finished Job is not resized
	f.miniClusters = append(f.miniClusters, mc)
	f.sync(mc)

	assert.Empty(t, f.kubeWrites())
	require.Equal(t, []string{"update miniclusters/status"}, f.elasticWrites())
	status := f.elasticWriteAction(0).(core.UpdateAction).GetObject().(*v1alpha1.MiniCluster).Status
	assert.True(t, meta.IsStatusConditionTrue(status.Conditions, ConditionCompleted))
	assert.True(t, meta.IsStatusConditionFalse(status.Conditions, ConditionReady))
}

func TestSyncRefusesForeignObject(t *testing.T) {
	mc := newMiniCluster("flux-sample", 2, 8)
	other := newMiniCluster("other", 2, 8)
	cases := map[string]*corev1.Service{
		// A copy carrying our label but no owner: still not ours.
		"a Service with our label and no owner": {ObjectMeta: metav1.ObjectMeta{
			Name: "flux-sample", Namespace: "default", Labels: managedLabels(mc),
		}},
		// Another MiniCluster's: IsControlledBy tells them apart by UID.
		"a Service controlled by another MiniCluster": {ObjectMeta: metav1.ObjectMeta{
			Name: "flux-sample", Namespace: "default", Labels: managedLabels(mc),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(other, controllerKind)},
		}},
	}
	for name, foreign := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			f.kubeObjects = []runtime.Object{foreign}
			f.miniClusters = append(f.miniClusters, mc.DeepCopy(), other)
			result := f.sync(mc)

			assert.Equal(t, []string{"create secrets", "create configmaps"}, f.kubeWrites(), "the Service is never overwritten and nothing after it is made")
			require.Equal(t, []string{"update miniclusters/status"}, f.elasticWrites())
			status := f.elasticWriteAction(0).(core.UpdateAction).GetObject().(*v1alpha1.MiniCluster).Status
			degraded := meta.FindStatusCondition(status.Conditions, ConditionDegraded)
			require.NotNil(t, degraded)
			assert.Equal(t, ReasonForeignObject, degraded.Reason)
			events := f.events()
			require.Len(t, events, 1)
			assert.True(t, strings.HasPrefix(events[0], "Warning ForeignObject Service \"flux-sample\" exists and is not controlled"), events[0])
			assert.Equal(t, time.Minute, result.requeueAfter, "looked at again later, not in a hot loop")
		})
	}
}

func TestSyncForeignObjectOutsideCache(t *testing.T) {
	cases := map[string]struct {
		foreign    runtime.Object
		wantWrites []string
	}{
		// Without our label it is not in the cache: a live read shows
		// whose it is. The certificate is not made while it is unclear
		// whether brokers run.
		"a user's Job": {
			foreign: &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "flux-sample", Namespace: "default"}},
		},
		"a user's ConfigMap": {
			foreign:    &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "flux-sample-flux", Namespace: "default"}},
			wantWrites: []string{"create secrets", "create configmaps"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			mc := newMiniCluster("flux-sample", 2, 8)
			f.miniClusters = append(f.miniClusters, mc)
			f.kubeObjects = []runtime.Object{tc.foreign}
			result := f.sync(mc)

			assert.Equal(t, time.Minute, result.requeueAfter)
			assert.Equal(t, tc.wantWrites, f.kubeWrites(), "the user's object is never written")
			status := f.elasticWriteAction(0).(core.UpdateAction).GetObject().(*v1alpha1.MiniCluster).Status
			assert.Equal(t, ReasonForeignObject, meta.FindStatusCondition(status.Conditions, ConditionDegraded).Reason)
		})
	}
}

func TestSyncDeletedMiniCluster(t *testing.T) {
	f := newFixture(t)
	mc := newMiniCluster("flux-sample", 2, 8)
	f.kubeObjects = steadyChildren(t, mc, 2) // the garbage collector removes these
	f.sync(mc)
	assert.Empty(t, f.kubeWrites())
	assert.Empty(t, f.elasticWrites())
}

func TestSyncSelfScalingRBAC(t *testing.T) {
	f := newFixture(t)
	mc := newMiniCluster("flux-sample", 2, 8)
	mc.Spec.Elasticity = &v1alpha1.ElasticitySpec{SelfScaling: ptr.To(true)}
	f.miniClusters = append(f.miniClusters, mc)
	f.sync(mc)

	assert.Equal(t, []string{
		"create secrets", "create configmaps", "create services",
		"create serviceaccounts", "create roles", "create rolebindings", "create poddisruptionbudgets", "create jobs",
	}, f.kubeWrites())

	ctx := context.Background()
	role, err := f.kubeClient.RbacV1().Roles("default").Get(ctx, "flux-sample-selfscale", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, []rbacv1.PolicyRule{
		{APIGroups: []string{"elasticflux.io"}, Resources: []string{"miniclusters/scale"}, ResourceNames: []string{"flux-sample"}, Verbs: []string{"get", "update", "patch"}},
		{APIGroups: []string{"elasticflux.io"}, Resources: []string{"miniclusters"}, ResourceNames: []string{"flux-sample"}, Verbs: []string{"get"}},
	}, role.Rules)
	binding, err := f.kubeClient.RbacV1().RoleBindings("default").Get(ctx, "flux-sample-selfscale", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "flux-sample-selfscale", binding.Subjects[0].Name)

	job, err := f.kubeClient.BatchV1().Jobs("default").Get(ctx, "flux-sample", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "flux-sample-selfscale", job.Spec.Template.Spec.ServiceAccountName)
	assert.True(t, *job.Spec.Template.Spec.AutomountServiceAccountToken)
}
