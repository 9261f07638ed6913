// Command bench measures the controller against the local control plane:
// how fast a resize reaches the Job, what each resize and each new
// MiniCluster costs in API writes, how the controller's memory grows with
// the number of MiniClusters, and what it does when idle or restarted.
//
// Writes and latencies come from the API server's audit log (the controller
// runs under its own ServiceAccount, so its requests are told apart
// exactly); reads come from the controller's own client metrics; CPU and
// memory from /proc. hack/bench.sh starts the cluster with the audit log on
// and runs this.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
	clientset "github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned"
)

const (
	namespace      = "bench"
	controllerUser = "system:serviceaccount:elasticflux-system:elasticflux-controller"
	// metricsReaderAccount is the ServiceAccount the benchmark scrapes as.
	metricsReaderAccount = "bench-metrics-reader"
)

type bench struct {
	root          string
	auditLog      string
	admin         *rest.Config
	kube          kubernetes.Interface
	elastic       clientset.Interface
	controller    *controllerProcess
	ctrlConfig    string
	metricsToken  string
	idle, restart time.Duration
	kcmQPS        int
}

func main() {
	root, _ := os.Getwd()
	var (
		kubeconfig = flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "Admin kubeconfig of the local cluster.")
		auditLog   = flag.String("audit-log", "", "The API server's audit log.")
		levels     = flag.String("levels", "1,100,500,1000", "MiniCluster counts to measure at, grown in waves.")
		idle       = flag.Duration("idle", 2*time.Minute, "How long to watch an idle controller.")
		restart    = flag.Duration("restart-window", 2*time.Minute, "How long to watch a restarted controller.")
		write      = flag.String("write", "", "Also write the report to this Markdown file.")
		kcmQPS     = flag.Int("kcm-qps", 20, "kube-controller-manager's --kube-api-qps, for the report.")
	)
	flag.Parse()
	b := &bench{root: root, auditLog: *auditLog, idle: *idle, restart: *restart, kcmQPS: *kcmQPS}
	report, err := b.run(*kubeconfig, *levels)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		if b.controller != nil {
			b.controller.stop()
		}
		os.Exit(1)
	}
	fmt.Print(report)
	if *write != "" {
		if err := os.WriteFile(*write, []byte(report), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

func (b *bench) run(kubeconfig, levelList string) (string, error) {
	ctx := context.Background()
	var err error
	if b.admin, err = clientcmd.BuildConfigFromFlags("", kubeconfig); err != nil {
		return "", err
	}
	b.admin.QPS, b.admin.Burst = 1000, 2000
	b.kube = kubernetes.NewForConfigOrDie(b.admin)
	b.elastic = clientset.NewForConfigOrDie(b.admin)
	if err := b.install(ctx); err != nil {
		return "", fmt.Errorf("installing: %w", err)
	}
	if b.controller, err = b.startController(); err != nil {
		return "", err
	}
	// A closure: measureRestart replaces b.controller, and the replacement
	// must be the one stopped.
	defer func() { b.controller.stop() }()

	var levels []int
	for _, field := range strings.Split(levelList, ",") {
		n, err := strconv.Atoi(field)
		if err != nil {
			return "", fmt.Errorf("level %q: %w", field, err)
		}
		levels = append(levels, n)
	}

	r := &results{machine: machine(), kcmQPS: b.kcmQPS, levels: map[int]levelResult{}}
	created := 0
	for _, level := range levels {
		fmt.Fprintf(os.Stderr, "bench: growing to %d MiniClusters\n", level)
		lr, err := b.grow(ctx, created, level)
		if err != nil {
			return "", err
		}
		created = level
		r.levels[level] = lr
		r.order = append(r.order, level)
	}

	fmt.Fprintf(os.Stderr, "bench: idle for %s\n", b.idle)
	if r.idleWrites, r.idleReads, err = b.measureIdle(ctx); err != nil {
		return "", err
	}
	fmt.Fprintln(os.Stderr, "bench: sequential resizes")
	if r.sequential, r.statusLatency, r.resizeWrites, err = b.sequentialResizes(ctx, "mc-0000", 30); err != nil {
		return "", err
	}
	fmt.Fprintln(os.Stderr, "bench: 20 MiniClusters resized at once")
	if r.concurrent, err = b.concurrentResizes(ctx, 20, 3); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "bench: restart, watching %s\n", b.restart)
	if r.restartWrites, err = b.measureRestart(ctx); err != nil {
		return "", err
	}
	return r.markdown(), nil
}

// install applies the CRD and RBAC and makes the controller's kubeconfig
// from a ServiceAccount token, so its requests carry their own identity.
func (b *bench) install(ctx context.Context) error {
	kubectl := filepath.Join(b.root, "bin", "kubectl")
	for _, args := range [][]string{
		{"create", "namespace", "elasticflux-system"},
		{"create", "namespace", namespace},
		{"apply", "--server-side", "-f", filepath.Join(b.root, "manifests", "crd")},
		{"apply", "-f", filepath.Join(b.root, "manifests", "rbac")},
		{"wait", "--for=condition=Established", "--timeout=120s", "crd/miniclusters.elasticflux.io"},
	} {
		out, err := exec.Command(kubectl, args...).CombinedOutput()
		if err != nil && !strings.Contains(string(out), "AlreadyExists") {
			return fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	controllerToken, err := b.token(ctx, "elasticflux-controller")
	if err != nil {
		return err
	}
	// The benchmark reads /metrics as a scraper would: with a token of an
	// account bound to the metrics-reader role.
	if err := b.bindMetricsReader(ctx); err != nil {
		return err
	}
	if b.metricsToken, err = b.token(ctx, metricsReaderAccount); err != nil {
		return err
	}
	config := clientcmdapi.NewConfig()
	config.Clusters["local"] = &clientcmdapi.Cluster{Server: b.admin.Host, CertificateAuthorityData: b.admin.CAData, CertificateAuthority: b.admin.CAFile}
	config.AuthInfos["controller"] = &clientcmdapi.AuthInfo{Token: controllerToken}
	config.Contexts["default"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "controller"}
	config.CurrentContext = "default"
	dir, err := os.MkdirTemp("", "elasticflux-bench")
	if err != nil {
		return err
	}
	b.ctrlConfig = filepath.Join(dir, "controller.kubeconfig")
	return clientcmd.WriteToFile(*config, b.ctrlConfig)
}

// token asks for a token of a ServiceAccount in elasticflux-system.
func (b *bench) token(ctx context.Context, account string) (string, error) {
	var token *authenticationv1.TokenRequest
	err := poll(ctx, time.Minute, 500*time.Millisecond, func() bool {
		var err error
		token, err = b.kube.CoreV1().ServiceAccounts("elasticflux-system").CreateToken(ctx, account,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](7200)}}, metav1.CreateOptions{})
		return err == nil
	})
	if err != nil {
		return "", fmt.Errorf("requesting a token for %s: %w", account, err)
	}
	return token.Status.Token, nil
}

// bindMetricsReader makes the scraper's ServiceAccount and binds it to the
// elasticflux-metrics-reader ClusterRole from manifests/rbac.
func (b *bench) bindMetricsReader(ctx context.Context) error {
	_, err := b.kube.CoreV1().ServiceAccounts("elasticflux-system").Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: metricsReaderAccount}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the metrics reader: %w", err)
	}
	_, err = b.kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: metricsReaderAccount},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "elasticflux-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "elasticflux-system", Name: metricsReaderAccount}},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("binding the metrics reader: %w", err)
	}
	return nil
}

func (b *bench) startController() (*controllerProcess, error) {
	return startController(filepath.Join(b.root, "bin", "controller"), b.ctrlConfig, b.metricsToken)
}

// benchMiniCluster is the i-th MiniCluster of the scale runs. Its brokers
// go to the kwok nodes (selected, and their taint tolerated): they run no
// containers, so thousands of pods fit.
func benchMiniCluster(i int) *v1alpha1.MiniCluster {
	return &v1alpha1.MiniCluster{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("mc-%04d", i), Namespace: namespace},
		Spec: v1alpha1.MiniClusterSpec{
			Size: ptr.To[int32](2), MinSize: ptr.To[int32](1), MaxSize: ptr.To[int32](8),
			Container: v1alpha1.ContainerSpec{
				Image:     "fluxrm/flux-sched:jammy",
				Resources: v1alpha1.Resources{Requests: map[corev1.ResourceName]resource.Quantity{corev1.ResourceCPU: resource.MustParse("10m")}},
			},
			Pod: &v1alpha1.PodSpec{
				NodeSelector: map[string]string{"type": "kwok"},
				Tolerations: []v1alpha1.Toleration{{
					Key: "kwok.x-k8s.io/node", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule,
				}},
			},
		},
	}
}

// grow creates MiniClusters from..to-1 and waits until every one is steady.
func (b *bench) grow(ctx context.Context, from, to int) (levelResult, error) {
	mark := b.auditOffset()
	start := time.Now()
	jobs := make(chan int)
	errs := make(chan error, to-from)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range jobs {
				if _, err := b.elastic.ElasticfluxV1alpha1().MiniClusters(namespace).Create(ctx, benchMiniCluster(i), metav1.CreateOptions{}); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := from; i < to; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		return levelResult{}, fmt.Errorf("creating MiniClusters: %w", err)
	}

	var steady int
	err := poll(ctx, 15*time.Minute, 250*time.Millisecond, func() bool {
		list, err := b.elastic.ElasticfluxV1alpha1().MiniClusters(namespace).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return false
		}
		steady = 0
		for _, mc := range list.Items {
			if mc.Status.ReadySize == 2 && mc.Status.Size == 2 && meta.IsStatusConditionTrue(mc.Status.Conditions, "Ready") {
				steady++
			}
		}
		return steady == to
	})
	if err != nil {
		return levelResult{}, fmt.Errorf("waiting for %d steady MiniClusters (%d are): %w", to, steady, err)
	}
	elapsed := time.Since(start)
	// Let late status writes land before counting and reading memory.
	b.waitQuiet(ctx)
	writes := b.controllerWrites(mark, nil)
	return levelResult{
		created:     to - from,
		toSteady:    elapsed,
		writes:      writes,
		rssBytes:    b.controller.rss(),
		peakRSS:     b.controller.peakRSS(),
		cpuSeconds:  b.controller.cpuSeconds(),
		objectCount: to,
	}, nil
}

// waitQuiet waits until the controller has made no sync for two seconds.
func (b *bench) waitQuiet(ctx context.Context) {
	last, _ := b.controller.metric("elasticflux_reconcile_total")
	quietSince := time.Now()
	_ = poll(ctx, time.Minute, 250*time.Millisecond, func() bool {
		now, _ := b.controller.metric("elasticflux_reconcile_total")
		if now != last {
			last, quietSince = now, time.Now()
		}
		return time.Since(quietSince) > 2*time.Second
	})
}

func (b *bench) measureIdle(ctx context.Context) (writes int, reads float64, err error) {
	b.waitQuiet(ctx)
	mark := b.auditOffset()
	readsBefore, err := b.controller.metric(`rest_client_get_requests_total{watch="false"}`)
	if err != nil {
		readsBefore = 0 // no read made yet
	}
	time.Sleep(b.idle) // the measurement is what happens in this window
	readsAfter, err := b.controller.metric(`rest_client_get_requests_total{watch="false"}`)
	if err != nil {
		return 0, 0, err
	}
	return len(b.controllerWrites(mark, nil)), readsAfter - readsBefore, nil
}

func (b *bench) setSize(ctx context.Context, name string, size int) error {
	_, err := b.elastic.ElasticfluxV1alpha1().MiniClusters(namespace).Patch(ctx, name, types.MergePatchType,
		fmt.Appendf(nil, `{"spec":{"size":%d}}`, size), metav1.PatchOptions{})
	return err
}

// waitStatusSize waits until the MiniCluster's status shows size brokers.
func (b *bench) waitStatusSize(ctx context.Context, name string, size int32) error {
	return poll(ctx, 2*time.Minute, 10*time.Millisecond, func() bool {
		mc, err := b.elastic.ElasticfluxV1alpha1().MiniClusters(namespace).Get(ctx, name, metav1.GetOptions{})
		return err == nil && mc.Status.Size == size && mc.Status.ReadySize == size
	})
}

// sequentialResizes moves one MiniCluster between 2 and 3 brokers n times,
// each after the last has settled.
func (b *bench) sequentialResizes(ctx context.Context, name string, n int) (resize, status []time.Duration, writes writeCount, err error) {
	mark := b.auditOffset()
	for i := range n {
		size := 3 - i%2
		start := time.Now()
		if err := b.setSize(ctx, name, size); err != nil {
			return nil, nil, writeCount{}, err
		}
		if err := b.waitStatusSize(ctx, name, int32(size)); err != nil {
			return nil, nil, writeCount{}, fmt.Errorf("resize %d of %s: %w", i, name, err)
		}
		status = append(status, time.Since(start))
		b.waitQuiet(ctx)
	}
	events := b.readAudit(mark)
	resize = resizeLatencies(events, []string{name})
	writes = countWrites(events, func(e auditEvent) bool {
		return e.ObjectRef.Name == name || strings.HasPrefix(e.ObjectRef.Name, name+".")
	})
	writes.perResize = float64(n)
	return resize, status, writes, nil
}

// concurrentResizes resizes n MiniClusters at once, rounds times.
func (b *bench) concurrentResizes(ctx context.Context, n, rounds int) ([]time.Duration, error) {
	var names []string
	for i := 1; i <= n; i++ {
		names = append(names, fmt.Sprintf("mc-%04d", i))
	}
	mark := b.auditOffset()
	for round := range rounds {
		size := 3 - round%2
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for _, name := range names {
			wg.Go(func() {
				if err := b.setSize(ctx, name, size); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			return nil, err
		}
		for _, name := range names {
			if err := b.waitStatusSize(ctx, name, int32(size)); err != nil {
				return nil, err
			}
		}
		b.waitQuiet(ctx)
	}
	return resizeLatencies(b.readAudit(mark), names), nil
}

func (b *bench) measureRestart(ctx context.Context) (int, error) {
	b.controller.stop()
	mark := b.auditOffset()
	var err error
	if b.controller, err = b.startController(); err != nil {
		return 0, err
	}
	time.Sleep(b.restart) // the measurement is what happens in this window
	return len(b.controllerWrites(mark, nil)), nil
}

func poll(ctx context.Context, timeout, interval time.Duration, condition func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for !condition() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
	return nil
}

func machine() string {
	host, _ := os.Hostname()
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if name, ok := strings.CutPrefix(line, "model name\t: "); ok {
				cpu = name
				break
			}
		}
	}
	cores := 0
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		cores = strings.Count(string(data), "processor\t:")
	}
	return fmt.Sprintf("%s, %d cores (%s), %s", host, cores, cpu, time.Now().UTC().Format("2006-01-02"))
}
