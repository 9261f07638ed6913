//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestHandEditsAreRestored: what brokers read from the objects the
// controller owns is put back after a hand edit, and the user is told.
func TestHandEditsAreRestored(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()
	startController(t, ns)
	createMiniCluster(t, ns, miniCluster("flux-sample", 2, 1, 4))
	waitForBrokers(t, ns, "flux-sample", 2)
	rendered, err := kubeClient.CoreV1().ConfigMaps(ns).Get(ctx, "flux-sample-flux", metav1.GetOptions{})
	require.NoError(t, err)

	_, err = kubeClient.CoreV1().ConfigMaps(ns).Patch(ctx, "flux-sample-flux", types.MergePatchType,
		[]byte(`{"data":{"start.sh":"#!/bin/sh\nexec sleep infinity\n","extra":"x"}}`), metav1.PatchOptions{})
	require.NoError(t, err)
	eventually(t, shortWait, "the broker ConfigMap restored", func() (bool, string) {
		cm, err := kubeClient.CoreV1().ConfigMaps(ns).Get(ctx, "flux-sample-flux", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return assert.ObjectsAreEqual(rendered.Data, cm.Data), fmt.Sprintf("keys %d", len(cm.Data))
	})
	waitForEvent(t, ns, "flux-sample", `Normal Restored ConfigMap "flux-sample-flux" differed from what this MiniCluster asks for (data); restored it`)

	_, err = kubeClient.CoreV1().Services(ns).Patch(ctx, "flux-sample", types.MergePatchType,
		[]byte(`{"spec":{"selector":{"app":"other"},"publishNotReadyAddresses":false}}`), metav1.PatchOptions{})
	require.NoError(t, err)
	eventually(t, shortWait, "the Service restored", func() (bool, string) {
		svc, err := kubeClient.CoreV1().Services(ns).Get(ctx, "flux-sample", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return svc.Spec.PublishNotReadyAddresses && len(svc.Spec.Selector) == 1 && svc.Spec.Selector["elasticflux.io/minicluster"] == "flux-sample",
			fmt.Sprintf("%v %v", svc.Spec.Selector, svc.Spec.PublishNotReadyAddresses)
	})
	waitForEvent(t, ns, "flux-sample", `Normal Restored Service "flux-sample" differed`)
}
