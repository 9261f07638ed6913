package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/cache"
)

// configHashAnnotation records a hash of a ConfigMap's data, so the cache
// can drop the data (the start script is kilobytes per MiniCluster) and
// drift is still seen.
const configHashAnnotation = "elasticflux.io/config-hash"

// hashData is a stable hash of a ConfigMap's data.
func hashData(data map[string]string) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write([]byte(data[k]))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// trimForCache keeps in the informer caches only what the sync handler
// reads, so memory per MiniCluster stays small: no managed fields anywhere,
// no pod template in Jobs, no data in ConfigMaps (their hash annotation is
// compared instead) and no key material in Secrets, which also keeps the
// certificate out of the controller's memory.
func trimForCache(obj any) (any, error) {
	if object, err := meta.Accessor(obj); err == nil {
		object.SetManagedFields(nil)
	}
	switch o := obj.(type) {
	case *batchv1.Job:
		o.Spec.Template = corev1.PodTemplateSpec{}
		o.Spec.Selector = nil
	case *corev1.ConfigMap:
		o.Data, o.BinaryData = nil, nil
	case *corev1.Secret:
		o.Data, o.StringData = nil, nil
	}
	return obj, nil
}

var _ cache.TransformFunc = trimForCache
