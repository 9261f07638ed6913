//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// probeImage is e2e/probe, built and imported into the real node's
// containerd by requireProbeImage; nothing is pulled.
const probeImage = "localhost/elasticflux-e2e-probe:1"

// realNode is the local cluster's one node that runs containers, as
// hack/cluster-up.sh describes it in the env file beside the kubeconfig.
type realNode struct {
	name      string
	podSubnet *net.IPNet
	// apiserverAddress is the API server's own address and port, on the
	// host's side of the node's link: reachable from pods only through
	// the `kubernetes` Service.
	apiserverAddress string
}

var (
	realNodeOnce   sync.Once
	realNodeFound  realNode
	realNodeErr    error
	probeImageOnce sync.Once
	probeImageErr  error
)

// requireRealNode returns the real node. A cluster without one fails the
// test under CI=true (a missing prerequisite is a failure there) and skips
// it elsewhere.
func requireRealNode(t *testing.T) realNode {
	t.Helper()
	realNodeOnce.Do(func() { realNodeFound, realNodeErr = findRealNode() })
	requirePrerequisite(t, realNodeErr == nil, "no real node (run hack/cluster-up.sh with containerd, runc and the CNI plugins installed): %v", realNodeErr)
	return realNodeFound
}

func findRealNode() (realNode, error) {
	envFile := filepath.Join(filepath.Dir(os.Getenv("KUBECONFIG")), "env")
	env, err := readEnvFile(envFile)
	if err != nil {
		return realNode{}, err
	}
	for _, key := range []string{"NODE_NAME", "POD_SUBNET", "APISERVER_ADDRESS", "APISERVER_PORT"} {
		if env[key] == "" {
			return realNode{}, fmt.Errorf("%s has no %s", envFile, key)
		}
	}
	_, subnet, err := net.ParseCIDR(env["POD_SUBNET"])
	if err != nil {
		return realNode{}, err
	}
	node, err := kubeClient.CoreV1().Nodes().Get(context.Background(), env["NODE_NAME"], metav1.GetOptions{})
	if err != nil {
		return realNode{}, err
	}
	if node.Labels["type"] == "kwok" {
		return realNode{}, fmt.Errorf("node %s is a kwok node", node.Name)
	}
	return realNode{
		name:             node.Name,
		podSubnet:        subnet,
		apiserverAddress: net.JoinHostPort(env["APISERVER_ADDRESS"], env["APISERVER_PORT"]),
	}, nil
}

// readEnvFile reads the `export KEY=VALUE` lines of a sourceable file.
func readEnvFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for line := range strings.SplitSeq(string(data), "\n") {
		key, value, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if ok {
			env[key] = value
		}
	}
	return env, nil
}

// requireProbeImage builds e2e/probe as a static binary, makes it the only
// file of probeImage with hack/ociimage and imports that into the real
// node's containerd with hack/node/import-image.sh, once per run.
func requireProbeImage(t *testing.T) {
	t.Helper()
	probeImageOnce.Do(func() { probeImageErr = buildProbeImage() })
	require.NoError(t, probeImageErr, "building and importing %s", probeImage)
}

func buildProbeImage() error {
	dir := filepath.Join(repoRoot, "bin", "images", "e2e-probe")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	archive := filepath.Join(repoRoot, "bin", "images", "e2e-probe.tar")
	steps := [][]string{
		{"go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "probe"), "./e2e/probe"},
		{"go", "run", "./hack/ociimage", "-tag", probeImage, "-out", archive,
			"-file", filepath.Join(dir, "probe") + ":/probe:0755", "-entrypoint", "/probe"},
		{filepath.Join(repoRoot, "hack", "node", "import-image.sh"), archive},
	}
	for _, step := range steps {
		cmd := exec.Command(step[0], step[1:]...)
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "LOCAL_DIR="+filepath.Dir(os.Getenv("KUBECONFIG")))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(step, " "), err, out)
		}
	}
	return nil
}

// probeContainer runs the probe with args; the image is only on the node.
func probeContainer(args ...string) corev1.Container {
	return corev1.Container{
		Name:            "probe",
		Image:           probeImage,
		ImagePullPolicy: corev1.PullNever,
		Command:         append([]string{"/probe"}, args...),
	}
}

// probePod is a pod serving with the probe, with no toleration or node
// selector: nothing but the cluster's own scheduling puts it anywhere.
func probePod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			Containers:                    []corev1.Container{probeContainer("serve")},
		},
	}
}

// runPods creates the pods and waits until each is Running.
func runPods(t *testing.T, ns string, pods ...*corev1.Pod) map[string]corev1.Pod {
	t.Helper()
	for _, pod := range pods {
		_, err := kubeClient.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	running := map[string]corev1.Pod{}
	for _, pod := range pods {
		eventually(t, longWait, "pod "+pod.Name+" Running", func() (bool, string) {
			got, err := kubeClient.CoreV1().Pods(ns).Get(context.Background(), pod.Name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			running[pod.Name] = *got
			return got.Status.Phase == corev1.PodRunning, podState(got)
		})
	}
	return running
}

// podState says where a pod is and why it is not running yet.
func podState(pod *corev1.Pod) string {
	state := fmt.Sprintf("%s on %q", pod.Status.Phase, pod.Spec.NodeName)
	for _, status := range pod.Status.ContainerStatuses {
		if status.State.Waiting != nil {
			state += fmt.Sprintf(", %s waiting: %s %s", status.Name, status.State.Waiting.Reason, status.State.Waiting.Message)
		}
	}
	for _, condition := range pod.Status.Conditions {
		if condition.Status != corev1.ConditionTrue && condition.Message != "" {
			state += fmt.Sprintf(", %s: %s", condition.Type, condition.Message)
		}
	}
	return state
}

// execProbe runs the probe inside a running pod through `kubectl exec`.
func execProbe(ns, pod string, args ...string) (string, error) {
	out, err := kubectl(append([]string{"-n", ns, "exec", pod, "--", "/probe"}, args...)...)
	return strings.TrimSpace(out), err
}

// TestRealNodeRunsPodsWithoutTolerations: a plain Deployment and a plain Job,
// with no toleration and no node selector, run on the real node, never on a
// kwok node, and their pods get addresses from the node's bridge.
func TestRealNodeRunsPodsWithoutTolerations(t *testing.T) {
	t.Parallel()
	node := requireRealNode(t)
	requireProbeImage(t)
	ns := newNamespace(t)
	ctx := context.Background()

	labels := map[string]string{"app": "serve"}
	_, err := kubeClient.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "serve"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](1),
					Containers:                    []corev1.Container{probeContainer("serve")},
				},
			},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = kubeClient.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "once"},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{probeContainer("resolve", "kubernetes.default.svc.cluster.local")},
				},
			},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	eventually(t, longWait, "2 Deployment pods Running and the Job complete", func() (bool, string) {
		deployment, err := kubeClient.AppsV1().Deployments(ns).Get(ctx, "serve", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		job, err := kubeClient.BatchV1().Jobs(ns).Get(ctx, "once", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return deployment.Status.AvailableReplicas == 2 && job.Status.Succeeded == 1,
			fmt.Sprintf("deployment available=%d, job succeeded=%d failed=%d", deployment.Status.AvailableReplicas, job.Status.Succeeded, job.Status.Failed)
	})
	pods, err := kubeClient.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, pods.Items, 3)
	for _, pod := range pods.Items {
		assert.Equal(t, node.name, pod.Spec.NodeName, "pod %s", pod.Name)
		assert.True(t, node.podSubnet.Contains(net.ParseIP(pod.Status.PodIP)), "pod %s has %q, not an address of %s", pod.Name, pod.Status.PodIP, node.podSubnet)
	}
}

// TestRealNodeClusterDNS: a pod of an Indexed Job with a subdomain and a
// headless Service resolves another pod's
// <hostname>.<subdomain>.<namespace>.svc.cluster.local and reaches it
// there, as Flux brokers find each other; a name outside the cluster does
// not resolve (nothing is forwarded off the machine).
func TestRealNodeClusterDNS(t *testing.T) {
	t.Parallel()
	requireRealNode(t)
	requireProbeImage(t)
	ns := newNamespace(t)
	ctx := context.Background()

	_, err := kubeClient.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "peers"},
		Spec: corev1.ServiceSpec{
			ClusterIP:                corev1.ClusterIPNone,
			PublishNotReadyAddresses: true,
			Selector:                 map[string]string{"batch.kubernetes.io/job-name": "peers"},
			Ports:                    []corev1.ServicePort{{Name: "probe", Port: 8080}},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = kubeClient.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "peers"},
		Spec: batchv1.JobSpec{
			CompletionMode: ptr.To(batchv1.IndexedCompletion),
			Completions:    ptr.To[int32](2),
			Parallelism:    ptr.To[int32](2),
			Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{
					Subdomain:                     "peers",
					RestartPolicy:                 corev1.RestartPolicyNever,
					TerminationGracePeriodSeconds: ptr.To[int64](1),
					Containers:                    []corev1.Container{probeContainer("serve")},
				},
			},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	byIndex := map[string]corev1.Pod{}
	eventually(t, longWait, "both Indexed Job pods Running", func() (bool, string) {
		pods, err := kubeClient.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=peers"})
		if err != nil {
			return false, err.Error()
		}
		var states []string
		for _, pod := range pods.Items {
			if pod.Status.Phase == corev1.PodRunning {
				byIndex[pod.Labels["batch.kubernetes.io/job-completion-index"]] = pod
			}
			states = append(states, pod.Name+": "+podState(&pod))
		}
		return len(byIndex) == 2, strings.Join(states, "; ")
	})

	peer := byIndex["1"]
	name := fmt.Sprintf("peers-1.peers.%s.svc.cluster.local", ns)
	var resolved string
	eventually(t, shortWait, name+" resolving in pod 0", func() (bool, string) {
		var err error
		resolved, err = execProbe(ns, byIndex["0"].Name, "resolve", name)
		return err == nil && resolved == peer.Status.PodIP, fmt.Sprintf("%q (%v), want %s", resolved, err, peer.Status.PodIP)
	})
	answer, err := execProbe(ns, byIndex["0"].Name, "dial", net.JoinHostPort(name, "8080"))
	require.NoError(t, err, answer)
	assert.Equal(t, "peers-1", answer, "the peer answers with its hostname")

	service, err := execProbe(ns, byIndex["0"].Name, "resolve", "kubernetes.default")
	require.NoError(t, err, service)
	kubernetesService, err := kubeClient.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, kubernetesService.Spec.ClusterIP, service, "a Service name through the pod's search path")

	outside, err := execProbe(ns, byIndex["0"].Name, "resolve", "example.com")
	assert.Error(t, err, "a name outside the cluster must not resolve; got %q", outside)
}

// TestRealNodeInClusterAPIAccess: a pod reaches the API server the way any
// in-cluster client does, through the `kubernetes` Service with its
// service account token (rest.InClusterConfig).
func TestRealNodeInClusterAPIAccess(t *testing.T) {
	t.Parallel()
	requireRealNode(t)
	requireProbeImage(t)
	ns := newNamespace(t)
	pod := runPods(t, ns, probePod("client"))["client"]

	want, err := kubeClient.Discovery().ServerVersion()
	require.NoError(t, err)
	kubernetesService, err := kubeClient.CoreV1().Services("default").Get(context.Background(), "kubernetes", metav1.GetOptions{})
	require.NoError(t, err)
	out, err := execProbe(ns, pod.Name, "apiserver")
	require.NoError(t, err, out)
	assert.Equal(t, fmt.Sprintf("server %s via https://%s as system:serviceaccount:%s:default",
		want.GitVersion, net.JoinHostPort(kubernetesService.Spec.ClusterIP, "443"), ns), out)
}

// TestRealNodeLogsAndExec: `kubectl logs` and `kubectl exec` reach the
// kubelet through the API server.
func TestRealNodeLogsAndExec(t *testing.T) {
	t.Parallel()
	requireRealNode(t)
	requireProbeImage(t)
	ns := newNamespace(t)
	runPods(t, ns, probePod("talker"))

	eventually(t, shortWait, "the probe's line in kubectl logs", func() (bool, string) {
		out, err := kubectl("-n", ns, "logs", "talker")
		return err == nil && strings.Contains(out, "probe serving on talker port 8080"), out
	})
	out, err := kubectl("-n", ns, "exec", "talker", "--", "/probe", "dial", "127.0.0.1:8080")
	require.NoError(t, err, out)
	assert.Equal(t, "talker", strings.TrimSpace(out), "exec runs inside the pod, whose own server answers")
}

// TestRealNodeNothingLeavesTheMachine: a pod reaches the API server through
// its Service, but neither an address off the machine (this machine's own
// default gateway) nor the host's own addresses directly.
func TestRealNodeNothingLeavesTheMachine(t *testing.T) {
	t.Parallel()
	node := requireRealNode(t)
	requireProbeImage(t)
	ns := newNamespace(t)
	runPods(t, ns, probePod("jailed"))

	out, err := execProbe(ns, "jailed", "dial", "10.0.0.1:443")
	require.NoError(t, err, out)
	assert.Equal(t, "connected", out, "the API server through the kubernetes Service")

	gateway := defaultGateway(t)
	for _, target := range []string{net.JoinHostPort(gateway, "53"), net.JoinHostPort(gateway, "443"), node.apiserverAddress} {
		out, err := execProbe(ns, "jailed", "dial", target)
		require.Error(t, err, "a pod reached %s: %s", target, out)
		// "refused" would mean a packet got there and was answered.
		assert.NotContains(t, out, "refused", "dialling %s", target)
		t.Logf("dial %s from a pod: %s", target, out)
	}
}

// defaultGateway is the host's default gateway, an address off this
// machine; 192.0.2.1 (TEST-NET-1) on a host without one.
func defaultGateway(t *testing.T) string {
	t.Helper()
	file, err := os.Open("/proc/net/route")
	require.NoError(t, err)
	defer func() { _ = file.Close() }()
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) < 3 || fields[1] != "00000000" {
			continue
		}
		raw, err := hex.DecodeString(fields[2])
		if err != nil || len(raw) != 4 {
			continue
		}
		// /proc/net/route prints the address in host (little-endian) order.
		return net.IPv4(raw[3], raw[2], raw[1], raw[0]).String()
	}
	return "192.0.2.1"
}

// TestRealNodePodMetrics: metrics-server scrapes the real kubelet, so
// `kubectl top pod` shows a pod's real CPU use (what an HPA on CPU reads).
func TestRealNodePodMetrics(t *testing.T) {
	t.Parallel()
	requireRealNode(t)
	requireProbeImage(t)
	ns := newNamespace(t)
	burner := probePod("burner")
	burner.Spec.Containers = []corev1.Container{probeContainer("burn")}
	burner.Spec.Containers[0].Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")},
	}
	runPods(t, ns, burner)

	eventually(t, longWait, "kubectl top pod showing the burner's CPU", func() (bool, string) {
		out, err := kubectl("-n", ns, "top", "pod", "burner", "--no-headers")
		fields := strings.Fields(out)
		if err != nil || len(fields) < 2 {
			return false, out
		}
		cpu, err := resource.ParseQuantity(fields[1])
		return err == nil && cpu.MilliValue() >= 100, out
	})
}
