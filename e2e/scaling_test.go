//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
	clientset "github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned"
)

const usageAnnotation = "kwok.x-k8s.io/usage-cpu"

// busyMiniCluster's brokers report 400m of CPU against a 500m request (80%)
// through kwok's simulated usage, until setUsage changes it.
func busyMiniCluster(maxSize int32) *v1alpha1.MiniCluster {
	mc := miniCluster("flux-sample", 1, 1, maxSize)
	mc.Spec.Pod.Annotations = map[string]string{usageAnnotation: "400m"}
	return mc
}

// setUsage changes the simulated CPU usage of every running broker.
func setUsage(t *testing.T, ns, usage string) {
	t.Helper()
	pods, err := brokerPods(ns, "flux-sample")
	require.NoError(t, err)
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, usageAnnotation, usage)
	for _, pod := range pods {
		_, err := kubeClient.CoreV1().Pods(ns).Patch(context.Background(), pod.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		require.NoError(t, err)
	}
}

// watchSpecSize polls spec.size and reports the largest value seen.
func largestSize(t *testing.T, ns string, largest *int32) {
	mc := getMiniCluster(t, ns, "flux-sample")
	if *mc.Spec.Size > *largest {
		*largest = *mc.Spec.Size
	}
}

// scaleUpThenDown drives an HPA up to want brokers with busy brokers, then
// back to one with idle ones, checking spec.size never leaves the range.
func scaleUpThenDown(t *testing.T, ns string, want int32) {
	t.Helper()
	var largest int32
	eventually(t, longWait, fmt.Sprintf("the HPA to scale up to %d", want), func() (bool, string) {
		largestSize(t, ns, &largest)
		mc := getMiniCluster(t, ns, "flux-sample")
		return mc.Status.Size == want && mc.Status.ReadySize == want, fmt.Sprintf("spec.size=%d status.size=%d", *mc.Spec.Size, mc.Status.Size)
	})
	waitForBrokers(t, ns, "flux-sample", int(want))

	setUsage(t, ns, "20m")
	eventually(t, longWait, "the HPA to scale down to 1", func() (bool, string) {
		largestSize(t, ns, &largest)
		mc := getMiniCluster(t, ns, "flux-sample")
		return *mc.Spec.Size == 1 && mc.Status.Size == 1, fmt.Sprintf("spec.size=%d status.size=%d", *mc.Spec.Size, mc.Status.Size)
	})
	waitForBrokers(t, ns, "flux-sample", 1)
	assert.LessOrEqual(t, largest, int32(4), "spec.size left [minSize, maxSize]")
}

func TestHPAv1(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startController(t, ns)
	createMiniCluster(t, ns, busyMiniCluster(4))
	waitForBrokers(t, ns, "flux-sample", 1)

	hpa := &autoscalingv1.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "flux-sample"},
		Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
			ScaleTargetRef:                 autoscalingv1.CrossVersionObjectReference{APIVersion: "elasticflux.io/v1alpha1", Kind: "MiniCluster", Name: "flux-sample"},
			MinReplicas:                    ptrTo[int32](1),
			MaxReplicas:                    4,
			TargetCPUUtilizationPercentage: ptrTo[int32](50),
		},
	}
	_, err := kubeClient.AutoscalingV1().HorizontalPodAutoscalers(ns).Create(context.Background(), hpa, metav1.CreateOptions{})
	require.NoError(t, err)
	scaleUpThenDown(t, ns, 4)
}

// TestHPAv2 also asks for more than maxSize: admission caps the HPA, which
// reports the CEL message, and the MiniCluster stays within its range.
func TestHPAv2(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startController(t, ns)
	createMiniCluster(t, ns, busyMiniCluster(4))
	waitForBrokers(t, ns, "flux-sample", 1)

	policies := []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 400, PeriodSeconds: 5}}
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "flux-sample"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "elasticflux.io/v1alpha1", Kind: "MiniCluster", Name: "flux-sample"},
			MinReplicas:    ptrTo[int32](1),
			MaxReplicas:    6,
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{
					Name:   corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptrTo[int32](50)},
				},
			}},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp:   &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptrTo[int32](0), Policies: policies},
				ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptrTo[int32](0), Policies: policies},
			},
		},
	}
	_, err := kubeClient.AutoscalingV2().HorizontalPodAutoscalers(ns).Create(context.Background(), hpa, metav1.CreateOptions{})
	require.NoError(t, err)

	eventually(t, longWait, "the HPA to hit the maxSize wall", func() (bool, string) {
		got, err := kubeClient.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(context.Background(), "flux-sample", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, c := range got.Status.Conditions {
			if c.Type == autoscalingv2.AbleToScale && c.Status == corev1.ConditionFalse {
				return strings.Contains(c.Message, "spec.size must be between spec.minSize and spec.maxSize"), c.Message
			}
		}
		return false, fmt.Sprintf("desired=%d", got.Status.DesiredReplicas)
	})
	scaleUpThenDown(t, ns, 4)
}

// TestSelfScaling: a program holding the MiniCluster's own service account
// token resizes its MiniCluster through the generated clientset, and may do
// nothing else.
func TestSelfScaling(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	startController(t, ns)
	mc := miniCluster("flux-sample", 1, 1, 4)
	mc.Spec.Elasticity = &v1alpha1.ElasticitySpec{SelfScaling: ptrTo(true)}
	createMiniCluster(t, ns, mc)
	createMiniCluster(t, ns, miniCluster("other", 1, 1, 4))
	waitForBrokers(t, ns, "flux-sample", 1)
	ctx := context.Background()

	kubeconfig := filepath.Join(t.TempDir(), "selfscale.kubeconfig")
	require.NoError(t, writeServiceAccountKubeconfig(ctx, ns, "flux-sample-selfscale", kubeconfig))
	selfscale := func(args ...string) (string, error) {
		cmd := exec.Command(filepath.Join(repoRoot, "bin", "selfscale"), append([]string{"--kubeconfig=" + kubeconfig}, args...)...)
		// What the controller injects into every broker pod.
		cmd.Env = append(os.Environ(), "ELASTICFLUX_MINICLUSTER=flux-sample", "ELASTICFLUX_NAMESPACE="+ns)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := selfscale("set", "3")
	require.NoError(t, err, out)
	waitForBrokers(t, ns, "flux-sample", 3)
	out, err = selfscale("get")
	require.NoError(t, err, out)
	assert.Equal(t, "3\n", out, "the size, alone on its line")

	out, err = selfscale("set", "9")
	require.Error(t, err)
	assert.Contains(t, out, "spec.size must be between spec.minSize and spec.maxSize")

	out, err = selfscale("--name=other", "set", "2")
	require.Error(t, err, "another MiniCluster must be out of reach")
	assert.Contains(t, out, "forbidden")
	assert.Equal(t, int32(1), *getMiniCluster(t, ns, "other").Spec.Size)

	// Anything else, through the typed clients with the same token.
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	require.NoError(t, err)
	asPod := clientset.NewForConfigOrDie(config)
	podKube := kubernetes.NewForConfigOrDie(config)
	forbidden := map[string]error{}
	_, forbidden["list miniclusters"] = asPod.ElasticfluxV1alpha1().MiniClusters(ns).List(ctx, metav1.ListOptions{})
	_, forbidden["patch minicluster spec"] = asPod.ElasticfluxV1alpha1().MiniClusters(ns).Patch(ctx, "flux-sample", types.MergePatchType, []byte(`{"spec":{"minSize":2}}`), metav1.PatchOptions{})
	forbidden["delete minicluster"] = asPod.ElasticfluxV1alpha1().MiniClusters(ns).Delete(ctx, "flux-sample", metav1.DeleteOptions{})
	_, forbidden["list pods"] = podKube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	_, forbidden["read the curve secret"] = podKube.CoreV1().Secrets(ns).Get(ctx, "flux-sample-curve", metav1.GetOptions{})
	_, forbidden["patch the job"] = podKube.BatchV1().Jobs(ns).Patch(ctx, "flux-sample", types.MergePatchType, []byte(`{"spec":{"parallelism":4}}`), metav1.PatchOptions{})
	for what, err := range forbidden {
		assert.True(t, apierrors.IsForbidden(err), "%s: want Forbidden, got %v", what, err)
	}
	_, err = asPod.ElasticfluxV1alpha1().MiniClusters(ns).Get(ctx, "flux-sample", metav1.GetOptions{})
	assert.NoError(t, err, "reading its own MiniCluster is allowed")
}
