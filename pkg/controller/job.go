package controller

import (
	"maps"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
	"github.com/elasticflux/elasticflux/pkg/fluxconfig"
)

// desiredJobSize is spec.size clamped to [minSize, maxSize]. Admission
// already refuses sizes outside the range; the clamp defends the Job when
// validation was bypassed, and clamped reports that it happened.
func desiredJobSize(mc *v1alpha1.MiniCluster) (size int32, clamped bool) {
	size = mc.DesiredSize()
	low, high := mc.MinimumSize(), mc.MaximumSize()
	switch {
	case size > high:
		return high, true
	case size < low:
		return low, true
	}
	return size, false
}

// drainGrace is what Kubernetes waits after the preStop hook starts before
// it kills a leaving broker: the drain timeout plus time to shut down.
const drainGrace = 30

// newJob builds the Indexed Job of brokers. Its pod template is immutable
// once created, so it holds nothing that changes with spec.size except the
// size at creation in envSize; parallelism and completions are the only
// fields a resize touches.
func newJob(mc *v1alpha1.MiniCluster) *batchv1.Job {
	size, _ := desiredJobSize(mc)
	podLabels := map[string]string{}
	maps.Copy(podLabels, podSpec(mc).Labels)
	maps.Copy(podLabels, brokerSelector(mc))

	job := &batchv1.Job{
		ObjectMeta: ownedMeta(mc, jobName(mc)),
		Spec: batchv1.JobSpec{
			CompletionMode: ptr.To(batchv1.IndexedCompletion),
			Completions:    ptr.To(size),
			Parallelism:    ptr.To(size),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metaWithLabels(podLabels, podSpec(mc).Annotations),
				Spec:       brokerPodSpec(mc),
			},
		},
	}
	// How failures are handled depends on the mode; see jobShape.
	shapeFor(mc).apply(job)
	return job
}

func podSpec(mc *v1alpha1.MiniCluster) v1alpha1.PodSpec {
	if mc.Spec.Pod == nil {
		return v1alpha1.PodSpec{}
	}
	return *mc.Spec.Pod
}

func brokerPodSpec(mc *v1alpha1.MiniCluster) corev1.PodSpec {
	pod := podSpec(mc)
	container := mc.Spec.Container

	spec := corev1.PodSpec{
		// With a subdomain, each Indexed Job pod gets hostname
		// <job>-<index>, which the broker finds in the hosts list.
		Subdomain:                     serviceName(mc),
		TerminationGracePeriodSeconds: ptr.To(int64(drainTimeoutSeconds(mc)) + drainGrace),
		AutomountServiceAccountToken:  ptr.To(false),
		NodeSelector:                  pod.NodeSelector,
		Affinity:                      pod.Affinity,
		PriorityClassName:             pod.PriorityClassName,
		SchedulerName:                 pod.SchedulerName,
		Tolerations:                   tolerations(pod.Tolerations),
		Volumes:                       brokerVolumes(mc),
		Containers: []corev1.Container{{
			Name:            brokerContainerName,
			Image:           container.Image,
			ImagePullPolicy: container.ImagePullPolicy,
			WorkingDir:      container.WorkingDir,
			Command:         []string{"/bin/sh", configMountPath + "/" + startScriptKey},
			Env:             brokerEnv(mc),
			Ports:           []corev1.ContainerPort{{Name: "flux-broker", ContainerPort: brokerPort, Protocol: corev1.ProtocolTCP}},
			Resources: corev1.ResourceRequirements{
				Requests: container.Resources.Requests,
				Limits:   container.Resources.Limits,
			},
			VolumeMounts: brokerVolumeMounts(mc),
			Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
				Exec: &corev1.ExecAction{Command: []string{"/bin/sh", configMountPath + "/" + preStopKey}},
			}},
		}},
	}
	switch {
	case mc.SelfScaling():
		spec.ServiceAccountName = rbacName(mc)
		spec.AutomountServiceAccountToken = ptr.To(true)
	case pod.ServiceAccountName != "":
		spec.ServiceAccountName = pod.ServiceAccountName
		spec.AutomountServiceAccountToken = ptr.To(true)
	}
	if container.RunAsUser != nil || container.RunAsGroup != nil {
		spec.SecurityContext = &corev1.PodSecurityContext{
			RunAsUser:  container.RunAsUser,
			RunAsGroup: container.RunAsGroup,
			// The curve Secret is mounted group-readable for this group so a
			// non-root broker can copy it to its private 0400 file.
			FSGroup: container.RunAsGroup,
		}
	}
	return spec
}

// brokerEnv is the user's environment, then what tells a broker who it is.
// JOB_COMPLETION_INDEX (its rank) comes from the Job controller. Admission
// refuses user variables named like the controller's; should one get past
// it, the controller's come last and so win (for duplicate names the last
// one counts).
func brokerEnv(mc *v1alpha1.MiniCluster) []corev1.EnvVar {
	var env []corev1.EnvVar
	for _, e := range mc.Spec.Container.Env {
		env = append(env, corev1.EnvVar{Name: e.Name, Value: e.Value})
	}
	// The size at creation, clamped like the Job itself.
	size, _ := desiredJobSize(mc)
	env = append(env,
		corev1.EnvVar{Name: envMiniCluster, Value: mc.Name},
		corev1.EnvVar{Name: envNamespace, Value: mc.Namespace},
		corev1.EnvVar{Name: envSize, Value: strconv.Itoa(int(size))},
	)
	return append(env, fluxURIEnv()...)
}

// fluxURIEnv points flux commands at the pod's own broker, so that anyone
// who execs into a broker can run flux with nothing to set first. Flux
// names a broker's socket after its rank, and one pod template serves
// every rank, so the rank comes from the pod's completion index and the
// URI is expanded from it by the kubelet. The start script unsets
// FLUX_URI before it starts the broker, which would otherwise take it for
// an enclosing instance.
func fluxURIEnv() []corev1.EnvVar {
	return []corev1.EnvVar{
		{Name: envRank, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
			FieldPath: "metadata.annotations['" + batchv1.JobCompletionIndexAnnotation + "']",
		}}},
		{Name: "FLUX_URI", Value: fluxconfig.LocalURI(brokerRunDir, "$("+envRank+")")},
	}
}

// curveMountMode is the mode of the mounted certificate. With a group of
// its own (runAsGroup, and so fsGroup) the brokers read it as that group,
// and no one else in the pod can. Without one, the brokers' user and group
// are whatever the image says, unknown here, so only a file everyone in
// the pod may read is sure to be readable by them: an image with a
// non-root USER would otherwise fail to copy it.
func curveMountMode(mc *v1alpha1.MiniCluster) int32 {
	if mc.Spec.Container.RunAsGroup != nil {
		return 0o440
	}
	return 0o444
}

func brokerVolumes(mc *v1alpha1.MiniCluster) []corev1.Volume {
	volumes := []corev1.Volume{
		{Name: "elasticflux-config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: configMapName(mc)},
			DefaultMode:          ptr.To[int32](0o555),
		}}},
		// Flux refuses a certificate that others can read; the start script
		// copies this to a private 0400 file owned by the broker's user.
		{Name: "elasticflux-curve", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName:  curveSecretName(mc),
			DefaultMode: ptr.To(curveMountMode(mc)),
			Items:       []corev1.KeyToPath{{Key: CurveCertKey, Path: CurveCertKey}},
		}}},
		{Name: "elasticflux-state", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	if archive := mc.Spec.Archive; archive != nil && archive.ClaimName != "" {
		volumes = append(volumes, corev1.Volume{Name: "elasticflux-archive", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: archive.ClaimName},
		}})
	}
	for _, v := range podSpec(mc).Volumes {
		volumes = append(volumes, userVolume(v))
	}
	return volumes
}

func userVolume(v v1alpha1.Volume) corev1.Volume {
	volume := corev1.Volume{Name: v.Name}
	switch {
	case v.PersistentVolumeClaim != nil:
		volume.PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: v.PersistentVolumeClaim.ClaimName, ReadOnly: v.PersistentVolumeClaim.ReadOnly}
	case v.ConfigMap != nil:
		volume.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: v.ConfigMap.Name}}
	case v.Secret != nil:
		volume.Secret = &corev1.SecretVolumeSource{SecretName: v.Secret.Name}
	case v.EmptyDir != nil:
		volume.EmptyDir = &corev1.EmptyDirVolumeSource{Medium: v.EmptyDir.Medium, SizeLimit: v.EmptyDir.SizeLimit}
	case v.HostPath != nil:
		volume.HostPath = &corev1.HostPathVolumeSource{Path: v.HostPath.Path}
	}
	return volume
}

func brokerVolumeMounts(mc *v1alpha1.MiniCluster) []corev1.VolumeMount {
	mounts := []corev1.VolumeMount{
		{Name: "elasticflux-config", MountPath: configMountPath, ReadOnly: true},
		{Name: "elasticflux-curve", MountPath: curveMountPath, ReadOnly: true},
		{Name: "elasticflux-state", MountPath: stateMountPath},
	}
	if archive := mc.Spec.Archive; archive != nil && archive.ClaimName != "" {
		// Inside the state directory, a path users cannot mount over.
		mounts = append(mounts, corev1.VolumeMount{Name: "elasticflux-archive", MountPath: archiveMountPath})
	}
	for _, m := range mc.Spec.Container.VolumeMounts {
		mounts = append(mounts, corev1.VolumeMount{Name: m.Name, MountPath: m.MountPath, SubPath: m.SubPath, ReadOnly: m.ReadOnly})
	}
	return mounts
}

func tolerations(in []v1alpha1.Toleration) []corev1.Toleration {
	var out []corev1.Toleration
	for _, t := range in {
		out = append(out, corev1.Toleration{Key: t.Key, Operator: t.Operator, Value: t.Value, Effect: t.Effect, TolerationSeconds: t.TolerationSeconds})
	}
	return out
}

func metaWithLabels(labels, annotations map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Labels: labels, Annotations: annotations}
}
