//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// TestCreate: a MiniCluster brings up its owned objects and brokers, and its
// status and `kubectl get mc` say so.
func TestCreate(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startController(t, ns)
	mc := createMiniCluster(t, ns, miniCluster("flux-sample", 2, 1, 8))
	ctx := context.Background()

	waitForBrokers(t, ns, "flux-sample", 2)

	job, err := kubeClient.BatchV1().Jobs(ns).Get(ctx, "flux-sample", metav1.GetOptions{})
	require.NoError(t, err)
	svc, err := kubeClient.CoreV1().Services(ns).Get(ctx, "flux-sample", metav1.GetOptions{})
	require.NoError(t, err)
	cm, err := kubeClient.CoreV1().ConfigMaps(ns).Get(ctx, "flux-sample-flux", metav1.GetOptions{})
	require.NoError(t, err)
	secret, err := kubeClient.CoreV1().Secrets(ns).Get(ctx, "flux-sample-curve", metav1.GetOptions{})
	require.NoError(t, err)
	for _, object := range []metav1.Object{job, svc, cm, secret} {
		assert.True(t, metav1.IsControlledBy(object, mc), "%s is not controlled by the MiniCluster", object.GetName())
	}
	assert.Equal(t, corev1.ClusterIPNone, svc.Spec.ClusterIP)
	assert.Contains(t, cm.Data["broker.toml"], "flux-sample-[0-7]")
	assert.Contains(t, string(secret.Data["curve.cert"]), "secret-key")
	for key, value := range cm.Data {
		assert.NotContains(t, value, "secret-key", "ConfigMap key %s holds key material", key)
	}

	got := getMiniCluster(t, ns, "flux-sample")
	assert.Equal(t, int32(8), got.Status.MaxSize)
	assert.Equal(t, "elasticflux.io/minicluster=flux-sample", got.Status.Selector)
	eventually(t, shortWait, "Ready condition", func() (bool, string) {
		got := getMiniCluster(t, ns, "flux-sample")
		ready := meta.FindStatusCondition(got.Status.Conditions, "Ready")
		return ready != nil && ready.Status == metav1.ConditionTrue, fmt.Sprintf("%+v", ready)
	})

	out, err := kubectl("get", "mc", "-n", ns)
	require.NoError(t, err, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, out)
	assert.Equal(t, []string{"NAME", "DESIRED", "SIZE", "READY", "MAX", "STATUS", "AGE"}, strings.Fields(lines[0]))
	assert.Equal(t, []string{"flux-sample", "2", "2", "2", "8", "BrokersReady"}, strings.Fields(lines[1])[:6])
}

// TestKubectlScale: kubectl scale moves the Job both ways, the highest
// indexes go on scale-down, and out-of-range sizes and maxSize edits are
// refused at admission with the CEL message.
func TestKubectlScale(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startController(t, ns)
	createMiniCluster(t, ns, miniCluster("flux-sample", 2, 1, 6))
	before := waitForBrokers(t, ns, "flux-sample", 2)

	out, err := kubectl("scale", "-n", ns, "mc/flux-sample", "--replicas=5")
	require.NoError(t, err, out)
	waitForBrokers(t, ns, "flux-sample", 5)
	parallelism, completions := jobSize(t, ns, "flux-sample")
	assert.Equal(t, []int32{5, 5}, []int32{parallelism, completions})

	out, err = kubectl("scale", "-n", ns, "mc/flux-sample", "--replicas=2")
	require.NoError(t, err, out)
	after := waitForBrokers(t, ns, "flux-sample", 2)
	for _, index := range []string{"0", "1"} {
		assert.Equal(t, before[index].UID, after[index].UID, "broker %s was replaced; only the highest indexes should go", index)
	}

	eventually(t, shortWait, "resize events", func() (bool, string) {
		events, err := eventsFor(ns, "flux-sample")
		if err != nil {
			return false, err.Error()
		}
		return slices.Contains(events, "Normal Resized Resized from 2 to 5 brokers") &&
			slices.Contains(events, "Normal Resized Resized from 5 to 2 brokers"), strings.Join(events, "; ")
	})

	cases := map[string]struct {
		args    []string
		wantErr string
	}{
		"beyond maxSize": {[]string{"scale", "-n", ns, "mc/flux-sample", "--replicas=7"}, "spec.size must be between spec.minSize and spec.maxSize"},
		"to zero":        {[]string{"scale", "-n", ns, "mc/flux-sample", "--replicas=0"}, "should be greater than or equal to 1"},
		"maxSize edit": {
			[]string{"patch", "-n", ns, "mc/flux-sample", "--type=merge", "-p", `{"spec":{"maxSize":12}}`},
			"only spec.size can change after creation; recreate the MiniCluster to change spec.maxSize",
		},
		"image edit": {
			[]string{"patch", "-n", ns, "mc/flux-sample", "--type=merge", "-p", `{"spec":{"container":{"image":"other"}}}`},
			"recreate the MiniCluster to change spec.container",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := kubectl(tc.args...)
			require.Error(t, err, out)
			assert.Contains(t, out, tc.wantErr)
		})
	}
	mc := getMiniCluster(t, ns, "flux-sample")
	assert.Equal(t, int32(2), *mc.Spec.Size, "refused changes left the spec alone")
	assert.Equal(t, int32(6), *mc.Spec.MaxSize)
}

// TestSelectorCountsBrokersOnly: a pod carrying the Job's labels, but not
// ours, changes neither the scale subresource nor what its selector matches.
func TestSelectorCountsBrokersOnly(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startController(t, ns)
	createMiniCluster(t, ns, miniCluster("flux-sample", 2, 1, 4))
	waitForBrokers(t, ns, "flux-sample", 2)
	ctx := context.Background()

	decoy := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sidecar", Labels: map[string]string{
			"job-name": "flux-sample", "batch.kubernetes.io/job-name": "flux-sample",
		}},
		Spec: corev1.PodSpec{
			NodeSelector: kwokNodeSelector,
			Tolerations:  []corev1.Toleration{kwokToleration},
			Containers:   []corev1.Container{{Name: "c", Image: "busybox"}},
		},
	}
	_, err := kubeClient.CoreV1().Pods(ns).Create(ctx, decoy, metav1.CreateOptions{})
	require.NoError(t, err)
	eventually(t, shortWait, "the decoy pod running", func() (bool, string) {
		pod, err := kubeClient.CoreV1().Pods(ns).Get(ctx, "sidecar", metav1.GetOptions{})
		return err == nil && pod.Status.Phase == corev1.PodRunning, fmt.Sprint(err)
	})

	scale, err := elasticClient.ElasticfluxV1alpha1().MiniClusters(ns).GetScale(ctx, "flux-sample", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(2), scale.Status.Replicas)
	pods, err := kubeClient.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: scale.Status.Selector})
	require.NoError(t, err)
	assert.Len(t, pods.Items, 2, "the scale selector must match broker pods only")
	all, err := kubeClient.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=flux-sample"})
	require.NoError(t, err)
	assert.Len(t, all.Items, 3, "the decoy does carry the Job's labels")
}

// TestDeleteRemovesEverything: the garbage collector removes what the
// MiniCluster owned.
func TestDeleteRemovesEverything(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startController(t, ns)
	mc := miniCluster("flux-sample", 2, 1, 4)
	mc.Spec.Elasticity = &v1alpha1.ElasticitySpec{SelfScaling: ptrTo(true)}
	createMiniCluster(t, ns, mc)
	waitForBrokers(t, ns, "flux-sample", 2)
	ctx := context.Background()

	require.NoError(t, elasticClient.ElasticfluxV1alpha1().MiniClusters(ns).Delete(ctx, "flux-sample", metav1.DeleteOptions{}))
	eventually(t, longWait, "owned objects gone", func() (bool, string) {
		var left []string
		check := func(kind string, err error) {
			if !isNotFound(err) {
				left = append(left, fmt.Sprintf("%s (%v)", kind, err))
			}
		}
		_, err := kubeClient.BatchV1().Jobs(ns).Get(ctx, "flux-sample", metav1.GetOptions{})
		check("job", err)
		_, err = kubeClient.CoreV1().Services(ns).Get(ctx, "flux-sample", metav1.GetOptions{})
		check("service", err)
		_, err = kubeClient.CoreV1().ConfigMaps(ns).Get(ctx, "flux-sample-flux", metav1.GetOptions{})
		check("configmap", err)
		_, err = kubeClient.CoreV1().Secrets(ns).Get(ctx, "flux-sample-curve", metav1.GetOptions{})
		check("secret", err)
		_, err = kubeClient.CoreV1().ServiceAccounts(ns).Get(ctx, "flux-sample-selfscale", metav1.GetOptions{})
		check("serviceaccount", err)
		_, err = kubeClient.RbacV1().Roles(ns).Get(ctx, "flux-sample-selfscale", metav1.GetOptions{})
		check("role", err)
		_, err = kubeClient.RbacV1().RoleBindings(ns).Get(ctx, "flux-sample-selfscale", metav1.GetOptions{})
		check("rolebinding", err)
		pods, err := kubeClient.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelMiniCluster + "=flux-sample"})
		if err != nil || len(pods.Items) > 0 {
			left = append(left, "pods")
		}
		return len(left) == 0, strings.Join(left, ", ")
	})
}

func ptrTo[T any](v T) *T { return &v }
