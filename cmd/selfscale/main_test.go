package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	core "k8s.io/client-go/testing"

	"github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned/fake"
)

// scaleServer answers the scale subresource of one MiniCluster, as the API
// server would, and can refuse the first updates with a conflict.
type scaleServer struct {
	replicas  int32
	conflicts int
	updates   []int32
}

func (s *scaleServer) client() *fake.Clientset {
	client := fake.NewSimpleClientset()
	client.PrependReactor("get", "miniclusters", func(action core.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "scale" {
			return false, nil, nil
		}
		return true, &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "mc", Namespace: "ns"}, Spec: autoscalingv1.ScaleSpec{Replicas: s.replicas}}, nil
	})
	client.PrependReactor("update", "miniclusters", func(action core.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "scale" {
			return false, nil, nil
		}
		scale := action.(core.UpdateAction).GetObject().(*autoscalingv1.Scale)
		s.updates = append(s.updates, scale.Spec.Replicas)
		if s.conflicts > 0 {
			s.conflicts--
			s.replicas++ // someone else resized meanwhile
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "elasticflux.io", Resource: "miniclusters"}, "mc", nil)
		}
		s.replicas = scale.Spec.Replicas
		return true, scale, nil
	})
	return client
}

func TestSelfscale(t *testing.T) {
	cases := map[string]struct {
		args      []string
		start     int32
		conflicts int
		want      int32
		wantOut   string
		wantErr   string
	}{
		"get":                {args: []string{"get"}, start: 3, want: 3, wantOut: "3\n"},
		"set":                {args: []string{"set", "5"}, start: 3, want: 5, wantOut: "5\n"},
		"add":                {args: []string{"add", "2"}, start: 3, want: 5, wantOut: "5\n"},
		"remove":             {args: []string{"remove", "1"}, start: 3, want: 2, wantOut: "2\n"},
		"add after conflict": {args: []string{"add", "1"}, start: 3, conflicts: 1, want: 5, wantOut: "5\n"},
		"bad number":         {args: []string{"set", "x"}, start: 3, want: 3, wantErr: `"x" is not a whole number`},
		"unknown command":    {args: []string{"grow", "1"}, start: 3, want: 3, wantErr: `unknown command "grow"`},
		"no command":         {args: nil, start: 3, want: 3, wantErr: "usage: selfscale"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			server := &scaleServer{replicas: tc.start, conflicts: tc.conflicts}
			var out bytes.Buffer
			args := append([]string{"--name=mc", "--namespace=ns"}, tc.args...)
			err := run(context.Background(), args, &out, server.client())
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tc.wantOut, out.String())
			}
			assert.Equal(t, tc.want, server.replicas)
		})
	}
}

func TestSelfscaleNeedsAMiniCluster(t *testing.T) {
	t.Setenv("ELASTICFLUX_MINICLUSTER", "")
	t.Setenv("ELASTICFLUX_NAMESPACE", "")
	err := run(context.Background(), []string{"get"}, &bytes.Buffer{}, (&scaleServer{}).client())
	require.ErrorContains(t, err, "no MiniCluster")
}
