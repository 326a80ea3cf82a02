package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	application "github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/view"
)

// ProvisionCommand provisions named people now, as the portal's
// "Provision on demand" does; with explain set it is `g2msync explain`:
// the same run as a dry run, plus what g2msync knows of each person.
type ProvisionCommand struct {
	m       *Main
	explain bool
}

const provisionUsage = `usage: g2msync provision [flags] USER...

Provisions the people named now, and no one else, as the portal's
"Provision on demand" does. USER is an Entra object id, a userPrincipalName
or a mail address (case-insensitive); several may be given. Only they are
read from Graph (the user, the app's assignments, their groups), planned
with the same planner, policy and gates as a cycle, and changed. For each
person it prints the steps: import (the attributes read), scope (in or out,
and why), mapping (each GoTo field, its expression and value), match (the
GoTo account, or none), action and result. The provisioning log marks the
changes on-demand. Works while the daemon runs; refused while provisioning
is paused, unless --force.

Exit codes: 0 every person's account is as planned (or nothing was
needed), 1 a change failed or a USER matches no Entra user, 2 bad usage,
3 a disable was staged for approval, 4 a change was deferred (no free seat).`

const explainUsage = `usage: g2msync explain [flags] USER...

Says why a person has the GoTo account they have, or none: what provision
--dry-run would do for them (import, scope and why, mapping, match, action),
and what g2msync knows of them: the GoTo account it owns and its state,
anything deferred, staged or failing for them with the reason and next
try, and the last entries of their provisioning log. Changes nothing.
USER is an Entra object id, a userPrincipalName or a mail address.`

// Run implements command.
func (c *ProvisionCommand) Run(ctx context.Context, args []string) error {
	name, synopsis := "provision", provisionUsage
	if c.explain {
		name, synopsis = "explain", explainUsage
	}
	fs := c.m.newFlagSet(name, synopsis)
	cfgPath := c.m.configFlag(fs)
	output := fs.String("output", "text", "text or json")
	dry, force := new(bool), new(bool)
	if !c.explain {
		dry = fs.Bool("dry-run", false, "plan and print the steps, change nothing")
		force = fs.Bool("force", false, "provision even while provisioning is paused")
	}
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if *output != "text" && *output != "json" {
		return usageError{fmt.Errorf("--output: want text or json, got %q", *output)}
	}
	queries := fs.Args()
	if len(queries) == 0 {
		return usageError{errors.New("name at least one person: an Entra object id, a userPrincipalName or a mail address")}
	}
	for _, q := range queries {
		if strings.TrimSpace(q) == "" || strings.ContainsAny(q, "\x00\r\n") {
			return usageError{fmt.Errorf("%q is not an object id, userPrincipalName or mail address", view.Safe(q))}
		}
	}
	a, err := c.m.commandApp(*cfgPath)
	if err != nil {
		return err
	}
	by := c.m.actor("")
	rep, err := a.svc.OnDemand(ctx, queries, application.OnDemandOptions{DryRun: *dry, Force: *force, Explain: c.explain, By: &by})
	return c.m.printOnDemand(rep, err, *output)
}

// printOnDemand prints the report of provision, explain or mapping test
// as text or JSON, and returns the command's outcome.
func (m *Main) printOnDemand(rep *application.OnDemandReport, err error, output string) error {
	if rep == nil {
		return err
	}
	if output == "json" {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(rep); werr != nil {
			return werr
		}
	} else {
		view.OnDemandText(m.Stdout, rep)
	}
	if err != nil {
		return err
	}
	return onDemandExit(rep)
}

// exit maps the results to the documented exit codes.
func onDemandExit(r *application.OnDemandReport) error {
	var failed, deferred, staged []string
	for _, p := range r.People {
		switch p.Result.Status {
		case application.StatusFailed:
			failed = append(failed, p.UPN)
		case application.StatusDeferred:
			deferred = append(deferred, p.UPN)
		case application.StatusStaged:
			staged = append(staged, p.UPN)
		}
	}
	var msgs []string
	for _, q := range r.Unmatched {
		msgs = append(msgs, fmt.Sprintf("no Entra user matches %s", view.Safe(q)))
	}
	if len(failed) > 0 {
		msgs = append(msgs, fmt.Sprintf("the change of %s failed", view.Safe(strings.Join(failed, ", "))))
	}
	switch {
	case len(msgs) > 0:
		return exitError{ExitFailure, strings.Join(msgs, "; ")}
	case len(staged) > 0:
		return exitError{ExitStaged, fmt.Sprintf("the disable of %s is staged for approval: review it with `g2msync status`, approve it with `g2msync approve USER`, and the next cycle applies it",
			view.Safe(strings.Join(staged, ", ")))}
	case len(deferred) > 0:
		return exitError{ExitPartial, fmt.Sprintf("the change of %s is deferred (see above); it is tried again on later cycles", view.Safe(strings.Join(deferred, ", ")))}
	}
	return nil
}
