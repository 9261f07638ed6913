package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	core "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2/ktesting"
	"k8s.io/utils/ptr"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// TestObservedGeneration: status.observedGeneration moves to a generation
// only once the Job reflects it, so a client waiting for it knows the Job
// has been told.
func TestObservedGeneration(t *testing.T) {
	cases := map[string]struct {
		// world changes the steady objects of a cluster whose spec.size
		// went from 2 (generation 1) to 4 (generation 2).
		world func(mc *v1alpha1.MiniCluster, objects []runtime.Object) []runtime.Object
		want  int64
	}{
		"the Job was resized": {
			world: func(_ *v1alpha1.MiniCluster, objects []runtime.Object) []runtime.Object {
				job := steadyJob(objects)
				job.Spec.Parallelism, job.Spec.Completions = ptr.To[int32](4), ptr.To[int32](4)
				job.Status.Active, job.Status.Ready = 4, ptr.To[int32](4)
				return objects
			},
			want: 2,
		},
		"a foreign Service stops the sync before the Job": {
			world: func(mc *v1alpha1.MiniCluster, objects []runtime.Object) []runtime.Object {
				service := objects[2].(*corev1.Service)
				service.OwnerReferences = nil
				return objects
			},
			want: 1,
		},
		"the Job cannot be made yet": {
			world: func(mc *v1alpha1.MiniCluster, objects []runtime.Object) []runtime.Object {
				return append(objects[:3:3], brokerPod(mc, "0", corev1.PodRunning))
			},
			want: 1,
		},
		"the command's Job has finished and is not resized": {
			world: func(_ *v1alpha1.MiniCluster, objects []runtime.Object) []runtime.Object {
				job := steadyJob(objects)
				job.Status.Active, job.Status.Ready = 0, new(int32)
				job.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "PodFailurePolicy"}}
				return objects
			},
			want: 2,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			mc := newMiniCluster("flux-sample", 2, 8)
			steady := steadyChildren(t, mc, 2)
			withStatus(mc, steadyJob(steady))
			require.Equal(t, int64(1), mc.Status.ObservedGeneration)
			mc.Spec.Size, mc.Generation = ptr.To[int32](4), 2
			f.kubeObjects = tc.world(mc, steady)
			f.miniClusters = append(f.miniClusters, mc)
			f.sync(mc)

			require.Contains(t, f.elasticWrites(), "update miniclusters/status")
			status := f.elasticWriteAction(0).(core.UpdateAction).GetObject().(*v1alpha1.MiniCluster).Status
			assert.Equal(t, tc.want, status.ObservedGeneration)
		})
	}
}

// TestSettlingForgottenWithMiniCluster: what the controller remembers of a
// MiniCluster whose status write it holds back goes when the MiniCluster
// does, so the map does not grow with every MiniCluster ever deleted.
func TestSettlingForgottenWithMiniCluster(t *testing.T) {
	for name, deleting := range map[string]bool{"deleted": false, "being deleted": true} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			mc := newMiniCluster("flux-sample", 4, 8)
			f.kubeObjects = steadyChildren(t, mc, 4)
			job := steadyJob(f.kubeObjects)
			job.Status.Active, job.Status.Ready = 3, ptr.To[int32](2)
			f.miniClusters = append(f.miniClusters, mc)
			_, ctx := ktesting.NewTestContext(t)
			c := f.newController(ctx)
			key := cache.MetaObjectToName(mc)

			result, err := c.syncHandler(ctx, key)
			require.NoError(t, err)
			require.Positive(t, result.requeueAfter, "the status write is held back while brokers settle")
			require.Contains(t, c.settling, key)

			miniClusters := f.client.ElasticfluxV1alpha1().MiniClusters("default")
			if deleting {
				gone := mc.DeepCopy()
				gone.DeletionTimestamp = &metav1.Time{Time: time.Unix(1000, 0)}
				gone.Finalizers = []string{"example.com/hold"}
				_, err = miniClusters.Update(ctx, gone, metav1.UpdateOptions{})
				require.NoError(t, err)
				eventuallyCached(t, func() bool {
					cached, err := c.miniClusters.MiniClusters("default").Get("flux-sample")
					return err == nil && cached.DeletionTimestamp != nil
				})
			} else {
				require.NoError(t, miniClusters.Delete(ctx, "flux-sample", metav1.DeleteOptions{}))
				eventuallyCached(t, func() bool {
					_, err := c.miniClusters.MiniClusters("default").Get("flux-sample")
					return apierrors.IsNotFound(err)
				})
			}
			_, err = c.syncHandler(ctx, key)
			require.NoError(t, err)
			assert.Empty(t, c.settling)
		})
	}
}
