{{/*
Names, labels and the pieces the operator and syncer workloads share.
*/}}

{{- define "atoll.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's prefix for every name: the release name, plus the chart's unless it holds it. */}}
{{- define "atoll.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "atoll.selectorLabels" -}}
app.kubernetes.io/name: {{ include "atoll.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Every object of the release carries these: uninstall checks look objects up by them. */}}
{{- define "atoll.labels" -}}
{{ include "atoll.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: atoll
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "atoll.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "atoll.operatorServiceAccount" -}}
{{ include "atoll.fullname" . }}-operator
{{- end -}}

{{- define "atoll.syncerServiceAccount" -}}
{{- if eq .Values.syncer.mode "separate" -}}
{{ include "atoll.fullname" . }}-syncer
{{- else -}}
{{ include "atoll.operatorServiceAccount" . }}
{{- end -}}
{{- end -}}

{{/*
"true" when a cluster-wide singleton the operator reads by a fixed name (the `default`
ClusterVersion, the `atoll` peering) should be rendered: when it does not exist yet, or
this release owns it. One made by someone else (an `atoll operator --install-crds`, another
release) is left alone rather than taken over; `helm template` always renders it.
*/}}
{{- define "atoll.ownedOrAbsent" -}}
{{- $root := .root -}}
{{- if not ($root.Capabilities.APIVersions.Has (printf "%s/%s" .apiVersion .kind)) -}}
true
{{- else -}}
{{- $existing := lookup .apiVersion .kind "" .name -}}
{{- if not $existing -}}
true
{{- else -}}
{{- $annotations := $existing.metadata.annotations | default dict -}}
{{- if and (eq (get $annotations "meta.helm.sh/release-name") $root.Release.Name) (eq (get $annotations "meta.helm.sh/release-namespace") $root.Release.Namespace) -}}
true
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* `atoll` and its global options: log format and level. */}}
{{- define "atoll.command" -}}
- atoll
- --log-format={{ .Values.logging.format }}
{{- if eq .Values.logging.level "debug" }}
- --verbose
{{- end }}
{{- end -}}

{{/* Pod and container security of the restricted Pod Security profile. */}}
{{- define "atoll.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "atoll.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* /tmp is the only writable folder: the kubeconfig, TLS scratch files, the state folder. */}}
{{- define "atoll.tmpVolume" -}}
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: 32Mi
{{- end -}}

{{/* Scheduling of one workload from its values: nodeSelector, tolerations, affinity. */}}
{{- define "atoll.placement" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
