{{/* Name of the release's objects. */}}
{{- define "vk.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Namespace of the workload. */}}
{{- define "vk.namespace" -}}
{{- default .Release.Namespace .Values.namespace -}}
{{- end -}}

{{/* Service account the virtual node runs as. */}}
{{- define "vk.serviceAccountName" -}}
{{- printf "%s-%s" (include "vk.fullname" .) .Values.rbac.serviceAccountName | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "vk.labels" -}}
app.kubernetes.io/name: vk-aci
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Labels that select the workload's pods. */}}
{{- define "vk.selectorLabels" -}}
app.kubernetes.io/name: vk-aci
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* True when the chart writes a Secret. */}}
{{- define "vk.hasSecret" -}}
{{- $azure := .Values.providers.azure -}}
{{- if or .Values.apiserverCert $azure.loganalytics.enabled (not $azure.workloadIdentityClientId) -}}true{{- end -}}
{{- end -}}
