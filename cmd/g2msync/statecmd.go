package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	application "github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/state"

	"github.com/g2msync/g2msync/pkg/metrics"
	"github.com/g2msync/g2msync/pkg/view"
)

// StateCommand manages the state file itself.
type StateCommand struct{ m *Main }

const stateUsage = `usage: g2msync state rebuild [flags]
       g2msync state backup [flags] FILE

state backup writes a consistent copy of the state file to FILE (mode
0600; whole or not at all; never over a file without --force) and checks
that the copy opens. It reads the file between cycles, so while another
process's cycle holds it, backup waits for the cycle to end (--wait). To
restore: stop the daemon, keep the current file aside, copy the backup to
state_path (mode 0600, owned by the user g2msync runs as), start the
daemon. The next cycle repairs what changed since the backup by the usual
rules; 'g2msync plan' shows it first.

state rebuild:

Rebuilds a lost, truncated or corrupt state file: the old file is moved
aside (kept as <state_path>.corrupt-<time>), a new one is created, and one
full read re-adopts the GoTo accounts that match in-scope people by email.
Nothing is created, updated or disabled in GoTo; the next cycle does that.
Stop the daemon first. If the GoTo refresh token was lost with the old
file, run 'g2msync login goto' first (rebuild says so).

A readable state file is not replaced unless --force is given.`

// Run implements command.
func (c *StateCommand) Run(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "backup" {
		return c.backup(ctx, args[1:])
	}
	if done, err := c.m.subcommand(args, "rebuild", stateUsage, "state: say what to do: g2msync state rebuild, or g2msync state backup FILE"); done {
		return err
	}
	fs := c.m.newFlagSet("state rebuild", stateUsage)
	cfgPath := c.m.configFlag(fs)
	force := fs.Bool("force", false, "rebuild even if the state file is readable (the old one is kept)")
	reason := fs.String("reason", "", "why, for the provisioning log")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := c.m.loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	a, err := c.m.newApp(cfg, c.m.newLogger(cfg, c.m.Stderr), metrics.New(version), appOptions{})
	if err != nil {
		return err
	}
	a.svc.Progress = newProgress(c.m.Stderr, a.log, "re-adopting", time.Now)
	r, err := a.svc.Rebuild(ctx, c.m.actor(*reason), *force)
	if errors.Is(err, application.ErrNothingToRebuild) {
		return usageError{err}
	}
	if r != nil && r.Aside != "" {
		fmt.Fprintf(c.m.Stdout, "state file %s: %s\nmoved the old file to %s\n", cfg.StatePath, view.Safe(r.Found), r.Aside)
	}
	if err != nil {
		if r == nil || r.Report == nil || r.Report.Result == nil {
			return fmt.Errorf("rebuild: %w", err)
		}
		return fmt.Errorf("rebuild: %w (if the GoTo refresh token was lost with the old file, run `g2msync login goto`, then rebuild again)", err)
	}
	fmt.Fprintf(c.m.Stdout, "Rebuilt %s: re-adopted %d GoTo accounts of in-scope people.\n", cfg.StatePath, r.Adopted)
	fmt.Fprintf(c.m.Stdout, "%d in-scope people have no GoTo account, or cannot be provisioned: `g2msync plan` shows what the next cycle will do.\n", r.Unprovisioned)
	if r.Aside != "" {
		fmt.Fprintf(c.m.Stdout, "The old file is kept as %s; delete it once you are satisfied.\n", r.Aside)
	}
	return nil
}

func (m *Main) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// backup is `state backup FILE`.
func (c *StateCommand) backup(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("state backup", stateUsage)
	cfgPath, statePath := c.m.statePathFlags(fs)
	force := fs.Bool("force", false, "replace FILE if it exists")
	wait := fs.Duration("wait", 10*time.Minute, "how long to wait for a running cycle to let the state file go")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("state backup: name the file to write: g2msync state backup FILE")}
	}
	path := *statePath
	if path == "" {
		p, err := c.m.statePathOf(*cfgPath)
		if err != nil {
			return err
		}
		path = p
	}
	svc := &application.Service{StatePath: path, Wait: *wait}
	b, err := svc.Backup(ctx, fs.Arg(0), *force)
	if errors.Is(err, state.ErrBackupExists) {
		return usageError{fmt.Errorf("%w; --force replaces it", err)}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.m.Stdout, "Backed up %s to %s (%d bytes): %d accounts, %d cycles. Restore: stop the daemon, copy it to state_path (mode 0600).\n",
		path, fs.Arg(0), b.Bytes, b.Accounts, b.Cycles)
	return nil
}
