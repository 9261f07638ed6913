package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2/ktesting"
	"k8s.io/utils/ptr"
)

// newLeaseClient is a fake clientset whose Lease updates check the
// resourceVersion as the API server does; leader election relies on that
// to notice that another replica took the Lease.
func newLeaseClient() *fake.Clientset {
	client := fake.NewClientset()
	var version int
	client.PrependReactor("*", "leases", func(action clienttesting.Action) (bool, runtime.Object, error) {
		var lease *coordinationv1.Lease
		switch action.GetVerb() {
		case "create":
			lease = action.(clienttesting.CreateAction).GetObject().(*coordinationv1.Lease)
		case "update":
			lease = action.(clienttesting.UpdateAction).GetObject().(*coordinationv1.Lease)
			stored, err := client.Tracker().Get(action.GetResource(), lease.Namespace, lease.Name)
			if err != nil {
				return true, nil, err
			}
			if stored.(*coordinationv1.Lease).ResourceVersion != lease.ResourceVersion {
				return true, nil, apierrors.NewConflict(action.GetResource().GroupResource(), lease.Name, errors.New("the object has been modified"))
			}
		default:
			return false, nil, nil
		}
		version++
		lease = lease.DeepCopy()
		lease.ResourceVersion = strconv.Itoa(version)
		var err error
		if action.GetVerb() == "create" {
			err = client.Tracker().Create(action.GetResource(), lease, lease.Namespace)
		} else {
			err = client.Tracker().Update(action.GetResource(), lease, lease.Namespace)
		}
		return true, lease, err
	})
	return client
}

// testElection is a leader election on a fake clientset, with timings
// short enough for a test.
func testElection(client *fake.Clientset) *leaderElection {
	return &leaderElection{
		client: client, namespace: "elasticflux-system", name: "elasticflux-controller", identity: "me",
		leaseDuration: time.Second, renewDeadline: 500 * time.Millisecond, retryPeriod: 100 * time.Millisecond,
	}
}

// holder is who holds the Lease, "" when nobody does.
func holder(t *testing.T, client *fake.Clientset) string {
	t.Helper()
	lease, err := client.CoordinationV1().Leases("elasticflux-system").Get(context.Background(), "elasticflux-controller", metav1.GetOptions{})
	require.NoError(t, err)
	return ptr.Deref(lease.Spec.HolderIdentity, "")
}

// leaseWrites counts the writes to the Lease so far.
func leaseWrites(client *fake.Clientset) int {
	n := 0
	for _, a := range client.Actions() {
		if a.GetResource().Resource == "leases" && (a.GetVerb() == "update" || a.GetVerb() == "create") {
			n++
		}
	}
	return n
}

// runElection runs le.run in the background and returns its outcome.
func runElection(ctx context.Context, le *leaderElection, work func(context.Context) error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- le.run(ctx, newReadiness("test"), work) }()
	return done
}

// outcome waits for run to return, failing the test if it does not.
func outcome(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the process went on after its work had stopped")
		return nil
	}
}

// TestLeaderElectionWorkFails: a leader whose controller fails stops
// renewing, releases the Lease and returns the error, so the process exits
// non-zero and a standby takes over at once.
func TestLeaderElectionWorkFails(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	client := newLeaseClient()
	failure := errors.New("the informer caches did not sync")
	done := runElection(ctx, testElection(client), func(context.Context) error { return failure })

	require.ErrorIs(t, outcome(t, done), failure)
	assert.Empty(t, holder(t, client), "the Lease is released")
	writes := leaseWrites(client)
	time.Sleep(3 * 100 * time.Millisecond) // three retry periods: a renewing elector would write
	assert.Equal(t, writes, leaseWrites(client), "nothing renews the Lease any more")
}

// TestLeaderElectionReleasesAfterWork: on shutdown the Lease is released
// only after the work has returned, so a standby never acts while this
// process still writes.
func TestLeaderElectionReleasesAfterWork(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	ctx, shutdown := context.WithCancel(ctx)
	client := newLeaseClient()
	started, finishing := make(chan struct{}), make(chan struct{})
	var heldWhileFinishing string
	done := runElection(ctx, testElection(client), func(workCtx context.Context) error {
		close(started)
		<-workCtx.Done()
		// Workers finishing their last MiniCluster after the shutdown.
		<-finishing
		heldWhileFinishing = holder(t, client)
		return nil
	})
	<-started
	shutdown()
	time.Sleep(300 * time.Millisecond) // a release racing the work would happen here
	close(finishing)

	require.NoError(t, outcome(t, done))
	assert.Equal(t, "me", heldWhileFinishing, "the Lease was held until the work returned")
	assert.Empty(t, holder(t, client), "then released")
}

// TestLeaderElectionLostLease: a leader that loses its Lease stops its
// work and exits non-zero, rather than campaign again with stale caches.
func TestLeaderElectionLostLease(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	client := newLeaseClient()
	started := make(chan struct{})
	workStopped := make(chan struct{})
	done := runElection(ctx, testElection(client), func(workCtx context.Context) error {
		close(started)
		<-workCtx.Done()
		close(workStopped)
		return nil
	})
	<-started
	// Another replica takes the Lease over, e.g. after this one stalled.
	lease, err := client.CoordinationV1().Leases("elasticflux-system").Get(ctx, "elasticflux-controller", metav1.GetOptions{})
	require.NoError(t, err)
	lease.Spec.HolderIdentity = ptr.To("other")
	lease.Spec.RenewTime = &metav1.MicroTime{Time: time.Now().Add(time.Hour)}
	_, err = client.CoordinationV1().Leases("elasticflux-system").Update(ctx, lease, metav1.UpdateOptions{})
	require.NoError(t, err)

	require.ErrorIs(t, outcome(t, done), errLostLease)
	<-workStopped
	assert.Equal(t, "other", holder(t, client), "the new leader's Lease is left alone")
}

// TestRunWithoutLeaderElectionFails: without leader election a failed
// controller ends the process non-zero too.
func TestRunWithoutLeaderElectionFails(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: nowhere, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: nobody, user: {token: x}}]
contexts: [{name: nowhere, context: {cluster: nowhere, user: nobody}}]
current-context: nowhere
`), 0o600))
	var stdout, stderr bytes.Buffer
	code := runMain([]string{
		"--kubeconfig=" + kubeconfig, "--leader-elect=false", "--cache-sync-timeout=1s",
		"--metrics-bind-address=0", "--health-probe-bind-address=0",
	}, strings.NewReader(""), &stdout, &stderr)
	assert.Equal(t, exitFailure, code, "a failure, not a usage error")
}
