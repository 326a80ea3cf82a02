{{/*
The alert rules, one group. Called with a dict: s (label matchers selecting
one g2msync), period (the schedule's period in seconds), throttled (429s
an hour), freeSeats (the free seats below which a licence alerts), runbook
(the runbook's URL), labels (added to every alert).
scripts/monitoring/alerts.yaml is this, rendered for job="g2msync"; a test
keeps the two the same. Prometheus templates in annotations are escaped
from Helm's: {{`{{ $labels.x }}`}}.
*/}}
{{- define "g2msync.alertRules" -}}
{{- $s := .s -}}
- name: g2msync
  rules:
    - alert: G2msyncDown
      expr: up{ {{- $s }}} == 0 or absent(up{ {{- $s }}})
      for: 5m
      labels:
        severity: critical
        {{- with .labels }}{{ toYaml . | nindent 8 }}{{ end }}
      annotations:
        summary: g2msync is down or not scraped
        description: >-
          {{`{{ $labels.job }}{{ with $labels.namespace }} in {{ . }}{{ end }}`}}: Prometheus has not scraped g2msync's
          /metrics for 5 minutes (the process is down, crash-looping, scaled to 0, or the scrape
          configuration does not find it). No provisioning happens meanwhile.
        runbook_url: {{ .runbook }}#g2msyncdown
    - alert: G2msyncNoSuccessfulCycle
      expr: >-
        time() - (g2msync_last_success_timestamp_seconds{ {{- $s }}} > 0 or process_start_time_seconds{ {{- $s }}})
        > 3 * {{ .period }} unless g2msync_paused{ {{- $s }}} == 1
      for: 5m
      labels:
        severity: critical
        {{- with .labels }}{{ toYaml . | nindent 8 }}{{ end }}
      annotations:
        summary: No g2msync cycle has applied its plan for three schedule periods
        description: >-
          {{`{{ $labels.job }}{{ with $labels.namespace }} in {{ . }}{{ end }}: no cycle has applied its
          plan for {{ $value | humanizeDuration }}`}} (since the last that did, or since the process started;
          the schedule's period is {{ .period }} s). The cycles since failed or were aborted, or none ran:
          Entra, GoTo, a safety gate or the state file. `g2msync status` says why.
        runbook_url: {{ .runbook }}#g2msyncnosuccessfulcycle
    - alert: G2msyncJobBackingOff
      expr: g2msync_job_quarantined{ {{- $s }}} == 1
      for: 1m
      labels:
        severity: critical
        {{- with .labels }}{{ toYaml . | nindent 8 }}{{ end }}
      annotations:
        summary: g2msync backs off after failed cycles
        description: >-
          {{`{{ $labels.job }}{{ with $labels.namespace }} in {{ . }}{{ end }}`}}: cycles keep failing, so the daemon waits
          longer between them (the job is quarantined) rather than hammering Entra and GoTo.
          `g2msync status` shows the last error and when the next cycle runs.
        runbook_url: {{ .runbook }}#g2msyncjobbackingoff
    - alert: G2msyncDisablesStaged
      expr: g2msync_staged_disables{ {{- $s }}} > 0
      for: 1m
      labels:
        severity: warning
        {{- with .labels }}{{ toYaml . | nindent 8 }}{{ end }}
      annotations:
        summary: Disables wait for a person's approval
        description: >-
          {{`{{ $labels.job }}{{ with $labels.namespace }} in {{ . }}{{ end }}: {{ $value }}`}} disables are staged: more than the
          safety thresholds allow in one cycle. Review them (`g2msync plan`, `g2msync status`) and
          approve them (`g2msync approve --all`) or find out why so many people left.
        runbook_url: {{ .runbook }}#g2msyncdisablesstaged
    - alert: G2msyncAccountsFailing
      expr: g2msync_failing_accounts{ {{- $s }}} > 0
      for: 1h
      labels:
        severity: warning
        {{- with .labels }}{{ toYaml . | nindent 8 }}{{ end }}
      annotations:
        summary: Changes to some GoTo accounts keep failing
        description: >-
          {{`{{ $labels.job }}{{ with $labels.namespace }} in {{ . }}{{ end }}: {{ $value }}`}} accounts' last change failed
          for an hour; they are retried with back-off. `g2msync status` groups them by cause.
        runbook_url: {{ .runbook }}#g2msyncaccountsfailing
    - alert: G2msyncAccountsQuarantined
      expr: g2msync_quarantined_accounts{ {{- $s }}} > 0
      for: 1m
      labels:
        severity: warning
        {{- with .labels }}{{ toYaml . | nindent 8 }}{{ end }}
      annotations:
        summary: Accounts are quarantined after repeated failures
        description: >-
          {{`{{ $labels.job }}{{ with $labels.namespace }} in {{ . }}{{ end }}: {{ $value }}`}} accounts are no longer retried
          until they change or a person retries them (`g2msync retry --quarantined`).
        runbook_url: {{ .runbook }}#g2msyncaccountsquarantined
    - alert: G2msyncChangesDeferredForSeats
      expr: g2msync_changes_deferred{ {{- $s }},reason="seats"} > 0
      for: 1m
      labels:
        severity: warning
        {{- with .labels }}{{ toYaml . | nindent 8 }}{{ end }}
      annotations:
        summary: GoTo has no free seat for some people
        description: >-
          {{`{{ $labels.job }}{{ with $labels.namespace }} in {{ . }}{{ end }}: {{ $value }}`}} changes wait for a free seat of
          a GoTo licence. Buy seats, or free some; they are tried on every cycle.
        runbook_url: {{ .runbook }}#g2msyncchangesdeferredforseats
    - alert: G2msyncFreeSeatsLow
      expr: >-
        g2msync_license_seats{ {{- $s }}} - g2msync_license_seats_used{ {{- $s }}} < {{ .freeSeats }}
        and g2msync_license_seats{ {{- $s }}} > 0
      for: 1m
      labels:
        severity: warning
        {{- with .labels }}{{ toYaml . | nindent 8 }}{{ end }}
      annotations:
        summary: A GoTo licence is running out of seats
        description: >-
          {{`{{ $labels.job }}{{ with $labels.namespace }} in {{ . }}{{ end }}: licence {{ $labels.license }}
          has {{ $value }}`}} free seats (fewer than {{ .freeSeats }}), as the last cycle that read the licences
          saw. Joiners given this licence wait for a seat once none is left.
        runbook_url: {{ .runbook }}#g2msyncfreeseatslow
    - alert: G2msyncThrottled
      expr: increase(g2msync_api_throttled_total{ {{- $s }}}[1h]) > {{ .throttled }}
      for: 0m
      labels:
        severity: warning
        {{- with .labels }}{{ toYaml . | nindent 8 }}{{ end }}
      annotations:
        summary: GoTo or Microsoft Graph throttles g2msync (HTTP 429)
        description: >-
          {{`{{ $labels.job }}{{ with $labels.namespace }} in {{ . }}{{ end }}: {{ $value | humanize }}`}} responses 429 from
          {{`{{ $labels.api }}`}} in the last hour (more than {{ .throttled }}). Another client may share the
          rate limit, or the schedule is too tight.
        runbook_url: {{ .runbook }}#g2msyncthrottled
    - alert: G2msyncPaused
      expr: g2msync_paused{ {{- $s }}} == 1
      for: 24h
      labels:
        severity: warning
        {{- with .labels }}{{ toYaml . | nindent 8 }}{{ end }}
      annotations:
        summary: Provisioning has been paused for a day
        description: >-
          {{`{{ $labels.job }}{{ with $labels.namespace }} in {{ . }}{{ end }}`}}: a person paused provisioning (`g2msync pause`)
          a day ago or more; joiners get no account and leavers keep theirs until `g2msync resume`.
        runbook_url: {{ .runbook }}#g2msyncpaused
{{- end }}
