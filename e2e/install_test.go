//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// shippedImage is the image name manifests/ and the chart install; an
// `images:` override or --set image.* replaces it.
const shippedImage = "ghcr.io/elasticflux/elasticflux"

// requirePrerequisite stops the test when something it needs is missing: a
// failure in CI, where everything must be there, a skip on a developer's
// machine that lacks it.
func requirePrerequisite(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("missing prerequisite: "+format, args...)
	}
	t.Skipf("missing prerequisite: "+format, args...)
}

// builtImage is the reference make image wrote, split into repository and
// tag.
func builtImage(t *testing.T) (repository, tag string) {
	t.Helper()
	archive := filepath.Join(repoRoot, "bin", "image", "elasticflux.tar")
	ref, err := os.ReadFile(filepath.Join(repoRoot, "bin", "image", "elasticflux.ref"))
	_, archiveErr := os.Stat(archive)
	requirePrerequisite(t, err == nil && archiveErr == nil, "no image in bin/image: run make image (%v, %v)", err, archiveErr)
	reference := strings.TrimSpace(string(ref))
	at := strings.LastIndex(reference, ":")
	require.Positive(t, at, "bin/image/elasticflux.ref holds %q", reference)
	return reference[:at], reference[at+1:]
}

// kwokPlacement keeps a MiniCluster's brokers on the kwok nodes: their
// image holds no Flux here, and this test is about the controller.
func kwokPlacement() *v1alpha1.PodSpec {
	return &v1alpha1.PodSpec{
		NodeSelector: kwokNodeSelector,
		Tolerations: []v1alpha1.Toleration{{
			Key: kwokToleration.Key, Operator: kwokToleration.Operator, Effect: kwokToleration.Effect,
		}},
	}
}

// installation is one controller Deployment under test.
type installation struct {
	namespace, deployment, lease string
	selector                     string
}

// TestInstallInCluster installs the controller image, built by make image
// and imported into the real node's containerd, the two ways users do:
// kubectl apply -k (an overlay of manifests/ with an images: override) and
// helm install. Each time both replicas become Ready, exactly one holds the
// Lease, a MiniCluster created and scaled with kubectl is served by the
// leader, /metrics answers only with a token, and deleting the leader pod
// hands over to the other replica.
//
// It runs alone (not in parallel): an in-cluster controller watches every
// namespace, and the other tests own theirs.
func TestInstallInCluster(t *testing.T) {
	requireRealNode(t)
	repository, tag := builtImage(t)
	// The real node's own way in: ctr images import into its containerd,
	// the k8s.io namespace, this machine's platform.
	importer := filepath.Join(repoRoot, "hack", "node", "import-image.sh")
	_, err := os.Stat(importer)
	requirePrerequisite(t, err == nil, "no %s to load images into the node", importer)
	out, err := exec.Command(importer, filepath.Join(repoRoot, "bin", "image", "elasticflux.tar")).CombinedOutput()
	require.NoError(t, err, "importing the image into the node's containerd: %s", out)
	require.Contains(t, string(out), repository+":"+tag, "the archive is imported under the reference make image gave it")
	// Nothing places the controller: the kwok nodes' taint keeps it off
	// them, as any cluster's own nodes would take it.

	t.Run("kustomize", func(t *testing.T) {
		overlay := writeOverlay(t, repository, tag)
		out, err := kubectl("apply", "-k", overlay)
		require.NoError(t, err, "kubectl apply -k: %s", out)
		install := installation{
			namespace: controllerNamespace, deployment: "elasticflux-controller", lease: "elasticflux-controller",
			selector: "app.kubernetes.io/name=elasticflux,app.kubernetes.io/instance=elasticflux",
		}
		// The CRD, RBAC and namespace stay: the rest of the suite runs its
		// controllers with them. The controller goes.
		t.Cleanup(func() {
			out, err := kubectl("-n", install.namespace, "delete", "deployment/"+install.deployment, "service/elasticflux-controller-metrics", "--ignore-not-found", "--wait")
			assert.NoError(t, err, "uninstalling: %s", out)
			waitForNoPods(t, install)
		})
		exercise(t, install, tag)
	})

	t.Run("helm", func(t *testing.T) {
		const release, namespace = "elasticflux-helm", "elasticflux-helm"
		args := []string{"install", release, filepath.Join(repoRoot, "charts", "elasticflux"),
			"--namespace", namespace, "--create-namespace", "--wait", "--timeout", "5m",
			"--set", "image.repository=" + repository, "--set", "image.tag=" + tag,
		}
		out, err := helm(args...)
		require.NoError(t, err, "helm install: %s", out)
		install := installation{
			namespace: namespace, deployment: release + "-controller", lease: "elasticflux-controller",
			selector: "app.kubernetes.io/name=elasticflux,app.kubernetes.io/instance=" + release,
		}
		t.Cleanup(func() {
			out, err := helm("uninstall", release, "--namespace", namespace, "--wait", "--timeout", "5m")
			assert.NoError(t, err, "helm uninstall: %s", out)
			waitForNoPods(t, install)
			_ = kubeClient.CoreV1().Namespaces().Delete(context.Background(), namespace, metav1.DeleteOptions{})
		})
		exercise(t, install, tag)
	})
}

// writeOverlay writes the kustomization a user would: manifests/ as the
// base, the image replaced.
func writeOverlay(t *testing.T, repository, tag string) string {
	t.Helper()
	dir := t.TempDir()
	// kustomize takes a base only by a relative path.
	base, err := filepath.Rel(dir, filepath.Join(repoRoot, "manifests"))
	require.NoError(t, err)
	kustomization, err := yaml.Marshal(map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1",
		"kind":       "Kustomization",
		"resources":  []string{base},
		"images":     []map[string]string{{"name": shippedImage, "newName": repository, "newTag": tag}},
	})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), kustomization, 0o644))
	return dir
}

// helm runs the pinned Helm against the test cluster.
func helm(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(repoRoot, "hack", "helm.sh"), args...)
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// exercise proves one installation: Ready replicas, one leader, a
// MiniCluster served, /metrics guarded, and a handover.
func exercise(t *testing.T, install installation, tag string) {
	t.Helper()
	pods := waitForReadyReplicas(t, install, 2, nil)
	for _, pod := range pods {
		for _, container := range pod.Status.ContainerStatuses {
			assert.Zero(t, container.RestartCount, "%s restarted: its liveness probe failed or it crashed", pod.Name)
		}
	}
	leader := leaseHolder(t, install, pods)
	standby := otherPod(pods, leader)
	t.Logf("leader %s, standby %s", leader.Name, standby.Name)

	// /metrics: TLS, a token, the role; the build info names the image tag.
	metricsURL := func(pod corev1.Pod) string {
		return "https://" + net.JoinHostPort(pod.Status.PodIP, "8443") + "/metrics"
	}
	status, _, err := scrapeMetrics(metricsURL(leader), "")
	require.NoError(t, err, "reaching the leader's /metrics at its pod IP")
	assert.Equal(t, http.StatusUnauthorized, status, "no token")
	status, body, err := scrapeMetrics(metricsURL(leader), metricsReaderToken)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, `version="`+tag+`"} 1`, "the image's binaries carry the version it is tagged with")

	ns := newNamespace(t)
	mc := miniCluster("flux-sample", 1, 1, 4)
	mc.Spec.Pod = kwokPlacement()
	createMiniCluster(t, ns, mc)
	out, err := kubectl("-n", ns, "scale", "minicluster/flux-sample", "--replicas=3")
	require.NoError(t, err, "kubectl scale: %s", out)
	waitForBrokers(t, ns, "flux-sample", 3)
	assertServed(t, install, leader, ns)
	assert.Zero(t, reconciles(t, metricsURL(standby)), "the standby does nothing")

	// The leader goes (as in a rolling update or a node drain): on SIGTERM
	// it stops its workers and releases the Lease, and another replica
	// takes over: the standby, or the leader's replacement if it starts
	// first, both equally good.
	require.NoError(t, kubeClient.CoreV1().Pods(install.namespace).Delete(context.Background(), leader.Name, metav1.DeleteOptions{}))
	eventually(t, longWait, "another replica to take the Lease", func() (bool, string) {
		holder := holderIdentity(install)
		successor, _, found := strings.Cut(holder, "_")
		return found && successor != leader.Name, holder
	})
	pods = waitForReadyReplicas(t, install, 2, &leader)
	successor := leaseHolder(t, install, pods)
	require.NotEqual(t, leader.Name, successor.Name)
	t.Logf("handed over from %s to %s", leader.Name, successor.Name)
	out, err = kubectl("-n", ns, "scale", "minicluster/flux-sample", "--replicas=2")
	require.NoError(t, err, "kubectl scale: %s", out)
	waitForBrokers(t, ns, "flux-sample", 2)
	assertServed(t, install, successor, ns)
}

// waitForReadyReplicas waits until the Deployment has want Ready pods (none
// of them gone, if gone is given) and returns them.
func waitForReadyReplicas(t *testing.T, install installation, want int, gone *corev1.Pod) []corev1.Pod {
	t.Helper()
	var ready []corev1.Pod
	eventually(t, longWait, fmt.Sprintf("%d Ready replicas of %s/%s", want, install.namespace, install.deployment), func() (bool, string) {
		list, err := kubeClient.CoreV1().Pods(install.namespace).List(context.Background(), metav1.ListOptions{LabelSelector: install.selector})
		if err != nil {
			return false, err.Error()
		}
		ready = nil
		var seen []string
		for _, pod := range list.Items {
			seen = append(seen, pod.Name+":"+string(pod.Status.Phase))
			if pod.DeletionTimestamp == nil && podReady(pod) && (gone == nil || pod.UID != gone.UID) {
				ready = append(ready, pod)
			}
		}
		return len(ready) == want, strings.Join(seen, " ")
	})
	return ready
}

func podReady(pod corev1.Pod) bool {
	for _, condition := range pod.Status.Conditions {
		if condition.Type == corev1.PodReady {
			return condition.Status == corev1.ConditionTrue
		}
	}
	return false
}

func holderIdentity(install installation) string {
	lease, err := kubeClient.CoordinationV1().Leases(install.namespace).Get(context.Background(), install.lease, metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil {
		return fmt.Sprint(err)
	}
	return *lease.Spec.HolderIdentity
}

// leaseHolder waits until one of pods holds the Lease (identities are
// <pod name>_<uuid>) and returns it.
func leaseHolder(t *testing.T, install installation, pods []corev1.Pod) corev1.Pod {
	t.Helper()
	var leader corev1.Pod
	eventually(t, longWait, "one replica holding the Lease", func() (bool, string) {
		holder := holderIdentity(install)
		index := slices.IndexFunc(pods, func(pod corev1.Pod) bool { return strings.HasPrefix(holder, pod.Name+"_") })
		if index < 0 {
			return false, holder
		}
		leader = pods[index]
		return true, ""
	})
	return leader
}

func otherPod(pods []corev1.Pod, pod corev1.Pod) corev1.Pod {
	for _, other := range pods {
		if other.UID != pod.UID {
			return other
		}
	}
	return corev1.Pod{}
}

// assertServed checks that pod resized the MiniCluster in namespace: its
// log says so.
func assertServed(t *testing.T, install installation, pod corev1.Pod, namespace string) {
	t.Helper()
	eventually(t, shortWait, pod.Name+" logging the resize in "+namespace, func() (bool, string) {
		out, err := kubectl("-n", install.namespace, "logs", pod.Name)
		if err != nil {
			return false, out
		}
		for line := range strings.SplitSeq(out, "\n") {
			if strings.Contains(line, "Resized broker job") && strings.Contains(line, namespace) {
				return true, ""
			}
		}
		return false, "no resize in the log"
	})
}

// reconciles reads elasticflux_reconcile_total from a replica.
func reconciles(t *testing.T, url string) float64 {
	t.Helper()
	status, body, err := scrapeMetrics(url, metricsReaderToken)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, body)
	for line := range strings.SplitSeq(body, "\n") {
		if rest, ok := strings.CutPrefix(line, "elasticflux_reconcile_total "); ok {
			var value float64
			_, err := fmt.Sscan(rest, &value)
			require.NoError(t, err)
			return value
		}
	}
	t.Fatalf("no elasticflux_reconcile_total at %s", url)
	return 0
}

func waitForNoPods(t *testing.T, install installation) {
	t.Helper()
	eventually(t, longWait, "the controller's pods to be gone", func() (bool, string) {
		list, err := kubeClient.CoreV1().Pods(install.namespace).List(context.Background(), metav1.ListOptions{LabelSelector: install.selector})
		if err != nil {
			return false, err.Error()
		}
		return len(list.Items) == 0, fmt.Sprintf("%d pods", len(list.Items))
	})
}
