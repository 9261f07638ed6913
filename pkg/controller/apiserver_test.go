package controller

import (
	"encoding/json"
	"errors"
	"strconv"
	"sync/atomic"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	core "k8s.io/client-go/testing"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// resourceVersions gives out resourceVersions for everything one fake
// world stores, so updates can be checked the way the API server checks
// them.
type resourceVersions struct{ last atomic.Int64 }

func (v *resourceVersions) next() string { return strconv.FormatInt(v.last.Add(1), 10) }

// writeCheck is told of every write the client makes that the API server
// would accept, just before it is stored: stored is the object as it was
// (nil for a create), written the object as it will be.
type writeCheck func(action core.Action, stored, written runtime.Object)

// likeAPIServer makes a fake clientset behave as the API server does where
// the controller's correctness depends on it, and the plain fake does not:
// every write gives the object a new resourceVersion (and a create a UID);
// an update whose resourceVersion is stale, or a patch whose
// metadata.resourceVersion or metadata.uid do not match, is a Conflict; an
// update of a MiniCluster's status changes its status only. check sees each
// write that goes through; conflict, when it returns true, refuses a status
// update as if another writer got there first.
func likeAPIServer(fake *core.Fake, tracker core.ObjectTracker, versions *resourceVersions, check writeCheck, conflict func() bool) {
	apply := core.ObjectReaction(tracker)
	fake.PrependReactor("*", "*", func(action core.Action) (bool, runtime.Object, error) {
		gvr, namespace := action.GetResource(), action.GetNamespace()
		switch action.GetVerb() {
		case "create":
			written := action.(core.CreateAction).GetObject().DeepCopyObject()
			object := metaOf(written)
			object.SetResourceVersion(versions.next())
			if object.GetUID() == "" {
				object.SetUID(types.UID("uid-" + object.GetResourceVersion()))
			}
			if existing, err := tracker.Get(gvr, namespace, object.GetName()); err == nil && existing != nil {
				return true, nil, apierrors.NewAlreadyExists(gvr.GroupResource(), object.GetName())
			}
			check(action, nil, written)
			return true, written, tracker.Create(gvr, written, namespace)

		case "update":
			written := action.(core.UpdateAction).GetObject().DeepCopyObject()
			object := metaOf(written)
			stored, err := tracker.Get(gvr, namespace, object.GetName())
			if err != nil {
				return true, nil, err
			}
			if object.GetResourceVersion() != "" && object.GetResourceVersion() != metaOf(stored).GetResourceVersion() {
				return true, nil, conflictError(action, object.GetName())
			}
			if action.GetSubresource() == "status" {
				mc, ok := written.(*v1alpha1.MiniCluster)
				if !ok {
					return false, nil, nil
				}
				if conflict() {
					return true, nil, conflictError(action, object.GetName())
				}
				merged := stored.(*v1alpha1.MiniCluster).DeepCopy()
				merged.Status = mc.Status
				written, object = merged, merged
			}
			object.SetResourceVersion(versions.next())
			check(action, stored, written)
			return true, written, tracker.Update(gvr, written, namespace)

		case "patch":
			patch := action.(core.PatchAction)
			stored, err := tracker.Get(gvr, namespace, patch.GetName())
			if err != nil {
				return true, nil, err
			}
			var preconditions struct {
				Metadata struct {
					UID             *string `json:"uid"`
					ResourceVersion *string `json:"resourceVersion"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(patch.GetPatch(), &preconditions); err != nil {
				return true, nil, apierrors.NewBadRequest(err.Error())
			}
			if u := preconditions.Metadata.UID; u != nil && *u != string(metaOf(stored).GetUID()) {
				return true, nil, conflictError(action, patch.GetName())
			}
			if rv := preconditions.Metadata.ResourceVersion; rv != nil && *rv != metaOf(stored).GetResourceVersion() {
				return true, nil, conflictError(action, patch.GetName())
			}
			_, written, err := apply(action)
			if err != nil {
				return true, nil, err
			}
			metaOf(written).SetResourceVersion(versions.next())
			check(action, stored, written)
			return true, written, tracker.Update(gvr, written, namespace)

		case "delete":
			stored, err := tracker.Get(gvr, namespace, action.(core.DeleteAction).GetName())
			if err == nil {
				check(action, stored, nil)
			}
		}
		return false, nil, nil
	})
}

func conflictError(action core.Action, name string) error {
	return apierrors.NewConflict(action.GetResource().GroupResource(), name, errors.New("the object has been modified; please apply your changes to the latest version and try again"))
}
