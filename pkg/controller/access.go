package controller

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/elasticflux/elasticflux/pkg/apis/elasticflux/v1alpha1"
)

// The access to each kind of object a MiniCluster owns, under its name.

func (c *Controller) jobAccess(mc *v1alpha1.MiniCluster) objectAccess[*batchv1.Job] {
	client := c.kubeClient.BatchV1().Jobs(mc.Namespace)
	return objectAccess[*batchv1.Job]{
		kind: "Job", name: jobName(mc),
		cached: c.jobs.Jobs(mc.Namespace).Get,
		get:    client.Get, create: client.Create, patch: client.Patch,
	}
}

func (c *Controller) serviceAccess(mc *v1alpha1.MiniCluster) objectAccess[*corev1.Service] {
	client := c.kubeClient.CoreV1().Services(mc.Namespace)
	return objectAccess[*corev1.Service]{
		kind: "Service", name: serviceName(mc),
		cached: c.services.Services(mc.Namespace).Get,
		get:    client.Get, create: client.Create, patch: client.Patch,
	}
}

func (c *Controller) configMapAccess(mc *v1alpha1.MiniCluster) objectAccess[*corev1.ConfigMap] {
	client := c.kubeClient.CoreV1().ConfigMaps(mc.Namespace)
	return objectAccess[*corev1.ConfigMap]{
		kind: "ConfigMap", name: configMapName(mc),
		cached: c.configMaps.ConfigMaps(mc.Namespace).Get,
		get:    client.Get, create: client.Create, patch: client.Patch,
	}
}

func (c *Controller) secretAccess(mc *v1alpha1.MiniCluster) objectAccess[*corev1.Secret] {
	client := c.kubeClient.CoreV1().Secrets(mc.Namespace)
	return objectAccess[*corev1.Secret]{
		kind: "Secret", name: curveSecretName(mc),
		cached: c.secrets.Secrets(mc.Namespace).Get,
		get:    client.Get, create: client.Create, patch: client.Patch,
	}
}

func (c *Controller) serviceAccountAccess(mc *v1alpha1.MiniCluster) objectAccess[*corev1.ServiceAccount] {
	client := c.kubeClient.CoreV1().ServiceAccounts(mc.Namespace)
	return objectAccess[*corev1.ServiceAccount]{
		kind: "ServiceAccount", name: rbacName(mc),
		cached: c.serviceAccounts.ServiceAccounts(mc.Namespace).Get,
		get:    client.Get, create: client.Create, patch: client.Patch,
	}
}

func (c *Controller) roleAccess(mc *v1alpha1.MiniCluster) objectAccess[*rbacv1.Role] {
	client := c.kubeClient.RbacV1().Roles(mc.Namespace)
	return objectAccess[*rbacv1.Role]{
		kind: "Role", name: rbacName(mc),
		cached: c.roles.Roles(mc.Namespace).Get,
		get:    client.Get, create: client.Create, patch: client.Patch,
	}
}

func (c *Controller) roleBindingAccess(mc *v1alpha1.MiniCluster) objectAccess[*rbacv1.RoleBinding] {
	client := c.kubeClient.RbacV1().RoleBindings(mc.Namespace)
	return objectAccess[*rbacv1.RoleBinding]{
		kind: "RoleBinding", name: rbacName(mc),
		cached: c.roleBindings.RoleBindings(mc.Namespace).Get,
		get:    client.Get, create: client.Create, patch: client.Patch,
	}
}

func (c *Controller) pdbAccess(mc *v1alpha1.MiniCluster) objectAccess[*policyv1.PodDisruptionBudget] {
	client := c.kubeClient.PolicyV1().PodDisruptionBudgets(mc.Namespace)
	return objectAccess[*policyv1.PodDisruptionBudget]{
		kind: "PodDisruptionBudget", name: pdbName(mc),
		cached: c.pdbs.PodDisruptionBudgets(mc.Namespace).Get,
		get:    client.Get, create: client.Create, patch: client.Patch,
	}
}
