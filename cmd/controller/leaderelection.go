package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

// The Lease timings of Kubernetes' own controller managers: a standby takes
// over at most 15 s after a leader dies without releasing the Lease.
const (
	leaseDuration = 15 * time.Second
	renewDeadline = 10 * time.Second
	retryPeriod   = 2 * time.Second
)

// defaultLeaseNamespace holds the Lease when neither a flag nor the pod's
// service account names a namespace; it is where manifests/ installs the
// controller.
const defaultLeaseNamespace = "elasticflux-system"

// serviceAccountNamespaceFile is where Kubernetes tells a pod its namespace.
const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// errLostLease ends a leader that lost its Lease while still asked to run.
// The process exits rather than campaign again, so that a new term starts
// from fresh caches and a fresh workqueue.
var errLostLease = errors.New("lost the leader lease")

// leaderElection is how one process takes part in the election.
type leaderElection struct {
	client    kubernetes.Interface
	namespace string
	name      string
	identity  string
	// timings are leaseDuration, renewDeadline and retryPeriod; tests
	// shorten them.
	leaseDuration, renewDeadline, retryPeriod time.Duration
}

// newLeaderElection reads where the Lease lives from opts, and names this
// process after its host (the pod name, in a cluster) plus a random suffix,
// so a restarted pod never mistakes its predecessor's Lease for its own.
func newLeaderElection(opts options, client kubernetes.Interface) (*leaderElection, error) {
	hostname, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("reading the hostname for the leader identity: %w", err)
	}
	return &leaderElection{
		client:        client,
		namespace:     leaseNamespace(opts, serviceAccountNamespaceFile),
		name:          opts.leaderElectID,
		identity:      hostname + "_" + string(uuid.NewUUID()),
		leaseDuration: leaseDuration,
		renewDeadline: renewDeadline,
		retryPeriod:   retryPeriod,
	}, nil
}

// leaseNamespace is --leader-elect-namespace, else the namespace of the
// pod the controller runs in, else the watched namespace, else
// defaultLeaseNamespace.
func leaseNamespace(opts options, namespaceFile string) string {
	if opts.leaderElectNamespace != "" {
		return opts.leaderElectNamespace
	}
	if data, err := os.ReadFile(namespaceFile); err == nil {
		if namespace := strings.TrimSpace(string(data)); namespace != "" {
			return namespace
		}
	}
	if opts.namespace != "" {
		return opts.namespace
	}
	return defaultLeaseNamespace
}

// run campaigns for the Lease and runs work while holding it. It returns
// when ctx is done (after work has stopped and the Lease is released), with
// errLostLease when the Lease is lost, or with work's error (the Lease is
// released then too).
//
// On shutdown the order matters. The elector releases the Lease as soon as
// its context ends (ReleaseOnCancel), and a standby may start the moment it
// sees the Lease free; if work were still syncing, two controllers would
// write at once. So the elector runs on a context of its own that is
// cancelled only after work has returned, and work stops on ctx directly.
func (le *leaderElection) run(ctx context.Context, ready *readiness, work func(context.Context) error) error {
	logger := klog.LoggerWithValues(klog.FromContext(ctx), "lease", klog.KRef(le.namespace, le.name), "identity", le.identity)
	ctx = klog.NewContext(ctx, logger)

	electorCtx, cancelElector := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelElector()
	var (
		leading  atomic.Bool
		workDone = make(chan struct{})
		workErr  error
	)
	waitForWork := func() {
		if leading.Load() {
			<-workDone
		}
	}

	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: le.namespace, Name: le.name},
			Client:     le.client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: le.identity},
		},
		Name:            le.name,
		LeaseDuration:   le.leaseDuration,
		RenewDeadline:   le.renewDeadline,
		RetryPeriod:     le.retryPeriod,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(leaderCtx context.Context) {
				// leading is set before anything can be done under the
				// Lease, so waitForWork never misses running work.
				leading.Store(true)
				// Once work has returned, for whatever reason, nothing runs
				// under the Lease any more: release it.
				defer cancelElector()
				defer close(workDone)
				logger.Info("Became the leader")
				// Stop on a lost Lease (leaderCtx) and on shutdown (ctx).
				workCtx, cancelWork := context.WithCancel(leaderCtx)
				defer cancelWork()
				defer context.AfterFunc(ctx, cancelWork)()
				workErr = work(workCtx)
			},
			OnStoppedLeading: func() {
				if leading.Load() {
					logger.Info("Stopped leading")
				}
			},
			OnNewLeader: func(leader string) {
				if leader != le.identity {
					logger.Info("Another replica leads; standing by", "leader", leader)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("setting up leader election: %w", err)
	}

	// A standby serves nothing, so it is ready: a rolling update can go
	// ahead while the old leader still holds the Lease. work reports its
	// own readiness once it leads.
	ready.ready()
	stopElector := context.AfterFunc(ctx, func() {
		waitForWork()
		cancelElector()
	})
	defer stopElector()

	logger.Info("Campaigning for the leader lease")
	elector.Run(electorCtx)
	waitForWork()
	switch {
	case workErr != nil:
		return workErr
	case ctx.Err() == nil:
		return errLostLease
	}
	return nil
}
