package controller

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/runtime"
	core "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2/ktesting"
)

// TestRunWaitsForWorkers: Run returns only once the worker holding a
// MiniCluster has finished with it, so whoever holds the leader Lease
// releases it knowing nothing more will be written.
func TestRunWaitsForWorkers(t *testing.T) {
	f := newFixture(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	f.reactors = []reactor{{verb: "create", resource: "secrets", react: func(core.Action) (bool, runtime.Object, error) {
		close(entered)
		<-release
		finished.Store(true)
		return false, nil, nil
	}}}
	mc := newMiniCluster("flux-sample", 2, 8)
	f.miniClusters = append(f.miniClusters, mc)
	_, ctx := ktesting.NewTestContext(t)
	c := f.newController(ctx)

	runCtx, stop := context.WithCancel(ctx)
	returned := make(chan bool)
	go func() {
		assert.NoError(t, c.Run(runCtx, 2, time.Minute))
		returned <- finished.Load()
	}()
	c.workqueue.Add(cache.MetaObjectToName(mc))
	<-entered
	stop()
	select {
	case <-returned:
		t.Fatal("Run returned while a worker was still writing")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	assert.True(t, <-returned, "Run returned after the worker finished")
}

// TestRunFailsWhenCachesDoNotSync: a controller that cannot fill its
// caches fails, rather than hold a leader Lease while doing nothing.
func TestRunFailsWhenCachesDoNotSync(t *testing.T) {
	f := newFixture(t)
	_, ctx := ktesting.NewTestContext(t)
	c := f.newController(ctx)
	c.cachesSynced = append(c.cachesSynced, func() bool { return false })

	err := c.Run(ctx, 1, 100*time.Millisecond)
	assert.ErrorContains(t, err, "the informer caches did not sync within 100ms: check that the controller may list and watch what it manages")
}
