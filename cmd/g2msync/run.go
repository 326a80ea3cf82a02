package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	osuser "os/user"
	"reflect"
	"strconv"
	"syscall"
	"time"

	"github.com/g2msync/g2msync/pkg/view"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"

	application "github.com/g2msync/g2msync/pkg/app" // cmd's own app is the wiring; this is the application layer
	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/metrics"
	"github.com/g2msync/g2msync/pkg/state"
)

// RunCommand runs the daemon, or one cycle.
type RunCommand struct{ m *Main }

const runUsage = `usage: g2msync run [flags]

Without --once, runs as a daemon: a cycle at start, then on the configured
schedule, never two at once; /healthz, /readyz, /metrics and /status on
the listen address; SIGHUP re-reads and applies the configuration (an
invalid one, or one that changes listen or state_path, is refused and the
running one kept); SIGTERM or SIGINT lets the calls in flight finish and
commit (for at most shutdown_grace, 30s), then cancels them, records the
cycle as stopped, and exits 0; a second signal cancels them at once.

With --once, runs one cycle and exits:
  0 success, 1 failure, 2 bad configuration,
  3 disables staged for approval, 4 some changes failed or were deferred
  (no free seat, back-off, quarantine); they are tried again later.
SIGTERM and SIGINT stop it as they stop the daemon.

--once --allow-disables is ` + "`g2msync approve --all`" + ` and then the cycle: it
approves the disables the last cycle staged (as status lists them), each
bound to its exact change, and logs the approval with the OS user and host;
one that has changed since (another kind, account or list), or that no
cycle staged yet, waits. While the daemon runs it does not run a cycle: it
approves them, and the daemon applies them on its next cycle.

Between full directory reads (at least every entra.full_read_interval,
24h) a cycle asks Graph only what changed since the last one; a full sync
reads the directory in full too.

--once --initial-sync while the daemon runs does not run a cycle either:
it asks the daemon to make its next cycle a full sync (the portal's
Restart with a full reset), kept in the state file until one succeeds.

First run after install, or after restoring the state file:
  g2msync run --once --initial-sync`

// Run implements command.
func (c *RunCommand) Run(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("run", runUsage)
	cfgPath := c.m.configFlag(fs)
	once := fs.Bool("once", false, "run one cycle and exit")
	dry := fs.Bool("dry-run", false, "with --once: plan and print, change nothing (same as g2msync plan)")
	initial := fs.Bool("initial-sync", false, "with --once: full sync: read the directory in full, list every GoTo account, refresh what g2msync owns, re-match everyone")
	allow := fs.Bool("allow-disables", false, "with --once: apply disables the safety thresholds would stage")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !*once && (*dry || *initial || *allow) {
		return usageError{errors.New("--dry-run, --initial-sync and --allow-disables go with --once")}
	}
	cfg, err := c.m.loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	log := c.m.newLogger(cfg, c.m.Stderr)
	met := metrics.New(version)
	a, err := c.m.newApp(cfg, log, met, appOptions{})
	if err != nil {
		return err
	}
	if !*dry {
		unlock, err := state.Lock(cfg.StatePath)
		if errors.Is(err, state.ErrInUse) && *once && *allow && !*initial {
			return c.m.approve(ctx, cfg) // the daemon runs: let it apply them
		}
		if errors.Is(err, state.ErrInUse) && *once && *initial && !*allow {
			return c.m.requestFullSync(ctx, cfg) // the daemon runs: its next cycle re-matches
		}
		if err != nil {
			return err
		}
		defer unlock()
	}
	if *once && *allow && !*dry {
		// The release is bound to what a person saw: the disables the last
		// cycle staged (status and plan list them), each by its exact change.
		// One that changed since, or that no cycle staged yet, waits.
		if err := c.m.approveForRun(ctx, a); err != nil {
			return err
		}
		return c.m.runOnce(ctx, a, engine.Options{InitialSync: *initial})
	}
	if *once {
		return c.m.runOnce(ctx, a, engine.Options{DryRun: *dry, InitialSync: *initial, AllowDisables: *allow})
	}
	// A daemon without its state file would fail every cycle until someone
	// acts: refuse to start, saying what to do.
	st, err := state.Open(cfg.StatePath, state.Options{MustExist: true, Binding: binding(cfg), Timeout: 10 * time.Second})
	if err != nil {
		return err
	}
	st.Close()
	return c.m.runDaemon(ctx, a, *cfgPath)
}

// runOnce runs one cycle, stopped on SIGTERM or SIGINT as the daemon's
// cycles are (daemon.Stopper).
func (m *Main) runOnce(ctx context.Context, a *app, opts engine.Options) error {
	// No next cycle in this process will follow from the directory picture:
	// holding it decoded would only keep 100,000 people in memory while the
	// plan is applied.
	a.svc.KeepPictures(false)
	if !opts.DryRun && a.svc.Progress == nil {
		a.svc.Progress = newProgress(m.Stderr, a.log, "applying the plan", time.Now)
	}
	signals, unsubscribe := m.signals(syscall.SIGTERM, syscall.SIGINT)
	defer unsubscribe()
	rep, err := daemon.Stopper{Grace: a.cfg.ShutdownGrace.D(), Logger: a.log}.Once(ctx, signals, opts, a.cycle)
	if rep != nil && rep.Paused != nil && rep.Result == nil {
		fmt.Fprintf(m.Stdout, "Nothing done: %s.\n", view.Safe(rep.Paused.Text()))
		return err
	}
	if rep == nil || rep.Result == nil {
		return err
	}
	res := rep.Result
	if opts.DryRun {
		if res.Plan != nil {
			view.PausedNote(m.Stdout, rep.Paused)
			view.PlanText(m.Stdout, res.Plan, 0)
		}
		return err
	}
	view.CycleSummary(m.Stdout, res)
	return exitFor(res, err)
}

// approve approves the disables staged now, as listed, for the running
// daemon to apply on its next cycle.
func (m *Main) approve(ctx context.Context, cfg *config.Config) error {
	staged, err := m.service(cfg).ApproveAllShown(ctx, m.actor(""))
	if err != nil {
		return err
	}
	if len(staged) == 0 {
		fmt.Fprintln(m.Stdout, "No disables are staged: nothing to approve.")
		return nil
	}
	fmt.Fprintf(m.Stdout, "The daemon is running, so it will apply the %d staged disables on its next cycle:\n", len(staged))
	for _, s := range staged {
		fmt.Fprintf(m.Stdout, "  %s (%s)\n", view.Safe(view.FirstNonEmpty(s.Email, s.UPN, s.EntraID)), view.Safe(s.Reason))
	}
	fmt.Fprintln(m.Stdout, "Each approval is bound to the exact change shown: if it changes before the daemon's next cycle")
	fmt.Fprintln(m.Stdout, "(another kind, account or list), or a new disable is staged, that one waits for another approval.")
	return nil
}

// requestFullSync asks the running daemon to make its next cycle a full
// sync, as `run --once --initial-sync` would have been.
func (m *Main) requestFullSync(ctx context.Context, cfg *config.Config) error {
	if err := m.service(cfg).RequestFullSync(ctx, m.actor("")); err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, "The daemon is running, so its next cycle will be a full sync: every GoTo account listed, what g2msync owns")
	fmt.Fprintln(m.Stdout, "refreshed from GoTo, everyone re-matched. `g2msync status` shows when it ran.")
	return nil
}

// service is the application layer on cfg's state file.
func (m *Main) service(cfg *config.Config) *application.Service {
	return &application.Service{StatePath: cfg.StatePath, Binding: binding(cfg), Now: m.now}
}

// actor is the person running a command, for the provisioning log: the OS
// user on this host, through the CLI.
func (m *Main) actor(reason string) application.Actor {
	host, _ := os.Hostname()
	return application.Actor{Name: operator(), Address: host, Door: application.DoorCLI, Reason: reason}
}

// operator names the person running the command, for the provisioning log:
// the login behind sudo when there is one.
func operator() string {
	if u := os.Getenv("SUDO_USER"); u != "" {
		return u
	}
	if u, err := osuser.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

// approveForRun approves, for the run about to start, the disables staged
// by the last cycle, as listed now, each bound to its exact change.
func (m *Main) approveForRun(ctx context.Context, a *app) error {
	staged, err := m.service(a.cfg).ApproveAllShown(ctx, m.actor(""))
	if errors.Is(err, state.ErrNoState) {
		return nil // no cycle has run: the run about to start says what to do
	}
	if err != nil {
		return err
	}
	if kept, err := m.service(a.cfg).Kept(ctx); err == nil && len(kept) > 0 {
		fmt.Fprintf(m.Stdout, "Not released: %s kept staged by an operator (`g2msync approve --release USER` lifts a keep).\n", view.Plural(len(kept), "change"))
	}
	if len(staged) == 0 {
		fmt.Fprintln(m.Stdout, "No disables were staged by an earlier cycle, so none is released: this run stages what exceeds the thresholds;\n"+
			"review them with `g2msync status`, then run `g2msync run --once --allow-disables` again.")
		return nil
	}
	fmt.Fprintf(m.Stdout, "Releasing the %d disables the last cycle staged, each as it was staged; any that changed since waits for another approval.\n", len(staged))
	return nil
}

// exitFor maps a cycle's outcome to the documented exit codes.
func exitFor(res *engine.Result, err error) error {
	if err != nil {
		return err
	}
	switch res.Outcome() {
	case engine.OutcomeStaged:
		msg := fmt.Sprintf("%d disables are staged for approval: review them with `g2msync plan`, approve them with `g2msync approve --all` or `g2msync approve USER`, or approve and apply them at once with `g2msync run --once --allow-disables`", res.Cycle.Staged)
		if n := len(res.Errors); n > 0 {
			msg += fmt.Sprintf("; %d other changes failed and are retried on the next cycle", n)
		}
		return exitError{ExitStaged, msg}
	case engine.OutcomePartial:
		return exitError{ExitPartial, fmt.Sprintf("%d changes failed and %d were deferred; they are tried again on later cycles (see `g2msync status`)",
			len(res.Errors), res.Cycle.Deferred)}
	}
	return nil
}

// reloader returns the daemon's SIGHUP handler: it re-reads the
// configuration and applies every setting it can; a setting that needs a
// restart (the state file, the listen address, the listener's certificate
// files) refuses the whole reload, naming it, so the daemon never runs half
// of a new configuration. The console is built afresh on the new
// configuration (its mappings, operators and sign-in), so operators sign
// in again; the certificate is read again from the same files by the
// daemon, so a renewed one is served.
func (m *Main) reloader(a *app, cfgPath string, status func() daemon.StatusDoc) daemon.Reload {
	last := a.cfg // the configuration running now; a's own is left alone, its cycle may be running
	return func() (daemon.Reloaded, error) {
		cfg, err := m.loadConfig(cfgPath)
		if err != nil {
			return daemon.Reloaded{}, err
		}
		if cfg.StatePath != last.StatePath {
			return daemon.Reloaded{}, fmt.Errorf("state_path changed from %s to %s; restart g2msync to use another state file", last.StatePath, cfg.StatePath)
		}
		if cfg.Listen != last.Listen {
			return daemon.Reloaded{}, fmt.Errorf("listen changed from %q to %q; restart g2msync to serve on another address", last.Listen, cfg.Listen)
		}
		if cfg.ListenTLS != last.ListenTLS {
			return daemon.Reloaded{}, fmt.Errorf("listen_tls changed from %s to %s; restart g2msync to serve another certificate's files "+
				"(a renewed certificate in the same files is read again on reload)", tlsFiles(last.ListenTLS), tlsFiles(cfg.ListenTLS))
		}
		na, err := m.newApp(cfg, m.newLogger(cfg, m.Stderr), a.metrics, appOptions{roots: a.roots, live: a.svc.Live})
		if err != nil {
			return daemon.Reloaded{}, err
		}
		ui, err := m.newConsole(na, status)
		if err != nil {
			return daemon.Reloaded{}, err
		}
		r := daemon.Reloaded{Schedule: cfg.Schedule, Cycle: na.cycle, StatusToken: cfg.StatusToken.Value()}
		if ui != nil {
			r.Console = ui
		}
		if !reflect.DeepEqual(cfg.Notify, last.Notify) {
			if r.Tracker, err = na.tracker(); err != nil {
				return daemon.Reloaded{}, err
			}
			r.NotifyChanged = true
		}
		last = cfg // the next reload compares with this one
		return r, nil
	}
}

// tlsFiles names listen_tls's files, for a message.
func tlsFiles(t config.ListenTLS) string {
	if t.CertFile == "" && t.KeyFile == "" {
		return "none (plain HTTP)"
	}
	return fmt.Sprintf("cert_file %q and key_file %q", t.CertFile, t.KeyFile)
}

// jobBackoff is the job quarantine: after failed cycles in a row, scheduled
// cycles wait this long (the first two failures are retried on schedule).
func jobBackoff() []time.Duration {
	return []time.Duration{0, 0, time.Hour, 6 * time.Hour, 24 * time.Hour}
}

// signals delivers these signals (m.Signals, in tests, delivers what it
// likes) until unsubscribe is called.
func (m *Main) signals(sigs ...os.Signal) (_ <-chan os.Signal, unsubscribe func()) {
	c := make(chan os.Signal, 4)
	if m.Signals != nil {
		m.Signals(c)
		return c, func() {}
	}
	signal.Notify(c, sigs...)
	return c, func() { signal.Stop(c) }
}

func (m *Main) runDaemon(ctx context.Context, a *app, cfgPath string) error {
	signals, unsubscribe := m.signals(syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer unsubscribe()
	watchdog, _ := sddaemon.SdWatchdogEnabled(false)
	tracker, err := a.tracker()
	if err != nil {
		return usageError{err}
	}
	statusURL := ""
	if a.cfg.Listen != "" {
		statusURL = "http://" + a.cfg.Listen + "/status"
	}
	var d *daemon.Daemon
	ui, err := m.newConsole(a, func() daemon.StatusDoc { return d.Status() })
	if err != nil {
		return usageError{err}
	}
	var uiHandler http.Handler
	if ui != nil {
		uiHandler = ui
	}
	d, err = daemon.New(daemon.Options{
		Console: uiHandler, TLSCertFile: a.cfg.ListenTLS.CertFile, TLSKeyFile: a.cfg.ListenTLS.KeyFile,
		Tracker: tracker, StatusURL: statusURL, StatusToken: a.cfg.StatusToken.Value(), Log: a.svc.Audit,
		Statistics: a.svc.Statistics,
		Schedule:   a.cfg.Schedule, Cycle: a.cycle, Listen: a.cfg.Listen, Logger: a.log, Metrics: a.metrics,
		Notify:   func(s string) { _, _ = sddaemon.SdNotify(false, s) },
		Watchdog: watchdog, Backoff: jobBackoff(), Grace: a.cfg.ShutdownGrace.D(),
		Reload: m.reloader(a, cfgPath, func() daemon.StatusDoc { return d.Status() }),
	})
	if err != nil {
		return usageError{err}
	}
	a.log.Info("g2msync started", "version", version, "schedule", a.cfg.Schedule, "state", a.cfg.StatePath)
	return d.Run(ctx, signals)
}
