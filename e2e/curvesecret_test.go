//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// TestCurveSecretDeletedWhileBrokersRun: the curve Secret deleted under a
// running cluster is not made again while its brokers run (a new
// certificate would split the cluster); the MiniCluster says what happened
// and what to do. Once the user deletes the Job and its brokers have
// stopped, a new certificate is made and the cluster starts again.
func TestCurveSecretDeletedWhileBrokersRun(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()
	startController(t, ns)
	createMiniCluster(t, ns, miniCluster("flux-sample", 2, 1, 4))
	before := waitForBrokers(t, ns, "flux-sample", 2)
	old, err := kubeClient.CoreV1().Secrets(ns).Get(ctx, "flux-sample-curve", metav1.GetOptions{})
	require.NoError(t, err)

	require.NoError(t, kubeClient.CoreV1().Secrets(ns).Delete(ctx, "flux-sample-curve", metav1.DeleteOptions{}))
	missing := waitForCondition(t, ns, "flux-sample", "Degraded", metav1.ConditionTrue, "CurveSecretMissing")
	assert.Contains(t, missing.Message, `the Secret "flux-sample-curve" holding the brokers' curve certificate is gone while the broker Job "flux-sample" runs`)
	assert.Contains(t, missing.Message, "kubectl delete job -n "+ns+" flux-sample")
	waitForEvent(t, ns, "flux-sample", `Warning CurveSecretMissing the Secret "flux-sample-curve"`)
	// The controller wrote the condition after deciding not to make one.
	_, err = kubeClient.CoreV1().Secrets(ns).Get(ctx, "flux-sample-curve", metav1.GetOptions{})
	assert.True(t, isNotFound(err), "no new certificate while brokers run: %v", err)
	running, err := brokerPods(ns, "flux-sample")
	require.NoError(t, err)
	for index, pod := range before {
		assert.Equal(t, pod.UID, running[index].UID, "broker %s still runs", index)
	}

	// What the condition says to do. kubectl deletes in the background:
	// the Job goes at once, its brokers after they stop.
	oldJob := getJob(t, ns, "flux-sample")
	require.NoError(t, kubeClient.BatchV1().Jobs(ns).Delete(ctx, "flux-sample", metav1.DeleteOptions{PropagationPolicy: ptrTo(metav1.DeletePropagationBackground)}))
	eventually(t, longWait, "a new Job, its brokers started with a new certificate", func() (bool, string) {
		job, err := kubeClient.BatchV1().Jobs(ns).Get(ctx, "flux-sample", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		if job.UID == oldJob.UID {
			return false, "the old Job"
		}
		pods, err := brokerPods(ns, "flux-sample")
		if err != nil {
			return false, err.Error()
		}
		for index, pod := range before {
			if pods[index].UID == pod.UID || pods[index].UID == "" {
				return false, "broker " + index + " not restarted yet"
			}
		}
		return true, ""
	})
	waitForBrokers(t, ns, "flux-sample", 2)
	created, err := kubeClient.CoreV1().Secrets(ns).Get(ctx, "flux-sample-curve", metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotEqual(t, old.Data["curve.cert"], created.Data["curve.cert"], "a new certificate")
	assert.NotEqual(t, old.UID, created.UID)
	eventually(t, shortWait, "Degraded cleared", func() (bool, string) {
		c := condition(t, ns, "flux-sample", "Degraded")
		return c == nil, fmt.Sprintf("%+v", c)
	})
	waitForEvent(t, ns, "flux-sample", `Normal CurveSecretCreated Made a new curve certificate in Secret "flux-sample-curve"`)
}

// TestUserCurveSecretMissing: a Secret the user names is never made by the
// controller; its absence is reported, and the brokers start once it
// exists.
func TestUserCurveSecretMissing(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()
	startController(t, ns)
	mc := miniCluster("flux-sample", 1, 1, 2)
	mc.Spec.Flux = &v1alpha1.FluxSpec{CurveCertSecretName: "shared-curve"}
	createMiniCluster(t, ns, mc)

	missing := waitForCondition(t, ns, "flux-sample", "Degraded", metav1.ConditionTrue, "CurveSecretMissing")
	assert.Contains(t, missing.Message, `the Secret "shared-curve" named by spec.flux.curveCertSecretName does not exist`)
	_, err := kubeClient.CoreV1().Secrets(ns).Get(ctx, "shared-curve", metav1.GetOptions{})
	assert.True(t, isNotFound(err), "the controller never makes it: %v", err)
	waitForEvent(t, ns, "flux-sample", `Warning CurveSecretMissing the Secret "shared-curve"`)

	// The user makes it; the controller, which does not watch it, looks
	// again within a minute.
	_, err = kubeClient.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "shared-curve"},
		Data:       map[string][]byte{"curve.cert": []byte("a certificate the user made")},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	eventually(t, shortWait, "Degraded cleared", func() (bool, string) {
		c := condition(t, ns, "flux-sample", "Degraded")
		return c == nil, fmt.Sprintf("%+v", c)
	})
	secret, err := kubeClient.CoreV1().Secrets(ns).Get(ctx, "shared-curve", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Empty(t, secret.OwnerReferences, "still the user's")
	assert.Equal(t, "a certificate the user made", string(secret.Data["curve.cert"]))
}
