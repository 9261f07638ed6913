package main

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	core "k8s.io/client-go/testing"

	clientset "github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned"
	"github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned/fake"
	"github.com/elasticflux/elasticflux/pkg/version"
)

var miniClusters = schema.GroupResource{Group: "elasticflux.io", Resource: "miniclusters"}

// sizeOutOfRange is the CEL rule's message, as the API server sends it.
const sizeOutOfRange = "spec.size must be between spec.minSize and spec.maxSize"

// scaleServer plays the API server for the scale subresource of one
// MiniCluster, ns/mc: it keeps the size, checks it against [1, maxSize] as
// admission would, and can refuse updates with a conflict (after which
// someone else has resized) or refuse everything as Forbidden.
type scaleServer struct {
	size      int32
	maxSize   int32
	conflicts int
	forbidden bool

	gets    int
	updates []int32
}

func (s *scaleServer) client() *fake.Clientset {
	client := fake.NewClientset()
	client.PrependReactor("get", "miniclusters", func(action core.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "scale" {
			return false, nil, nil
		}
		if err := s.check(action); err != nil {
			return true, nil, err
		}
		s.gets++
		return true, &autoscalingv1.Scale{
			ObjectMeta: metav1.ObjectMeta{Name: "mc", Namespace: "ns", ResourceVersion: "1"},
			Spec:       autoscalingv1.ScaleSpec{Replicas: s.size},
		}, nil
	})
	client.PrependReactor("update", "miniclusters", func(action core.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "scale" {
			return false, nil, nil
		}
		if err := s.check(action); err != nil {
			return true, nil, err
		}
		scale := action.(core.UpdateAction).GetObject().(*autoscalingv1.Scale)
		s.updates = append(s.updates, scale.Spec.Replicas)
		if s.conflicts > 0 {
			s.conflicts--
			s.size++ // someone else grew the cluster meanwhile
			return true, nil, apierrors.NewConflict(miniClusters, "mc", errors.New("the object has been modified"))
		}
		if scale.Spec.Replicas < 1 || scale.Spec.Replicas > s.maxSize {
			return true, nil, apierrors.NewInvalid(schema.GroupKind{Group: "elasticflux.io", Kind: "MiniCluster"}, "mc", field.ErrorList{
				field.Invalid(field.NewPath("spec"), scale.Spec.Replicas, sizeOutOfRange),
			})
		}
		s.size = scale.Spec.Replicas
		return true, scale, nil
	})
	return client
}

// check refuses what the self-scaling Role would: another MiniCluster, or
// anything at all when forbidden.
func (s *scaleServer) check(action core.Action) error {
	name := ""
	switch a := action.(type) {
	case core.GetAction:
		name = a.GetName()
	case core.UpdateAction:
		name = a.GetObject().(*autoscalingv1.Scale).Name
	}
	if s.forbidden || action.GetNamespace() != "ns" || name != "mc" {
		return apierrors.NewForbidden(schema.GroupResource{Group: "elasticflux.io", Resource: "miniclusters/scale"}, name,
			errors.New(`User "system:serviceaccount:ns:other" cannot update resource "miniclusters/scale"`))
	}
	return nil
}

// clientFor hands out the fake, as newClient would a real clientset.
func clientFor(client clientset.Interface) newClientFunc {
	return func(string) (clientset.Interface, error) { return client, nil }
}

func TestSelfscale(t *testing.T) {
	cases := map[string]struct {
		args      []string
		size      int32
		conflicts int
		forbidden bool

		wantCode    int
		wantOut     string
		wantErr     string
		wantSize    int32
		wantUpdates []int32
	}{
		"get": {
			args: []string{"get"}, size: 3,
			wantOut: "3\n", wantSize: 3,
		},
		"set": {
			args: []string{"set", "5"}, size: 3,
			wantOut: "5\n", wantSize: 5, wantUpdates: []int32{5},
		},
		"set to the size it has writes nothing": {
			args: []string{"set", "3"}, size: 3,
			wantOut: "3\n", wantSize: 3,
		},
		"add": {
			args: []string{"add", "2"}, size: 3,
			wantOut: "5\n", wantSize: 5, wantUpdates: []int32{5},
		},
		"remove": {
			args: []string{"remove", "1"}, size: 3,
			wantOut: "2\n", wantSize: 2, wantUpdates: []int32{2},
		},
		"add after a conflict adds to the size read again": {
			args: []string{"add", "1"}, size: 3, conflicts: 1,
			wantOut: "5\n", wantSize: 5, wantUpdates: []int32{4, 5},
		},
		"set after conflicts": {
			args: []string{"set", "2"}, size: 3, conflicts: 2,
			wantOut: "2\n", wantSize: 2, wantUpdates: []int32{2, 2, 2},
		},
		"flags before the command": {
			args: []string{"--timeout=5s", "get"}, size: 4,
			wantOut: "4\n", wantSize: 4,
		},
		"above maxSize: the API server's message": {
			args: []string{"set", "9"}, size: 3,
			wantCode: exitFailure, wantErr: sizeOutOfRange, wantSize: 3, wantUpdates: []int32{9},
		},
		"add beyond maxSize": {
			args: []string{"add", "6"}, size: 3,
			wantCode: exitFailure, wantErr: "resizing from 3 to 9 brokers", wantSize: 3, wantUpdates: []int32{9},
		},
		"remove to zero: the API server refuses": {
			args: []string{"remove", "3"}, size: 3,
			wantCode: exitFailure, wantErr: sizeOutOfRange, wantSize: 3, wantUpdates: []int32{0},
		},
		"remove below zero is refused before asking": {
			args: []string{"remove", "4"}, size: 3,
			wantCode: exitFailure, wantErr: "cannot remove 4 brokers: the size is 3", wantSize: 3,
		},
		"add past the largest size": {
			args: []string{"add", "2147483647"}, size: 3,
			wantCode: exitFailure, wantErr: "cannot add 2147483647 brokers", wantSize: 3,
		},
		"forbidden": {
			args: []string{"get"}, size: 3, forbidden: true,
			wantCode: exitFailure, wantErr: `cannot update resource "miniclusters/scale"`, wantSize: 3,
		},
		"another MiniCluster is forbidden": {
			args: []string{"--name=other", "set", "2"}, size: 3,
			wantCode: exitFailure, wantErr: "forbidden", wantSize: 3,
		},
		"no command": {
			size: 3, wantCode: exitUsage, wantErr: "no command", wantSize: 3,
		},
		"unknown command": {
			args: []string{"grow", "1"}, size: 3,
			wantCode: exitUsage, wantErr: `unknown command "grow"`, wantSize: 3,
		},
		"not a number": {
			args: []string{"set", "x"}, size: 3,
			wantCode: exitUsage, wantErr: `"x" is not a whole number of brokers`, wantSize: 3,
		},
		"negative": {
			args: []string{"add", "-1"}, size: 3,
			wantCode: exitUsage, wantErr: `"-1" is not a whole number of brokers`, wantSize: 3,
		},
		"too large for a size": {
			args: []string{"set", "4294967296"}, size: 3,
			wantCode: exitUsage, wantErr: "is not a whole number of brokers", wantSize: 3,
		},
		"missing number": {
			args: []string{"set"}, size: 3,
			wantCode: exitUsage, wantErr: "set takes one argument", wantSize: 3,
		},
		"get with a number": {
			args: []string{"get", "2"}, size: 3,
			wantCode: exitUsage, wantErr: "get takes no argument", wantSize: 3,
		},
		"bad timeout": {
			args: []string{"--timeout=0s", "get"}, size: 3,
			wantCode: exitUsage, wantErr: "--timeout must be positive", wantSize: 3,
		},
		"unknown flag": {
			args: []string{"--size=3", "get"}, size: 3,
			wantCode: exitUsage, wantErr: "flag provided but not defined: -size", wantSize: 3,
		},
		"help": {
			args: []string{"-h"}, size: 3,
			wantCode: exitOK, wantErr: "Usage: selfscale", wantSize: 3,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv(envMiniCluster, "mc")
			t.Setenv(envNamespace, "ns")
			server := &scaleServer{size: tc.size, maxSize: 8, conflicts: tc.conflicts, forbidden: tc.forbidden}
			var stdout, stderr bytes.Buffer

			code := runMain(context.Background(), tc.args, &stdout, &stderr, clientFor(server.client()))

			assert.Equal(t, tc.wantCode, code, "exit code; stderr: %s", stderr.String())
			assert.Equal(t, tc.wantOut, stdout.String())
			if tc.wantErr != "" {
				assert.Contains(t, stderr.String(), tc.wantErr)
			} else {
				assert.Empty(t, stderr.String())
			}
			assert.Equal(t, tc.wantSize, server.size, "size after the command")
			assert.Equal(t, tc.wantUpdates, server.updates, "scale updates sent")
		})
	}
}

// TestSelfscaleRereadsOnConflict: every attempt reads the scale again, so
// the write carries the fresh resourceVersion and size.
func TestSelfscaleRereadsOnConflict(t *testing.T) {
	server := &scaleServer{size: 3, maxSize: 8, conflicts: 2}
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"--name=mc", "--namespace=ns", "add", "1"}, &stdout, &bytes.Buffer{}, clientFor(server.client()))
	require.NoError(t, err)
	assert.Equal(t, 3, server.gets, "one read per attempt")
	assert.Equal(t, []int32{4, 5, 6}, server.updates)
	assert.Equal(t, "6\n", stdout.String())
}

// TestSelfscaleGivesUpOnEndlessConflicts: the retry is bounded, and the
// conflict is what the user sees.
func TestSelfscaleGivesUpOnEndlessConflicts(t *testing.T) {
	server := &scaleServer{size: 1, maxSize: 1 << 20, conflicts: 1000}
	err := run(context.Background(), []string{"--name=mc", "--namespace=ns", "set", "100000"}, &bytes.Buffer{}, &bytes.Buffer{}, clientFor(server.client()))
	require.Error(t, err)
	assert.True(t, apierrors.IsConflict(err), "want a conflict, got %v", err)
	assert.Less(t, len(server.updates), 1000)
}

// TestSelfscaleNames: the environment names the MiniCluster, flags win
// over it, and without either nothing is asked of the API server.
func TestSelfscaleNames(t *testing.T) {
	cases := map[string]struct {
		envName, envNamespace string
		args                  []string
		wantCode              int
		wantErr               string
	}{
		"from the environment": {envName: "mc", envNamespace: "ns", args: []string{"get"}},
		"flags override":       {envName: "other", envNamespace: "elsewhere", args: []string{"--name=mc", "--namespace=ns", "get"}},
		"no name":              {envNamespace: "ns", args: []string{"get"}, wantCode: exitUsage, wantErr: "no MiniCluster named"},
		"no namespace":         {envName: "mc", args: []string{"get"}, wantCode: exitUsage, wantErr: "no MiniCluster named"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv(envMiniCluster, tc.envName)
			t.Setenv(envNamespace, tc.envNamespace)
			server := &scaleServer{size: 2, maxSize: 8}
			var stdout, stderr bytes.Buffer
			code := runMain(context.Background(), tc.args, &stdout, &stderr, clientFor(server.client()))
			assert.Equal(t, tc.wantCode, code, "stderr: %s", stderr.String())
			if tc.wantErr == "" {
				assert.Equal(t, "2\n", stdout.String())
				return
			}
			assert.Contains(t, stderr.String(), tc.wantErr)
			assert.Zero(t, server.gets)
		})
	}
}

// TestSelfscaleClientError: a client that cannot be built is reported.
func TestSelfscaleClientError(t *testing.T) {
	failing := func(string) (clientset.Interface, error) {
		return nil, errors.New("loading the client config: not in a cluster")
	}
	var stderr bytes.Buffer
	code := runMain(context.Background(), []string{"--name=mc", "--namespace=ns", "get"}, &bytes.Buffer{}, &stderr, failing)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, stderr.String(), "not in a cluster")
}

// TestSelfscaleVersion: --version answers without a MiniCluster or a client.
func TestSelfscaleVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	noClient := func(string) (clientset.Interface, error) { t.Fatal("no client is needed"); return nil, nil }
	code := runMain(context.Background(), []string{"--version"}, &stdout, &stderr, noClient)
	assert.Equal(t, exitOK, code, stderr.String())
	assert.Equal(t, version.String("selfscale")+"\n", stdout.String())
}
