// Package daemon runs provisioning cycles on a cron schedule and serves
// /healthz, /readyz, /metrics and /status. It is deliberately thin: it owns
// the schedule, refuses overlapping cycles, hands each cycle a context and a
// stop signal, and reports what cycles did. What a cycle does is the engine's.
package daemon

import (
	"cmp"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/netutil"

	"github.com/robfig/cron/v3"

	"github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/logkey"
	"github.com/g2msync/g2msync/pkg/metrics"
	"github.com/g2msync/g2msync/pkg/notify"
	"github.com/g2msync/g2msync/pkg/state"
)

// Report is what a cycle did: the application layer's account of it.
type Report = app.Report

// Cycle runs one cycle. The daemon supplies the options (Stop included).
type Cycle func(ctx context.Context, opts engine.Options) (*Report, error)

// Reload re-reads the configuration for SIGHUP: what to run from now on, or
// an error (a setting that needs a restart, an invalid file), in which case
// the running configuration is kept whole.
type Reload func() (Reloaded, error)

// Reloaded is a configuration re-read on SIGHUP.
type Reloaded struct {
	Schedule string
	Cycle    Cycle
	// NotifyChanged says the notification settings changed: Tracker then
	// replaces the running one (nil: no mail from now on), and incident
	// tracking starts afresh.
	NotifyChanged bool
	Tracker       *notify.Tracker
	// Console replaces the console served at / (nil: none from now on),
	// so that it answers with the new configuration: its mappings,
	// operators and sign-in.
	Console http.Handler
	// StatusToken replaces the token /status asks for off loopback.
	StatusToken string
}

// Options configure a Daemon.
type Options struct {
	Schedule string
	Cycle    Cycle
	Reload   Reload
	// Listen is the HTTP address; "" serves nothing.
	Listen  string
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// Notify sends a systemd notification (READY=1, STOPPING=1, WATCHDOG=1); nil: none.
	Notify func(state string)
	// Watchdog is systemd's watchdog interval (0: none); pings go at half of it.
	Watchdog time.Duration
	// Grace is how long, after a stop request, the calls in flight have
	// to finish (Stopper); 0 means DefaultGrace.
	Grace time.Duration
	// Clock is the time and the timers; nil means SystemClock.
	Clock Clock
	// Backoff is the job quarantine: after failed cycles in a row, the next
	// scheduled cycles are skipped until these delays pass (1st, 2nd, 3rd+
	// failure). Nil means no back-off.
	Backoff []time.Duration
	// Tracker, if set, is told about every cycle and mails a person when
	// an incident opens or clears.
	Tracker *notify.Tracker
	// StatusURL is put in notification mail.
	StatusURL string
	// StatusToken, when Listen is not a loopback address, is the bearer
	// token /status requires; "" refuses /status there to everyone.
	StatusToken string
	// Log, when set, serves the provisioning log on /status/log behind
	// /status's guard, so that `report` reads it while a cycle holds the
	// state file, from this host or, with the status token, another.
	Log func(ctx context.Context, f state.AuditFilter) ([]state.AuditEntry, error)
	// Statistics, when set, serves the statistics of the last days on
	// /status/statistics?days=N behind /status's guard, so that `report
	// --stats` reads them while a cycle holds the state file.
	Statistics func(ctx context.Context, days int) (*app.Statistics, error)
	// Console, when set, is served at / (the web console): every path the
	// JSON endpoints do not claim.
	Console http.Handler
	// TLSCertFile and TLSKeyFile, when set, serve the listener over HTTPS.
	TLSCertFile, TLSKeyFile string
	// Timeouts bound how long one client may hold a connection of the
	// listener; a zero field takes its default.
	Timeouts Timeouts
	// MaxConnections bounds the listener's open connections; 0 means
	// DefaultMaxConnections.
	MaxConnections int
}

// Timeouts bound how long one client may hold a connection of the
// listener, so that a client sending a request at a byte a second, or
// never reading the answer, or keeping a connection open without a
// request, cannot hold connections and goroutines for minutes. Each zero
// field means its default.
type Timeouts struct {
	// ReadHeader is how long a client has to send a request's headers,
	// the TLS handshake included; 0 means DefaultReadHeaderTimeout.
	ReadHeader time.Duration
	// Read is how long it has to send a whole request, body included;
	// 0 means DefaultReadTimeout.
	Read time.Duration
	// Write is how long the server may take from the end of a request's
	// headers to the end of its answer; 0 means DefaultWriteTimeout.
	Write time.Duration
	// Idle is how long a kept-alive connection may wait for its next
	// request; 0 means DefaultIdleTimeout.
	Idle time.Duration
}

const (
	// DefaultReadHeaderTimeout is how long a client has to send its
	// headers: a probe's, a scraper's or a browser's arrive in a packet or
	// two, and 10 s covers a slow link and the TLS handshake.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout is how long a client has to send a whole request.
	// The largest is a console form of at most MaxBodyBytes: 30 s takes it
	// at 70 KB/s, and the small forms at any speed a person would use.
	DefaultReadTimeout = 30 * time.Second
	// DefaultWriteTimeout is how long an answer may take. The longest are
	// the console's explain, which may read Entra and GoTo for up to a
	// minute, and a download of the whole provisioning log (tens of MB
	// after a first sync of 100,000 people): 5 minutes lets both through
	// a slow link, and holds a client that stops reading no longer.
	DefaultWriteTimeout = 5 * time.Minute
	// DefaultIdleTimeout is how long a kept-alive connection may wait for
	// its next request. Prometheus scrapes every minute by default: 2
	// minutes keeps its connection from one scrape to the next.
	DefaultIdleTimeout = 2 * time.Minute
	// MaxHeaderBytes bounds a request's headers. A browser sends every
	// cookie of the host name whatever the port, so a console on
	// localhost also gets other local applications' cookies: 64 KiB holds
	// them, a sixteenth of Go's default of 1 MiB.
	MaxHeaderBytes = 64 << 10
	// MaxBodyBytes bounds a request's body on every path: a larger one is
	// refused with 413 before any handler reads it. Only the console's
	// forms have a body. They are small (a sign-in, a retry, a pause with
	// its reason: well under 1 KiB) but for an approval, which names every
	// staged row shown, about 200 bytes each: 2 MiB takes 10,000 rows.
	// The console bounds each form more tightly.
	MaxBodyBytes = 2 << 20
	// DefaultMaxConnections bounds the connections the listener holds
	// open at once. Without a bound, clients that open connections and
	// send nothing (each held up to the read-header timeout) or keep them
	// idle could take every file descriptor the process may open, and the
	// cycle's own connections to Graph and GoTo would fail. A scraper, a
	// few probes and the browsers of a few operators need a few dozen;
	// past the bound a new connection waits in the kernel's queue until
	// one closes.
	DefaultMaxConnections = 256
)

// server is the listener's HTTP server: the handler, with the timeouts
// and the header limit.
func (d *Daemon) server() *http.Server {
	to := d.opts.Timeouts
	return &http.Server{Handler: d.Handler(), MaxHeaderBytes: MaxHeaderBytes,
		ReadHeaderTimeout: orDefault(to.ReadHeader, DefaultReadHeaderTimeout), ReadTimeout: orDefault(to.Read, DefaultReadTimeout),
		WriteTimeout: orDefault(to.Write, DefaultWriteTimeout), IdleTimeout: orDefault(to.Idle, DefaultIdleTimeout),
		ErrorLog: slog.NewLogLogger(d.opts.Logger.Handler(), slog.LevelDebug)} // a stray client's TLS error is not news
}

// limit bounds ln's open connections at n.
func limit(ln net.Listener, n int) net.Listener { return netutil.LimitListener(ln, n) }

// orDefault returns d, or def when d is zero.
func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Loopback reports whether a listen address is reachable from this host
// only: 127.0.0.0/8, ::1 or localhost (an empty host means every interface).
func Loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LoopbackHost reports whether a request's Host header names this host:
// localhost or a loopback address, with or without a port. A listener on
// loopback answers only such requests: any other name is a page elsewhere
// whose name was rebound to 127.0.0.1 (DNS rebinding), reading through the
// visitor's browser.
func LoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseSchedule parses a 5-field cron expression or a descriptor such as "@every 20m".
func ParseSchedule(s string) (cron.Schedule, error) {
	sched, err := cron.ParseStandard(s)
	if err != nil {
		return nil, fmt.Errorf("invalid schedule %q: %w", s, err)
	}
	return sched, nil
}

// Daemon runs cycles on a schedule.
type Daemon struct {
	opts Options

	mu        sync.Mutex
	sched     cron.Schedule
	schedule  string
	cycle     Cycle
	running   bool
	skipped   int
	recent    []state.Cycle
	last      *Report
	lastErr   string
	lastEnd   time.Time
	lastOK    bool
	next      time.Time
	failedRow int
	holdUntil time.Time
	started   time.Time
	observe   chan notify.Observation
	tracker   *notify.Tracker
	paused    *state.Pause // as the last cycle found it
	// progress is the running cycle's; nil between cycles.
	progress *app.Progress
	// console and statusToken start as Options says; a reload replaces
	// them.
	console     http.Handler
	statusToken string
	// cert is the listener's certificate, read again on each reload so
	// that a renewed one (same files) is served without a restart.
	cert atomic.Pointer[tls.Certificate]
}

// OutcomePaused is a cycle skipped because a person paused provisioning.
const OutcomePaused = "paused"

// New validates the schedule and returns a daemon ready to Run.
func New(opts Options) (*Daemon, error) {
	sched, err := ParseSchedule(opts.Schedule)
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = SystemClock()
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New("")
	}
	return &Daemon{opts: opts, sched: sched, schedule: opts.Schedule, cycle: opts.Cycle,
		observe: make(chan notify.Observation, 16), tracker: opts.Tracker,
		console: opts.Console, statusToken: opts.StatusToken}, nil
}

// Run serves until ctx is cancelled or a SIGTERM/SIGINT arrives on signals,
// then stops the cycle in flight as Stopper says and returns nil. SIGHUP
// reloads. The first cycle starts at once.
func (d *Daemon) Run(ctx context.Context, signals <-chan os.Signal) error {
	d.started = d.now()
	var srv *http.Server
	if d.opts.Listen != "" {
		ln, err := net.Listen("tcp", d.opts.Listen)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", d.opts.Listen, err)
		}
		ln = limit(ln, cmp.Or(d.opts.MaxConnections, DefaultMaxConnections))
		srv = d.server()
		if d.opts.TLSCertFile != "" {
			if err := d.loadCert(); err != nil {
				ln.Close()
				return err
			}
			srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12,
				GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return d.cert.Load(), nil }}
			ln = tls.NewListener(ln, srv.TLSConfig)
		}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.opts.Logger.Error("http server stopped", logkey.Error, err.Error())
			}
		}()
		d.opts.Logger.Info("serving /healthz /readyz /metrics /status", "listen", ln.Addr().String())
	}
	d.notify("READY=1")
	stopWatchdog := d.watchdog()
	defer stopWatchdog()
	stopMail := d.mailer(ctx)
	defer stopMail()

	stop := make(chan struct{}) // closed to end the cycle after its change in flight
	hardCtx, hardCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hardCancel()
	done := make(chan struct{}, 1) // a cycle finished

	start := func(reason string) {
		d.mu.Lock()
		if d.running {
			d.skipped++
			d.mu.Unlock()
			d.opts.Metrics.SkippedTicks.Inc()
			d.opts.Logger.Warn("skipping a scheduled cycle: the previous one is still running", logkey.Reason, reason)
			return
		}
		if now := d.now(); now.Before(d.holdUntil) {
			until := d.holdUntil
			d.mu.Unlock()
			d.opts.Logger.Warn("job quarantined after failed cycles; skipping this one", "until", until.Format(time.RFC3339))
			return
		}
		d.running = true
		cycle := d.cycle
		d.mu.Unlock()
		go func() {
			d.runCycle(hardCtx, cycle, stop)
			done <- struct{}{}
		}()
	}

	start("start")
	var timer Timer // to the next scheduled cycle; nil when it must be set again
	for {
		if timer == nil {
			d.mu.Lock()
			now := d.now()
			next := d.sched.Next(now)
			d.next = next
			d.mu.Unlock()
			timer = d.opts.Clock.NewTimer(next.Sub(now))
		}
		select {
		case <-timer.C():
			timer = nil
			start("schedule")
		case <-done:
			// The schedule stands: the same timer runs on.
		case sig := <-signals:
			timer.Stop()
			timer = nil
			if sig == syscall.SIGHUP {
				d.reload()
				continue
			}
			if !isStop(sig) {
				continue
			}
			d.opts.Logger.Info("stopping", "signal", sig.String())
			return d.shutdown(srv, stop, done, hardCancel, signals, 1)
		case <-ctx.Done():
			timer.Stop()
			d.opts.Logger.Info("stopping", logkey.Reason, context.Cause(ctx).Error())
			return d.shutdown(srv, stop, done, hardCancel, signals, 0)
		}
	}
}

// shutdown stops the running cycle as Stopper says (signalled is how many
// SIGTERM or SIGINT came so far), then stops serving.
func (d *Daemon) shutdown(srv *http.Server, stop chan struct{}, done chan struct{}, hardCancel context.CancelFunc, signals <-chan os.Signal, signalled int) error {
	d.notify("STOPPING=1")
	d.mu.Lock()
	running := d.running
	d.mu.Unlock()
	if running {
		d.stopper().finish(stop, done, hardCancel, signals, signalled)
	} else {
		close(stop)
	}
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return nil
}

// stopper is the daemon's stop handling.
func (d *Daemon) stopper() Stopper {
	return Stopper{Grace: d.opts.Grace, Clock: d.opts.Clock, Logger: d.opts.Logger}
}

func (d *Daemon) now() time.Time { return d.opts.Clock.Now() }

func (d *Daemon) runCycle(ctx context.Context, cycle Cycle, stop chan struct{}) {
	d.mu.Lock()
	d.beginProgress()
	d.mu.Unlock()
	rep, err := d.safely(ctx, cycle, stop)
	end := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.running, d.progress = false, nil
	d.lastEnd = end
	d.paused = nil
	if rep != nil && rep.Paused != nil && err == nil {
		// A pause keeps the job as it was: what the last cycle reported
		// stays, and it is neither a success that ends a back-off nor a
		// failure that starts one.
		d.paused = rep.Paused
		d.opts.Metrics.ObserveCycle(metrics.CycleResult{Outcome: OutcomePaused, End: end, Paused: true})
		return
	}
	d.last = rep
	outcome := engine.OutcomeFailed
	if rep != nil && rep.Result != nil {
		outcome = rep.Result.Outcome()
		d.recent = append([]state.Cycle{rep.Result.Cycle}, d.recent...)
		if len(d.recent) > 20 {
			d.recent = d.recent[:20]
		}
	}
	d.lastOK = err == nil && outcome != engine.OutcomeFailed && outcome != engine.OutcomeAborted
	d.lastErr = ""
	if err != nil {
		d.lastErr = err.Error()
	}
	if d.lastOK {
		if !d.holdUntil.IsZero() || d.failedRow > 0 {
			d.opts.Logger.Info("cycle succeeded; the job is out of quarantine", logkey.Count, d.failedRow)
		}
		d.failedRow, d.holdUntil = 0, time.Time{}
		d.opts.Metrics.JobQuarantined.Set(0)
	} else {
		d.failedRow++
		if n := len(d.opts.Backoff); n > 0 {
			if delay := d.opts.Backoff[min(d.failedRow, n)-1]; delay > 0 {
				d.holdUntil = end.Add(delay)
				d.opts.Metrics.JobQuarantined.Set(1)
				d.opts.Logger.Error("cycles keep failing; quarantining the job", "failed_in_a_row", d.failedRow,
					"until", d.holdUntil.Format(time.RFC3339))
			}
		}
	}
	cr := metrics.CycleResult{Outcome: outcome, End: end}
	if rep != nil {
		if rep.Result != nil {
			cr.Duration = rep.Result.Cycle.End.Sub(rep.Result.Cycle.Start)
			cr.Applied, cr.Failed = rep.Result.Cycle.Applied, rep.Result.Cycle.Failed
			cr.Deferred = rep.Result.Cycle.DeferredBy
			cr.GoToPace = rep.Result.Cycle.GoToPace
			cr.Read = rep.Result.Cycle.Read
			held := map[string]map[string]int{}
			for _, v := range rep.Licenses {
				held[v.Key] = map[string]int{"managed_active": v.ManagedActive, "managed_suspended": v.ManagedSuspended, "unmanaged": v.Unmanaged}
			}
			for _, l := range rep.Result.Licenses {
				cr.Licenses = append(cr.Licenses, metrics.License{Key: l.Key, Seats: l.Seats, Used: l.UserCount, Held: held[l.Key]})
			}
		}
		cr.OwnedActive, cr.OwnedDisabled = rep.OwnedActive, rep.OwnedDisabled
		cr.Staged, cr.Failing = len(rep.Awaiting()), len(rep.Failures)
		for _, f := range rep.Failures {
			if f.Quarantined {
				cr.Quarantined++
			}
		}
	}
	d.opts.Metrics.ObserveCycle(cr)
	d.queueObservation(rep, err, outcome, end)
}

// seats turns the licences a cycle read into what the seats warning needs;
// nil when it read none.
func seats(lics []gotomeeting.License) []notify.Seats {
	if lics == nil {
		return nil
	}
	out := make([]notify.Seats, 0, len(lics))
	for _, l := range lics {
		name := l.Key
		if l.Description != "" {
			name = l.Description + " (" + l.Key + ")"
		}
		out = append(out, notify.Seats{Licence: name, Seats: l.Seats, Free: l.Free()})
	}
	return out
}

// queueObservation hands the cycle to the notification worker; mail never
// delays the next cycle. The caller holds d.mu.
func (d *Daemon) queueObservation(rep *Report, err error, outcome string, end time.Time) {
	if d.tracker == nil {
		return
	}
	o := notify.Observation{Time: end, Outcome: outcome, FailedInARow: d.failedRow, StatusURL: d.opts.StatusURL}
	if err != nil {
		o.Error = err.Error()
	}
	if end.Before(d.holdUntil) {
		o.JobQuarantined, o.HeldUntil = true, d.holdUntil
	}
	if rep != nil {
		if rep.Result != nil {
			o.CycleID = rep.Result.CycleID
			o.Seats = seats(rep.Result.Licenses)
		}
		o.AuthFailure, o.StageReason = rep.AuthFailure, rep.StageReason
		for _, s := range rep.Awaiting() {
			o.Staged = append(o.Staged, firstNonEmpty(s.Email, s.UPN, s.EntraID))
		}
		for _, f := range rep.Failures {
			if f.Quarantined {
				o.Quarantined = append(o.Quarantined, firstNonEmpty(f.Email, f.UPN, f.EntraID))
			}
		}
	}
	select {
	case d.observe <- o:
	default:
		d.opts.Logger.Warn("notification queue full; dropping a cycle's observation")
	}
}

// mailer runs the notification worker until stop is called; at stop it
// delivers what is queued within the grace period.
func (d *Daemon) mailer(ctx context.Context) (stop func()) {
	mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for o := range d.observe {
			d.mu.Lock()
			tr := d.tracker // a reload may have replaced it
			d.mu.Unlock()
			if tr != nil {
				tr.Observe(mctx, o)
			}
		}
	}()
	return func() {
		close(d.observe)
		t := d.opts.Clock.NewTimer(d.opts.Grace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C():
			cancel()
			<-done
		}
		cancel()
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// safely runs a cycle, turning a panic into a failed cycle: a bug met by
// one cycle must not stop the daemon, and the cycle's deferred clean-up
// (closing the state file) still runs.
func (d *Daemon) safely(ctx context.Context, cycle Cycle, stop chan struct{}) (rep *Report, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cycle stopped by an internal error (please report it): %v", r)
			d.opts.Logger.Error("cycle panicked", logkey.Error, err.Error(), "stack", string(debug.Stack()))
		}
	}()
	return cycle(ctx, engine.Options{Stop: stop, OnProgress: d.onProgress})
}

func (d *Daemon) reload() {
	if d.opts.Reload == nil {
		d.opts.Logger.Warn("SIGHUP ignored: no configuration to reload")
		return
	}
	r, err := d.opts.Reload()
	if err == nil && d.opts.TLSCertFile != "" && d.opts.Listen != "" {
		err = d.loadCert()
	}
	if err != nil {
		d.opts.Logger.Error("configuration not reloaded; keeping the running one", logkey.Error, err.Error())
		return
	}
	sched, err := ParseSchedule(r.Schedule)
	if err != nil {
		d.opts.Logger.Error("configuration not reloaded; keeping the running one", logkey.Error, err.Error())
		return
	}
	d.mu.Lock()
	d.sched, d.schedule, d.cycle = sched, r.Schedule, r.Cycle
	if r.NotifyChanged {
		d.tracker = r.Tracker
	}
	d.console, d.statusToken = r.Console, r.StatusToken
	d.mu.Unlock()
	d.opts.Logger.Info("configuration reloaded", "schedule", r.Schedule, "notify_changed", r.NotifyChanged, "mail", r.Tracker != nil)
}

// loadCert reads the listener's certificate and key; on an error the one
// served so far stays.
func (d *Daemon) loadCert() error {
	cert, err := tls.LoadX509KeyPair(d.opts.TLSCertFile, d.opts.TLSKeyFile)
	if err != nil {
		return fmt.Errorf("listen_tls: %w", err)
	}
	d.cert.Store(&cert)
	return nil
}

func (d *Daemon) notify(state string) {
	if d.opts.Notify != nil {
		d.opts.Notify(state)
	}
}

func (d *Daemon) watchdog() func() {
	if d.opts.Watchdog <= 0 || d.opts.Notify == nil {
		return func() {}
	}
	quit := make(chan struct{})
	go func() {
		for {
			t := d.opts.Clock.NewTimer(d.opts.Watchdog / 2)
			select {
			case <-t.C():
				d.notify("WATCHDOG=1")
			case <-quit:
				t.Stop()
				return
			}
		}
	}()
	return func() { close(quit) }
}

// interval is the time between two scheduled cycles, for /readyz.
func (d *Daemon) interval(now time.Time) time.Duration {
	a := d.sched.Next(now)
	return d.sched.Next(a).Sub(a)
}

// Handler serves /healthz, /readyz, /metrics and /status, and the console
// at every other path, each request with a body of at most MaxBodyBytes.
func (d *Daemon) Handler() http.Handler {
	return limitBody(d.routes(), MaxBodyBytes)
}

// limitBody refuses a request whose declared body is over limit with 413,
// before h sees it, and stops h reading more than limit bytes of a body
// of unknown length (h then gets an *http.MaxBytesError, and the
// connection is closed after the answer).
func limitBody(h http.Handler, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			w.Header().Set("Connection", "close") // the rest of the body is not read
			http.Error(w, fmt.Sprintf("request body of %d bytes is over the limit of %d", r.ContentLength, limit), http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		h.ServeHTTP(w, r)
	})
}

func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ready, why := d.ready()
		if !ready {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		d.mu.Lock()
		paused := d.paused
		d.mu.Unlock()
		if paused != nil {
			// Ready: the daemon works as it should. A pause is a person's choice.
			fmt.Fprintf(w, "ready; %s\n", paused.Text())
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", d.opts.Metrics.Handler())
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		if !d.statusAllowed(w, r) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(d.Status())
	})
	if d.opts.Log != nil {
		mux.HandleFunc("GET /status/log", d.serveLog)
	}
	if d.opts.Statistics != nil {
		mux.HandleFunc("GET /status/statistics", d.serveStatistics)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		ui := d.console
		d.mu.Unlock()
		if ui == nil {
			http.NotFound(w, r)
			return
		}
		ui.ServeHTTP(w, r)
	})
	return mux
}

// serveLog serves the provisioning log entries the query selects (user,
// action, result, cycle, since as RFC 3339, limit), oldest first, as JSON.
// A damaged entry leaves out only itself; its id goes in a header.
func (d *Daemon) serveLog(w http.ResponseWriter, r *http.Request) {
	if !d.statusAllowed(w, r) {
		return
	}
	q := r.URL.Query()
	f := state.AuditFilter{User: q.Get("user"), Action: q.Get("action"), Result: q.Get("result"), CycleID: q.Get("cycle")}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			http.Error(w, "since: want an RFC 3339 time such as 2026-11-01T00:00:00Z", http.StatusBadRequest)
			return
		}
		f.Since = t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			http.Error(w, "limit: want a count of entries", http.StatusBadRequest)
			return
		}
		f.Limit = n
	}
	entries, err := d.opts.Log(r.Context(), f)
	var damaged *state.DamagedEntries
	if errors.As(err, &damaged) {
		w.Header().Set("X-G2msync-Damaged-Entries", strconv.Itoa(len(damaged.Seqs)))
	} else if err != nil {
		// The detail names the state file: for the log, not the caller.
		d.opts.Logger.Warn("serve /status/log", logkey.Error, err.Error())
		http.Error(w, "the provisioning log cannot be read now; try again in a moment", http.StatusServiceUnavailable)
		return
	}
	if entries == nil {
		entries = []state.AuditEntry{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(entries)
}

// statusAllowed guards /status, which names people and their errors: open
// on a loopback listener, and on any other only with the bearer token.
func (d *Daemon) statusAllowed(w http.ResponseWriter, r *http.Request) bool {
	if d.opts.Listen == "" {
		return true // no listener: the handler served in-process
	}
	if Loopback(d.opts.Listen) {
		if !LoopbackHost(r.Host) {
			http.Error(w, "refused: on a loopback listener /status answers only to localhost or a loopback address", http.StatusMisdirectedRequest)
			return false
		}
		return true // this host only
	}
	d.mu.Lock()
	token := d.statusToken
	d.mu.Unlock()
	if token == "" {
		http.Error(w, "/status names people, so on an address other hosts can reach it needs a token: set status_token_file and send it as a bearer token",
			http.StatusForbidden)
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="g2msync"`)
		http.Error(w, "send the status token as Authorization: Bearer <token>", http.StatusUnauthorized)
		return false
	}
	return true
}

// ready says whether the last cycle succeeded and is younger than twice the
// schedule's interval.
func (d *Daemon) ready() (bool, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	switch {
	case d.paused != nil:
		return true, "" // a person's choice: the daemon itself works as it should
	case d.lastEnd.IsZero():
		return false, "no cycle has finished yet"
	case !d.lastOK:
		return false, "the last cycle failed: " + d.lastErr
	case now.Sub(d.lastEnd) > 2*d.interval(now):
		return false, fmt.Sprintf("the last cycle ended %s ago, more than twice the schedule's interval", now.Sub(d.lastEnd).Round(time.Second))
	}
	return true, ""
}

// StatusDoc is the JSON served on /status.
type StatusDoc struct {
	Started      time.Time `json:"started"`
	Schedule     string    `json:"schedule"`
	NextCycle    time.Time `json:"next_cycle"`
	CycleRunning bool      `json:"cycle_running"`
	// Running is where the running cycle is; nil when none runs.
	Running      *app.Progress  `json:"running_cycle,omitempty"`
	SkippedTicks int            `json:"skipped_ticks"`
	Ready        bool           `json:"ready"`
	NotReady     string         `json:"not_ready_reason,omitempty"`
	Quarantined  bool           `json:"job_quarantined"`
	HeldUntil    *time.Time     `json:"cycles_held_until,omitempty"`
	FailedInARow int            `json:"failed_cycles_in_a_row"`
	LastError    string         `json:"last_error,omitempty"`
	Cycles       []state.Cycle  `json:"cycles"`
	Staged       []state.Staged `json:"staged_disables"`
	// Kept are the operators' keeps of staged rows (app.Awaiting).
	Kept     map[string]state.Keep `json:"kept,omitempty"`
	Deferred []state.Deferred      `json:"deferred_changes"`
	Failures []state.Failure       `json:"failing_accounts"`
	Owned    map[string]int        `json:"owned_accounts"`
	// Paused says who paused provisioning, when and why; nil: not paused.
	Paused *state.Pause `json:"paused,omitempty"`
}

// Status returns what /status serves.
func (d *Daemon) Status() StatusDoc {
	ready, why := d.ready()
	d.mu.Lock()
	defer d.mu.Unlock()
	s := StatusDoc{Started: d.started, Schedule: d.schedule, NextCycle: d.next, CycleRunning: d.running,
		SkippedTicks: d.skipped, Ready: ready, NotReady: why, FailedInARow: d.failedRow, LastError: d.lastErr,
		Cycles: append([]state.Cycle{}, d.recent...), Staged: []state.Staged{}, Deferred: []state.Deferred{}, Failures: []state.Failure{}, Owned: map[string]int{}}
	if d.now().Before(d.holdUntil) {
		s.Quarantined = true
		h := d.holdUntil
		s.HeldUntil = &h
	}
	if d.last != nil {
		if d.last.Staged != nil {
			s.Staged = d.last.Staged
		}
		s.Kept = d.last.Kept
		if d.last.Failures != nil {
			s.Failures = d.last.Failures
		}
		if d.last.Deferred != nil {
			s.Deferred = d.last.Deferred
		}
	}
	s.Paused = d.paused
	s.Running = d.runningProgress()
	if d.last != nil {
		s.Owned["active"], s.Owned["disabled"] = d.last.OwnedActive, d.last.OwnedDisabled
	}
	return s
}
