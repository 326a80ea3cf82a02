{{/* The chart's name, or nameOverride. */}}
{{- define "g2msync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The objects' name: fullnameOverride, else the release name, followed by the
chart's name unless it already holds it ("contoso" → "contoso-g2msync",
"g2msync-contoso" → "g2msync-contoso"). 63 characters at most.
*/}}
{{- define "g2msync.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "g2msync.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "g2msync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "g2msync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "g2msync.labels" -}}
helm.sh/chart: {{ include "g2msync.chart" . }}
{{ include "g2msync.selectorLabels" . }}
app.kubernetes.io/version: {{ (default .Chart.AppVersion .Values.image.tag) | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The image: repository, and the tag (default: the chart's appVersion) or a digest. */}}
{{- define "g2msync.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Secret holding the credentials: existingSecret, or the chart's. */}}
{{- define "g2msync.secretName" -}}
{{- default (include "g2msync.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* The credential names g2msync reads from CREDENTIALS_DIRECTORY (as the systemd units load them). */}}
{{- define "g2msync.credentialNames" -}}
entra-client-secret entra-certificate-password goto-client-secret goto-refresh-token goto-personal-access-token goto-password notify-smtp-password status-token
{{- end }}

{{/* The scheme of the listener: HTTPS with listenTLS. */}}
{{- define "g2msync.scheme" -}}
{{- if .Values.listenTLS.secretName }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}

{{/*
The label matchers that pick this release's series out of every tenant's:
the scrape job (the Service's name, as the ServiceMonitor names it, or
prometheusRule.job) and the namespace.
*/}}
{{- define "g2msync.alertSelector" -}}
job="{{ default (include "g2msync.fullname" .) .Values.prometheusRule.job }}",namespace="{{ .Release.Namespace }}"
{{- end }}

{{/* The environment both containers share. */}}
{{- define "g2msync.env" -}}
- name: CREDENTIALS_DIRECTORY
  value: /run/secrets/g2msync
- name: G2MSYNC_STATE_PATH
  value: /var/lib/g2msync/state.db
- name: G2MSYNC_LOG_FORMAT
  value: json
{{- end }}

{{/* The volume mounts both containers share. */}}
{{- define "g2msync.volumeMounts" -}}
- name: config
  mountPath: /etc/g2msync
  readOnly: true
- name: credentials
  mountPath: /run/secrets/g2msync
  readOnly: true
- name: state
  mountPath: /var/lib/g2msync
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}
