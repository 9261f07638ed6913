package controller

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// newService builds the headless Service that gives every broker a DNS name
// <name>-<index>.<service>. Brokers must resolve peers before they are ready,
// hence publishNotReadyAddresses.
func newService(mc *v1alpha1.MiniCluster) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: ownedMeta(mc, serviceName(mc)),
		Spec: corev1.ServiceSpec{
			ClusterIP:                corev1.ClusterIPNone,
			PublishNotReadyAddresses: true,
			Selector:                 brokerSelector(mc),
			Ports: []corev1.ServicePort{{
				Name: "flux-broker", Port: brokerPort, TargetPort: intstr.FromInt32(brokerPort), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
}
