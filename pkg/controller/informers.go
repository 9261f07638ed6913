package controller

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	clientset "github.com/elasticflux/elasticflux/pkg/generated/clientset/versioned"
	informers "github.com/elasticflux/elasticflux/pkg/generated/informers/externalversions"
)

// NewInformerFactories builds the two informer factories NewController
// wants: the Kubernetes one sees only objects the controller manages
// (ManagedSelector), so memory stays flat as the cluster fills with other
// workloads' Jobs, Secrets and ConfigMaps. An empty namespace means all.
func NewInformerFactories(
	kubeClient kubernetes.Interface,
	elasticClient clientset.Interface,
	namespace string,
	resync time.Duration,
) (kubeinformers.SharedInformerFactory, informers.SharedInformerFactory) {
	kubeOptions := []kubeinformers.SharedInformerOption{
		kubeinformers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = ManagedSelector }),
	}
	var elasticOptions []informers.SharedInformerOption
	if namespace != "" {
		kubeOptions = append(kubeOptions, kubeinformers.WithNamespace(namespace))
		elasticOptions = append(elasticOptions, informers.WithNamespace(namespace))
	}
	return kubeinformers.NewSharedInformerFactoryWithOptions(kubeClient, resync, kubeOptions...),
		informers.NewSharedInformerFactoryWithOptions(elasticClient, resync, elasticOptions...)
}
