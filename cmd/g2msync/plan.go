package main

import (
	"context"
	"fmt"

	"github.com/g2msync/g2msync/pkg/view"

	"github.com/g2msync/g2msync/pkg/engine"
)

// PlanCommand prints what the next cycle would do.
type PlanCommand struct{ m *Main }

const planUsage = `usage: g2msync plan [flags]

Reads the directory and GoTo and prints what the next cycle would create,
adopt, update, disable and re-enable, what it would stage for approval, and
whom it leaves alone and why. Nothing changes in GoTo: the GoTo client it
uses has no write side. The state file is not changed either, except to
keep a refresh token GoTo rotates while the plan reads.`

// Run implements command.
func (c *PlanCommand) Run(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("plan", planUsage)
	cfgPath := c.m.configFlag(fs)
	initial := fs.Bool("initial-sync", false, "plan a full sync: list every GoTo account and re-match everyone")
	allow := fs.Bool("allow-disables", false, "show disables as applied, not staged")
	output := fs.String("output", "text", "text or json")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *output != "text" && *output != "json" {
		return usageError{fmt.Errorf("--output: want text or json, got %q", *output)}
	}
	a, err := c.m.commandApp(*cfgPath)
	if err != nil {
		return err
	}
	rep, err := a.cycle(ctx, engine.Options{DryRun: true, InitialSync: *initial, AllowDisables: *allow})
	if rep == nil || rep.Result == nil || rep.Result.Plan == nil {
		return err
	}
	if *output == "json" {
		if werr := view.PlanJSON(c.m.Stdout, rep.Result.Plan); werr != nil {
			return werr
		}
	} else {
		view.PausedNote(c.m.Stdout, rep.Paused)
		view.PlanText(c.m.Stdout, rep.Result.Plan, 0)
	}
	return err
}
