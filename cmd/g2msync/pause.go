package main

import (
	"context"
	"fmt"

	"github.com/g2msync/g2msync/pkg/view"

	application "github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/config"
)

// PauseCommand stops provisioning without stopping the daemon.
type PauseCommand struct{ m *Main }

const pauseUsage = `usage: g2msync pause [flags]

Pauses provisioning: the daemon keeps running and serving, and its cycles
change nothing until ` + "`g2msync resume`" + `; run --once does nothing either.
The pause is kept in the state file with when, by whom (the OS user) and
why, and the provisioning log records it with the host; it shows in status, /status, /readyz and the g2msync_paused metric.
Nothing is lost meanwhile: records, approvals, back-off and the log stay.
Works while the daemon runs.`

// Run implements command.
func (c *PauseCommand) Run(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("pause", pauseUsage)
	cfgPath := c.m.configFlag(fs)
	reason := fs.String("reason", "", "why, for status and the log (e.g. \"tenant migration\")")
	if err := parse(fs, args); err != nil {
		return err
	}
	svc, err := c.m.pauseService(*cfgPath)
	if err != nil {
		return err
	}
	p, err := svc.Pause(ctx, c.m.actor(*reason))
	if err != nil {
		return err
	}
	fmt.Fprintln(c.m.Stdout, view.Safe(p.Text())+".")
	return nil
}

// ResumeCommand lifts a pause.
type ResumeCommand struct{ m *Main }

const resumeUsage = `usage: g2msync resume [flags]

Lifts a pause: the next cycle provisions again, as if nothing had happened.
The provisioning log records who resumed (the OS user and host) and why.`

// Run implements command.
func (c *ResumeCommand) Run(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("resume", resumeUsage)
	cfgPath := c.m.configFlag(fs)
	reason := fs.String("reason", "", "why, for the log (e.g. \"migration done\")")
	if err := parse(fs, args); err != nil {
		return err
	}
	svc, err := c.m.pauseService(*cfgPath)
	if err != nil {
		return err
	}
	p, err := svc.Resume(ctx, c.m.actor(*reason))
	if err != nil {
		return err
	}
	if p == nil {
		fmt.Fprintln(c.m.Stdout, "Provisioning is not paused.")
		return nil
	}
	fmt.Fprintf(c.m.Stdout, "Resumed (it was paused since %s by %s); the next cycle provisions.\n", p.Since.UTC().Format("2006-01-02 15:04 UTC"), view.Safe(p.By))
	return nil
}

// pauseService is the application layer on the state file named by the
// configuration: pausing needs the file, not the secrets, so the file's
// binding is not checked.
func (m *Main) pauseService(cfgPath string) (*application.Service, error) {
	path, err := config.StatePath(cfgPath, m.Environ)
	if err != nil {
		return nil, usageError{err}
	}
	return &application.Service{StatePath: path, Now: m.now}, nil
}
