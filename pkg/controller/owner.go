package controller

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// metaOf returns an object's metadata, or nil for something that has none.
func metaOf(obj any) metav1.Object {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	return accessor
}

// controllingMiniCluster names the MiniCluster that controls obj, if any.
func controllingMiniCluster(obj any) (name, namespace string, ok bool) {
	object := metaOf(obj)
	if object == nil {
		return "", "", false
	}
	ref := metav1.GetControllerOf(object)
	if ref == nil || ref.Kind != controllerKind.Kind || ref.APIVersion != controllerKind.GroupVersion().String() {
		return "", "", false
	}
	return ref.Name, object.GetNamespace(), true
}
