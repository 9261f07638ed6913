package controller

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubeinformers "k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	core "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2/ktesting"
	"k8s.io/utils/ptr"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
	"github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned/fake"
	informers "github.com/elasticflux/elasticflux/pkg/generated/informers/externalversions"
)

// fixture seeds the listers and fake clients with objects, runs one sync,
// and exposes the write actions both clients saw.
type fixture struct {
	t          testing.TB
	kubeClient *kubefake.Clientset
	client     *fake.Clientset
	recorder   *record.FakeRecorder

	miniClusters []*v1alpha1.MiniCluster
	kubeObjects  []runtime.Object
}

func newFixture(t testing.TB) *fixture {
	return &fixture{t: t}
}

func (f *fixture) newController(ctx context.Context) *Controller {
	var elasticObjects []runtime.Object
	for _, mc := range f.miniClusters {
		elasticObjects = append(elasticObjects, mc)
	}
	f.client = fake.NewSimpleClientset(elasticObjects...)
	f.kubeClient = kubefake.NewClientset(f.kubeObjects...)
	kubeInformers := kubeinformers.NewSharedInformerFactory(f.kubeClient, 0)
	elasticInformers := informers.NewSharedInformerFactory(f.client, 0)

	c, err := NewController(ctx, f.kubeClient, f.client, kubeInformers, elasticInformers, Config{})
	require.NoError(f.t, err)
	f.recorder = record.NewFakeRecorder(10)
	c.recorder = f.recorder
	c.newCurveCertBytes = func(string) ([]byte, error) { return []byte("test certificate"), nil }

	for _, mc := range f.miniClusters {
		require.NoError(f.t, elasticInformers.Elasticflux().V1alpha1().MiniClusters().Informer().GetIndexer().Add(mc))
	}
	for _, obj := range f.kubeObjects {
		var indexer cache.Indexer
		switch obj.(type) {
		case *batchv1.Job:
			indexer = kubeInformers.Batch().V1().Jobs().Informer().GetIndexer()
		case *corev1.Service:
			indexer = kubeInformers.Core().V1().Services().Informer().GetIndexer()
		case *corev1.ConfigMap:
			indexer = kubeInformers.Core().V1().ConfigMaps().Informer().GetIndexer()
		case *corev1.Secret:
			indexer = kubeInformers.Core().V1().Secrets().Informer().GetIndexer()
		case *corev1.ServiceAccount:
			indexer = kubeInformers.Core().V1().ServiceAccounts().Informer().GetIndexer()
		case *rbacv1.Role:
			indexer = kubeInformers.Rbac().V1().Roles().Informer().GetIndexer()
		case *rbacv1.RoleBinding:
			indexer = kubeInformers.Rbac().V1().RoleBindings().Informer().GetIndexer()
		case *policyv1.PodDisruptionBudget:
			indexer = kubeInformers.Policy().V1().PodDisruptionBudgets().Informer().GetIndexer()
		default:
			f.t.Fatalf("no informer for %T", obj)
		}
		require.NoError(f.t, indexer.Add(obj))
	}
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
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: "uid-" + "name", Generation: 1},
		Spec: v1alpha1.MiniClusterSpec{
			Size:      ptr.To(size),
			MinSize:   ptr.To[int32](1),
			MaxSize:   ptr.To(maxSize),
			Container: v1alpha1.ContainerSpec{Image: "flux:latest"},
		},
	}
}

// steadyChildren are the objects an earlier sync made for mc, with the Job
// at jobSize and its pods all running and ready.
func steadyChildren(t testing.TB, mc *v1alpha1.MiniCluster, jobSize int32) []runtime.Object {
	cm, err := newConfigMap(mc, "cluster.local")
	require.NoError(t, err)
	job := newJob(mc)
	job.Spec.Parallelism, job.Spec.Completions = ptr.To(jobSize), ptr.To(jobSize)
	job.Status.Active, job.Status.Ready = jobSize, ptr.To(jobSize)
	return []runtime.Object{newCurveSecret(mc, []byte("cert")), cm, newService(mc), job, newPodDisruptionBudget(mc)}
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
	f.miniClusters = append(f.miniClusters, withStatus(mc, f.kubeObjects[3].(*batchv1.Job)))
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
		"scale up":   {size: 6, jobSize: 2, wantPatch: `{"spec":{"parallelism":6,"completions":6}}`, wantEvent: "Normal Resized Resized from 2 to 6 brokers"},
		"scale down": {size: 1, jobSize: 4, wantPatch: `{"spec":{"parallelism":1,"completions":1}}`, wantEvent: "Normal Resized Resized from 4 to 1 brokers"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			mc := newMiniCluster("flux-sample", tc.size, 8)
			f.kubeObjects = steadyChildren(t, mc, tc.jobSize)
			f.miniClusters = append(f.miniClusters, mc)
			f.sync(mc)

			require.Equal(t, []string{"patch jobs"}, f.kubeWrites())
			patch := f.kubeClient.Actions()[0].(core.PatchAction)
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
	updated := f.client.Actions()[0].(core.UpdateAction).GetObject().(*v1alpha1.MiniCluster)
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
	updated := f.client.Actions()[0].(core.UpdateAction).GetObject().(*v1alpha1.MiniCluster)
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
	job := f.kubeObjects[3].(*batchv1.Job)
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
	status := f.client.Actions()[0].(core.UpdateAction).GetObject().(*v1alpha1.MiniCluster).Status
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
	f.miniClusters = append(f.miniClusters, withStatus(mc.DeepCopy(), f.kubeObjects[3].(*batchv1.Job)))
	job := f.kubeObjects[3].(*batchv1.Job)
	job.Spec.Parallelism, job.Spec.Completions = ptr.To[int32](4), ptr.To[int32](4)
	job.Status.Active, job.Status.Ready = 4, ptr.To[int32](4)
	f.sync(mc)

	require.Equal(t, []string{"update miniclusters/status"}, f.elasticWrites())
	status := f.client.Actions()[0].(core.UpdateAction).GetObject().(*v1alpha1.MiniCluster).Status
	assert.Equal(t, int32(4), status.Size)
	assert.True(t, meta.IsStatusConditionTrue(status.Conditions, ConditionReady))
}

// TestTrimForCache: the caches keep no pod templates, config data, key
// material or managed fields.
func TestTrimForCache(t *testing.T) {
	mc := newMiniCluster("flux-sample", 2, 8)
	objects := steadyChildren(t, mc, 2)
	for _, obj := range objects {
		metaOf(obj).SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "x"}})
		trimmed, err := trimForCache(obj)
		require.NoError(t, err)
		assert.Empty(t, metaOf(trimmed).GetManagedFields())
		switch o := trimmed.(type) {
		case *batchv1.Job:
			assert.Empty(t, o.Spec.Template.Spec.Containers)
			assert.Equal(t, int32(2), *o.Spec.Parallelism, "the size stays")
		case *corev1.ConfigMap:
			assert.Nil(t, o.Data)
			assert.NotEmpty(t, o.Annotations[configHashAnnotation], "the hash stays")
		case *corev1.Secret:
			assert.Nil(t, o.Data)
		}
	}
}

// TestSyncRewritesDriftedConfigMap: a ConfigMap rendered by another
// version is brought up to date; its cached copy holds only the hash.
func TestSyncRewritesDriftedConfigMap(t *testing.T) {
	f := newFixture(t)
	mc := newMiniCluster("flux-sample", 2, 8)
	f.kubeObjects = steadyChildren(t, mc, 2)
	stale := f.kubeObjects[1].(*corev1.ConfigMap)
	stale.Annotations[configHashAnnotation] = "older"
	stale.Data = nil
	f.miniClusters = append(f.miniClusters, withStatus(mc, f.kubeObjects[3].(*batchv1.Job)))
	f.sync(mc)

	require.Equal(t, []string{"update configmaps"}, f.kubeWrites())
	updated := f.kubeClient.Actions()[0].(core.UpdateAction).GetObject().(*corev1.ConfigMap)
	assert.Contains(t, updated.Data[brokerTOMLKey], "flux-sample-[0-7]")
	assert.Equal(t, hashData(updated.Data), updated.Annotations[configHashAnnotation])
}

func TestSyncMirrorsJobCompletion(t *testing.T) {
	f := newFixture(t)
	mc := newMiniCluster("flux-sample", 2, 8)
	f.kubeObjects = steadyChildren(t, mc, 2)
	job := f.kubeObjects[3].(*batchv1.Job)
	job.Status.Active, job.Status.Ready = 0, ptr.To[int32](0)
	job.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Message: "Reached expected number of succeeded pods"}}
	mc.Spec.Size = ptr.To[int32](3) // a finished Job is not resized
	f.miniClusters = append(f.miniClusters, mc)
	f.sync(mc)

	assert.Empty(t, f.kubeWrites())
	require.Equal(t, []string{"update miniclusters/status"}, f.elasticWrites())
	status := f.client.Actions()[0].(core.UpdateAction).GetObject().(*v1alpha1.MiniCluster).Status
	assert.True(t, meta.IsStatusConditionTrue(status.Conditions, ConditionCompleted))
	assert.True(t, meta.IsStatusConditionFalse(status.Conditions, ConditionReady))
}

func TestSyncRefusesForeignObject(t *testing.T) {
	f := newFixture(t)
	mc := newMiniCluster("flux-sample", 2, 8)
	foreign := &corev1.Service{ObjectMeta: metav1.ObjectMeta{
		Name: "flux-sample", Namespace: "default",
		// A copy carrying our label but no owner: still not ours.
		Labels: managedLabels(mc),
	}}
	f.kubeObjects = []runtime.Object{foreign}
	f.miniClusters = append(f.miniClusters, mc)
	result := f.sync(mc)

	assert.Equal(t, []string{"create secrets", "create configmaps"}, f.kubeWrites(), "the Service is never overwritten and nothing after it is made")
	require.Equal(t, []string{"update miniclusters/status"}, f.elasticWrites())
	status := f.client.Actions()[0].(core.UpdateAction).GetObject().(*v1alpha1.MiniCluster).Status
	degraded := meta.FindStatusCondition(status.Conditions, ConditionDegraded)
	require.NotNil(t, degraded)
	assert.Equal(t, ReasonForeignObject, degraded.Reason)
	events := f.events()
	require.Len(t, events, 1)
	assert.True(t, strings.HasPrefix(events[0], "Warning ForeignObject Service \"flux-sample\" exists and is not controlled"), events[0])
	assert.Equal(t, time.Minute, result.requeueAfter, "looked at again later, not in a hot loop")
}

func TestSyncForeignObjectOutsideCache(t *testing.T) {
	f := newFixture(t)
	mc := newMiniCluster("flux-sample", 2, 8)
	f.miniClusters = append(f.miniClusters, mc)
	_, ctx := ktesting.NewTestContext(t)
	c := f.newController(ctx)
	// A user's Job of our name, without our label: the create fails and a
	// live read shows whose it is.
	_, err := f.kubeClient.BatchV1().Jobs("default").Create(ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "flux-sample", Namespace: "default"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	f.kubeClient.ClearActions()

	result, err := c.syncHandler(ctx, cache.MetaObjectToName(mc))
	require.NoError(t, err)
	assert.Equal(t, time.Minute, result.requeueAfter)
	assert.Equal(t, []string{"create secrets", "create configmaps", "create services", "create poddisruptionbudgets", "create jobs"}, f.kubeWrites())
	job, err := f.kubeClient.BatchV1().Jobs("default").Get(ctx, "flux-sample", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Nil(t, job.Spec.Parallelism, "the user's Job is untouched")
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
