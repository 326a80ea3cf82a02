package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/g2msync/g2msync/pkg/view"

	"github.com/g2msync/g2msync/pkg/state"
)

// RetryCommand clears a person's failure record so the next cycle tries again.
type RetryCommand struct{ m *Main }

const retryUsage = `usage: g2msync retry [flags] <user> | --quarantined | --all

A change that keeps failing is retried with a growing back-off and, after
safety.quarantine_after failures, quarantined: not tried again until the
directory changes it or someone runs this command. Name the person by Entra
object id, UPN, email or GoTo key; --quarantined releases every quarantined
account. The next cycle tries them at once. The provisioning log records
whom it released, who did (the OS user and host) and why.`

// Run implements command.
func (c *RetryCommand) Run(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("retry", retryUsage)
	cfgPath := c.m.configFlag(fs)
	all := fs.Bool("quarantined", false, "release every quarantined account")
	every := fs.Bool("all", false, "release every failing account, in back-off or quarantined (as the portal's Restart)")
	reason := fs.String("reason", "", "why, for the log (e.g. \"licence added\")")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	who := fs.Arg(0)
	if *every {
		if who != "" || *all {
			return usageError{errors.New("--all goes alone")}
		}
		who = state.EveryFailure
	} else if (who == "") == !*all || fs.NArg() > 1 {
		return usageError{errors.New("name one person, or give --quarantined or --all")}
	}
	cfg, err := c.m.loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	cleared, err := c.m.service(cfg).Retry(ctx, c.m.actor(*reason), who)
	if err != nil {
		return err
	}
	if len(cleared) == 0 && *every {
		fmt.Fprintln(c.m.Stdout, "No account is failing: nothing to release.")
		return nil
	}
	if len(cleared) == 0 {
		return fmt.Errorf("no failing account matches %q (see `g2msync status`)", view.Safe(who))
	}
	for _, f := range cleared {
		state := "failing"
		if f.Quarantined {
			state = "quarantined"
		}
		fmt.Fprintf(c.m.Stdout, "released %s (%s after %d attempts of %s): the next cycle tries again\n",
			view.FirstNonEmpty(f.Email, f.UPN, f.EntraID), state, f.Count, f.Kind)
	}
	return nil
}
