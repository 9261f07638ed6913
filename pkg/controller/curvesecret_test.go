package controller

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	core "k8s.io/client-go/testing"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// brokerPod is a pod of mc's Job at index, in phase.
func brokerPod(mc *v1alpha1.MiniCluster, index string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: mc.Name + "-" + index + "-abcde", Namespace: mc.Namespace, Labels: map[string]string{
			v1alpha1.LabelMiniCluster: mc.Name, batchv1.JobCompletionIndexAnnotation: index,
		}},
		Status: corev1.PodStatus{Phase: phase},
	}
}

// without returns objects without those of the given types.
func without(objects []runtime.Object, drop ...runtime.Object) []runtime.Object {
	var out []runtime.Object
	for _, obj := range objects {
		keep := true
		for _, d := range drop {
			if metaOf(obj).GetName() == metaOf(d).GetName() && sameType(obj, d) {
				keep = false
			}
		}
		if keep {
			out = append(out, obj)
		}
	}
	return out
}

func sameType(a, b runtime.Object) bool {
	switch a.(type) {
	case *corev1.Secret:
		_, ok := b.(*corev1.Secret)
		return ok
	case *batchv1.Job:
		_, ok := b.(*batchv1.Job)
		return ok
	}
	return false
}

// TestSyncCurveSecretGone: a deleted curve Secret is made again only when
// no broker can be running; otherwise the MiniCluster says what happened
// and what to do, and no certificate is made.
func TestSyncCurveSecretGone(t *testing.T) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "flux-sample-curve"}}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "flux-sample"}}
	cases := map[string]struct {
		// world changes the steady objects of a two-broker cluster.
		world         func(mc *v1alpha1.MiniCluster, objects []runtime.Object) []runtime.Object
		wantWrites    []string
		wantDegraded  string
		wantEvents    []string
		wantRequeue   time.Duration
		wantNewSecret bool
	}{
		"while the Job runs": {
			world: func(_ *v1alpha1.MiniCluster, objects []runtime.Object) []runtime.Object {
				return without(objects, secret)
			},
			wantWrites:   []string{"update miniclusters/status"},
			wantDegraded: ReasonCurveSecretMissing,
			wantEvents: []string{`Warning CurveSecretMissing the Secret "flux-sample-curve" holding the brokers' curve certificate is gone while the broker Job "flux-sample" runs. ` +
				"A new certificate would split the cluster (a broker that restarts or joins could not talk to those still running), so none is made, " +
				"and brokers that restart cannot start. Put the Secret back as it was (same certificate, labels and owner reference) if you kept a copy; " +
				"otherwise delete the Job to stop every broker (kubectl delete job -n default flux-sample): the controller then makes a new certificate and starts them again"},
		},
		"while the Job runs with no broker active": {
			world: func(_ *v1alpha1.MiniCluster, objects []runtime.Object) []runtime.Object {
				objects = without(objects, secret)
				steadyJob(objects).Status.Active, steadyJob(objects).Status.Ready = 0, new(int32)
				return objects
			},
			wantWrites:   []string{"update miniclusters/status"},
			wantDegraded: ReasonCurveSecretMissing,
		},
		"while the deleted Job's brokers still stop": {
			world: func(mc *v1alpha1.MiniCluster, objects []runtime.Object) []runtime.Object {
				return append(without(objects, secret, job), brokerPod(mc, "0", corev1.PodRunning), brokerPod(mc, "1", corev1.PodFailed))
			},
			wantWrites:   []string{"update miniclusters/status"},
			wantDegraded: ReasonCurveSecretMissing,
			wantEvents: []string{`Normal CurveSecretMissing the Secret "flux-sample-curve" holding the brokers' curve certificate is gone; ` +
				"1 broker pods are still running, and a new certificate is made once they have stopped"},
			wantRequeue: 5 * time.Second,
		},
		"once the Job and its brokers are gone": {
			world: func(mc *v1alpha1.MiniCluster, objects []runtime.Object) []runtime.Object {
				return append(without(objects, secret, job), brokerPod(mc, "0", corev1.PodFailed), brokerPod(mc, "1", corev1.PodSucceeded))
			},
			wantWrites:    []string{"create secrets", "create jobs"},
			wantEvents:    []string{`Normal CurveSecretCreated Made a new curve certificate in Secret "flux-sample-curve": the old one was gone and no broker was running`},
			wantNewSecret: true,
		},
		"once the command's Job has finished": {
			world: func(_ *v1alpha1.MiniCluster, objects []runtime.Object) []runtime.Object {
				objects = without(objects, secret)
				j := steadyJob(objects)
				j.Status.Active, j.Status.Ready = 0, new(int32)
				j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
				return objects
			},
			wantWrites:    []string{"create secrets", "update miniclusters/status"},
			wantEvents:    []string{`Normal CurveSecretCreated Made a new curve certificate in Secret "flux-sample-curve": the old one was gone and no broker was running`},
			wantNewSecret: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			mc := newMiniCluster("flux-sample", 2, 8)
			steady := steadyChildren(t, mc, 2)
			withStatus(mc, steadyJob(steady))
			f.kubeObjects = tc.world(mc, steady)
			f.miniClusters = append(f.miniClusters, mc)
			result := f.sync(mc)

			assert.Equal(t, tc.wantWrites, append(f.kubeWrites(), f.elasticWrites()...))
			assert.Equal(t, tc.wantRequeue, result.requeueAfter)
			if tc.wantEvents != nil {
				assert.Equal(t, tc.wantEvents, f.events())
			}
			secrets := 0
			for _, a := range f.kubeClient.Actions() {
				if a.GetVerb() == "create" && a.GetResource().Resource == "secrets" {
					secrets++
					created := a.(core.CreateAction).GetObject().(*corev1.Secret)
					assert.Equal(t, "test certificate", string(created.Data[CurveCertKey]))
					assert.True(t, metav1.IsControlledBy(created, mc))
				}
			}
			assert.Equal(t, tc.wantNewSecret, secrets == 1, "a new certificate only when no broker can be running")
			if tc.wantDegraded != "" {
				updated, err := f.client.ElasticfluxV1alpha1().MiniClusters("default").Get(context.Background(), "flux-sample", metav1.GetOptions{})
				require.NoError(t, err)
				degraded := meta.FindStatusCondition(updated.Status.Conditions, ConditionDegraded)
				require.NotNil(t, degraded)
				assert.Equal(t, tc.wantDegraded, degraded.Reason)
			}
		})
	}
}

// TestSyncCurveSecretGoneWarnsOnce: a blocked MiniCluster does not repeat
// its warning on every sync.
func TestSyncCurveSecretGoneWarnsOnce(t *testing.T) {
	f := newFixture(t)
	mc := newMiniCluster("flux-sample", 2, 8)
	steady := steadyChildren(t, mc, 2)
	f.kubeObjects = steady[1:]
	f.miniClusters = append(f.miniClusters, withStatus(mc, steadyJob(steady)))
	f.sync(mc)
	require.Len(t, f.events(), 1)
	updated, err := f.client.ElasticfluxV1alpha1().MiniClusters("default").Get(context.Background(), "flux-sample", metav1.GetOptions{})
	require.NoError(t, err)

	f.miniClusters = []*v1alpha1.MiniCluster{updated}
	f.sync(updated)
	assert.Empty(t, f.kubeWrites())
	assert.Empty(t, f.elasticWrites())
	assert.Empty(t, f.events())
}

// TestSyncUserCurveSecret: a Secret the user names is never made or
// changed by the controller; when it is missing or holds no certificate
// the MiniCluster says so, and looks again later since no event would tell.
func TestSyncUserCurveSecret(t *testing.T) {
	cases := map[string]struct {
		secret       *corev1.Secret
		wantDegraded string
	}{
		"missing": {
			wantDegraded: `the Secret "shared-curve" named by spec.flux.curveCertSecretName does not exist, so no broker can start; ` +
				"create it with the curve certificate all brokers of this MiniCluster share under the key curve.cert (the controller never makes it)",
		},
		"without the certificate": {
			secret:       &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "shared-curve", Namespace: "default"}, Data: map[string][]byte{"other": []byte("x")}},
			wantDegraded: `the Secret "shared-curve" named by spec.flux.curveCertSecretName has no key curve.cert, so no broker can start; put the curve certificate there`,
		},
		"present": {
			secret: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "shared-curve", Namespace: "default"}, Data: map[string][]byte{CurveCertKey: []byte("cert")}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			mc := newMiniCluster("flux-sample", 2, 8)
			mc.Spec.Flux = &v1alpha1.FluxSpec{CurveCertSecretName: "shared-curve"}
			f.miniClusters = append(f.miniClusters, mc)
			if tc.secret != nil {
				f.kubeObjects = append(f.kubeObjects, tc.secret)
			}
			result := f.sync(mc)

			assert.Equal(t, []string{"create configmaps", "create services", "create poddisruptionbudgets", "create jobs"}, f.kubeWrites(),
				"the Job is made anyway: its pods wait for the Secret")
			if tc.wantDegraded == "" {
				assert.Zero(t, result.requeueAfter)
				assert.Empty(t, f.elasticWrites())
				return
			}
			assert.Equal(t, time.Minute, result.requeueAfter, "looked at again: the user's Secret is not watched")
			require.Equal(t, []string{"update miniclusters/status"}, f.elasticWrites())
			status := f.elasticWriteAction(0).(core.UpdateAction).GetObject().(*v1alpha1.MiniCluster).Status
			degraded := meta.FindStatusCondition(status.Conditions, ConditionDegraded)
			require.NotNil(t, degraded)
			assert.Equal(t, ReasonCurveSecretMissing, degraded.Reason)
			assert.Equal(t, tc.wantDegraded, degraded.Message)
			assert.Equal(t, []string{"Warning CurveSecretMissing " + tc.wantDegraded}, f.events())
		})
	}
}

// TestSyncCurveSecretUnlabelled: a Secret of ours that lost its labels is
// not in the cache but is not missing either: it gets its labels back and
// no certificate is made.
func TestSyncCurveSecretUnlabelled(t *testing.T) {
	f := newFixture(t)
	mc := newMiniCluster("flux-sample", 2, 8)
	f.kubeObjects = steadyChildren(t, mc, 2)
	f.kubeObjects[0].(*corev1.Secret).Labels = nil
	f.miniClusters = append(f.miniClusters, withStatus(mc, steadyJob(f.kubeObjects)))
	f.sync(mc)

	assert.Equal(t, []string{"patch secrets"}, f.kubeWrites())
	secret, err := f.kubeClient.CoreV1().Secrets("default").Get(context.Background(), "flux-sample-curve", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, managedLabels(mc), secret.Labels)
	assert.Equal(t, "cert", string(secret.Data[CurveCertKey]), "the certificate is untouched")
	assert.Empty(t, f.elasticWrites())
}
