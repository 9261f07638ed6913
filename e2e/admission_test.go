//go:build e2e

package e2e

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// TestAdmissionRefusesWhatBrokersCannotRunWith: the API server refuses, at
// once and with a message that says why, a MiniCluster whose broker pod
// the Job API would refuse or whose brokers could not run, and stores
// nothing.
func TestAdmissionRefusesWhatBrokersCannotRunWith(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	withVolume := func(mount v1alpha1.VolumeMount, volumes ...v1alpha1.Volume) func(*v1alpha1.MiniCluster) {
		return func(mc *v1alpha1.MiniCluster) {
			mc.Spec.Container.VolumeMounts = []v1alpha1.VolumeMount{mount}
			mc.Spec.Pod = &v1alpha1.PodSpec{Volumes: volumes}
		}
	}
	scratch := v1alpha1.Volume{Name: "scratch", EmptyDir: &v1alpha1.EmptyDirSource{}}
	cases := map[string]struct {
		mutate func(*v1alpha1.MiniCluster)
		// wantPath and wantErr are where the API server points and what
		// it says.
		wantPath, wantErr string
	}{
		"a volume named like the controller's": {
			mutate:   withVolume(v1alpha1.VolumeMount{Name: "elasticflux-config", MountPath: "/data"}, v1alpha1.Volume{Name: "elasticflux-config", EmptyDir: &v1alpha1.EmptyDirSource{}}),
			wantPath: "spec.pod.volumes[0].name", wantErr: "spec.pod.volumes[].name must not start with elasticflux-: the controller's own volumes are elasticflux-config, elasticflux-curve and elasticflux-state",
		},
		"a mount over the broker config": {
			mutate:   withVolume(v1alpha1.VolumeMount{Name: "scratch", MountPath: "/etc/elasticflux"}, scratch),
			wantPath: "spec.container.volumeMounts[0].mountPath",
			wantErr:  "spec.container.volumeMounts[].mountPath must not be /etc/elasticflux, /etc/elasticflux-curve, /var/lib/elasticflux or a path inside them",
		},
		"a mount inside the broker state": {
			mutate:   withVolume(v1alpha1.VolumeMount{Name: "scratch", MountPath: "/var/lib/elasticflux/run"}, scratch),
			wantPath: "spec.container.volumeMounts[0].mountPath",
			wantErr:  "spec.container.volumeMounts[].mountPath must not be /etc/elasticflux, /etc/elasticflux-curve, /var/lib/elasticflux or a path inside them",
		},
		"a mount naming no volume": {
			mutate:   withVolume(v1alpha1.VolumeMount{Name: "data", MountPath: "/data"}, scratch),
			wantPath: "spec.container.volumeMounts", wantErr: "spec.container.volumeMounts[].name must name a volume of spec.pod.volumes",
		},
		"two volumes of one name": {
			mutate:   withVolume(v1alpha1.VolumeMount{Name: "scratch", MountPath: "/data"}, scratch, scratch),
			wantPath: "spec.pod.volumes[1]", wantErr: "Duplicate value",
		},
		"an unclean mount path": {
			mutate:   withVolume(v1alpha1.VolumeMount{Name: "scratch", MountPath: "/etc//elasticflux"}, scratch),
			wantPath: "spec.container.volumeMounts[0].mountPath",
			wantErr:  "must be an absolute path without trailing slash and without empty, '.' or '..' parts",
		},
		"the controller's environment variable": {
			mutate: func(mc *v1alpha1.MiniCluster) {
				mc.Spec.Container.Env = []v1alpha1.EnvVar{{Name: "ELASTICFLUX_SIZE", Value: "64"}}
			},
			wantPath: "spec.container.env[0].name",
			wantErr:  "spec.container.env must not set ELASTICFLUX_* or JOB_COMPLETION_INDEX: the controller and the Job controller set them to tell each broker its MiniCluster, size and rank",
		},
		"the rank's environment variable": {
			mutate: func(mc *v1alpha1.MiniCluster) {
				mc.Spec.Container.Env = []v1alpha1.EnvVar{{Name: "JOB_COMPLETION_INDEX", Value: "0"}}
			},
			wantPath: "spec.container.env[0].name",
			wantErr:  "spec.container.env must not set ELASTICFLUX_* or JOB_COMPLETION_INDEX",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			mc := miniCluster("refused", 2, 1, 4)
			tc.mutate(mc)
			_, err := elasticClient.ElasticfluxV1alpha1().MiniClusters(ns).Create(context.Background(), mc, metav1.CreateOptions{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantPath+": ")
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
	list, err := elasticClient.ElasticfluxV1alpha1().MiniClusters(ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, list.Items, "nothing refused was stored")

	// What is not refused: a volume mounted beside the reserved paths.
	mc := miniCluster("accepted", 2, 1, 4)
	withVolume(v1alpha1.VolumeMount{Name: "scratch", MountPath: "/etc/elasticflux-data"}, scratch)(mc)
	mc.Spec.Container.Env = []v1alpha1.EnvVar{{Name: "OMP_NUM_THREADS", Value: "4"}}
	createMiniCluster(t, ns, mc)
}

// TestQueuePolicyHasNoDefault: the API server no longer fills in a queue
// policy, so a MiniCluster that names none gets none in its broker config.
func TestQueuePolicyHasNoDefault(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	mc := miniCluster("flux-sample", 1, 1, 2)
	mc.Spec.Flux = &v1alpha1.FluxSpec{LogLevel: ptrTo[int32](5)}
	created := createMiniCluster(t, ns, mc)
	assert.Empty(t, created.Spec.Flux.QueuePolicy)
	assert.Equal(t, "30s", created.Spec.Flux.ConnectTimeout, "the other defaults stay")

	startController(t, ns)
	var config string
	eventually(t, shortWait, "the broker ConfigMap", func() (bool, string) {
		cm, err := kubeClient.CoreV1().ConfigMaps(ns).Get(context.Background(), "flux-sample-flux", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		config = cm.Data["broker.toml"]
		return true, ""
	})
	assert.NotContains(t, config, "sched-fluxion-qmanager")
	assert.NotContains(t, config, "queue-policy")
}
