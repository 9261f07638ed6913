package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/cache"
)

// cachedDataHashAnnotation exists only in the controller's cache: the
// transform replaces a ConfigMap's data with this hash of it, so drift is
// read from what is really stored while the cache stays small. It is never
// written to the API server.
const cachedDataHashAnnotation = "elasticflux.io/cached-data-hash"

// staleConfigHashAnnotation is what earlier versions wrote on the broker
// ConfigMap and trusted for drift. Nothing reads it now; an update drops it
// so nobody is misled by it.
const staleConfigHashAnnotation = "elasticflux.io/config-hash"

// hashConfigMapData is a stable hash of a ConfigMap's data and binary data.
func hashConfigMapData(data map[string]string, binaryData map[string][]byte) string {
	h := sha256.New()
	write := func(kind byte, key string, value []byte) {
		h.Write([]byte{kind})
		h.Write([]byte(key))
		h.Write([]byte{0})
		h.Write(value)
		h.Write([]byte{0})
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		write('d', k, []byte(data[k]))
	}
	keys = keys[:0]
	for k := range binaryData {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		write('b', k, binaryData[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// trimForCache keeps in the informer caches only what the sync handler
// reads, so memory per MiniCluster stays small: no managed fields anywhere;
// of a Job's pod template only its restart policy (it tells the Job's shape,
// see jobshape.go); a ConfigMap's data replaced by its hash; no key material
// in Secrets, which also keeps the certificate out of the controller's
// memory.
//
// It is idempotent, as client-go recommends: a ConfigMap that already
// carries the hash and no data is left as it is.
func trimForCache(obj any) (any, error) {
	if object, err := meta.Accessor(obj); err == nil {
		object.SetManagedFields(nil)
	}
	switch o := obj.(type) {
	case *batchv1.Job:
		o.Spec.Template = corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: o.Spec.Template.Spec.RestartPolicy}}
		o.Spec.Selector = nil
	case *corev1.ConfigMap:
		if _, hashed := o.Annotations[cachedDataHashAnnotation]; hashed && o.Data == nil && o.BinaryData == nil {
			return obj, nil
		}
		if o.Annotations == nil {
			o.Annotations = map[string]string{}
		}
		o.Annotations[cachedDataHashAnnotation] = hashConfigMapData(o.Data, o.BinaryData)
		o.Data, o.BinaryData = nil, nil
	case *corev1.Secret:
		o.Data, o.StringData = nil, nil
	}
	return obj, nil
}

var _ cache.TransformFunc = trimForCache
