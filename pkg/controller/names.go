package controller

import (
	"k8s.io/apimachinery/pkg/labels"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// Names of the objects a MiniCluster owns. They are deterministic so a
// get-or-create finds what an earlier sync made.
func jobName(mc *v1alpha1.MiniCluster) string       { return mc.Name }
func serviceName(mc *v1alpha1.MiniCluster) string   { return mc.Name }
func configMapName(mc *v1alpha1.MiniCluster) string { return mc.Name + "-flux" }
func rbacName(mc *v1alpha1.MiniCluster) string      { return mc.Name + "-selfscale" }

// curveSecretName is the Secret holding the curve certificate: the user's
// own when spec.flux.curveCertSecretName is set, else the one we create.
func curveSecretName(mc *v1alpha1.MiniCluster) string {
	if mc.Spec.Flux != nil && mc.Spec.Flux.CurveCertSecretName != "" {
		return mc.Spec.Flux.CurveCertSecretName
	}
	return mc.Name + "-curve"
}

// ownsCurveSecret reports whether the controller creates the curve Secret.
func ownsCurveSecret(mc *v1alpha1.MiniCluster) bool {
	return mc.Spec.Flux == nil || mc.Spec.Flux.CurveCertSecretName == ""
}

// brokerSelector matches the broker pods of one MiniCluster and nothing
// else: the label is ours and only the Job's pod template carries it.
func brokerSelector(mc *v1alpha1.MiniCluster) labels.Set {
	return labels.Set{v1alpha1.LabelMiniCluster: mc.Name}
}

// managedLabels go on every object the controller creates; its informers
// watch only objects that carry them.
func managedLabels(mc *v1alpha1.MiniCluster) map[string]string {
	return map[string]string{
		v1alpha1.LabelManagedBy:   v1alpha1.ManagedByValue,
		v1alpha1.LabelMiniCluster: mc.Name,
	}
}
