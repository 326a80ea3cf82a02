package main

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/g2msync/g2msync/pkg/view"

	application "github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/console"
	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/state"
)

// consoleBackend is the console's door onto the application layer: the
// pages read and act through the daemon's Service, the one the CLI calls;
// this adapter only names the operator.
type consoleBackend struct {
	svc    *application.Service
	status func() daemon.StatusDoc
}

var _ console.Backend = (*consoleBackend)(nil)

// newConsole builds the console for a daemon on a's configuration, or nil
// when it is off. On a listener other hosts reach, it refuses to start
// without operators: every page names people.
func (m *Main) newConsole(a *app, status func() daemon.StatusDoc) (*console.Server, error) {
	c := a.cfg.Console
	if c.Disabled || a.cfg.Listen == "" {
		return nil, nil
	}
	ops, err := console.LoadOperators(c.OperatorsFile)
	if err != nil {
		return nil, fmt.Errorf("console.operators_file %w", err)
	}
	entra := consoleEntra(a)
	if err := consoleRefusal(a.cfg, len(ops) > 0); err != nil {
		return nil, err
	}
	open := daemon.Loopback(a.cfg.Listen) && !c.RequireSignIn
	b := &consoleBackend{svc: a.svc, status: status}
	return console.New(console.Options{Backend: b, Operators: ops, Entra: entra, OpenReads: open, Logger: a.log.With("component", "console"), Now: m.now,
		DemoChanges: m.demoChanges})
}

// consoleRefusal says why the daemon would not serve cfg's console, with
// operators from the file or none; nil when it would.
func consoleRefusal(cfg *config.Config, operators bool) error {
	e := cfg.Console.Entra
	if err := console.Refusal(cfg.Listen, cfg.Console.Disabled, operators || e.Enabled, cfg.ListenTLS.CertFile != ""); err != nil {
		return err
	}
	if e.Enabled && !cfg.Console.Disabled {
		return console.EntraRefusal(cfg.Listen, e.RedirectURL)
	}
	return nil
}

// consoleEntra is sign-in with Entra as a's configuration sets it, nil
// when off. It reaches Entra as the Graph client does (the same trusted
// authorities and proxy), and redeems codes with the console's own secret,
// or the daemon's secret or certificate.
func consoleEntra(a *app) *console.Entra {
	cfg := a.cfg
	e := cfg.Console.Entra
	if !e.Enabled || cfg.Console.Disabled {
		return nil
	}
	authority, _ := cfg.Entra.Endpoints()
	out := &console.Entra{Issuer: strings.TrimSuffix(authority, "/") + "/" + e.TenantID + "/v2.0", TenantID: e.TenantID, ClientID: e.ClientID,
		RedirectURL: e.RedirectURL, OperatorsGroup: e.OperatorsGroup, OperatorsRole: e.OperatorsRole, SignOutAtEntra: e.SignOutAtEntra}
	secret, cert := cfg.ConsoleCredential()
	out.ClientSecret = secret.Value()
	if cert != nil {
		if key, ok := cert.PrivateKey().(*rsa.PrivateKey); ok && len(cert.Chain()) > 0 {
			out.Certificate, out.Key = cert.Chain()[0], key
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if a.roots != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: a.roots, MinVersion: tls.VersionTLS12}
	}
	out.HTTPClient = &http.Client{Transport: a.metrics.Transport("entra_signin", tr), Timeout: cfg.Entra.Timeout.D()}
	return out
}

func (b *consoleBackend) Status() daemon.StatusDoc { return b.status() }

// busy turns the application layer's busy answer into the console's.
func busy(err error) error {
	if errors.Is(err, application.ErrBusy) {
		return console.ErrBusy
	}
	return err
}

func (b *consoleBackend) Cycles(ctx context.Context, limit int) ([]state.Cycle, error) {
	out, err := b.svc.Cycles(ctx, limit)
	return out, busy(err)
}

func (b *consoleBackend) Audit(ctx context.Context, f state.AuditFilter) ([]state.AuditEntry, error) {
	out, err := b.svc.Audit(ctx, f)
	return out, busy(err)
}

func (b *consoleBackend) WriteLog(w io.Writer, entries []state.AuditEntry, format string) error {
	return view.Log(w, entries, format)
}

func (b *consoleBackend) Seats(ctx context.Context) ([]console.Seat, error) {
	views, err := b.svc.Seats(ctx)
	out := make([]console.Seat, len(views))
	for i, v := range views {
		runsOut := ""
		if !v.Forecast.RunsOut.IsZero() {
			runsOut = view.RunsOut(v.Forecast, time.Now())
		}
		out[i] = console.Seat{Key: v.Key, Name: v.Name, Used: v.Used, Total: v.Seats, ManagedActive: v.ManagedActive,
			ManagedSuspended: v.ManagedSuspended, Unmanaged: v.Unmanaged, Waiting: v.Waiting, RunsOut: runsOut}
	}
	return out, err
}

func (b *consoleBackend) Statistics(ctx context.Context, days int) (*application.Statistics, error) {
	out, err := b.svc.Statistics(ctx, days)
	return out, busy(err)
}

func (b *consoleBackend) Explain(ctx context.Context, user string) (*application.OnDemandReport, error) {
	rep, err := b.svc.OnDemand(ctx, []string{user}, application.OnDemandOptions{Explain: true})
	return rep, busy(err)
}

func (b *consoleBackend) Provision(ctx context.Context, op console.Operator, user string) (*application.OnDemandReport, error) {
	by := actor(op, "")
	rep, err := b.svc.OnDemand(ctx, []string{user}, application.OnDemandOptions{Known: true, By: &by, NoWait: true})
	return rep, busy(err)
}

func (b *consoleBackend) LicenseNames(ctx context.Context) map[string]string {
	return b.svc.LicenseNames(ctx)
}

func (b *consoleBackend) Mappings() (*application.Mappings, error) { return b.svc.Mappings() }

func (b *consoleBackend) MappingTest(ctx context.Context, user string, sets []string) (*application.OnDemandReport, error) {
	rep, err := b.svc.MappingTest(ctx, []string{user}, sets)
	return rep, busy(err)
}

// actor is the signed-in operator taking an action in the console.
func actor(op console.Operator, reason string) application.Actor {
	return application.Actor{Name: op.Name, EntraID: op.ID, Address: op.Address, Door: application.DoorConsole, Reason: reason}
}

func (b *consoleBackend) Approve(ctx context.Context, op console.Operator, shown map[string]string) (int, error) {
	approved, err := b.svc.Approve(ctx, actor(op, ""), shown)
	return len(approved), err
}

func (b *consoleBackend) Retry(ctx context.Context, op console.Operator, who string) (int, error) {
	if who == "" {
		who = state.EveryFailure
	}
	cleared, err := b.svc.Retry(ctx, actor(op, ""), who)
	return len(cleared), err
}

func (b *consoleBackend) Pause(ctx context.Context, op console.Operator, reason string) error {
	_, err := b.svc.Pause(ctx, actor(op, reason))
	return err
}

func (b *consoleBackend) Resume(ctx context.Context, op console.Operator) error {
	_, err := b.svc.Resume(ctx, actor(op, ""))
	return err
}

func (b *consoleBackend) Approvals(ctx context.Context) ([]application.ApprovalGroup, error) {
	out, err := b.svc.Approvals(ctx)
	return out, busy(err)
}

func (b *consoleBackend) Keep(ctx context.Context, op console.Operator, ids []string, reason string) (int, error) {
	kept, err := b.svc.Keep(ctx, actor(op, reason), ids)
	return len(kept), err
}

func (b *consoleBackend) Release(ctx context.Context, op console.Operator, ids []string) (int, error) {
	released, err := b.svc.Release(ctx, actor(op, ""), ids)
	return len(released), err
}

// ConsoleCommand holds the console's helpers.
type ConsoleCommand struct{ m *Main }

const consoleUsage = `usage: g2msync console hash [NAME]

Reads a password from standard input and prints the line an operators
file (console.operators_file) holds for it: NAME:bcrypt-hash. The daemon
serves the console at / on its listen address; operators sign in to
approve, retry, pause and resume.
  g2msync console hash alice >> /etc/g2msync/operators`

// Run implements command.
func (c *ConsoleCommand) Run(_ context.Context, args []string) error {
	if done, err := c.m.subcommand(args, "hash", consoleUsage, "console: say what to do: g2msync console hash NAME"); done {
		return err
	}
	fs := c.m.newFlagSet("console hash", consoleUsage)
	if err := parseArgs(fs, args[1:]); err != nil {
		return err
	}
	name := fs.Arg(0)
	if name == "" {
		name = operator()
	}
	in := c.m.Stdin
	if in == nil {
		in = os.Stdin
	}
	line, err := io.ReadAll(io.LimitReader(in, 1024))
	if err != nil {
		return err
	}
	pw := string(bytes.TrimRight(line, "\r\n"))
	if len(pw) < 12 {
		return usageError{errors.New("the password is shorter than 12 characters")}
	}
	h, err := console.HashPassword(pw)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.m.Stdout, "%s:%s\n", name, h)
	return nil
}
