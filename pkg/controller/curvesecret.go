package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// syncCurveSecret keeps the curve certificate the controller made for the
// MiniCluster. Every broker must hold the same one: brokers started with
// one certificate cannot talk to brokers started with another. So a new
// certificate is made only when no broker can be running: at creation, or
// when the Secret is gone and so are the Job and every broker pod. While
// brokers may run the controller makes none, holds back a new Job, and
// says what happened and what to do.
func (r *syncRun) syncCurveSecret(ctx context.Context) error {
	access := r.c.secretAccess(r.mc)
	if _, found, err := access.find(ctx, r.mc); err != nil || found {
		return err
	}
	r.curveSecretMissing = true

	job, err := r.lookupJob(ctx)
	if err != nil {
		return err
	}
	if job != nil && (jobFinished(job) == "" || job.DeletionTimestamp != nil) {
		// The Job's deletion, or the Secret put back, is a watch event.
		r.degrade(degradation{reason: ReasonCurveSecretMissing, message: fmt.Sprintf(
			"the Secret %q holding the brokers' curve certificate is gone while the broker Job %q runs. "+
				"A new certificate would split the cluster (a broker that restarts or joins could not talk to those still running), so none is made, "+
				"and brokers that restart cannot start. Put the Secret back as it was (same certificate, labels and owner reference) if you kept a copy; "+
				"otherwise delete the Job to stop every broker (kubectl delete job -n %s %s): the controller then makes a new certificate and starts them again",
			access.name, job.Name, job.Namespace, job.Name)}, 0)
		return nil
	}
	running, err := r.countRunningBrokers(ctx)
	if err != nil {
		return err
	}
	if running > 0 {
		r.degrade(degradation{reason: ReasonCurveSecretMissing, eventType: corev1.EventTypeNormal, message: fmt.Sprintf(
			"the Secret %q holding the brokers' curve certificate is gone; %d broker pods are still running, and a new certificate is made once they have stopped",
			access.name, running)}, r.c.config.StoppingBrokersPollPeriod)
		return nil
	}

	_, created, err := access.ensure(ctx, r.mc, func() (*corev1.Secret, error) {
		cert, err := r.c.newCurveCertBytes(r.mc.Name)
		if err != nil {
			return nil, fmt.Errorf("generating the curve certificate: %w", err)
		}
		return newCurveSecret(r.mc, cert), nil
	})
	if err != nil {
		return err
	}
	r.curveSecretMissing = false
	// At creation this is routine; later it answers a Secret that went
	// away, which the user should hear of.
	if created && r.mc.Status.ObservedGeneration > 0 {
		r.c.recorder.Eventf(r.mc, corev1.EventTypeNormal, ReasonCurveSecretCreated,
			"Made a new curve certificate in Secret %q: the old one was gone and no broker was running", access.name)
	}
	return nil
}

// checkUserCurveSecret looks at the Secret the user named in
// spec.flux.curveCertSecretName. The controller never creates, changes or
// deletes it: other MiniClusters may share it, and only the user knows the
// certificate. When it is missing, or holds no certificate, the brokers
// cannot start (their pods wait for the Secret), and the MiniCluster says
// so. It is not in the controller's cache (it does not carry our label),
// so it is read live, and looked at again now and then while missing.
func (r *syncRun) checkUserCurveSecret(ctx context.Context) error {
	name := curveSecretName(r.mc)
	secret, err := r.c.kubeClient.CoreV1().Secrets(r.mc.Namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		// The Job is made anyway: its pods wait for the Secret and start
		// as soon as it exists.
		r.degrade(degradation{reason: ReasonCurveSecretMissing, message: fmt.Sprintf(
			"the Secret %q named by spec.flux.curveCertSecretName does not exist, so no broker can start; "+
				"create it with the curve certificate all brokers of this MiniCluster share under the key %s (the controller never makes it)",
			name, CurveCertKey)}, r.c.config.ForeignRetryPeriod)
		return nil
	case err != nil:
		return fmt.Errorf("reading the curve Secret: %w", err)
	}
	// Only the key's presence is looked at; the certificate itself never
	// leaves this function.
	if len(secret.Data[CurveCertKey]) == 0 {
		r.degrade(degradation{reason: ReasonCurveSecretMissing, message: fmt.Sprintf(
			"the Secret %q named by spec.flux.curveCertSecretName has no key %s, so no broker can start; put the curve certificate there",
			name, CurveCertKey)}, r.c.config.ForeignRetryPeriod)
	}
	return nil
}
