//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// fluxImage runs real flux-core brokers. hack/flux-image.sh builds it from
// Debian's packages and the flux-core source, and requireFluxImage imports
// it into the real node's containerd; nothing is pulled.
const fluxImage = "localhost/elasticflux/flux-core:0.88.0"

// fluxUserImage is fluxImage whose own user is 1000:1000, as images that
// set a non-root USER are (the Flux project's own among them).
const fluxUserImage = fluxImage + "-user1000"

var (
	fluxImageOnce     sync.Once
	fluxImageErr      error
	fluxUserImageOnce sync.Once
	fluxUserImageErr  error
)

// requireFluxImage makes sure the real node can run fluxImage: the image is
// built once (later runs reuse the cached archive) and imported.
func requireFluxImage(t *testing.T) {
	t.Helper()
	requireRealNode(t)
	fluxImageOnce.Do(func() { fluxImageErr = buildAndImportFluxImage() })
	require.NoError(t, fluxImageErr, "the Flux image %s", fluxImage)
}

// requireFluxUserImage is requireFluxImage for fluxUserImage.
func requireFluxUserImage(t *testing.T) {
	t.Helper()
	requireFluxImage(t)
	fluxUserImageOnce.Do(func() { fluxUserImageErr = buildAndImportFluxImage("IMAGE_USER=1000:1000") })
	require.NoError(t, fluxUserImageErr, "the Flux image %s", fluxUserImage)
}

// buildAndImportFluxImage runs hack/flux-image.sh with env and imports the
// archive it prints into the real node.
func buildAndImportFluxImage(env ...string) error {
	build := exec.Command(filepath.Join(repoRoot, "hack", "flux-image.sh"))
	build.Dir = repoRoot
	build.Env = append(os.Environ(), env...)
	build.Stderr = os.Stderr
	out, err := build.Output()
	if err != nil {
		return fmt.Errorf("hack/flux-image.sh: %w", err)
	}
	archive := strings.TrimSpace(string(out))
	importImage := exec.Command(filepath.Join(repoRoot, "hack", "node", "import-image.sh"), archive)
	importImage.Env = append(os.Environ(), "LOCAL_DIR="+filepath.Dir(os.Getenv("KUBECONFIG")))
	if out, err := importImage.CombinedOutput(); err != nil {
		return fmt.Errorf("importing %s: %v\n%s", archive, err, out)
	}
	return nil
}

// fluxMiniCluster is an interactive MiniCluster of real Flux brokers on the
// real node. Brokers ask for no CPU, so a dozen fit on a small machine.
func fluxMiniCluster(name string, size, minSize, maxSize int32) *v1alpha1.MiniCluster {
	return &v1alpha1.MiniCluster{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.MiniClusterSpec{
			Size:    ptr.To(size),
			MinSize: ptr.To(minSize),
			MaxSize: ptr.To(maxSize),
			Container: v1alpha1.ContainerSpec{
				Image:           fluxImage,
				ImagePullPolicy: corev1.PullNever,
			},
		},
	}
}

// fluxCluster is one MiniCluster of real brokers under test.
type fluxCluster struct {
	t         *testing.T
	namespace string
	name      string
}

// startFluxCluster creates mc in a new namespace with its own controller
// and waits for its brokers to run.
func startFluxCluster(t *testing.T, mc *v1alpha1.MiniCluster) *fluxCluster {
	t.Helper()
	requireFluxImage(t)
	ns := newNamespace(t)
	startController(t, ns)
	createMiniCluster(t, ns, mc)
	waitForBrokers(t, ns, mc.Name, int(*mc.Spec.Size))
	return &fluxCluster{t: t, namespace: ns, name: mc.Name}
}

// pod is the name of the running broker pod of a rank.
func (c *fluxCluster) pod(rank int) string {
	c.t.Helper()
	pods, err := brokerPods(c.namespace, c.name)
	require.NoError(c.t, err)
	pod, ok := pods[fmt.Sprint(rank)]
	require.True(c.t, ok, "no running broker of rank %d", rank)
	return pod.Name
}

// flux runs a flux command in the broker of a rank the way a user would,
// with kubectl exec and nothing set first: the pod's own environment must
// be enough to reach its broker.
func (c *fluxCluster) flux(rank int, args ...string) (string, error) {
	c.t.Helper()
	return kubectl(append([]string{"-n", c.namespace, "exec", c.pod(rank), "--", "flux"}, args...)...)
}

// mustFlux is flux for commands that must work.
func (c *fluxCluster) mustFlux(rank int, args ...string) string {
	c.t.Helper()
	out, err := c.flux(rank, args...)
	require.NoError(c.t, err, "flux %s: %s", strings.Join(args, " "), out)
	return strings.TrimSpace(out)
}

// nodes is what Flux reports of the brokers in a resource state, e.g.
// "2 fx-[0-1]", as seen from rank 0.
func (c *fluxCluster) nodes(state string) string {
	c.t.Helper()
	out, err := c.flux(0, "resource", "list", "--states="+state, "--no-header", "--format={nnodes} {nodelist}")
	if err != nil {
		return "error: " + out
	}
	return strings.TrimSpace(out)
}

// waitForFluxNodes waits until Flux on rank 0 reports exactly these
// brokers up, e.g. "3 fx-[0-2]".
func (c *fluxCluster) waitForFluxNodes(want string) {
	c.t.Helper()
	eventually(c.t, longWait, "Flux to report "+want+" up", func() (bool, string) {
		up := c.nodes("up")
		return up == want, "up: " + up
	})
}

// job reads a Flux job's state and result, e.g. "RUN" or "INACTIVE
// COMPLETED".
func (c *fluxCluster) job(id string) string {
	c.t.Helper()
	out, err := c.flux(0, "jobs", "--no-header", "--format={state} {result}", id)
	if err != nil {
		return "error: " + out
	}
	return strings.TrimSpace(out)
}

func (c *fluxCluster) waitForJob(id, want string) {
	c.t.Helper()
	eventually(c.t, longWait, fmt.Sprintf("Flux job %s to be %s", id, want), func() (bool, string) {
		state := c.job(id)
		return state == want, state
	})
}

// drained is the ranks Flux has drained, as an idset ("" for none).
func (c *fluxCluster) drained() string {
	c.t.Helper()
	out, err := c.flux(0, "resource", "drain", "--no-header", "--format={ranks}")
	if err != nil {
		return "error: " + out
	}
	return strings.TrimSpace(out)
}

func (c *fluxCluster) scale(size int) {
	c.t.Helper()
	out, err := kubectl("-n", c.namespace, "scale", "minicluster/"+c.name, fmt.Sprintf("--replicas=%d", size))
	require.NoError(c.t, err, out)
}

// hostnames are the sorted lines of out.
func hostnames(out string) []string {
	lines := strings.Fields(out)
	slices.Sort(lines)
	return lines
}

// TestFluxGrows: an interactive MiniCluster of size 2 with room for 4 is a
// Flux instance with 2 brokers up and 2 down; kubectl scale to 4 brings
// brokers 2 and 3 in, and a job that waited for 4 nodes runs.
func TestFluxGrows(t *testing.T) {
	t.Parallel()
	c := startFluxCluster(t, fluxMiniCluster("fx", 2, 2, 4))
	c.waitForFluxNodes("2 fx-[0-1]")
	assert.Equal(t, "2 fx-[2-3]", c.nodes("down"), "the brokers not there yet are down, not missing")
	assert.Equal(t, []string{"fx-0", "fx-1"}, hostnames(c.mustFlux(0, "run", "-N2", "hostname")),
		"a job spans both pods, by their hostnames")

	pending := c.mustFlux(0, "submit", "-N4", "hostname")
	eventually(t, shortWait, "the 4-node job to wait for nodes", func() (bool, string) {
		state := c.job(pending)
		return state == "SCHED", state
	})

	c.scale(4)
	waitForBrokers(t, c.namespace, c.name, 4)
	c.waitForFluxNodes("4 fx-[0-3]")
	c.waitForJob(pending, "INACTIVE COMPLETED")
	assert.Equal(t, []string{"fx-0", "fx-1", "fx-2", "fx-3"}, hostnames(c.mustFlux(0, "job", "attach", pending)),
		"the job that waited ran on all four brokers")
}

// TestFluxShrinksGracefully: scaling down while a job spans the leaving
// rank drains that rank and lets the job finish, rather than killing it;
// the instance carries on with the rest, and when the rank comes back it
// is undrained by itself.
func TestFluxShrinksGracefully(t *testing.T) {
	t.Parallel()
	c := startFluxCluster(t, fluxMiniCluster("fx", 4, 2, 4))
	c.waitForFluxNodes("4 fx-[0-3]")

	spanning := c.mustFlux(0, "submit", "-N4", "sleep", "20")
	c.waitForJob(spanning, "RUN")
	c.scale(3)

	// While the job runs, the leaving broker's pod is kept by its preStop
	// hook, which has drained the rank.
	eventually(t, shortWait, "rank 3 drained while its pod terminates", func() (bool, string) {
		drained, state := c.drained(), c.job(spanning)
		return drained == "3" && state == "RUN", fmt.Sprintf("drained=%q job=%q", drained, state)
	})
	c.waitForJob(spanning, "INACTIVE COMPLETED")
	waitForBrokers(t, c.namespace, c.name, 3)
	c.waitForFluxNodes("3 fx-[0-2]")
	assert.Equal(t, []string{"fx-0", "fx-1", "fx-2"}, hostnames(c.mustFlux(0, "run", "-N3", "hostname")),
		"the instance carries on with three brokers")

	c.scale(4)
	waitForBrokers(t, c.namespace, c.name, 4)
	c.waitForFluxNodes("4 fx-[0-3]")
	eventually(t, shortWait, "rank 3 undrained after it rejoined", func() (bool, string) {
		drained := c.drained()
		return drained == "", "drained: " + drained
	})
	assert.Equal(t, []string{"fx-0", "fx-1", "fx-2", "fx-3"}, hostnames(c.mustFlux(0, "run", "-N4", "hostname")))
}

// TestFluxNonRoot: brokers run as the user the MiniCluster names, and a
// user who execs into a broker reaches it as that user.
func TestFluxNonRoot(t *testing.T) {
	t.Parallel()
	mc := fluxMiniCluster("fx", 2, 2, 2)
	mc.Spec.Container.RunAsUser = ptr.To[int64](1000)
	mc.Spec.Container.RunAsGroup = ptr.To[int64](1000)
	c := startFluxCluster(t, mc)
	c.waitForFluxNodes("2 fx-[0-1]")
	assert.Equal(t, "1000", c.mustFlux(0, "getattr", "security.owner"), "the instance belongs to uid 1000")
	assert.Equal(t, []string{"1000", "1000"}, hostnames(c.mustFlux(0, "run", "-N2", "id", "-u")),
		"jobs run as uid 1000 on both brokers")
	out, err := kubectl("-n", c.namespace, "exec", c.pod(1), "--", "id", "-u")
	require.NoError(t, err, out)
	assert.Equal(t, "1000", strings.TrimSpace(out))
}

// TestFluxImageUser: an image whose own user is not root runs its brokers
// as that user, with nothing about users in the MiniCluster: the broker
// copies the curve certificate it cannot own, and the instance is that
// user's.
func TestFluxImageUser(t *testing.T) {
	t.Parallel()
	requireFluxUserImage(t)
	mc := fluxMiniCluster("fx", 2, 2, 2)
	mc.Spec.Container.Image = fluxUserImage
	c := startFluxCluster(t, mc)
	c.waitForFluxNodes("2 fx-[0-1]")
	assert.Equal(t, "1000", c.mustFlux(0, "getattr", "security.owner"))
	assert.Equal(t, []string{"1000", "1000"}, hostnames(c.mustFlux(0, "run", "-N2", "id", "-u")))
}

// TestFluxSelfScaling: a program in rank 0 resizes its own MiniCluster
// through the `kubernetes` Service with the pod's service account, and
// Flux sees the new brokers; the same call on another MiniCluster is
// forbidden.
func TestFluxSelfScaling(t *testing.T) {
	t.Parallel()
	mc := fluxMiniCluster("fx", 1, 1, 3)
	mc.Spec.Elasticity = &v1alpha1.ElasticitySpec{SelfScaling: ptr.To(true)}
	c := startFluxCluster(t, mc)
	createMiniCluster(t, c.namespace, fluxMiniCluster("other", 1, 1, 3))
	c.waitForFluxNodes("1 fx-0")

	out, err := kubectl("-n", c.namespace, "cp", filepath.Join(repoRoot, "bin", "selfscale"), c.pod(0)+":/tmp/selfscale")
	require.NoError(t, err, out)
	selfscale := func(args ...string) (string, error) {
		return kubectl(append([]string{"-n", c.namespace, "exec", c.pod(0), "--", "/tmp/selfscale"}, args...)...)
	}
	out, err = selfscale("set", "3")
	require.NoError(t, err, out)
	waitForBrokers(t, c.namespace, c.name, 3)
	c.waitForFluxNodes("3 fx-[0-2]")

	out, err = selfscale("--name=other", "set", "2")
	require.Error(t, err, "another MiniCluster is out of reach: %s", out)
	assert.Contains(t, out, "forbidden")
	other, err := elasticClient.ElasticfluxV1alpha1().MiniClusters(c.namespace).Get(context.Background(), "other", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(1), *other.Spec.Size)
}

// TestFluxHPAOnRealCPU: an autoscaling/v2 HPA on the brokers' real CPU, as
// metrics-server reads it from the real kubelet. A Flux job that burns a
// core on rank 0 scales the cluster up to its ceiling, and Flux sees the
// new brokers; once the job is cancelled, idle brokers scale it back down.
func TestFluxHPAOnRealCPU(t *testing.T) {
	t.Parallel()
	mc := fluxMiniCluster("fx", 1, 1, 3)
	mc.Spec.Container.Resources = v1alpha1.Resources{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}
	c := startFluxCluster(t, mc)
	c.waitForFluxNodes("1 fx-0")

	policies := []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 2, PeriodSeconds: 5}}
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "fx"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "elasticflux.io/v1alpha1", Kind: "MiniCluster", Name: "fx"},
			MinReplicas:    ptr.To[int32](1),
			MaxReplicas:    3,
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{
					Name:   corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](50)},
				},
			}},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp:   &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](0), Policies: policies},
				ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](0), Policies: policies},
			},
		},
	}
	_, err := kubeClient.AutoscalingV2().HorizontalPodAutoscalers(c.namespace).Create(context.Background(), hpa, metav1.CreateOptions{})
	require.NoError(t, err)

	burner := c.mustFlux(0, "submit", "-N1", "sh", "-c", "while :; do :; done")
	c.waitForJob(burner, "RUN")
	eventually(t, longWait, "the HPA to see the busy broker and scale to 3", func() (bool, string) {
		mc := getMiniCluster(t, c.namespace, c.name)
		return *mc.Spec.Size == 3, fmt.Sprintf("spec.size=%d", *mc.Spec.Size)
	})
	waitForBrokers(t, c.namespace, c.name, 3)
	c.waitForFluxNodes("3 fx-[0-2]")

	c.mustFlux(0, "cancel", burner)
	c.waitForJob(burner, "INACTIVE CANCELED")
	eventually(t, longWait, "the HPA to scale the idle cluster down to 1", func() (bool, string) {
		mc := getMiniCluster(t, c.namespace, c.name)
		return *mc.Spec.Size == 1, fmt.Sprintf("spec.size=%d", *mc.Spec.Size)
	})
	waitForBrokers(t, c.namespace, c.name, 1)
	c.waitForFluxNodes("1 fx-0")
}

// TestFluxCommandMode: rank 0 runs the command as a Flux job across the
// brokers. One that passes completes the Job and the MiniCluster; one that
// exits 3 fails them promptly, with the exit code in the condition.
func TestFluxCommandMode(t *testing.T) {
	t.Parallel()
	requireFluxImage(t)
	ns := newNamespace(t)
	startController(t, ns)
	pass := fluxMiniCluster("pass", 2, 2, 2)
	pass.Spec.Command = []string{"hostname"}
	fail := fluxMiniCluster("fail", 2, 2, 2)
	fail.Spec.Command = []string{"sh", "-c", "exit 3"}
	createMiniCluster(t, ns, pass)
	createMiniCluster(t, ns, fail)

	eventually(t, longWait, "the passing command to complete the MiniCluster", func() (bool, string) {
		completed := condition(t, ns, "pass", "Completed")
		return completed != nil && completed.Status == metav1.ConditionTrue, fmt.Sprintf("%+v", completed)
	})
	job, err := kubeClient.BatchV1().Jobs(ns).Get(context.Background(), "pass", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(2), job.Status.Succeeded, "both brokers ended well")
	rank0 := rankPods(t, ns, "pass", 0)
	require.Len(t, rank0, 1)
	logs, err := kubectl("-n", ns, "logs", rank0[0].Name)
	require.NoError(t, err, logs)
	assert.Contains(t, logs, "pass-0")
	assert.Contains(t, logs, "pass-1", "the command ran on both brokers")

	var failedAt time.Time
	eventually(t, longWait, "the failing command to fail the MiniCluster", func() (bool, string) {
		failed := condition(t, ns, "fail", "Failed")
		if failed == nil || failed.Status != metav1.ConditionTrue {
			return false, fmt.Sprintf("%+v", failed)
		}
		failedAt = failed.LastTransitionTime.Time
		return strings.Contains(failed.Message, "exit code 3"), failed.Message
	})
	job, err = kubeClient.BatchV1().Jobs(ns).Get(context.Background(), "fail", metav1.GetOptions{})
	require.NoError(t, err)
	var jobFailed bool
	for _, c := range job.Status.Conditions {
		jobFailed = jobFailed || (c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue)
	}
	assert.True(t, jobFailed, "the Job failed")
	// Promptly: from the command's end, not after retries or a backoff.
	pods := rankPods(t, ns, "fail", 0)
	require.NotEmpty(t, pods)
	for _, pod := range pods {
		for _, status := range pod.Status.ContainerStatuses {
			if terminated := status.State.Terminated; terminated != nil {
				assert.Equal(t, int32(3), terminated.ExitCode, "rank 0 exits with the command's code")
				assert.Less(t, failedAt.Sub(terminated.FinishedAt.Time), time.Minute, "the MiniCluster failed promptly")
			}
		}
	}
	assert.Len(t, pods, 1, "a failing command is not retried")
}

// TestFluxArchive: the job history survives deleting a MiniCluster and
// creating a new one over the same archive, kept on a PersistentVolumeClaim
// the MiniCluster names.
func TestFluxArchive(t *testing.T) {
	t.Parallel()
	requireFluxImage(t)
	ns := newNamespace(t)
	startController(t, ns)
	ctx := context.Background()

	// A hostPath volume on the real node (it shares this machine's file
	// system), bound ahead to the claim.
	dir, err := os.MkdirTemp("", "elasticflux-archive-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-archive"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              "",
			ClaimRef:                      &corev1.ObjectReference{Namespace: ns, Name: "archive"},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: ptr.To(corev1.HostPathDirectory)}},
		},
	}
	_, err = kubeClient.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = kubeClient.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{}) })
	_, err = kubeClient.CoreV1().PersistentVolumeClaims(ns).Create(ctx, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "archive"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr.To(""),
			VolumeName:       pv.Name,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	archived := func() *v1alpha1.MiniCluster {
		mc := fluxMiniCluster("fx", 2, 1, 2)
		mc.Spec.Archive = &v1alpha1.ArchiveSpec{ClaimName: "archive", Path: "state.tar"}
		return mc
	}
	createMiniCluster(t, ns, archived())
	waitForBrokers(t, ns, "fx", 2)
	c := &fluxCluster{t: t, namespace: ns, name: "fx"}
	c.waitForFluxNodes("2 fx-[0-1]")
	remembered := c.mustFlux(0, "submit", "--job-name=remember-me", "-N2", "hostname")
	c.waitForJob(remembered, "INACTIVE COMPLETED")

	require.NoError(t, elasticClient.ElasticfluxV1alpha1().MiniClusters(ns).Delete(ctx, "fx", metav1.DeleteOptions{}))
	eventually(t, longWait, "the MiniCluster's brokers to stop and rank 0 to save the archive", func() (bool, string) {
		pods, err := brokerPodsAll(ns, "fx")
		if err != nil {
			return false, err.Error()
		}
		info, statErr := os.Stat(filepath.Join(dir, "state.tar"))
		return len(pods) == 0 && statErr == nil && info.Size() > 0, fmt.Sprintf("%d pods, archive: %v", len(pods), statErr)
	})

	createMiniCluster(t, ns, archived())
	waitForBrokers(t, ns, "fx", 2)
	c.waitForFluxNodes("2 fx-[0-1]")
	names := c.mustFlux(0, "jobs", "-a", "--no-header", "--format={name} {result}")
	assert.Contains(t, names, "remember-me COMPLETED", "the new instance restored the old one's history")
}

// rankPods lists every pod, of any phase, of one rank of a MiniCluster.
func rankPods(t *testing.T, namespace, name string, rank int) []corev1.Pod {
	t.Helper()
	pods, err := kubeClient.CoreV1().Pods(namespace).List(context.Background(), metav1.ListOptions{
		LabelSelector: fmt.Sprintf("%s=%s,batch.kubernetes.io/job-completion-index=%d", v1alpha1.LabelMiniCluster, name, rank),
	})
	require.NoError(t, err)
	return pods.Items
}

// brokerPodsAll lists every pod of a MiniCluster's brokers, terminating
// ones included.
func brokerPodsAll(namespace, name string) ([]corev1.Pod, error) {
	pods, err := kubeClient.CoreV1().Pods(namespace).List(context.Background(), metav1.ListOptions{
		LabelSelector: v1alpha1.LabelMiniCluster + "=" + name,
	})
	if err != nil {
		return nil, err
	}
	return pods.Items, nil
}

// TestFluxBrokerReplaced: a broker pod deleted by hand while its index is
// still wanted is replaced, but only once the old broker is gone (it first
// drains and lets its job finish), so two brokers never hold one rank; the
// old one ends with 143, is never taken for a finished index, and the new
// one rejoins and is undrained.
func TestFluxBrokerReplaced(t *testing.T) {
	t.Parallel()
	c := startFluxCluster(t, fluxMiniCluster("fx", 2, 1, 2))
	c.waitForFluxNodes("2 fx-[0-1]")
	spanning := c.mustFlux(0, "submit", "-N2", "sleep", "15")
	c.waitForJob(spanning, "RUN")
	pods, err := brokerPods(c.namespace, c.name)
	require.NoError(t, err)
	old := pods["1"]
	require.NoError(t, kubeClient.CoreV1().Pods(c.namespace).Delete(context.Background(), old.Name, metav1.DeleteOptions{}))

	var replacement corev1.Pod
	eventually(t, longWait, "a replacement for rank 1, never beside the old one", func() (bool, string) {
		all, err := brokerPodsAll(c.namespace, c.name)
		if err != nil {
			return false, err.Error()
		}
		oldRuns := false
		var others []corev1.Pod
		for _, pod := range all {
			switch {
			case pod.Labels["batch.kubernetes.io/job-completion-index"] != "1":
			case pod.UID == old.UID:
				oldRuns = pod.Status.Phase == corev1.PodRunning
			default:
				others = append(others, pod)
			}
		}
		if oldRuns && len(others) > 0 {
			t.Fatalf("a second pod for rank 1 (%s) while the old broker %s still runs", others[0].Name, old.Name)
		}
		for _, pod := range others {
			if pod.Status.Phase == corev1.PodRunning {
				replacement = pod
				return true, ""
			}
		}
		return false, fmt.Sprintf("old running: %v, others: %d", oldRuns, len(others))
	})
	c.waitForJob(spanning, "INACTIVE COMPLETED")
	c.waitForFluxNodes("2 fx-[0-1]")
	eventually(t, shortWait, "the new rank 1 undrained", func() (bool, string) {
		drained := c.drained()
		return drained == "", "drained: " + drained
	})
	assert.Equal(t, []string{"fx-0", "fx-1"}, hostnames(c.mustFlux(0, "run", "-N2", "hostname")))

	gone, err := kubeClient.CoreV1().Pods(c.namespace).Get(context.Background(), old.Name, metav1.GetOptions{})
	if err == nil {
		for _, status := range gone.Status.ContainerStatuses {
			if status.State.Terminated != nil {
				assert.Equal(t, int32(143), status.State.Terminated.ExitCode, "a stopped broker exits 143")
			}
		}
	}
	job, err := kubeClient.BatchV1().Jobs(c.namespace).Get(context.Background(), c.name, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Empty(t, job.Status.CompletedIndexes, "the deleted broker's index is not taken as finished")
	assert.Empty(t, job.Status.Conditions, "the Job carries on")
	assert.NotEqual(t, old.UID, replacement.UID)
}
