package main

import (
	"context"
	"errors"
	"fmt"
	"os"
)

const bootstrapUsage = `usage: g2msync bootstrap [flags]

The first run, for a container that cannot run a shell: a Kubernetes
initContainer before the daemon, or a oneshot unit. If the state file
records no cycle that applied its plan yet, it signs in to GoTo with
--pat-file (when the file is not empty) and runs the first, full sync
(g2msync run --once --initial-sync); otherwise it does nothing and exits 0,
so a restarted pod goes straight to the daemon.

It exits 0 also when that sync staged disables (3) or deferred or failed
some changes (4): they need a person (g2msync status, the metrics and the
alerts show them), and the daemon retries and reports them; holding the
daemon back, or restarting, would not help. Other failures exit 1 or 2,
as run --once does: the pod then stops before the daemon, saying why.`

// BootstrapCommand is `g2msync bootstrap`.
type BootstrapCommand struct{ m *Main }

// Run implements command.
func (c *BootstrapCommand) Run(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("bootstrap", bootstrapUsage)
	cfgPath := c.m.configFlag(fs)
	patFile := fs.String("pat-file", "", "sign in to GoTo with the personal access token in this file first (skipped when it is absent or empty)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.m.loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	done, err := c.m.service(cfg).FirstSyncDone()
	if err != nil {
		return err
	}
	if done {
		fmt.Fprintf(c.m.Stdout, "The state file %s records a first sync: nothing to do.\n", cfg.StatePath)
		return nil
	}
	if *patFile != "" {
		if fi, err := os.Stat(*patFile); err == nil && fi.Size() > 0 {
			if err := c.m.Run(ctx, []string{"login", "goto", "--config", *cfgPath, "--pat-file", *patFile}); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(c.m.Stdout, "No personal access token in %s: using the GoTo refresh token already stored or configured.\n", *patFile)
		}
	}
	err = c.m.Run(ctx, []string{"run", "--once", "--initial-sync", "--config", *cfgPath})
	var ee exitError
	if errors.As(err, &ee) && (ee.code == ExitStaged || ee.code == ExitPartial) {
		fmt.Fprintf(c.m.Stderr, "g2msync: %s\n", ee.msg)
		fmt.Fprintf(c.m.Stdout, "The first sync ran (exit %d would need a person, not a restart): the daemon starts and keeps trying.\n", ee.code)
		return nil
	}
	return err
}
