package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/metrics"
	"github.com/g2msync/g2msync/pkg/sim/simtls"
	"github.com/g2msync/g2msync/pkg/state"
)

func okReport(id string) *Report {
	now := time.Now()
	return &Report{Result: &engine.Result{CycleID: id, Cycle: state.Cycle{ID: id, Start: now, End: now, Outcome: engine.OutcomeSuccess}},
		OwnedActive: 3, Staged: []state.Staged{{EntraID: "s"}}}
}

func get(t *testing.T, d *Daemon, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

// start runs a daemon, on a fake clock unless opts has a clock; done is
// closed when Run returns.
func start(t *testing.T, opts Options) (*Daemon, chan os.Signal, chan struct{}) {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = newFakeClock()
	}
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	done := make(chan struct{})
	go func() {
		if err := d.Run(context.Background(), sig); err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		close(done)
	}()
	t.Cleanup(func() {
		select {
		case sig <- syscall.SIGTERM:
		default:
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	})
	return d, sig, done
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestInvalidScheduleIsRejectedWithTheReason(t *testing.T) {
	_, err := New(Options{Schedule: "every twenty minutes"})
	if err == nil || !strings.Contains(err.Error(), `invalid schedule "every twenty minutes"`) {
		t.Fatalf("err = %v", err)
	}
	for _, ok := range []string{"@every 20m", "*/20 * * * *", "@hourly"} {
		if _, err := New(Options{Schedule: ok}); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

func TestCyclesRunAtStartAndOnSchedule(t *testing.T) {
	var n atomic.Int32
	clk := newFakeClock()
	d, _, _ := start(t, Options{Schedule: "@every 1s", Clock: clk, Cycle: func(context.Context, engine.Options) (*Report, error) {
		n.Add(1)
		return okReport("c"), nil
	}})
	waitFor(t, "the first cycle", func() bool { return len(d.Status().Cycles) >= 1 })
	if code, _ := get(t, d, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after a successful cycle: %d", code)
	}
	if n.Load() != 1 {
		t.Errorf("%d cycles before the schedule's first tick, want 1", n.Load())
	}
	clk.tick(t)
	waitFor(t, "a scheduled cycle", func() bool { return len(d.Status().Cycles) >= 2 })
	var s StatusDoc
	_, body := get(t, d, "/status")
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Cycles) < 2 || s.Owned["active"] != 3 || len(s.Staged) != 1 || !s.Ready {
		t.Errorf("status = %+v", s)
	}
}

func TestTickDuringCycleIsSkippedAndCounted(t *testing.T) {
	release := make(chan struct{})
	var n atomic.Int32
	clk := newFakeClock()
	d, _, _ := start(t, Options{Schedule: "@every 1s", Clock: clk, Cycle: func(ctx context.Context, o engine.Options) (*Report, error) {
		n.Add(1)
		select {
		case <-release:
		case <-o.Stop:
		}
		return okReport("slow"), nil
	}})
	waitFor(t, "the first cycle", func() bool { return n.Load() == 1 })
	clk.tick(t)
	if s := d.Status().SkippedTicks; s != 1 {
		t.Errorf("%d skipped ticks, want 1", s)
	}
	if n.Load() != 1 {
		t.Errorf("%d cycles ran at once", n.Load())
	}
	if !d.Status().CycleRunning {
		t.Error("status does not show the running cycle")
	}
	close(release)
}

// waitGrace waits until the daemon times a grace period of grace from now:
// it is stopping.
func (c *fakeClock) waitGrace(t *testing.T, grace time.Duration) {
	t.Helper()
	want := c.Now().Add(grace)
	waitFor(t, "the grace period to start", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, tm := range c.timers {
			if tm.live && tm.at.Equal(want) {
				return true
			}
		}
		return false
	})
}

// stopped waits at most a few seconds for done: a bound on "never".
func stopped(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	case <-time.After(5 * time.Second):
		return false
	}
}

func TestStopLetsTheChangeInFlightFinish(t *testing.T) {
	started, release, finished := make(chan struct{}), make(chan struct{}), make(chan struct{})
	clk := newFakeClock()
	_, sig, done := start(t, Options{Schedule: "@hourly", Clock: clk, Grace: time.Minute, Cycle: func(ctx context.Context, o engine.Options) (*Report, error) {
		close(started)
		<-o.Stop
		<-release // the change in flight
		if ctx.Err() != nil {
			t.Error("the in-flight call's context was cancelled before it finished")
		}
		close(finished)
		return okReport("c"), nil
	}})
	<-started
	sig <- syscall.SIGTERM
	clk.waitGrace(t, time.Minute)
	clk.Advance(time.Minute - time.Second)
	select {
	case <-done:
		t.Fatal("daemon returned before the change in flight finished")
	default:
	}
	close(release)
	if !stopped(done) {
		t.Fatal("daemon did not stop")
	}
	select {
	case <-finished:
	default:
		t.Error("daemon returned before the change in flight finished")
	}
}

func TestStopCancelsACallThatOutlastsTheGrace(t *testing.T) {
	started := make(chan struct{})
	clk := newFakeClock()
	_, sig, done := start(t, Options{Schedule: "@hourly", Clock: clk, Grace: time.Minute,
		Cycle: func(ctx context.Context, o engine.Options) (*Report, error) {
			close(started)
			<-ctx.Done() // a hung call, ignoring the stop signal
			return nil, ctx.Err()
		}})
	<-started
	sig <- syscall.SIGTERM
	clk.waitGrace(t, time.Minute)
	clk.Advance(time.Minute)
	if !stopped(done) {
		t.Fatal("daemon did not stop after the grace period")
	}
}

// A second SIGTERM or SIGINT does not wait for the grace period.
func TestASecondSignalCancelsAtOnce(t *testing.T) {
	for _, second := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		t.Run(second.String(), func(t *testing.T) {
			started := make(chan struct{})
			clk := newFakeClock()
			_, sig, done := start(t, Options{Schedule: "@hourly", Clock: clk, Grace: time.Hour,
				Cycle: func(ctx context.Context, o engine.Options) (*Report, error) {
					close(started)
					<-ctx.Done() // a hung call
					return nil, ctx.Err()
				}})
			<-started
			sig <- syscall.SIGTERM
			clk.waitGrace(t, time.Hour)
			sig <- syscall.SIGHUP // no stop request
			sig <- second
			if !stopped(done) {
				t.Fatal("daemon did not stop at a second signal")
			}
		})
	}
}

// In a process, one SIGTERM both ends Run's context (main's) and arrives on
// signals; read in that order it is still one signal, and the calls in
// flight keep their grace period.
func TestOneSignalEndingTheContextTooIsNotASecond(t *testing.T) {
	started, release, cancelled := make(chan struct{}), make(chan struct{}), make(chan struct{})
	clk := newFakeClock()
	d, err := New(Options{Schedule: "@hourly", Clock: clk, Grace: time.Minute,
		Cycle: func(ctx context.Context, o engine.Options) (*Report, error) {
			close(started)
			<-o.Stop
			select {
			case <-release:
			case <-ctx.Done():
				close(cancelled)
			}
			return okReport("c"), nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 1)
	done := make(chan struct{})
	go func() { d.Run(ctx, sig); close(done) }()
	<-started
	cancel()
	clk.waitGrace(t, time.Minute)
	sig <- syscall.SIGTERM
	waitFor(t, "the signal to be read", func() bool { return len(sig) == 0 })
	select {
	case <-cancelled:
		t.Error("the calls in flight were cancelled at the first signal")
	case <-time.After(50 * time.Millisecond): // a chance to go wrong, not a wait for the daemon
	}
	close(release)
	if !stopped(done) {
		t.Fatal("daemon did not stop")
	}
}

func TestReloadKeepsTheRunningConfigWhenTheNewOneIsInvalid(t *testing.T) {
	var calls atomic.Int32
	var reloads atomic.Int32
	clk := newFakeClock()
	d, sig, _ := start(t, Options{Schedule: "@hourly", Clock: clk,
		Cycle: func(context.Context, engine.Options) (*Report, error) { calls.Add(1); return okReport("c"), nil },
		Reload: func() (Reloaded, error) {
			if reloads.Add(1) == 1 {
				return Reloaded{}, errors.New("config /etc/g2msync.yaml: safety.max_disable: unknown key")
			}
			return Reloaded{Schedule: "@every 1s", Cycle: func(context.Context, engine.Options) (*Report, error) { calls.Add(100); return okReport("new"), nil }}, nil
		}})
	waitFor(t, "the first cycle", func() bool { return calls.Load() == 1 })
	sig <- syscall.SIGHUP
	waitFor(t, "the first reload", func() bool { return reloads.Load() == 1 })
	if s := d.Status().Schedule; s != "@hourly" {
		t.Errorf("schedule after a refused reload = %q, want the running @hourly", s)
	}
	sig <- syscall.SIGHUP
	waitFor(t, "the second reload", func() bool { return reloads.Load() == 2 })
	clk.tick(t)
	waitFor(t, "a cycle of the reloaded configuration", func() bool { return calls.Load() >= 101 })
	if s := d.Status().Schedule; s != "@every 1s" {
		t.Errorf("schedule after a good reload = %q, want @every 1s", s)
	}
}

// A reload replaces the console and the status token with the new
// configuration's, and reads the listener's certificate again from its
// files (a renewal); a certificate that does not load refuses the reload.
func TestReloadReplacesConsoleTokenAndCertificate(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	issue := func() *simtls.CA {
		t.Helper()
		ca, err := simtls.NewCA()
		if err != nil {
			t.Fatal(err)
		}
		if err := ca.WriteServerPEM(cert, key); err != nil {
			t.Fatal(err)
		}
		return ca
	}
	oldCA := issue()
	page := func(s string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, s) })
	}
	next := make(chan Reloaded, 1)
	var logged strings.Builder
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logged.Write(p)
	}), nil))
	saidSo := func(s string) int { logMu.Lock(); defer logMu.Unlock(); return strings.Count(logged.String(), s) }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	d, sig, _ := start(t, Options{Schedule: "@hourly", Listen: addr, TLSCertFile: cert, TLSKeyFile: key, Console: page("old console"),
		StatusToken: "old-token", Logger: logger,
		Cycle:  func(context.Context, engine.Options) (*Report, error) { return okReport("c"), nil },
		Reload: func() (Reloaded, error) { return <-next, nil }})
	fetch := func(ca *simtls.CA, path string) (string, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: ca.ClientConfig(), DisableKeepAlives: true}, Timeout: 5 * time.Second}
		resp, err := c.Get("https://" + addr + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	waitFor(t, "the listener", func() bool { _, err := fetch(oldCA, "/healthz"); return err == nil })
	if body, _ := fetch(oldCA, "/"); body != "old console" {
		t.Fatalf("before: %q", body)
	}

	newCA := issue() // renewed in the same files
	next <- Reloaded{Schedule: "@hourly", Cycle: d.cycle, Console: page("new console"), StatusToken: "new-token"}
	sig <- syscall.SIGHUP
	waitFor(t, "the reload", func() bool { return saidSo("configuration reloaded") == 1 })
	waitFor(t, "the renewed certificate", func() bool { _, err := fetch(newCA, "/healthz"); return err == nil })
	if body, err := fetch(newCA, "/"); body != "new console" {
		t.Errorf("after the reload the console says %q (%v)", body, err)
	}
	if _, err := fetch(oldCA, "/healthz"); err == nil {
		t.Error("the old certificate is still served after the reload")
	}
	d.mu.Lock()
	token := d.statusToken
	d.mu.Unlock()
	if token != "new-token" {
		t.Errorf("status token after the reload: %q", token)
	}

	// A broken certificate file: the whole reload is refused.
	if err := os.WriteFile(cert, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	next <- Reloaded{Schedule: "@every 1m", Cycle: d.cycle}
	sig <- syscall.SIGHUP
	waitFor(t, "the refused reload", func() bool { return saidSo("configuration not reloaded") == 1 })
	if body, err := fetch(newCA, "/"); body != "new console" || d.Status().Schedule != "@hourly" {
		t.Errorf("after a refused reload: console %q (%v), schedule %q", body, err, d.Status().Schedule)
	}

	// A reload without a console takes it away.
	issue()
	next <- Reloaded{Schedule: "@hourly", Cycle: d.cycle}
	sig <- syscall.SIGHUP
	waitFor(t, "the third reload", func() bool { return saidSo("configuration reloaded") == 2 })
	waitFor(t, "no console", func() bool { code, _ := get(t, d, "/"); return code == http.StatusNotFound })
}

func TestFailedCyclesBackOffAndResume(t *testing.T) {
	var n atomic.Int32
	var fail atomic.Bool
	fail.Store(true)
	met := metrics.New("test")
	clk := newFakeClock()
	d, _, _ := start(t, Options{Schedule: "@every 1s", Clock: clk, Backoff: []time.Duration{0, 3 * time.Second}, Metrics: met,
		Cycle: func(context.Context, engine.Options) (*Report, error) {
			n.Add(1)
			if fail.Load() {
				return nil, errors.New("read directory: 503")
			}
			return okReport("ok"), nil
		}})
	waitFor(t, "the first failed cycle", func() bool { return d.Status().FailedInARow == 1 })
	clk.tick(t) // the first failure is retried on schedule
	waitFor(t, "two failed cycles", func() bool { return d.Status().FailedInARow == 2 })
	s := d.Status()
	if !s.Quarantined || s.FailedInARow != 2 || s.HeldUntil == nil {
		t.Fatalf("status after 2 failures = %+v", s)
	}
	if code, body := get(t, d, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "503") {
		t.Errorf("/readyz = %d %q", code, body)
	}
	clk.tick(t) // 1 s and 2 s into the 3 s hold
	clk.tick(t)
	if n.Load() != 2 || d.Status().CycleRunning {
		t.Errorf("%d cycles ran while quarantined, want 2", n.Load())
	}
	if _, body := get(t, d, "/metrics"); !strings.Contains(body, "g2msync_job_quarantined 1") || !strings.Contains(body, `g2msync_cycles_total{outcome="failed"} 2`) {
		t.Errorf("metrics do not show the quarantine:\n%s", body)
	}
	// The cause is fixed: once the hold ends, the next scheduled cycle runs
	// and succeeds, and the job leaves quarantine.
	fail.Store(false)
	clk.tick(t) // the hold ends
	waitFor(t, "a successful cycle after the hold", func() bool { return d.Status().Ready })
	if s := d.Status(); s.Quarantined || s.FailedInARow != 0 || s.HeldUntil != nil || n.Load() < 3 {
		t.Errorf("status after resuming = %+v, cycles %d", s, n.Load())
	}
	if _, body := get(t, d, "/metrics"); !strings.Contains(body, "g2msync_job_quarantined 0") {
		t.Errorf("metrics still show the quarantine")
	}
}

func TestAPanickingCycleFailsOnlyThatCycle(t *testing.T) {
	var n atomic.Int32
	clk := newFakeClock()
	d, _, _ := start(t, Options{Schedule: "@every 1s", Clock: clk, Cycle: func(context.Context, engine.Options) (*Report, error) {
		if n.Add(1) == 1 {
			var m map[string]int
			m["boom"]++ // a bug
		}
		return okReport("c"), nil
	}})
	waitFor(t, "the panicking cycle", func() bool { return d.Status().FailedInARow == 1 })
	clk.tick(t)
	waitFor(t, "a cycle after the panic", func() bool { return n.Load() >= 2 && d.Status().Ready })
	if s := d.Status(); s.FailedInARow != 0 {
		t.Errorf("status %+v", s)
	}
}

// /status named people, their emails and errors, to anyone who could reach
// a listener on 0.0.0.0. On an address other hosts can reach it now needs
// the token; /metrics and the probes stay open.
func TestStatusNeedsATokenOffLoopback(t *testing.T) {
	for _, tc := range []struct {
		listen, token, auth string
		want                int
	}{
		{"127.0.0.1:9464", "", "", http.StatusOK},
		{"[::1]:9464", "", "", http.StatusOK},
		{"localhost:9464", "", "", http.StatusOK},
		{"127.0.0.1:9464", "", "rebound", http.StatusMisdirectedRequest}, // a name rebound to 127.0.0.1
		{"0.0.0.0:9464", "", "", http.StatusForbidden},
		{":9464", "", "Bearer anything", http.StatusForbidden},
		{"0.0.0.0:9464", "s3cret-token", "", http.StatusUnauthorized},
		{"0.0.0.0:9464", "s3cret-token", "Bearer wrong", http.StatusUnauthorized},
		{"0.0.0.0:9464", "s3cret-token", "Bearer s3cret-token", http.StatusOK},
	} {
		log := func(context.Context, state.AuditFilter) ([]state.AuditEntry, error) {
			return []state.AuditEntry{{Action: "create", UPN: "ada@contoso.example"}}, nil
		}
		d, err := New(Options{Schedule: "@hourly", Listen: tc.listen, StatusToken: tc.token, Log: log,
			Cycle: func(context.Context, engine.Options) (*Report, error) { return okReport("c"), nil }})
		if err != nil {
			t.Fatal(err)
		}
		// The provisioning log names people as /status does, behind the same guard.
		for _, path := range []string{"/status", "/status/log"} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Host = tc.listen
			switch tc.auth {
			case "":
			case "rebound":
				req.Host = "attacker.example:9464"
			default:
				req.Header.Set("Authorization", tc.auth)
			}
			d.Handler().ServeHTTP(rec, req)
			if rec.Code != tc.want || strings.Contains(rec.Body.String(), "s3cret") {
				t.Errorf("%s on %s token %q auth %q: %d, want %d", path, tc.listen, tc.token, tc.auth, rec.Code, tc.want)
			}
			if named := strings.Contains(rec.Body.String(), "ada@contoso.example"); named != (tc.want == http.StatusOK && path == "/status/log") {
				t.Errorf("%s on %s auth %q: names a person %v", path, tc.listen, tc.auth, named)
			}
		}
		for _, open := range []string{"/metrics", "/healthz"} {
			if code, _ := get(t, d, open); code != http.StatusOK {
				t.Errorf("%s on %s: %d", open, tc.listen, code)
			}
		}
	}
}

// While paused the daemon keeps running and serving: ready, saying paused,
// with the pause in /status and g2msync_paused 1; then it resumes.
func TestPausedDaemonServesAndResumes(t *testing.T) {
	var paused atomic.Bool
	paused.Store(true)
	var n atomic.Int32
	met := metrics.New("test")
	pause := &state.Pause{Since: time.Now(), By: "ops", Reason: "merger"}
	clk := newFakeClock()
	d, _, _ := start(t, Options{Schedule: "@every 1s", Clock: clk, Metrics: met, Cycle: func(context.Context, engine.Options) (*Report, error) {
		n.Add(1)
		if paused.Load() {
			return &Report{Paused: pause}, nil
		}
		return okReport("c"), nil
	}})
	waitFor(t, "a paused cycle", func() bool { return d.Status().Paused != nil })
	if code, body := get(t, d, "/readyz"); code != http.StatusOK || !strings.Contains(body, "paused since") {
		t.Errorf("/readyz while paused: %d %q", code, body)
	}
	if s := d.Status(); s.Paused == nil || s.Paused.Reason != "merger" {
		t.Errorf("status %+v", s.Paused)
	}
	if _, body := get(t, d, "/metrics"); !strings.Contains(body, "g2msync_paused 1") {
		t.Error("metric g2msync_paused is not 1")
	}
	paused.Store(false)
	clk.tick(t)
	waitFor(t, "a cycle after resuming", func() bool { return d.Status().Paused == nil && len(d.Status().Cycles) > 0 })
	if _, body := get(t, d, "/metrics"); !strings.Contains(body, "g2msync_paused 0") {
		t.Error("metric g2msync_paused is not 0 after resuming")
	}
}

// With a certificate and key, the listener speaks HTTPS only.
func TestListenerOverTLS(t *testing.T) {
	ca, err := simtls.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := ca.WriteServerPEM(cert, key); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	d, err := New(Options{Schedule: "@hourly", Listen: addr, TLSCertFile: cert, TLSKeyFile: key,
		Cycle: func(context.Context, engine.Options) (*Report, error) { return okReport("c"), nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, nil) }()
	defer func() { cancel(); <-done }()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: ca.ClientConfig()}, Timeout: 5 * time.Second}
	var resp *http.Response
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err = client.Get("https://" + addr + "/healthz"); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("https: %v", err)
	}
	resp.Body.Close()
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil && resp.StatusCode == http.StatusOK {
		t.Error("plain HTTP answered on a TLS listener")
	}
}

// serve runs a daemon on a free loopback port until the test ends and
// returns its address once it answers.
func serve(t *testing.T, opts Options) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Listen = ln.Addr().String()
	ln.Close()
	opts.Schedule = "@hourly"
	opts.Cycle = func(context.Context, engine.Options) (*Report, error) { return okReport("c"), nil }
	start(t, opts)
	waitFor(t, "the listener", func() bool {
		c, err := net.Dial("tcp", opts.Listen)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return opts.Listen
}

// closedByServer reads c until the server closes it (EOF or a reset) or
// until wait passes, and reports which, with the bytes read.
func closedByServer(c net.Conn, wait time.Duration) (bool, int64) {
	c.SetReadDeadline(time.Now().Add(wait))
	n, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !errors.As(err, &ne) || !ne.Timeout(), n
}

// trickle writes s then one byte every 20 ms until a write fails or stop
// is closed: a client sending at a crawl.
func trickle(c net.Conn, s string, stop <-chan struct{}) {
	if _, err := io.WriteString(c, s); err != nil {
		return
	}
	for {
		select {
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
			if _, err := c.Write([]byte("a")); err != nil {
				return
			}
		}
	}
}

// A client that sends its headers or its body at a crawl, keeps an idle
// connection, or stops reading the answer is cut off: the server closes
// the connection. The timeouts are injected small, so the test takes
// seconds rather than the defaults' minutes; the 5 s the client waits is
// only a bound on "never", many times the injected timeouts.
func TestSlowClientsAreCutOff(t *testing.T) {
	const big = 64 << 20
	addr := serve(t, Options{
		Timeouts: Timeouts{ReadHeader: 300 * time.Millisecond, Read: 500 * time.Millisecond, Write: 500 * time.Millisecond, Idle: 300 * time.Millisecond},
		Console: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/big" {
				w.Write(make([]byte, big))
				return
			}
			io.Copy(io.Discard, r.Body)
		}),
	})
	for _, tc := range []struct {
		name string
		send string // at once; then one byte every 20 ms when slow
		slow bool
		// unread waits before reading anything: a client that does not
		// read the answer.
		unread time.Duration
	}{
		{name: "headers at a crawl", send: "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", slow: true},
		{name: "a body at a crawl", send: "POST /pause HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 60000\r\n\r\n", slow: true},
		{name: "an idle kept-alive connection", send: "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"},
		{name: "an answer never read", send: "GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", unread: 1500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			stop := make(chan struct{})
			defer close(stop)
			if tc.slow {
				go trickle(c, tc.send, stop)
			} else if _, err := io.WriteString(c, tc.send); err != nil {
				t.Fatal(err)
			}
			time.Sleep(tc.unread)
			closed, n := closedByServer(c, 5*time.Second)
			if !closed {
				t.Fatalf("the server still holds the connection after 5 s (%d bytes answered)", n)
			}
			if tc.unread > 0 && n >= big {
				t.Errorf("the whole answer arrived (%d bytes): the write was not cut off", n)
			}
		})
	}
}

// Connections that send nothing cannot take more than MaxConnections:
// past it a new client waits, and is answered as soon as one closes.
func TestConnectionsAreBounded(t *testing.T) {
	addr := serve(t, Options{MaxConnections: 3, Timeouts: Timeouts{ReadHeader: time.Minute}})
	get := func() error {
		c := &http.Client{Timeout: 700 * time.Millisecond}
		resp, err := c.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(); err != nil {
		t.Fatalf("before: %v", err)
	}
	var idle []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	if err := get(); err == nil {
		t.Fatal("a fourth connection was served while three idle ones held the bound")
	}
	idle[0].Close()
	waitFor(t, "an answer once one idle connection closed", func() bool { return get() == nil })
}

// A body over MaxBodyBytes is refused with 413 before the handler acts
// (declared length), or stops the handler's read (unknown length);
// headers over MaxHeaderBytes get 431.
func TestOversizedRequestsAreRefused(t *testing.T) {
	var calls atomic.Int32
	var readErr atomic.Value
	addr := serve(t, Options{Console: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if _, err := io.ReadAll(r.Body); err != nil {
			readErr.Store(err)
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		}
	})})
	body := strings.Repeat("a", MaxBodyBytes+1)
	resp, err := http.Post("http://"+addr+"/pause", "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || calls.Load() != 0 {
		t.Errorf("declared body of %d bytes: %d, handler called %d times; want 413 and none", len(body), resp.StatusCode, calls.Load())
	}
	// Without a length (chunked), the handler's read stops at the limit.
	resp, err = http.Post("http://"+addr+"/pause", "application/x-www-form-urlencoded", io.MultiReader(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var mbe *http.MaxBytesError
	if err, _ := readErr.Load().(error); !errors.As(err, &mbe) || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body of %d bytes: %d, the handler read %v; want the read stopped at %d", len(body), resp.StatusCode, err, MaxBodyBytes)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", MaxHeaderBytes+8<<10))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("headers over %d bytes: %d, want 431", MaxHeaderBytes, resp.StatusCode)
	}
}

// Without injected timeouts the listener has every default, none zero
// (a zero timeout in net/http means none).
func TestServerTimeoutsDefault(t *testing.T) {
	d, err := New(Options{Schedule: "@hourly"})
	if err != nil {
		t.Fatal(err)
	}
	srv := d.server()
	got := []time.Duration{srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout}
	want := []time.Duration{DefaultReadHeaderTimeout, DefaultReadTimeout, DefaultWriteTimeout, DefaultIdleTimeout}
	for i := range got {
		if got[i] != want[i] || got[i] <= 0 {
			t.Errorf("timeout %d: %v, want %v", i, got[i], want[i])
		}
	}
	if srv.MaxHeaderBytes != MaxHeaderBytes {
		t.Errorf("MaxHeaderBytes %d, want %d", srv.MaxHeaderBytes, MaxHeaderBytes)
	}
}

// run --once stops its cycle as the daemon does: Stopper.Once.
func TestOnceStopsItsCycleAsTheDaemonDoes(t *testing.T) {
	type step struct {
		cancel  bool // end Once's context (main's, on a signal)
		signals []os.Signal
		advance time.Duration
	}
	for _, tc := range []struct {
		name      string
		steps     []step
		cancelled bool // the cycle's context ended before it returned
	}{
		{name: "the context ends; the calls finish", steps: []step{{cancel: true}}},
		{name: "SIGINT; the calls finish within the grace", steps: []step{{signals: []os.Signal{os.Interrupt}}, {advance: time.Minute - time.Second}}},
		{name: "SIGTERM; the grace passes", steps: []step{{signals: []os.Signal{syscall.SIGTERM}}, {advance: time.Minute}}, cancelled: true},
		{name: "the context and its signal, then SIGHUP", steps: []step{{cancel: true, signals: []os.Signal{syscall.SIGTERM, syscall.SIGHUP}}}},
		{name: "a second signal", steps: []step{{signals: []os.Signal{syscall.SIGTERM}}, {signals: []os.Signal{syscall.SIGTERM}}}, cancelled: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sig := make(chan os.Signal, 4)
			stopped, release := make(chan struct{}), make(chan struct{})
			var gotCancelled atomic.Bool
			type result struct {
				rep *Report
				err error
			}
			out := make(chan result, 1)
			go func() {
				rep, err := Stopper{Grace: time.Minute, Clock: clk}.Once(ctx, sig, engine.Options{}, func(ctx context.Context, o engine.Options) (*Report, error) {
					<-o.Stop
					close(stopped)
					select {
					case <-release:
					case <-ctx.Done():
						gotCancelled.Store(true)
					}
					return okReport("once"), nil
				})
				out <- result{rep, err}
			}()
			for _, s := range tc.steps {
				if s.cancel {
					cancel()
				}
				for _, v := range s.signals {
					sig <- v
				}
				waitFor(t, "the signals to be read", func() bool { return len(sig) == 0 })
				if s.advance > 0 {
					<-stopped
					clk.waitTimer(t, "the grace period")
					clk.Advance(s.advance)
				}
			}
			<-stopped
			if !tc.cancelled {
				select {
				case r := <-out:
					t.Fatalf("Once returned %v before the calls in flight finished", r.err)
				case <-time.After(50 * time.Millisecond): // a chance to go wrong
				}
				close(release)
			}
			var r result
			select {
			case r = <-out:
			case <-time.After(5 * time.Second):
				t.Fatal("Once did not return")
			}
			if r.err != nil || r.rep == nil || r.rep.Result.CycleID != "once" {
				t.Errorf("Once = %+v, %v; want the cycle's report", r.rep, r.err)
			}
			if gotCancelled.Load() != tc.cancelled {
				t.Errorf("cycle cancelled = %v, want %v", gotCancelled.Load(), tc.cancelled)
			}
		})
	}
}

// /status/log passes the query on as the filter `report` would use, and
// refuses what it cannot read rather than serve everything.
func TestStatusLogFilters(t *testing.T) {
	var got state.AuditFilter
	d, err := New(Options{Schedule: "@hourly", Listen: "127.0.0.1:9464",
		Log:   func(_ context.Context, f state.AuditFilter) ([]state.AuditEntry, error) { got = f; return nil, nil },
		Cycle: func(context.Context, engine.Options) (*Report, error) { return okReport("c"), nil }})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(q string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/status/log?"+q, nil)
		req.Host = "127.0.0.1:9464"
		d.Handler().ServeHTTP(rec, req)
		return rec
	}
	rec := serve("user=ADA%40contoso.example&action=disable&result=failure&cycle=c1&since=2026-11-01T10:20:30.5Z&limit=7")
	want := state.AuditFilter{User: "ADA@contoso.example", Action: "disable", Result: "failure", CycleID: "c1",
		Since: time.Date(2026, 11, 1, 10, 20, 30, 5e8, time.UTC), Limit: 7}
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != "[]" || !got.Since.Equal(want.Since) {
		t.Fatalf("%d %q, filter %+v", rec.Code, rec.Body, got)
	}
	got.Since = want.Since
	if got != want {
		t.Errorf("filter %+v, want %+v", got, want)
	}
	for _, q := range []string{"since=yesterday", "limit=-1", "limit=x"} {
		if rec := serve(q); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, rec.Code)
		}
	}
	// Damaged entries leave out only themselves, and the reply says how many.
	d2, err := New(Options{Schedule: "@hourly", Listen: "127.0.0.1:9464",
		Log: func(context.Context, state.AuditFilter) ([]state.AuditEntry, error) {
			return []state.AuditEntry{{Action: "create"}}, &state.DamagedEntries{Path: "/var/lib/g2msync/state.db", Seqs: []uint64{4, 3}}
		},
		Cycle: func(context.Context, engine.Options) (*Report, error) { return okReport("c"), nil }})
	if err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/status/log", nil)
	req.Host = "127.0.0.1:9464"
	d2.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("X-G2msync-Damaged-Entries") != "2" || !strings.Contains(rec.Body.String(), `"create"`) ||
		strings.Contains(rec.Body.String(), "/var/lib") {
		t.Errorf("damaged entries: %d %q %s", rec.Code, rec.Header().Get("X-G2msync-Damaged-Entries"), rec.Body)
	}
}

// writerFunc is an io.Writer made of a function.
type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
