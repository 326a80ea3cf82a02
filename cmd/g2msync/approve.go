package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/g2msync/g2msync/pkg/view"

	application "github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/state"
)

// ApproveCommand approves staged changes, each as it is listed.
type ApproveCommand struct{ m *Main }

const approveUsage = `usage: g2msync approve [flags] --all | USER...

Approves disables and deletes the safety thresholds staged (safety.max_disables,
safety.max_disables_percent), each bound to the exact change listed: its
kind, account and fields, which its fingerprint stands for. Name people by
Entra object id, UPN, email or GoTo key, or give --all for every change
staged now. It prints what it approves, then approves exactly that: a
change restaged differently meanwhile (a disable become a delete) waits for
another approval. The next cycle applies them, the daemon's or
` + "`g2msync run --once`" + `; works while the daemon runs. The provisioning log
records each approval with who approved (the OS user and host) and why.
` + "`g2msync status`" + ` and ` + "`g2msync plan`" + ` list what is staged.`

// Run implements command.
func (c *ApproveCommand) Run(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("approve", approveUsage)
	cfgPath := c.m.configFlag(fs)
	all := fs.Bool("all", false, "approve every change staged now, as listed")
	reason := fs.String("reason", "", "why, for the log (e.g. \"sales team reorganised\")")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if *all == (fs.NArg() > 0) {
		return usageError{errors.New("name the people whose staged changes to approve, or give --all")}
	}
	cfg, err := c.m.loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	svc := c.m.service(cfg)
	staged, err := svc.Staged(ctx)
	if errors.Is(err, state.ErrNoState) {
		return fmt.Errorf("%w (nothing is staged before the first sync)", err)
	}
	if err != nil {
		return err
	}
	if len(staged) == 0 {
		fmt.Fprintln(c.m.Stdout, "No changes are staged: nothing to approve.")
		return nil
	}
	sel := application.Shown(staged)
	if !*all {
		var unmatched []string
		if sel, unmatched = application.Select(staged, fs.Args()); len(unmatched) > 0 {
			for i, u := range unmatched {
				unmatched[i] = fmt.Sprintf("%q", view.Safe(u))
			}
			return fmt.Errorf("no staged change matches %s, so nothing was approved (`g2msync status` lists what is staged)", strings.Join(unmatched, ", "))
		}
	}
	fmt.Fprintf(c.m.Stdout, "Approving %s, each bound to the change listed:\n", view.Plural(len(sel), "staged change"))
	for _, s := range staged {
		if _, ok := sel[s.EntraID]; ok {
			fmt.Fprintf(c.m.Stdout, "  %s %s (%s)\n    fingerprint %s\n", s.Kind, view.Safe(view.FirstNonEmpty(s.Email, s.UPN, s.EntraID)), view.Safe(s.Reason), view.Safe(s.Fingerprint))
		}
	}
	approved, err := svc.Approve(ctx, c.m.actor(*reason), sel)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.m.Stdout, "Approved %d; the next cycle applies them (the daemon's, or `g2msync run --once`).\n", len(approved))
	if n := len(sel) - len(approved); n > 0 {
		fmt.Fprintf(c.m.Stdout, "%s changed since it was listed and waits for another approval (`g2msync approve` again).\n", view.Plural(n, "change"))
	}
	return nil
}
