package controller

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	core "k8s.io/client-go/testing"
)

// filterWatchesByLabel makes a fake clientset's watches behave as the API
// server's: each event carries an object of its own (the fake would send
// the very object it stores, which an informer's transform then changes
// under it), and a watch honours its label selector: an object that does
// not match is not sent, and one that stops matching is sent as deleted.
// Without it the controller's label-filtered informers would cache objects
// that a real cluster keeps out of them. (The fake's lists already filter
// by label.) watching, when not nil, is called as each watch starts.
func filterWatchesByLabel(fake *core.Fake, tracker core.ObjectTracker, watching func()) {
	fake.PrependWatchReactor("*", func(action core.Action) (bool, watch.Interface, error) {
		if watching != nil {
			defer watching()
		}
		var options metav1.ListOptions
		if watchAction, ok := action.(core.WatchActionImpl); ok {
			options = watchAction.ListOptions
		}
		w, err := tracker.Watch(action.GetResource(), action.GetNamespace(), options)
		if err != nil {
			return true, nil, err
		}
		selector := action.(core.WatchAction).GetWatchRestrictions().Labels
		return true, watch.Filter(w, func(event watch.Event) (watch.Event, bool) {
			if event.Object != nil {
				event.Object = event.Object.DeepCopyObject()
			}
			if selector == nil || selector.Empty() || matches(selector, event.Object) {
				return event, true
			}
			if event.Type == watch.Modified {
				event.Type = watch.Deleted
				return event, true
			}
			return event, false
		}), nil
	})
}

func matches(selector labels.Selector, obj runtime.Object) bool {
	object, err := meta.Accessor(obj)
	return err == nil && selector.Matches(labels.Set(object.GetLabels()))
}
