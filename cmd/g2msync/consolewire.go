package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	application "github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/console"
	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/state"
)

// consoleBackend is what the console reads and does, on the daemon's app:
// the daemon's own status, the state file (opened per request, briefly,
// so a running cycle answers "busy" rather than blocking a page), and the
// clients for explain and seats. Its actions are the application layer's,
// the same calls the CLI makes.
type consoleBackend struct {
	a *app
	// svc takes the operators' actions, as it takes the CLI's.
	svc    *application.Service
	status func() daemon.StatusDoc
	now    func() time.Time

	mu        sync.Mutex
	seats     []console.Seat
	seatsAt   time.Time
	seatsErr  error
	seatsTTL  time.Duration
	readAfter time.Duration // how long a read waits for the file
	// readers bounds the pages reading the state file at once, so that
	// readers cannot keep a cycle from it.
	readers chan struct{}
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
	ops, err := operators(c.OperatorsFile)
	if err != nil {
		return nil, fmt.Errorf("console.operators_file %w", err)
	}
	if err := consoleRefusal(a.cfg, ops); err != nil {
		return nil, err
	}
	open := daemon.Loopback(a.cfg.Listen) && !c.RequireSignIn
	svc := &application.Service{StatePath: a.cfg.StatePath, Binding: binding(a.cfg), Now: m.now, Log: a.log.With("component", "console"), Live: &a.live}
	b := &consoleBackend{a: a, svc: svc, status: status, now: m.now, seatsTTL: 5 * time.Minute, readAfter: 2 * time.Second, readers: make(chan struct{}, 2)}
	return console.New(console.Options{Backend: b, Operators: ops, OpenReads: open, Logger: a.log.With("component", "console"), Now: m.now,
		DemoChanges: m.demoChanges})
}

// operators reads the console's operators file at path; nil for "". Its
// errors start with the path.
func operators(path string) (map[string][]byte, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("%s: %w", path, pe.Err)
	}
	if err != nil {
		return nil, err
	}
	ops, err := console.ParseOperators(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ops, nil
}

// consoleRefusal says why the daemon would not serve the console with ops
// on cfg's listener: one other hosts can reach needs operators and TLS.
func consoleRefusal(cfg *config.Config, ops map[string][]byte) error {
	if cfg.Console.Disabled || cfg.Listen == "" || daemon.Loopback(cfg.Listen) {
		return nil
	}
	if len(ops) == 0 {
		return fmt.Errorf("the console on %s, which other hosts can reach, needs operators to sign in: set console.operators_file "+
			"(name:bcrypt-hash lines; `g2msync console hash` makes a hash), or console.disabled: true", cfg.Listen)
	}
	if cfg.ListenTLS.CertFile == "" {
		return fmt.Errorf("the console on %s, which other hosts can reach, would take operators' passwords over plain HTTP: "+
			"set listen_tls.cert_file and listen_tls.key_file, or console.disabled: true", cfg.Listen)
	}
	return nil
}

// read runs fn for a page: on the running cycle's store, beside it, or on
// the state file opened read-only between cycles.
func (b *consoleBackend) read(fn func(st *state.Store) error) error {
	select {
	case b.readers <- struct{}{}:
		defer func() { <-b.readers }()
	case <-time.After(b.readAfter):
		return console.ErrBusy
	}
	err := b.a.readState(b.readAfter, fn)
	if errors.Is(err, state.ErrInUse) {
		return console.ErrBusy
	}
	return err
}

func (b *consoleBackend) Status() daemon.StatusDoc { return b.status() }

func (b *consoleBackend) Cycles(_ context.Context, limit int) ([]state.Cycle, error) {
	var out []state.Cycle
	err := b.read(func(st *state.Store) (err error) { out, err = st.Cycles(limit); return err })
	return out, err
}

func (b *consoleBackend) Audit(_ context.Context, f state.AuditFilter) ([]state.AuditEntry, error) {
	var out []state.AuditEntry
	err := b.read(func(st *state.Store) (err error) { out, err = st.Audit(f); return err })
	return out, err
}

func (b *consoleBackend) WriteLog(w io.Writer, entries []state.AuditEntry, format string) error {
	return writeReport(w, entries, format)
}

// Seats reads the licences from GoTo, at most every few minutes: the
// overview refreshes itself, and seats change slowly.
func (b *consoleBackend) Seats(ctx context.Context) ([]console.Seat, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.seatsAt.IsZero() && b.now().Sub(b.seatsAt) < b.seatsTTL {
		return b.seats, b.seatsErr
	}
	// The call may refresh GoTo's token, which rotates it: hold the state
	// file as a cycle does, so the rotated token is kept there, and so no
	// cycle runs meanwhile. While one runs, the last seats read stand.
	st, err := state.Open(b.a.cfg.StatePath, state.Options{MustExist: true, Binding: binding(b.a.cfg), Timeout: b.readAfter})
	if errors.Is(err, state.ErrInUse) {
		return b.seats, b.seatsErr
	}
	if err != nil {
		return nil, err
	}
	defer st.Close()
	b.a.tokens.set(st)
	defer b.a.tokens.set(nil)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second) // the file is held meanwhile
	defer cancel()
	lics, err := b.a.gotoc.Licenses(ctx)
	b.seatsAt, b.seatsErr, b.seats = b.now(), err, nil
	for _, l := range lics {
		b.seats = append(b.seats, console.Seat{Key: l.Key, Used: l.UserCount, Total: l.Seats})
	}
	return b.seats, err
}

func (b *consoleBackend) Explain(ctx context.Context, user string) (string, error) {
	rep, err := b.a.onDemand(ctx, []string{user}, true, false, true)
	if rep == nil {
		return "", err
	}
	var out bytes.Buffer
	writeOnDemandText(&out, rep)
	return out.String(), err
}

// actor is the signed-in operator taking an action in the console.
func actor(op console.Operator, reason string) application.Actor {
	return application.Actor{Name: op.Name, Address: op.Address, Door: application.DoorConsole, Reason: reason}
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
	if len(args) == 0 || args[0] != "hash" {
		fmt.Fprintln(c.m.Stderr, consoleUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return usageError{errors.New("console: say what to do: g2msync console hash NAME")}
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
