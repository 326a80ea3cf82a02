package main

import (
	"context"
	"fmt"

	"github.com/g2msync/g2msync/pkg/view"
)

// LicensesCommand prints each GoTo licence's seats: who holds them, who
// waits for one, and when they run out.
type LicensesCommand struct{ m *Main }

const licensesUsage = `usage: g2msync licenses [flags]

Prints each GoTo licence (key and name) with its seats: used by accounts
g2msync manages, active and suspended (a suspended account should hold
none: it is flagged), used by accounts it does not manage (GoTo's count
less the managed ones), free, and the people whose create is deferred for
want of a seat of it. RUNS OUT forecasts the day the free seats run out at
the rate of the last 30 days' successful creates giving the licence, from
the provisioning log (an initial sync's creates are the backlog of those
assigned before, not a rate, and are left out); there is none with no such
create or with less than a week of history, and the output says why. Reads the licences from GoTo
and the rest from the state file; changes nothing in GoTo (a GoTo token
rotated during the read is kept in the state file). Also spelt licences.

Examples:
  g2msync licenses
  g2msync licenses -o csv > seats.csv`

// Run implements command.
func (c *LicensesCommand) Run(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("licenses", licensesUsage)
	cfgPath := c.m.configFlag(fs)
	output := fs.String("output", "text", "text, json or csv")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *output != "text" && *output != "json" && *output != "csv" {
		return usageError{fmt.Errorf("--output: want text, json or csv, got %q", *output)}
	}
	a, err := c.m.commandApp(*cfgPath)
	if err != nil {
		return err
	}
	l, err := a.svc.Licenses(ctx)
	if err != nil {
		return err
	}
	return view.Licenses(c.m.Stdout, l, *output)
}
