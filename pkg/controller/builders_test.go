package controller

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

func TestDesiredJobSize(t *testing.T) {
	cases := map[string]struct {
		size, min, max int32
		want           int32
		clamped        bool
	}{
		"inside":      {size: 3, min: 1, max: 8, want: 3},
		"at ceiling":  {size: 8, min: 1, max: 8, want: 8},
		"above":       {size: 9, min: 1, max: 8, want: 8, clamped: true},
		"below floor": {size: 1, min: 2, max: 8, want: 2, clamped: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			mc := newMiniCluster("a", tc.size, tc.max)
			mc.Spec.MinSize = ptr.To(tc.min)
			got, clamped := desiredJobSize(mc)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.clamped, clamped)
		})
	}
}

func TestNewJob(t *testing.T) {
	cases := map[string]struct {
		mutate        func(*v1alpha1.MiniCluster)
		wantSA        string
		wantAutomount bool
		wantGrace     int64
	}{
		"interactive": {wantGrace: 90},
		"self-scaling": {
			mutate: func(mc *v1alpha1.MiniCluster) {
				mc.Spec.Elasticity = &v1alpha1.ElasticitySpec{SelfScaling: ptr.To(true)}
			},
			wantSA:        "flux-sample-selfscale",
			wantAutomount: true,
			wantGrace:     90,
		},
		"user service account and drain timeout": {
			mutate: func(mc *v1alpha1.MiniCluster) {
				mc.Spec.Pod = &v1alpha1.PodSpec{ServiceAccountName: "mine"}
				mc.Spec.Elasticity = &v1alpha1.ElasticitySpec{DrainTimeoutSeconds: ptr.To[int32](300)}
			},
			wantSA: "mine", wantAutomount: true, wantGrace: 330,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			mc := newMiniCluster("flux-sample", 3, 8)
			if tc.mutate != nil {
				tc.mutate(mc)
			}
			job := newJob(mc)
			spec := job.Spec.Template.Spec

			assert.Equal(t, int32(3), *job.Spec.Parallelism)
			assert.Equal(t, int32(3), *job.Spec.Completions)
			assert.Equal(t, "Indexed", string(*job.Spec.CompletionMode))
			assert.Equal(t, "flux-sample", spec.Subdomain)
			assert.Equal(t, "flux-sample", job.Spec.Template.Labels[v1alpha1.LabelMiniCluster])
			assert.Equal(t, tc.wantSA, spec.ServiceAccountName)
			assert.Equal(t, tc.wantAutomount, *spec.AutomountServiceAccountToken)
			assert.Equal(t, tc.wantGrace, *spec.TerminationGracePeriodSeconds)

			var curve *corev1.Volume
			for i := range spec.Volumes {
				if spec.Volumes[i].Secret != nil {
					curve = &spec.Volumes[i]
				}
			}
			require.NotNil(t, curve)
			assert.Equal(t, "flux-sample-curve", curve.Secret.SecretName)
			assert.Zero(t, *curve.Secret.DefaultMode&0o007, "the certificate must not be readable by others")

			container := spec.Containers[0]
			require.NotNil(t, container.Lifecycle.PreStop, "leaving brokers drain first")
			env := map[string]string{}
			for _, e := range container.Env {
				env[e.Name] = e.Value
			}
			assert.Equal(t, "flux-sample", env["ELASTICFLUX_MINICLUSTER"])
			assert.Equal(t, "default", env["ELASTICFLUX_NAMESPACE"])
			assert.Equal(t, "3", env[envSize])
		})
	}
}

// TestNewJobPointsFluxAtTheOwnBroker: kubectl exec into any broker finds
// its broker's socket, local-<rank>, through the pod's environment. The
// rank comes from the pod's completion index, defined before FLUX_URI so
// the kubelet expands it there.
func TestNewJobPointsFluxAtTheOwnBroker(t *testing.T) {
	env := newJob(newMiniCluster("flux-sample", 2, 8)).Spec.Template.Spec.Containers[0].Env
	rank := slices.IndexFunc(env, func(e corev1.EnvVar) bool { return e.Name == envRank })
	uri := slices.IndexFunc(env, func(e corev1.EnvVar) bool { return e.Name == "FLUX_URI" })
	require.GreaterOrEqual(t, rank, 0)
	require.Greater(t, uri, rank, "the rank must come first to be expanded")
	require.NotNil(t, env[rank].ValueFrom)
	assert.Equal(t, "metadata.annotations['batch.kubernetes.io/job-completion-index']", env[rank].ValueFrom.FieldRef.FieldPath)
	assert.Equal(t, "local:///var/lib/elasticflux/run/local-$(ELASTICFLUX_RANK)", env[uri].Value)
}

func TestNewJobKeepsUserLabelsOffTheSelector(t *testing.T) {
	mc := newMiniCluster("flux-sample", 2, 8)
	mc.Spec.Pod = &v1alpha1.PodSpec{Labels: map[string]string{"team": "hpc"}}
	job := newJob(mc)
	assert.Equal(t, map[string]string{"team": "hpc", v1alpha1.LabelMiniCluster: "flux-sample"}, job.Spec.Template.Labels)
}

func TestNewService(t *testing.T) {
	svc := newService(newMiniCluster("flux-sample", 2, 8))
	assert.Equal(t, corev1.ClusterIPNone, svc.Spec.ClusterIP)
	assert.True(t, svc.Spec.PublishNotReadyAddresses, "brokers resolve peers before they are ready")
	assert.Equal(t, map[string]string{v1alpha1.LabelMiniCluster: "flux-sample"}, svc.Spec.Selector)
}

func TestNewConfigMap(t *testing.T) {
	cases := map[string]struct {
		cpuLimit string
		wantR    bool
	}{
		"cores unknown: Flux probes":        {},
		"integer CPU limit: R rendered":     {cpuLimit: "4", wantR: true},
		"fractional CPU limit: Flux probes": {cpuLimit: "1500m"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			mc := newMiniCluster("flux-sample", 2, 8)
			if tc.cpuLimit != "" {
				mc.Spec.Container.Resources.Limits = map[corev1.ResourceName]resource.Quantity{corev1.ResourceCPU: resource.MustParse(tc.cpuLimit)}
			}
			cm, err := newConfigMap(mc, "cluster.local")
			require.NoError(t, err)
			assert.Contains(t, cm.Data[brokerTOMLKey], "flux-sample-[0-7]")
			assert.Contains(t, cm.Data[brokerTOMLKey], "flux-sample.default.svc.cluster.local")
			_, hasR := cm.Data[rKey]
			assert.Equal(t, tc.wantR, hasR)
			assert.NotEmpty(t, cm.Data[startScriptKey])
			assert.NotEmpty(t, cm.Data[preStopKey])
		})
	}
}

// TestConfigMapIgnoresSize: a resize must not rewrite the ConfigMap.
func TestConfigMapIgnoresSize(t *testing.T) {
	small, err := newConfigMap(newMiniCluster("flux-sample", 2, 8), "cluster.local")
	require.NoError(t, err)
	large, err := newConfigMap(newMiniCluster("flux-sample", 7, 8), "cluster.local")
	require.NoError(t, err)
	assert.Equal(t, small.Data, large.Data)
}

func TestRenderObjectsHidesTheCertificate(t *testing.T) {
	mc := newMiniCluster("flux-sample", 2, 8)
	mc.Spec.Elasticity = &v1alpha1.ElasticitySpec{SelfScaling: ptr.To(true)}
	objects, err := RenderObjects(mc, Config{})
	require.NoError(t, err)
	require.Len(t, objects, 8)
	secret := objects[0].(*corev1.Secret)
	assert.Equal(t, RedactedCertificate, string(secret.Data[CurveCertKey]))
}
