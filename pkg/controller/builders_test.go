package controller

import (
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
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

// TestNewJobCurveMountMode: with a group of its own the mounted certificate
// is readable by that group only; without, by any user of the pod, since
// the image's own non-root user must be able to copy it.
func TestNewJobCurveMountMode(t *testing.T) {
	cases := map[string]struct {
		runAsUser, runAsGroup *int64
		wantMode              int32
		wantFSGroup           *int64
	}{
		"the image's user":          {wantMode: 0o444},
		"a user, the image's group": {runAsUser: ptr.To[int64](1000), wantMode: 0o444},
		"a user and a group":        {runAsUser: ptr.To[int64](1000), runAsGroup: ptr.To[int64](2000), wantMode: 0o440, wantFSGroup: ptr.To[int64](2000)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			mc := newMiniCluster("flux-sample", 2, 8)
			mc.Spec.Container.RunAsUser, mc.Spec.Container.RunAsGroup = tc.runAsUser, tc.runAsGroup
			spec := newJob(mc).Spec.Template.Spec
			i := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Secret != nil })
			require.GreaterOrEqual(t, i, 0)
			assert.Equal(t, tc.wantMode, *spec.Volumes[i].Secret.DefaultMode)
			if tc.wantFSGroup == nil {
				assert.True(t, spec.SecurityContext == nil || spec.SecurityContext.FSGroup == nil)
			} else {
				assert.Equal(t, tc.wantFSGroup, spec.SecurityContext.FSGroup)
			}
		})
	}
}

// TestNewJobArchive: an archive on a claim is the claim mounted in every
// broker pod and a file inside it for rank 0; an archive on the user's own
// volume mounts nothing more.
func TestNewJobArchive(t *testing.T) {
	cases := map[string]struct {
		archive   v1alpha1.ArchiveSpec
		wantClaim string
		wantPath  string
	}{
		"on a claim":        {archive: v1alpha1.ArchiveSpec{ClaimName: "flux-archive", Path: "flux/state.tar.gz"}, wantClaim: "flux-archive", wantPath: "/var/lib/elasticflux/archive/flux/state.tar.gz"},
		"on the user's own": {archive: v1alpha1.ArchiveSpec{Path: "/data/state.tar.gz"}, wantPath: "/data/state.tar.gz"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			mc := newMiniCluster("flux-sample", 2, 8)
			mc.Spec.Archive = &tc.archive
			spec := newJob(mc).Spec.Template.Spec
			volume := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == "elasticflux-archive" })
			mount := slices.IndexFunc(spec.Containers[0].VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == "elasticflux-archive" })
			if tc.wantClaim == "" {
				assert.Equal(t, -1, volume)
				assert.Equal(t, -1, mount)
			} else {
				require.GreaterOrEqual(t, volume, 0)
				require.GreaterOrEqual(t, mount, 0)
				assert.Equal(t, tc.wantClaim, spec.Volumes[volume].PersistentVolumeClaim.ClaimName)
				assert.False(t, spec.Volumes[volume].PersistentVolumeClaim.ReadOnly, "rank 0 writes the archive")
				assert.Equal(t, "/var/lib/elasticflux/archive", spec.Containers[0].VolumeMounts[mount].MountPath)
			}
			assert.Equal(t, tc.wantPath, scriptOptions(mc, false).ArchivePath)
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

// TestNewJobShapes pins the failure handling of each mode, field by field;
// jobShape says why each is what it is. What Kubernetes does with them is
// proven in e2e/jobshape_test.go.
func TestNewJobShapes(t *testing.T) {
	brokerContainer := ptr.To("flux-broker")
	cases := map[string]struct {
		command              []string
		restartPolicy        corev1.RestartPolicy
		backoffLimit         int32
		backoffLimitPerIndex *int32
		podFailurePolicy     *batchv1.PodFailurePolicy
	}{
		"interactive: restarts in place, never given up": {
			restartPolicy:        corev1.RestartPolicyOnFailure,
			backoffLimit:         math.MaxInt32,
			backoffLimitPerIndex: ptr.To[int32](math.MaxInt32),
		},
		"command: a failing command fails the Job, a stopped broker does not": {
			command:       []string{"hostname"},
			restartPolicy: corev1.RestartPolicyNever,
			backoffLimit:  6,
			podFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
				{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{
					{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue},
				}},
				{Action: batchv1.PodFailurePolicyActionIgnore, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
					ContainerName: brokerContainer, Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{143},
				}},
				{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
					ContainerName: brokerContainer, Operator: batchv1.PodFailurePolicyOnExitCodesOpNotIn, Values: []int32{0},
				}},
			}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			mc := newMiniCluster("flux-sample", 3, 8)
			mc.Spec.Command = tc.command
			job := newJob(mc)
			assert.Equal(t, tc.restartPolicy, job.Spec.Template.Spec.RestartPolicy)
			assert.Equal(t, tc.backoffLimit, *job.Spec.BackoffLimit)
			assert.Equal(t, tc.backoffLimitPerIndex, job.Spec.BackoffLimitPerIndex)
			assert.Nil(t, job.Spec.MaxFailedIndexes, "no rank is ever given up")
			assert.Equal(t, batchv1.Failed, *job.Spec.PodReplacementPolicy, "a replacement starts only once the old broker has stopped")
			assert.Equal(t, tc.podFailurePolicy, job.Spec.PodFailurePolicy)
			require.Len(t, job.Spec.Template.Spec.Containers, 1)
			assert.Equal(t, "flux-broker", job.Spec.Template.Spec.Containers[0].Name, "the exit-code rules name this container")
			assert.Empty(t, shapeFor(mc).outdatedBy(job), "a Job this version makes is not outdated")
			assert.Empty(t, shapeFor(mc).mutableDrift(job))
		})
	}
}

// TestBrokerEnv: ELASTICFLUX_SIZE is the Job's clamped size, and the
// controller's variables come after the user's, so they win should a user
// variable of the same name get past admission.
func TestBrokerEnv(t *testing.T) {
	cases := map[string]struct {
		size, min, max int32
		want           string
	}{
		"inside the range": {size: 3, min: 1, max: 8, want: "3"},
		"above maxSize":    {size: 12, min: 1, max: 8, want: "8"},
		"below minSize":    {size: 1, min: 2, max: 8, want: "2"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			mc := newMiniCluster("flux-sample", tc.size, tc.max)
			mc.Spec.MinSize = ptr.To(tc.min)
			mc.Spec.Container.Env = []v1alpha1.EnvVar{{Name: "OMP_NUM_THREADS", Value: "4"}, {Name: "ELASTICFLUX_SIZE", Value: "99"}}
			env := newJob(mc).Spec.Template.Spec.Containers[0].Env
			values := map[string]string{}
			for _, e := range env {
				values[e.Name] = e.Value // the last one of a name wins, as in the kubelet
			}
			assert.Equal(t, tc.want, values[envSize])
			assert.Equal(t, "4", values["OMP_NUM_THREADS"])
			assert.Equal(t, []string{"OMP_NUM_THREADS", "ELASTICFLUX_SIZE", "ELASTICFLUX_MINICLUSTER", "ELASTICFLUX_NAMESPACE", "ELASTICFLUX_SIZE", envRank, "FLUX_URI"},
				envNames(env), "the controller's variables come last")
		})
	}
}

func envNames(env []corev1.EnvVar) []string {
	var names []string
	for _, e := range env {
		names = append(names, e.Name)
	}
	return names
}

// TestValidateBrokerPod: what admission refuses is refused again before a
// Job is made, for MiniClusters that got past an older CRD.
func TestValidateBrokerPod(t *testing.T) {
	cases := map[string]struct {
		mutate  func(*v1alpha1.MiniCluster)
		wantErr string
	}{
		"valid": {mutate: func(mc *v1alpha1.MiniCluster) {
			mc.Spec.Pod = &v1alpha1.PodSpec{Volumes: []v1alpha1.Volume{{Name: "data", EmptyDir: &v1alpha1.EmptyDirSource{}}}}
			mc.Spec.Container.VolumeMounts = []v1alpha1.VolumeMount{{Name: "data", MountPath: "/etc/elasticfluxdata"}}
		}},
		"reserved volume name": {
			mutate: func(mc *v1alpha1.MiniCluster) {
				mc.Spec.Pod = &v1alpha1.PodSpec{Volumes: []v1alpha1.Volume{{Name: "elasticflux-config", EmptyDir: &v1alpha1.EmptyDirSource{}}}}
			},
			wantErr: `spec.pod.volumes: the name "elasticflux-config" is reserved`,
		},
		"mount naming no volume": {
			mutate: func(mc *v1alpha1.MiniCluster) {
				mc.Spec.Container.VolumeMounts = []v1alpha1.VolumeMount{{Name: "data", MountPath: "/data"}}
			},
			wantErr: `spec.container.volumeMounts: "data" names no volume`,
		},
		"mount inside the broker state": {
			mutate: func(mc *v1alpha1.MiniCluster) {
				mc.Spec.Pod = &v1alpha1.PodSpec{Volumes: []v1alpha1.Volume{{Name: "data", EmptyDir: &v1alpha1.EmptyDirSource{}}}}
				mc.Spec.Container.VolumeMounts = []v1alpha1.VolumeMount{{Name: "data", MountPath: "/var/lib/elasticflux/run"}}
			},
			wantErr: `"/var/lib/elasticflux/run" is at or inside /var/lib/elasticflux`,
		},
		"the rank's variable": {
			mutate: func(mc *v1alpha1.MiniCluster) {
				mc.Spec.Container.Env = []v1alpha1.EnvVar{{Name: "JOB_COMPLETION_INDEX", Value: "0"}}
			},
			wantErr: "spec.container.env: JOB_COMPLETION_INDEX is set by the controller or the Job controller",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			mc := newMiniCluster("flux-sample", 2, 8)
			tc.mutate(mc)
			err := validateBrokerPod(mc)
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tc.wantErr)
		})
	}
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

// TestBrokerTOMLQueuePolicy: the Fluxion table is written only when a
// queue policy is asked for; otherwise Fluxion's own default applies and
// the config does not pretend otherwise.
func TestBrokerTOMLQueuePolicy(t *testing.T) {
	cases := map[string]struct {
		flux      *v1alpha1.FluxSpec
		wantTable string
	}{
		"no flux settings":        {},
		"flux settings, no queue": {flux: &v1alpha1.FluxSpec{LogLevel: ptr.To[int32](5)}},
		"a queue policy":          {flux: &v1alpha1.FluxSpec{QueuePolicy: "easy"}, wantTable: "[sched-fluxion-qmanager]\nqueue-policy = 'easy'\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			mc := newMiniCluster("flux-sample", 2, 8)
			mc.Spec.Flux = tc.flux
			cm, err := newConfigMap(mc, "cluster.local")
			require.NoError(t, err)
			toml := cm.Data[brokerTOMLKey]
			if tc.wantTable == "" {
				assert.NotContains(t, toml, "sched-fluxion-qmanager")
				assert.NotContains(t, toml, "queue-policy")
				return
			}
			assert.Contains(t, toml, tc.wantTable)
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
