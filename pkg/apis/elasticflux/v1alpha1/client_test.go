package v1alpha1_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
	"github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned/fake"
)

func TestFakeClientsetRoundTrip(t *testing.T) {
	ctx := context.Background()
	// NewSimpleClientset: the field-managed tracker of NewClientset needs an
	// OpenAPI model of our types, which the CRD already serves in a cluster.
	client := fake.NewSimpleClientset()
	mc := &v1alpha1.MiniCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "flux-sample", Namespace: "default"},
		Spec: v1alpha1.MiniClusterSpec{
			Size:      ptr.To[int32](2),
			MaxSize:   ptr.To[int32](8),
			Container: v1alpha1.ContainerSpec{Image: "ghcr.io/flux-framework/flux-restful-api:latest"},
		},
	}
	_, err := client.ElasticfluxV1alpha1().MiniClusters("default").Create(ctx, mc, metav1.CreateOptions{})
	require.NoError(t, err)

	got, err := client.ElasticfluxV1alpha1().MiniClusters("default").Get(ctx, "flux-sample", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, mc.Spec, got.Spec)

	list, err := client.ElasticfluxV1alpha1().MiniClusters("").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, list.Items, 1)
}

// TestScaleMethodsExist pins the typed scale methods other Go programs use.
// The fake tracker has no scale subresource, so the calls go to its reactor
// chain: we assert the client issues the right subresource actions.
func TestScaleMethodsIssueSubresourceActions(t *testing.T) {
	ctx := context.Background()
	client := fake.NewSimpleClientset()
	mcs := client.ElasticfluxV1alpha1().MiniClusters("default")

	// No MiniCluster exists, so the tracker answers NotFound: the calls went
	// to miniclusters, under the name given.
	_, err := mcs.GetScale(ctx, "flux-sample", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "GetScale: want NotFound, got %v", err)
	_, err = mcs.UpdateScale(ctx, "flux-sample", &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: "flux-sample", Namespace: "default"},
		Spec:       autoscalingv1.ScaleSpec{Replicas: 4},
	}, metav1.UpdateOptions{})
	assert.True(t, apierrors.IsNotFound(err), "UpdateScale: want NotFound, got %v", err)

	actions := client.Actions()
	require.Len(t, actions, 2)
	for i, verb := range []string{"get", "update"} {
		assert.Equal(t, verb, actions[i].GetVerb())
		assert.Equal(t, "miniclusters", actions[i].GetResource().Resource)
		assert.Equal(t, "scale", actions[i].GetSubresource())
		assert.Equal(t, "default", actions[i].GetNamespace())
	}
	assert.Equal(t, "flux-sample", actions[0].(clienttesting.GetAction).GetName())
	assert.Equal(t, int32(4), actions[1].(clienttesting.UpdateAction).GetObject().(*autoscalingv1.Scale).Spec.Replicas)
}

func TestDerivedSizes(t *testing.T) {
	cases := map[string]struct {
		spec              v1alpha1.MiniClusterSpec
		statusMax         int32
		wantSize, wantMin int32
		wantMax           int32
		wantSelfScaling   bool
	}{
		"defaults": {wantSize: 1, wantMin: 1, wantMax: 1},
		"elastic": {
			spec:     v1alpha1.MiniClusterSpec{Size: ptr.To[int32](2), MinSize: ptr.To[int32](2), MaxSize: ptr.To[int32](8)},
			wantSize: 2, wantMin: 2, wantMax: 8,
		},
		"fixed size keeps the ceiling recorded at creation": {
			spec:      v1alpha1.MiniClusterSpec{Size: ptr.To[int32](3)},
			statusMax: 4,
			wantSize:  3, wantMin: 1, wantMax: 4,
		},
		"self-scaling": {
			spec:     v1alpha1.MiniClusterSpec{Elasticity: &v1alpha1.ElasticitySpec{SelfScaling: ptr.To(true)}},
			wantSize: 1, wantMin: 1, wantMax: 1, wantSelfScaling: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			mc := &v1alpha1.MiniCluster{Spec: tc.spec, Status: v1alpha1.MiniClusterStatus{MaxSize: tc.statusMax}}
			assert.Equal(t, tc.wantSize, mc.DesiredSize())
			assert.Equal(t, tc.wantMin, mc.MinimumSize())
			assert.Equal(t, tc.wantMax, mc.MaximumSize())
			assert.Equal(t, tc.wantSelfScaling, mc.SelfScaling())
		})
	}
}
