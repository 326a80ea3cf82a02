package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/state"
)

// PauseCommand stops provisioning without stopping the daemon.
type PauseCommand struct{ m *Main }

const pauseUsage = `usage: g2msync pause [flags]

Pauses provisioning: the daemon keeps running and serving, and its cycles
change nothing until ` + "`g2msync resume`" + `; run --once does nothing either.
The pause is kept in the state file with when, by whom (the OS user) and
why, and shows in status, /status, /readyz and the g2msync_paused metric.
Nothing is lost meanwhile: records, approvals, back-off and the log stay.
Works while the daemon runs.`

// Run implements command.
func (c *PauseCommand) Run(_ context.Context, args []string) error {
	fs := c.m.newFlagSet("pause", pauseUsage)
	cfgPath := c.m.configFlag(fs)
	reason := fs.String("reason", "", "why, for status and the log (e.g. \"tenant migration\")")
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := c.m.openStateToPause(*cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	p := &state.Pause{Since: c.m.now(), By: operator(), Reason: *reason}
	if err := st.SetPause(p); err != nil {
		return err
	}
	fmt.Fprintln(c.m.Stdout, safe(p.Text())+".")
	return nil
}

// ResumeCommand lifts a pause.
type ResumeCommand struct{ m *Main }

const resumeUsage = `usage: g2msync resume [flags]

Lifts a pause: the next cycle provisions again, as if nothing had happened.`

// Run implements command.
func (c *ResumeCommand) Run(_ context.Context, args []string) error {
	fs := c.m.newFlagSet("resume", resumeUsage)
	cfgPath := c.m.configFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := c.m.openStateToPause(*cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	p, err := st.Paused()
	if err != nil {
		return err
	}
	if p == nil {
		fmt.Fprintln(c.m.Stdout, "Provisioning is not paused.")
		return nil
	}
	if err := st.SetPause(nil); err != nil {
		return err
	}
	fmt.Fprintf(c.m.Stdout, "Resumed (it was paused since %s by %s); the next cycle provisions.\n", p.Since.UTC().Format("2006-01-02 15:04 UTC"), safe(p.By))
	return nil
}

// openStateToPause opens the existing state file named by the
// configuration: pausing needs the file, not the secrets.
func (m *Main) openStateToPause(cfgPath string) (*state.Store, error) {
	path, err := config.StatePath(cfgPath, m.Environ)
	if err != nil {
		return nil, usageError{err}
	}
	st, err := state.Open(path, state.Options{MustExist: true, Timeout: 30 * time.Second})
	if errors.Is(err, state.ErrNoState) {
		return nil, fmt.Errorf("%w (nothing to pause before the first sync)", err)
	}
	return st, err
}
