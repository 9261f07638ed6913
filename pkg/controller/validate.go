package controller

import (
	"errors"
	"fmt"
	"strings"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// reservedMountPaths are where the controller mounts what a broker needs.
var reservedMountPaths = []string{configMountPath, curveMountPath, stateMountPath}

// completionIndexEnv is the variable the Job controller sets to a pod's
// index, the broker's rank; it does not set it when the container already
// has one.
const completionIndexEnv = "JOB_COMPLETION_INDEX"

// validateBrokerPod refuses, before a Job is made, what admission refuses
// for the broker pod: it defends Jobs from MiniClusters that reached the
// controller without the CRD's validation (an older CRD, a copy made with
// validation off). Some of these the Job API would refuse too; others
// would make brokers that cannot start or that take a wrong rank.
func validateBrokerPod(mc *v1alpha1.MiniCluster) error {
	var problems []string
	volumes := map[string]bool{}
	for _, v := range podSpec(mc).Volumes {
		volumes[v.Name] = true
		if strings.HasPrefix(v.Name, "elasticflux-") {
			problems = append(problems, fmt.Sprintf("spec.pod.volumes: the name %q is reserved for the controller's own volumes", v.Name))
		}
	}
	for _, m := range mc.Spec.Container.VolumeMounts {
		if !volumes[m.Name] {
			problems = append(problems, fmt.Sprintf("spec.container.volumeMounts: %q names no volume of spec.pod.volumes", m.Name))
		}
		for _, reserved := range reservedMountPaths {
			if m.MountPath == reserved || strings.HasPrefix(m.MountPath, reserved+"/") {
				problems = append(problems, fmt.Sprintf("spec.container.volumeMounts: %q is at or inside %s, where the controller mounts what the broker needs", m.MountPath, reserved))
			}
		}
	}
	for _, e := range mc.Spec.Container.Env {
		if strings.HasPrefix(e.Name, "ELASTICFLUX_") || e.Name == completionIndexEnv {
			problems = append(problems, fmt.Sprintf("spec.container.env: %s is set by the controller or the Job controller", e.Name))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; "))
}
