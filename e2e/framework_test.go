//go:build e2e

// Package e2e proves elasticflux against a real control plane: etcd,
// kube-apiserver, kube-controller-manager (Job, HPA and garbage collector
// controllers), kube-scheduler, kwok nodes and metrics-server, started by
// hack/cluster-up.sh. Each test gets its own namespace and its own
// controller process watching only that namespace, so tests can run in
// parallel and kill their controller without disturbing each other.
package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
	clientset "github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned"
)

const (
	controllerNamespace = "elasticflux-system"
	controllerAccount   = "elasticflux-controller"
	// The scraper's identity and the role manifests/rbac ships for it.
	metricsReaderAccount = "e2e-metrics-reader"
	metricsReaderRole    = "elasticflux-metrics-reader"
	// Generous deadlines: the machine is small and shared.
	shortWait = 2 * time.Minute
	longWait  = 6 * time.Minute
)

var (
	repoRoot      string
	adminConfig   *rest.Config
	kubeClient    kubernetes.Interface
	elasticClient clientset.Interface
	// controllerKubeconfig authenticates as the controller's ServiceAccount,
	// so every test also proves the RBAC in manifests/rbac is enough.
	controllerKubeconfig string
	// metricsReaderToken is a token of a ServiceAccount bound to the
	// elasticflux-metrics-reader ClusterRole; the tests scrape /metrics
	// with it, as Prometheus would.
	metricsReaderToken string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	_, here, _, _ := runtime.Caller(0)
	repoRoot = filepath.Dir(filepath.Dir(here))
	kubeconfig := os.Getenv("KUBECONFIG")
	if kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "e2e: KUBECONFIG is not set; run `make e2e`, which starts the local control plane")
		return 1
	}
	var err error
	adminConfig, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: reading kubeconfig:", err)
		return 1
	}
	adminConfig.QPS, adminConfig.Burst = 50, 100
	kubeClient = kubernetes.NewForConfigOrDie(adminConfig)
	elasticClient = clientset.NewForConfigOrDie(adminConfig)

	if err := install(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: installing:", err)
		return 1
	}
	return m.Run()
}

// install applies the CRD and the controller's RBAC from manifests/, the
// same files users apply, and writes a kubeconfig for the controller's
// ServiceAccount.
func install() error {
	for _, args := range [][]string{
		{"create", "namespace", controllerNamespace},
		{"apply", "--server-side", "-f", filepath.Join(repoRoot, "manifests", "crd")},
		{"apply", "-f", filepath.Join(repoRoot, "manifests", "rbac")},
		{"wait", "--for=condition=Established", "--timeout=120s", "crd/miniclusters.elasticflux.io"},
	} {
		out, err := kubectl(args...)
		if err != nil && !strings.Contains(out, "AlreadyExists") {
			return fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	dir, err := os.MkdirTemp("", "elasticflux-e2e")
	if err != nil {
		return err
	}
	controllerKubeconfig = filepath.Join(dir, "controller.kubeconfig")
	if err := writeServiceAccountKubeconfig(context.Background(), controllerNamespace, controllerAccount, controllerKubeconfig); err != nil {
		return err
	}
	metricsReaderToken, err = serviceAccountToken(context.Background(), controllerNamespace, metricsReaderAccount, metricsReaderRole)
	return err
}

// serviceAccountToken makes a ServiceAccount, binds it to clusterRole
// unless that is empty, and returns a token of it (TokenRequest).
func serviceAccountToken(ctx context.Context, namespace, account, clusterRole string) (string, error) {
	_, err := kubeClient.CoreV1().ServiceAccounts(namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: account}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("creating ServiceAccount %s/%s: %w", namespace, account, err)
	}
	if clusterRole != "" {
		_, err = kubeClient.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: namespace + "-" + account},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: account}},
		}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("binding %s/%s to %s: %w", namespace, account, clusterRole, err)
		}
	}
	var token *authenticationv1.TokenRequest
	err = poll(ctx, shortWait, func() (bool, error) {
		token, err = kubeClient.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, account, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](4 * 3600)},
		}, metav1.CreateOptions{})
		return err == nil, nil
	})
	if err != nil {
		return "", fmt.Errorf("requesting a token for %s/%s: %w", namespace, account, err)
	}
	return token.Status.Token, nil
}

// writeServiceAccountKubeconfig asks the API server for a token of the
// account (TokenRequest) and writes a kubeconfig that uses it.
func writeServiceAccountKubeconfig(ctx context.Context, namespace, account, path string) error {
	var token *authenticationv1.TokenRequest
	err := poll(ctx, shortWait, func() (bool, error) {
		var err error
		token, err = kubeClient.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, account, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](4 * 3600)},
		}, metav1.CreateOptions{})
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("requesting a token for %s/%s: %w", namespace, account, err)
	}
	config := clientcmdapi.NewConfig()
	config.Clusters["local"] = &clientcmdapi.Cluster{
		Server:                   adminConfig.Host,
		CertificateAuthorityData: adminConfig.CAData,
		CertificateAuthority:     adminConfig.CAFile,
		InsecureSkipTLSVerify:    adminConfig.Insecure,
	}
	config.AuthInfos[account] = &clientcmdapi.AuthInfo{Token: token.Status.Token}
	config.Contexts["default"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: account, Namespace: namespace}
	config.CurrentContext = "default"
	return clientcmd.WriteToFile(*config, path)
}

// kubectl runs the repo's kubectl against the test cluster and returns its
// combined output.
func kubectl(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(repoRoot, "bin", "kubectl"), args...)
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// poll calls condition every half second until it is true, returns an
// error, or timeout passes.
func poll(ctx context.Context, timeout time.Duration, condition func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ticker := time.NewTicker(500 * time.Millisecond)
	defer ticker.Stop()
	for {
		done, err := condition()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// eventually fails the test unless condition holds within timeout; the
// last description condition gave says what was seen instead.
func eventually(t *testing.T, timeout time.Duration, what string, condition func() (bool, string)) {
	t.Helper()
	var last string
	err := poll(context.Background(), timeout, func() (bool, error) {
		ok, seen := condition()
		last = seen
		return ok, nil
	})
	require.NoError(t, err, "waiting for %s; last seen: %s", what, last)
}

// newNamespace makes a namespace for one test and deletes it afterwards.
func newNamespace(t *testing.T) string {
	t.Helper()
	name := "e2e-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.TrimRight(name, "-") + "-" + rand.String(5)
	_, err := kubeClient.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	require.NoError(t, err)
	// The namespace controller runs the default ServiceAccount in; wait so
	// pods are admitted.
	eventually(t, shortWait, "the default ServiceAccount", func() (bool, string) {
		_, err := kubeClient.CoreV1().ServiceAccounts(name).Get(context.Background(), "default", metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	t.Cleanup(func() {
		_ = kubeClient.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// controllerProcess is one running controller binary.
type controllerProcess struct {
	t           *testing.T
	cmd         *exec.Cmd
	metricsAddr string
	log         *lockedBuffer
	done        chan struct{}
}

// startController runs the controller as its own ServiceAccount, watching
// only namespace.
func startController(t *testing.T, namespace string, extraArgs ...string) *controllerProcess {
	t.Helper()
	metricsAddr := freeAddress(t)
	args := append([]string{
		"--kubeconfig=" + controllerKubeconfig,
		"--namespace=" + namespace,
		"--metrics-bind-address=" + metricsAddr,
		"--health-probe-bind-address=" + freeAddress(t),
		"--leader-elect=false",
		"--v=2",
	}, extraArgs...)
	cmd := exec.Command(filepath.Join(repoRoot, "bin", "controller"), args...)
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	require.NoError(t, cmd.Start())
	p := &controllerProcess{t: t, cmd: cmd, metricsAddr: metricsAddr, log: log, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("controller log (%s):\n%s", namespace, log.String())
		}
	})
	return p
}

// stop asks the controller to shut down, as Kubernetes would.
func (p *controllerProcess) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the controller at once, mid-work.
func (p *controllerProcess) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// syncs scrapes the controller's count of MiniCluster syncs.
func (p *controllerProcess) syncs() (float64, error) {
	return p.metric("elasticflux_reconcile_total")
}

// metric scrapes one unlabelled metric of the controller, with a token
// allowed to read /metrics.
func (p *controllerProcess) metric(name string) (float64, error) {
	status, body, err := scrapeMetrics("https://"+p.metricsAddr+"/metrics", metricsReaderToken)
	if err != nil {
		return 0, err
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("/metrics answered %d: %s", status, body)
	}
	for line := range strings.SplitSeq(body, "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			var value float64
			_, err := fmt.Sscan(rest, &value)
			return value, err
		}
	}
	return 0, fmt.Errorf("no %s in /metrics", name)
}

// metricsClient skips certificate verification: the controller serves a
// self-signed certificate made in memory when given none, and what these
// tests prove is who may read, not whom to trust.
var metricsClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // see above
}

// scrapeMetrics GETs url with the bearer token (none when empty) and
// returns the status code and body.
func scrapeMetrics(url, token string) (int, string, error) {
	request, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		request.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := metricsClient.Do(request)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func freeAddress(t *testing.T) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = listener.Close() }()
	return listener.Addr().String()
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// kwokNodeSelector and kwokToleration put a pod on the kwok nodes, which
// run no containers and are tainted so that nothing else lands there.
var (
	kwokNodeSelector = map[string]string{"type": "kwok"}
	kwokToleration   = corev1.Toleration{Key: "kwok.x-k8s.io/node", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}
)

// miniCluster is an interactive MiniCluster the tests start from. Its
// brokers run on the kwok nodes.
func miniCluster(name string, size, minSize, maxSize int32) *v1alpha1.MiniCluster {
	return &v1alpha1.MiniCluster{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.MiniClusterSpec{
			Size:    ptr.To(size),
			MinSize: ptr.To(minSize),
			MaxSize: ptr.To(maxSize),
			Container: v1alpha1.ContainerSpec{
				Image:     "fluxrm/flux-sched:jammy",
				Resources: v1alpha1.Resources{Requests: map[corev1.ResourceName]resource.Quantity{corev1.ResourceCPU: resource.MustParse("500m")}},
			},
			Pod: &v1alpha1.PodSpec{
				NodeSelector: kwokNodeSelector,
				Tolerations: []v1alpha1.Toleration{{
					Key: kwokToleration.Key, Operator: kwokToleration.Operator, Effect: kwokToleration.Effect,
				}},
			},
		},
	}
}

func createMiniCluster(t *testing.T, namespace string, mc *v1alpha1.MiniCluster) *v1alpha1.MiniCluster {
	t.Helper()
	created, err := elasticClient.ElasticfluxV1alpha1().MiniClusters(namespace).Create(context.Background(), mc, metav1.CreateOptions{})
	require.NoError(t, err)
	return created
}

func getMiniCluster(t *testing.T, namespace, name string) *v1alpha1.MiniCluster {
	t.Helper()
	mc, err := elasticClient.ElasticfluxV1alpha1().MiniClusters(namespace).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return mc
}

// brokerPods lists the running, not terminating, pods matching the
// MiniCluster's broker selector, by completion index.
func brokerPods(namespace, name string) (map[string]corev1.Pod, error) {
	pods, err := kubeClient.CoreV1().Pods(namespace).List(context.Background(), metav1.ListOptions{
		LabelSelector: v1alpha1.LabelMiniCluster + "=" + name,
	})
	if err != nil {
		return nil, err
	}
	byIndex := map[string]corev1.Pod{}
	for _, pod := range pods.Items {
		if pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning {
			continue
		}
		index := pod.Labels["batch.kubernetes.io/job-completion-index"]
		if _, dup := byIndex[index]; dup {
			return nil, fmt.Errorf("two running pods with index %s", index)
		}
		byIndex[index] = pod
	}
	return byIndex, nil
}

// waitForBrokers waits until exactly the indexes 0..size-1 run, the Job asks
// for size, and the MiniCluster's status reports size brokers, all ready.
func waitForBrokers(t *testing.T, namespace, name string, size int) map[string]corev1.Pod {
	t.Helper()
	var pods map[string]corev1.Pod
	eventually(t, longWait, fmt.Sprintf("%d running brokers of %s/%s", size, namespace, name), func() (bool, string) {
		var err error
		pods, err = brokerPods(namespace, name)
		if err != nil {
			return false, err.Error()
		}
		var indexes []string
		for i := range size {
			if _, ok := pods[fmt.Sprint(i)]; !ok {
				return false, fmt.Sprintf("index %d missing; running %d pods", i, len(pods))
			}
			indexes = append(indexes, fmt.Sprint(i))
		}
		if len(pods) != size {
			return false, fmt.Sprintf("%d running pods, want %d", len(pods), size)
		}
		mc, err := elasticClient.ElasticfluxV1alpha1().MiniClusters(namespace).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		s := mc.Status
		if s.Size != int32(size) || s.ReadySize != int32(size) || s.ObservedGeneration != mc.Generation {
			return false, fmt.Sprintf("status size=%d ready=%d observedGeneration=%d generation=%d", s.Size, s.ReadySize, s.ObservedGeneration, mc.Generation)
		}
		return true, ""
	})
	return pods
}

// jobSize reads the Job's parallelism and completions.
func jobSize(t *testing.T, namespace, name string) (int32, int32) {
	t.Helper()
	job, err := kubeClient.BatchV1().Jobs(namespace).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return ptr.Deref(job.Spec.Parallelism, -1), ptr.Deref(job.Spec.Completions, -1)
}

// eventsFor lists the reason and message of the events about a MiniCluster.
func eventsFor(namespace, name string) ([]string, error) {
	events, err := kubeClient.CoreV1().Events(namespace).List(context.Background(), metav1.ListOptions{
		FieldSelector: "involvedObject.kind=MiniCluster,involvedObject.name=" + name,
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range events.Items {
		out = append(out, e.Type+" "+e.Reason+" "+e.Message)
	}
	return out, nil
}

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }
