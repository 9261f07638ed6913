// Package v1alpha1 holds the MiniCluster API: an elastic Flux Framework
// cluster that the elasticflux controller runs as an Indexed Job of brokers.
//
// +k8s:deepcopy-gen=package
// +groupName=elasticflux.io
// +kubebuilder:validation:Optional
package v1alpha1
