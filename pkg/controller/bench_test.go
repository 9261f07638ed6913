package controller

import (
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2/ktesting"
)

func BenchmarkNewJob(b *testing.B) {
	mc := newMiniCluster("flux-sample", 2, 8)
	b.ReportAllocs()
	for b.Loop() {
		_ = newJob(mc)
	}
}

func BenchmarkNewConfigMap(b *testing.B) {
	mc := newMiniCluster("flux-sample", 2, 8)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := newConfigMap(mc, "cluster.local"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkComputeStatus(b *testing.B) {
	mc := newMiniCluster("flux-sample", 2, 8)
	job := newJob(mc)
	job.Status.Active = 2
	b.ReportAllocs()
	for b.Loop() {
		computeStatus(mc.DeepCopy(), job)
	}
}

// BenchmarkSyncSteadyState is the cost of a resync that finds nothing to
// do: what the controller pays per MiniCluster on a restart or resync.
func BenchmarkSyncSteadyState(b *testing.B) {
	f := newFixture(b)
	mc := newMiniCluster("flux-sample", 2, 8)
	f.kubeObjects = steadyChildren(b, mc, 2)
	f.miniClusters = append(f.miniClusters, withStatus(mc, steadyJob(f.kubeObjects)))
	_, ctx := ktesting.NewTestContext(b)
	c := f.newController(ctx)
	key := cache.MetaObjectToName(mc)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.syncHandler(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
	require.Empty(b, f.kubeWrites())
	require.Empty(b, f.elasticWrites())
}
