// Package metrics holds g2msync's Prometheus metrics (prefix g2msync_) and
// the HTTP transport that counts every Graph and GoTo request, so /metrics
// and each cycle's summary report the same numbers. One Metrics per process,
// created by the wiring code; nothing here is global.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the process's registry and instruments.
type Metrics struct {
	Registry *prometheus.Registry

	Cycles          *prometheus.CounterVec // outcome
	Changes         *prometheus.CounterVec // kind, result
	CycleDuration   prometheus.Histogram
	LastSuccess     prometheus.Gauge
	OwnedAccounts   *prometheus.GaugeVec // status: active, disabled
	StagedDisables  prometheus.Gauge
	FailingAccounts prometheus.Gauge
	Quarantined     prometheus.Gauge
	Deferred        *prometheus.GaugeVec // reason: seats, backoff, quarantine
	Paused          prometheus.Gauge
	SkippedTicks    prometheus.Counter
	APIRequests     *prometheus.CounterVec // api, code
	APIThrottled    *prometheus.CounterVec // api
	APIPace         *prometheus.GaugeVec   // api
	JobQuarantined  prometheus.Gauge
	DirectoryReads  *prometheus.CounterVec // mode: full, delta
	LicenseSeats    *prometheus.GaugeVec   // license
	LicenseUsed     *prometheus.GaugeVec   // license
	LicenseHeld     *prometheus.GaugeVec   // license, holder

	mu    sync.Mutex
	calls map[string]int64
}

// New creates the metrics and registers them, with Go and process collectors.
func New(version string) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Cycles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "g2msync_cycles_total",
			Help: "Provisioning cycles by outcome (success, partial, staged, aborted, failed, stopped)."}, []string{"outcome"}),
		Changes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "g2msync_changes_total",
			Help: "Changes applied to GoTo by kind (create, adopt, update, disable, enable, delete) and result (success, failure)."},
			[]string{"kind", "result"}),
		CycleDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "g2msync_cycle_duration_seconds",
			Help: "Duration of provisioning cycles.", Buckets: prometheus.ExponentialBuckets(0.5, 2, 14)}),
		LastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "g2msync_last_success_timestamp_seconds",
			Help: "Unix time the last cycle that applied its plan ended (success, partial or staged)."}),
		OwnedAccounts: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "g2msync_owned_accounts",
			Help: "GoTo accounts g2msync owns, by status (active, disabled)."}, []string{"status"}),
		StagedDisables: prometheus.NewGauge(prometheus.GaugeOpts{Name: "g2msync_staged_disables",
			Help: "Disables waiting for approval (g2msync run --once --allow-disables)."}),
		FailingAccounts: prometheus.NewGauge(prometheus.GaugeOpts{Name: "g2msync_failing_accounts",
			Help: "Accounts whose last change failed and will be retried."}),
		Quarantined: prometheus.NewGauge(prometheus.GaugeOpts{Name: "g2msync_quarantined_accounts",
			Help: "Accounts no longer retried after repeated failures, until they change or a person retries them."}),
		Deferred: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "g2msync_changes_deferred",
			Help: "Changes the last cycle planned but did not try, by reason (seats: no free seat; backoff: waiting after a failure; quarantine)."},
			[]string{"reason"}),
		Paused: prometheus.NewGauge(prometheus.GaugeOpts{Name: "g2msync_paused",
			Help: "1 while a person has paused provisioning (g2msync pause); cycles then change nothing."}),
		SkippedTicks: prometheus.NewCounter(prometheus.CounterOpts{Name: "g2msync_skipped_ticks_total",
			Help: "Scheduled cycles skipped because the previous one was still running."}),
		APIRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "g2msync_api_requests_total",
			Help: "HTTP requests to Microsoft Graph/Entra (api=graph) and GoTo (api=goto), by status code (0: no response)."},
			[]string{"api", "code"}),
		APIThrottled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "g2msync_api_throttled_total",
			Help: "Responses with status 429 (Too Many Requests), by API."}, []string{"api"}),
		APIPace: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "g2msync_api_pace_requests_per_second",
			Help: "Requests per second the client paced at when the last cycle ended (goto: the configured limit less the margin, lower while it recovers from 429s)."},
			[]string{"api"}),
		JobQuarantined: prometheus.NewGauge(prometheus.GaugeOpts{Name: "g2msync_job_quarantined",
			Help: "1 while the job is quarantined after failed cycles and cycles back off."}),
		DirectoryReads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "g2msync_directory_reads_total",
			Help: "Cycles by how they read the directory: full (every assignment, member and user) or delta (what changed since the last read)."},
			[]string{"mode"}),
		LicenseSeats: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "g2msync_license_seats",
			Help: "Seats of each GoTo licence, as the last cycle that read the licences saw them (cycles read them when a change may take a seat)."},
			[]string{"license"}),
		LicenseHeld: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "g2msync_license_seats_held",
			Help: "Seats in use of each GoTo licence by who holds them: managed_active and managed_suspended (accounts g2msync manages; suspended ones should hold none), unmanaged (the rest), as the last cycle that read the licences saw them."},
			[]string{"license", "holder"}),
		LicenseUsed: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "g2msync_license_seats_used",
			Help: "Seats in use of each GoTo licence, as the last cycle that read the licences saw them."}, []string{"license"}),
		calls: map[string]int64{},
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "g2msync_build_info", Help: "Version of the running g2msync."}, []string{"version"})
	build.WithLabelValues(version).Set(1)
	m.Registry.MustRegister(m.Cycles, m.Changes, m.CycleDuration, m.LastSuccess, m.OwnedAccounts, m.StagedDisables,
		m.FailingAccounts, m.Quarantined, m.Deferred, m.Paused, m.SkippedTicks, m.APIRequests, m.APIThrottled, m.APIPace, m.JobQuarantined,
		m.DirectoryReads, m.LicenseSeats, m.LicenseUsed, m.LicenseHeld, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Calls returns the cumulative number of requests by API.
func (m *Metrics) Calls() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int64, len(m.calls))
	for k, v := range m.calls {
		out[k] = v
	}
	return out
}

// Transport wraps base (nil: http.DefaultTransport) so that every request is
// counted under api. It sees retries too, as separate requests.
func (m *Metrics) Transport(api string, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{m: m, api: api, base: base}
}

type transport struct {
	m    *Metrics
	api  string
	base http.RoundTripper
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	code := 0
	if resp != nil {
		code = resp.StatusCode
	}
	t.m.mu.Lock()
	t.m.calls[t.api]++
	t.m.mu.Unlock()
	t.m.APIRequests.WithLabelValues(t.api, strconv.Itoa(code)).Inc()
	if code == http.StatusTooManyRequests {
		t.m.APIThrottled.WithLabelValues(t.api).Inc()
	}
	return resp, err
}

// CycleResult is what a finished cycle reports to the metrics.
type CycleResult struct {
	Outcome  string
	Duration time.Duration
	End      time.Time
	Applied  map[string]int
	Failed   map[string]int
	// Owned counts by status, staged and failing accounts after the cycle.
	OwnedActive, OwnedDisabled   int
	Staged, Failing, Quarantined int
	// Deferred counts the deferred changes by cause (plan.Cause).
	Deferred map[string]int
	// Paused: a person paused provisioning, and the cycle did nothing.
	Paused bool
	// GoToPace is the GoTo client's pace at the end (requests per second);
	// 0 leaves the gauge as it was.
	GoToPace float64
	// Read is how the cycle read the directory ("full: why", "delta: N
	// changes"; empty: it did not get that far).
	Read string
	// Licenses are GoTo's licences, when the cycle read them.
	Licenses []License
}

// License is one GoTo licence's seats.
type License struct {
	Key         string
	Seats, Used int
	// Held counts the seats in use by holder (managed_active,
	// managed_suspended, unmanaged); nil when not counted.
	Held map[string]int
}

// deferredReasons are the causes the deferred gauge always shows, so a
// cause that clears drops to 0 instead of keeping its last value.
var deferredReasons = [...]string{"seats", "backoff", "quarantine"}

// ObserveCycle records a finished cycle.
func (m *Metrics) ObserveCycle(r CycleResult) {
	m.Cycles.WithLabelValues(r.Outcome).Inc()
	if r.Paused {
		m.Paused.Set(1)
		return // nothing ran: the other gauges keep what the last cycle said
	}
	m.Paused.Set(0)
	m.CycleDuration.Observe(r.Duration.Seconds())
	if r.GoToPace > 0 {
		m.APIPace.WithLabelValues("goto").Set(r.GoToPace)
	}
	if mode, _, _ := strings.Cut(r.Read, ":"); mode == "full" || mode == "delta" {
		m.DirectoryReads.WithLabelValues(mode).Inc()
	}
	for _, l := range r.Licenses {
		m.LicenseSeats.WithLabelValues(l.Key).Set(float64(l.Seats))
		m.LicenseUsed.WithLabelValues(l.Key).Set(float64(l.Used))
		for holder, n := range l.Held {
			m.LicenseHeld.WithLabelValues(l.Key, holder).Set(float64(n))
		}
	}
	for k, n := range r.Applied {
		m.Changes.WithLabelValues(k, "success").Add(float64(n))
	}
	for k, n := range r.Failed {
		m.Changes.WithLabelValues(k, "failure").Add(float64(n))
	}
	switch r.Outcome {
	case "success", "partial", "staged":
		m.LastSuccess.Set(float64(r.End.Unix()))
	}
	if r.Outcome == "aborted" || r.Outcome == "failed" {
		return // the state was not read to the end; keep the last known gauges
	}
	m.OwnedAccounts.WithLabelValues("active").Set(float64(r.OwnedActive))
	m.OwnedAccounts.WithLabelValues("disabled").Set(float64(r.OwnedDisabled))
	m.StagedDisables.Set(float64(r.Staged))
	m.FailingAccounts.Set(float64(r.Failing))
	m.Quarantined.Set(float64(r.Quarantined))
	for _, reason := range deferredReasons {
		m.Deferred.WithLabelValues(reason).Set(float64(r.Deferred[reason]))
	}
}
