{{/* Names */}}

{{- define "regsearch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "regsearch.fullname" -}}
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

{{/* The name of one role's objects; roles are short so the suffix survives. */}}
{{- define "regsearch.roleName" -}}
{{- printf "%s-%s" (include "regsearch.fullname" .root | trunc 50 | trimSuffix "-") .role }}
{{- end }}

{{- define "regsearch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "regsearch.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "regsearch.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Labels */}}

{{- define "regsearch.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "regsearch.selectorLabels" (dict "root" . "role" "") }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels; with a role (dict "root" . "role" "indexer") they select that role's pods only. */}}
{{- define "regsearch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "regsearch.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .role }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{- define "regsearch.roleLabels" -}}
{{ include "regsearch.labels" .root }}
app.kubernetes.io/component: {{ .role }}
{{- end }}

{{/* Secrets */}}

{{- define "regsearch.secretName" -}}
{{- default (include "regsearch.fullname" .) .Values.secret.existingSecret }}
{{- end }}

{{- define "regsearch.saslEnabled" -}}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol }}true{{ end }}
{{- end }}

{{- define "regsearch.saslSecretName" -}}
{{- default (include "regsearch.secretName" .) .Values.kafka.sasl.existingSecret }}
{{- end }}

{{/* Refuses settings that would deploy pods unable to reach Kafka or the registry. */}}
{{- define "regsearch.validate" -}}
{{- $kafka := .Values.kafka }}
{{- if include "regsearch.saslEnabled" . }}
{{- if not $kafka.sasl.username }}
{{- fail (printf "kafka.sasl.username is required when kafka.securityProtocol is %s" $kafka.securityProtocol) }}
{{- end }}
{{- if not (or $kafka.sasl.password $kafka.sasl.existingSecret .Values.secret.existingSecret) }}
{{- fail "kafka.sasl.password (or kafka.sasl.existingSecret) is required with SASL" }}
{{- end }}
{{- end }}
{{- if and $kafka.tls.enabled (not (hasSuffix "SSL" $kafka.securityProtocol)) }}
{{- fail "kafka.tls.enabled needs kafka.securityProtocol SSL or SASL_SSL" }}
{{- end }}
{{- if and $kafka.tls.enabled (not $kafka.tls.existingSecret) }}
{{- fail "kafka.tls.existingSecret is required when kafka.tls.enabled is true" }}
{{- end }}
{{- if and $kafka.tls.enabled (ne (empty $kafka.tls.certKey) (empty $kafka.tls.keyKey)) }}
{{- fail "kafka.tls.certKey and kafka.tls.keyKey go together: set both for a client certificate, or neither" }}
{{- end }}
{{- if and .Values.registry.username (not (or .Values.registry.password .Values.secret.existingSecret)) }}
{{- fail "registry.password (or secret.existingSecret) is required when registry.username is set" }}
{{- end }}
{{- if and .Values.registry.password (not .Values.registry.username) }}
{{- fail "registry.password is set without registry.username" }}
{{- end }}
{{- end }}

{{/* Environment shared by every role: the same settings everywhere. */}}

{{- define "regsearch.env" -}}
{{- include "regsearch.validate" . }}
{{- $kafka := .Values.kafka }}
{{- $files := "/etc/regsearch/secrets" -}}
- name: REGSEARCH_REGISTRY
  value: {{ .Values.registry.url | quote }}
{{- if .Values.registry.username }}
- name: REGSEARCH_REGISTRY_USERNAME
  value: {{ .Values.registry.username | quote }}
- name: REGSEARCH_REGISTRY_PASSWORD_FILE
  value: {{ printf "%s/registry-password" $files }}
{{- end }}
{{- /* Every role gets the token: without one, a process would generate its own in the data dir. */}}
- name: REGSEARCH_WEBHOOK_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "regsearch.secretName" . }}
      key: {{ .Values.secret.keys.webhookToken }}
- name: REGSEARCH_LISTEN
  value: "0.0.0.0:8080"
- name: REGSEARCH_DATA_DIR
  value: /var/lib/regsearch
- name: REGSEARCH_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: REGSEARCH_KAFKA_BOOTSTRAP
  value: {{ required "kafka.bootstrap is required: set it to the Kafka bootstrap servers, e.g. --set kafka.bootstrap=kafka-0.kafka:9092" $kafka.bootstrap | quote }}
- name: REGSEARCH_TOPIC_PREFIX
  value: {{ $kafka.topicPrefix | quote }}
- name: REGSEARCH_KAFKA_PARTITIONS
  value: {{ $kafka.partitions | quote }}
- name: REGSEARCH_KAFKA_REPLICATION_FACTOR
  value: {{ $kafka.replicationFactor | quote }}
- name: REGSEARCH_KAFKA_SECURITY_PROTOCOL
  value: {{ $kafka.securityProtocol | quote }}
{{- if include "regsearch.saslEnabled" . }}
- name: REGSEARCH_KAFKA_SASL_MECHANISM
  value: {{ $kafka.sasl.mechanism | quote }}
- name: REGSEARCH_KAFKA_SASL_USERNAME
  value: {{ $kafka.sasl.username | quote }}
- name: REGSEARCH_KAFKA_SASL_PASSWORD_FILE
  value: {{ printf "%s/kafka-sasl-password" $files }}
{{- end }}
{{- if $kafka.tls.enabled }}
- name: REGSEARCH_KAFKA_SSL_CAFILE
  value: {{ printf "%s/kafka-ca.crt" $files }}
{{- if $kafka.tls.certKey }}
- name: REGSEARCH_KAFKA_SSL_CERTFILE
  value: {{ printf "%s/kafka-client.crt" $files }}
- name: REGSEARCH_KAFKA_SSL_KEYFILE
  value: {{ printf "%s/kafka-client.key" $files }}
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Volumes every pod has: a writable /tmp and the credential files named in the env above. */}}

{{- define "regsearch.secretSources" -}}
{{- $kafka := .Values.kafka -}}
{{- if .Values.registry.username }}
- secret:
    name: {{ include "regsearch.secretName" . }}
    items:
      - key: {{ .Values.secret.keys.registryPassword }}
        path: registry-password
{{- end }}
{{- if include "regsearch.saslEnabled" . }}
- secret:
    name: {{ include "regsearch.saslSecretName" . }}
    items:
      - key: {{ $kafka.sasl.passwordKey }}
        path: kafka-sasl-password
{{- end }}
{{- if $kafka.tls.enabled }}
- secret:
    name: {{ $kafka.tls.existingSecret }}
    items:
      - key: {{ $kafka.tls.caKey }}
        path: kafka-ca.crt
      {{- if $kafka.tls.certKey }}
      - key: {{ $kafka.tls.certKey }}
        path: kafka-client.crt
      - key: {{ $kafka.tls.keyKey }}
        path: kafka-client.key
      {{- end }}
{{- end }}
{{- end }}

{{- define "regsearch.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- with include "regsearch.secretSources" . }}
- name: secrets
  projected:
    defaultMode: 0440
    sources:
      {{- . | nindent 6 }}
{{- end }}
{{- end }}

{{- define "regsearch.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if include "regsearch.secretSources" . }}
- name: secrets
  mountPath: /etc/regsearch/secrets
  readOnly: true
{{- end }}
{{- end }}

{{/*
One container of a role. Arguments: root, role (also the command),
resources, and probes (the arguments of regsearch.httpProbes) when it serves HTTP.
*/}}
{{- define "regsearch.container" -}}
- name: {{ .role }}
  image: {{ include "regsearch.image" .root }}
  imagePullPolicy: {{ .root.Values.image.pullPolicy }}
  args: [{{ .role | quote }}]
  env:
    {{- include "regsearch.env" .root | nindent 4 }}
  securityContext:
    {{- toYaml .root.Values.containerSecurityContext | nindent 4 }}
  resources:
    {{- toYaml .resources | nindent 4 }}
  volumeMounts:
    {{- include "regsearch.volumeMounts" .root | nindent 4 }}
    - name: data
      mountPath: /var/lib/regsearch
  {{- with .probes }}
  {{- include "regsearch.httpProbes" . | nindent 2 }}
  {{- end }}
{{- end }}

{{/* The pod-level fields every role shares. */}}
{{- define "regsearch.podSpec" -}}
serviceAccountName: {{ include "regsearch.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Pod metadata: labels, and a checksum that rolls pods when the chart's Secret changes. */}}
{{- define "regsearch.podMetadata" -}}
labels:
  {{- include "regsearch.selectorLabels" (dict "root" .root "role" .role) | nindent 2 }}
  {{- with .root.Values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
annotations:
  checksum/secret: {{ include (print .root.Template.BasePath "/secret.yaml") .root | sha256sum }}
  {{- with .root.Values.podAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/*
The HTTP port and the probes asking it. Arguments: readiness and liveness
paths (either may be omitted).
*/}}
{{- define "regsearch.httpProbes" -}}
ports:
  - name: http
    containerPort: 8080
    protocol: TCP
{{- with .readiness }}
readinessProbe:
  httpGet:
    path: {{ . }}
    port: http
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 3
{{- end }}
{{- with .liveness }}
livenessProbe:
  httpGet:
    path: {{ . }}
    port: http
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 6
{{- end }}
{{- end }}
