package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/metrics"
	"github.com/g2msync/g2msync/pkg/state"
)

// StateCommand manages the state file itself.
type StateCommand struct{ m *Main }

const stateUsage = `usage: g2msync state rebuild [flags]

Rebuilds a lost, truncated or corrupt state file: the old file is moved
aside (kept as <state_path>.corrupt-<time>), a new one is created, and one
full read re-adopts the GoTo accounts that match in-scope people by email.
Nothing is created, updated or disabled in GoTo; the next cycle does that.
Stop the daemon first. If the GoTo refresh token was lost with the old
file, run 'g2msync login goto' first (rebuild says so).

A readable state file is not replaced unless --force is given.`

// Run implements command.
func (c *StateCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "rebuild" {
		fmt.Fprintln(c.m.Stderr, stateUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return usageError{errors.New("state: say what to do: g2msync state rebuild")}
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
	unlock, err := state.Lock(cfg.StatePath)
	if err != nil {
		return fmt.Errorf("%w; stop the daemon before rebuilding its state file", err)
	}
	defer unlock()
	aside, token := "", ""
	if _, err := os.Stat(cfg.StatePath); err == nil {
		st, err := state.Open(cfg.StatePath, state.Options{Binding: binding(cfg), ReadOnly: true})
		switch {
		case err == nil:
			recs, _ := st.Records()
			token, _ = st.RefreshToken(ctx)
			st.Close()
			if len(recs) == 0 {
				// A file that owns nothing yet (say, a rebuild that stopped
				// for a login): rebuilding into it loses nothing.
				return c.m.rebuildWith(ctx, cfg, "", "", *reason)
			}
			if !*force {
				return usageError{fmt.Errorf("state file %s is readable: nothing to rebuild (--force rebuilds it anyway, keeping the old one)", cfg.StatePath)}
			}
		case errors.Is(err, state.ErrCorrupt):
			fmt.Fprintf(c.m.Stdout, "state file %s: %v\n", cfg.StatePath, err)
		case errors.As(err, new(*state.BindingError)) && *force && ownsNothing(cfg.StatePath):
			// Bound by mistake (a check with a mistyped account key, before
			// check stopped binding files): it owns nothing, so moving it
			// aside loses nothing.
			fmt.Fprintf(c.m.Stdout, "state file %s is bound to another setup but owns no account: %v\n", cfg.StatePath, err)
		default:
			// In use, or another tenant's, app's or GoTo account's file:
			// not ours to move, --force or not.
			return err
		}
		aside = fmt.Sprintf("%s.corrupt-%s", cfg.StatePath, c.m.now().UTC().Format("20060102T150405Z"))
		if err := os.Rename(cfg.StatePath, aside); err != nil {
			return fmt.Errorf("move the old state file aside: %w", err)
		}
		fmt.Fprintf(c.m.Stdout, "moved the old file to %s\n", aside)
	}
	return c.m.rebuildWith(ctx, cfg, aside, token, *reason)
}

// rebuildWith rebuilds into a new file, first carrying over the refresh
// token of a readable old file (GoTo has rotated the configured one since).
func (m *Main) rebuildWith(ctx context.Context, cfg *config.Config, aside, token, reason string) error {
	if token != "" {
		st, err := openStateForWrite(cfg)
		if err != nil {
			return err
		}
		err = st.SaveRefreshToken(ctx, token)
		st.Close()
		if err != nil {
			return err
		}
	}
	a, err := m.newApp(cfg, m.newLogger(cfg, m.Stderr), metrics.New(version), appOptions{})
	if err != nil {
		return err
	}
	return m.rebuild(ctx, a, aside, reason)
}

func (m *Main) rebuild(ctx context.Context, a *app, aside, reason string) error {
	a.svc.Progress = newProgress(m.Stderr, a.log, "re-adopting", time.Now)
	rep, err := a.svc.Rebuild(ctx, m.actor(reason))
	if err != nil {
		if rep == nil || rep.Result == nil {
			return fmt.Errorf("rebuild: %w", err)
		}
		return fmt.Errorf("rebuild: %w (if the GoTo refresh token was lost with the old file, run `g2msync login goto`, then rebuild again)", err)
	}
	res := rep.Result
	missing := 0
	for _, s := range res.Plan.Skips {
		if s.Prior == nil && s.GoToKey == "" {
			missing++
		}
	}
	fmt.Fprintf(m.Stdout, "Rebuilt %s: re-adopted %d GoTo accounts of in-scope people.\n", a.cfg.StatePath, res.Cycle.Applied["adopt"])
	fmt.Fprintf(m.Stdout, "%d in-scope people have no GoTo account, or cannot be provisioned: `g2msync plan` shows what the next cycle will do.\n", missing)
	if aside != "" {
		fmt.Fprintf(m.Stdout, "The old file is kept as %s; delete it once you are satisfied.\n", aside)
	}
	return nil
}

func (m *Main) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// ownsNothing reports whether the state file at path owns no account.
func ownsNothing(path string) bool {
	st, err := state.Open(path, state.Options{ReadOnly: true})
	if err != nil {
		return false
	}
	defer st.Close()
	recs, err := st.Records()
	return err == nil && len(recs) == 0
}
