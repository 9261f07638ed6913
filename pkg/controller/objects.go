package controller

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// objectAccess is how the sync handler reads and writes one kind of owned
// object under its deterministic name: through the label-filtered cache,
// and through the API server when the cache cannot answer.
type objectAccess[T metav1.Object] struct {
	kind   string
	name   string
	cached func(name string) (T, error)
	get    func(ctx context.Context, name string, options metav1.GetOptions) (T, error)
	create func(ctx context.Context, object T, options metav1.CreateOptions) (T, error)
	patch  func(ctx context.Context, name string, patchType types.PatchType, data []byte, options metav1.PatchOptions, subresources ...string) (T, error)
}

// find returns the object of that name that mc controls, or found=false
// when there is none. The cache holds only objects that carry our
// managed-by label, so a miss is confirmed with one live read; an object
// of ours that lost its labels gets them back, so the cache sees it again.
// An object of that name that mc does not control is a foreignObjectError.
func (a objectAccess[T]) find(ctx context.Context, mc *v1alpha1.MiniCluster) (object T, found bool, err error) {
	var zero T
	object, err = a.cached(a.name)
	switch {
	case err == nil:
		if !metav1.IsControlledBy(object, mc) {
			return zero, false, &foreignObjectError{kind: a.kind, name: a.name}
		}
		return object, true, nil
	case !apierrors.IsNotFound(err):
		return zero, false, err
	}
	object, err = a.get(ctx, a.name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return zero, false, nil
	case err != nil:
		return zero, false, fmt.Errorf("reading %s %q: %w", a.kind, a.name, err)
	}
	return a.adopted(ctx, mc, object)
}

// ensure returns the object mc controls under the name, creating it from
// desired when there is none. It tries the create before any live read:
// on a cache miss the object is almost always really missing, and an
// AlreadyExists answer costs the same one read that find would.
func (a objectAccess[T]) ensure(ctx context.Context, mc *v1alpha1.MiniCluster, desired func() (T, error)) (object T, created bool, err error) {
	var zero T
	object, err = a.cached(a.name)
	switch {
	case err == nil:
		if !metav1.IsControlledBy(object, mc) {
			return zero, false, &foreignObjectError{kind: a.kind, name: a.name}
		}
		return object, false, nil
	case !apierrors.IsNotFound(err):
		return zero, false, err
	}
	want, err := desired()
	if err != nil {
		return zero, false, err
	}
	object, err = a.createObject(ctx, want)
	if !apierrors.IsAlreadyExists(err) {
		return object, err == nil, err
	}
	object, err = a.get(ctx, a.name, metav1.GetOptions{})
	if err != nil {
		return zero, false, fmt.Errorf("reading existing %s %q: %w", a.kind, a.name, err)
	}
	object, _, err = a.adopted(ctx, mc, object)
	return object, false, err
}

// createObject creates an object. The API server's refusal of the object
// itself (422 Invalid) means the MiniCluster's spec passed admission but
// cannot run: retrying cannot help, so it is an invalidSpecError.
func (a objectAccess[T]) createObject(ctx context.Context, want T) (T, error) {
	var zero T
	created, err := a.create(ctx, want, metav1.CreateOptions{FieldManager: FieldManager})
	switch {
	case apierrors.IsInvalid(err):
		return zero, &invalidSpecError{err: fmt.Errorf("the API server refused the %s: %w", a.kind, err)}
	case apierrors.IsAlreadyExists(err):
		return zero, err
	case err != nil:
		return zero, fmt.Errorf("creating %s: %w", a.kind, err)
	}
	klog.FromContext(ctx).V(2).Info("Created", "kind", a.kind, "object", klog.KObj(created))
	return created, nil
}

// adopted checks that a live object is controlled by mc and puts back the
// labels that keep it in the cache.
func (a objectAccess[T]) adopted(ctx context.Context, mc *v1alpha1.MiniCluster, object T) (T, bool, error) {
	var zero T
	if !metav1.IsControlledBy(object, mc) {
		return zero, false, &foreignObjectError{kind: a.kind, name: a.name}
	}
	missing := map[string]string{}
	for key, value := range managedLabels(mc) {
		if object.GetLabels()[key] != value {
			missing[key] = value
		}
	}
	if len(missing) == 0 {
		return object, true, nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"labels":          missing,
		"resourceVersion": object.GetResourceVersion(),
	}})
	if err != nil {
		return zero, false, err
	}
	patched, err := a.patch(ctx, a.name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
	if err != nil {
		return zero, false, fmt.Errorf("restoring the labels of %s %q: %w", a.kind, a.name, err)
	}
	klog.FromContext(ctx).V(2).Info("Restored labels", "kind", a.kind, "object", klog.KObj(patched))
	return patched, true, nil
}
