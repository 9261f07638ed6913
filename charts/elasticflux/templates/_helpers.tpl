{{/*
The prefix of every object's name: the release name when it already says
elasticflux (the usual `helm install elasticflux`), else both, so two
releases never share a cluster-scoped name.
*/}}
{{- define "elasticflux.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The namespace the controller runs in. */}}
{{- define "elasticflux.namespace" -}}
{{- default .Release.Namespace .Values.namespace -}}
{{- end -}}

{{/* The controller's ServiceAccount, Deployment and ClusterRole name. */}}
{{- define "elasticflux.controllerName" -}}
{{- include "elasticflux.fullname" . -}}-controller
{{- end -}}

{{/* Labels the Deployment selects its pods by; never change them after release. */}}
{{- define "elasticflux.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{/*
Labels of every object. helm.sh/chart and app.kubernetes.io/managed-by are
Helm's own: make generate leaves them out of manifests/.
*/}}
{{- define "elasticflux.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: elasticflux
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The image reference, the tag defaulting to the chart's appVersion. */}}
{{- define "elasticflux.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Values that cannot work together fail the render with a reason. */}}
{{- define "elasticflux.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection.enabled) -}}
{{- fail "replicas > 1 needs leaderElection.enabled: without a Lease every replica would act at once" -}}
{{- end -}}
{{- if and .Values.metrics.enabled (eq (int .Values.metrics.port) (int .Values.health.port)) -}}
{{- fail "metrics.port and health.port must differ: /metrics speaks HTTPS and the probes plain HTTP" -}}
{{- end -}}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) -}}
{{- fail "metrics.serviceMonitor.enabled needs metrics.enabled" -}}
{{- end -}}
{{- end -}}
