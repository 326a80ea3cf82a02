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
` + "`g2msync status`" + ` and ` + "`g2msync plan`" + ` list what is staged.

--keep USER... keeps those staged changes staged: no approval (--all
included), --allow-disables or fall under the thresholds releases them,
until --release USER... lifts the keep. The log records who kept or
released each and why (--reason).`

// Run implements command.
func (c *ApproveCommand) Run(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("approve", approveUsage)
	cfgPath := c.m.configFlag(fs)
	all := fs.Bool("all", false, "approve every change staged now, as listed, except those kept staged")
	keep := fs.Bool("keep", false, "keep the staged changes of the people named staged, until --release")
	release := fs.Bool("release", false, "lift the keep of the people named: their staged changes can be approved again")
	reason := fs.String("reason", "", "why, for the log (e.g. \"sales team reorganised\")")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if *keep && *release {
		return usageError{errors.New("--keep and --release: give one")}
	}
	if (*keep || *release) && (*all || fs.NArg() == 0) {
		return usageError{errors.New("--keep and --release take the people named, not --all")}
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
	kept, err := svc.Kept(ctx)
	if err != nil {
		return err
	}
	sel := application.Shown(staged)
	if !*all {
		var unmatched []string
		if sel, unmatched = application.Select(staged, fs.Args()); len(unmatched) > 0 {
			for i, u := range unmatched {
				unmatched[i] = fmt.Sprintf("%q", view.Safe(u))
			}
			verb := "approved"
			switch {
			case *keep:
				verb = "kept"
			case *release:
				verb = "released"
			}
			return fmt.Errorf("no staged change matches %s, so nothing was %s (`g2msync status` lists what is staged)", strings.Join(unmatched, ", "), verb)
		}
	}
	switch {
	case *keep:
		return c.keep(ctx, svc, staged, sel, *reason)
	case *release:
		return c.release(ctx, svc, staged, sel, kept, *reason)
	}
	for _, s := range staged {
		k, held := kept[s.EntraID]
		if _, picked := sel[s.EntraID]; !held || !picked {
			continue
		}
		delete(sel, s.EntraID)
		if !*all {
			return fmt.Errorf("the staged %s of %s is kept staged by %s since %s, so nothing was approved; `g2msync approve --release USER` lifts the keep",
				s.Kind, view.Safe(view.FirstNonEmpty(s.Email, s.UPN, s.EntraID)), view.Safe(k.By), k.At.UTC().Format("2006-01-02 15:04 UTC"))
		}
		fmt.Fprintf(c.m.Stdout, "Leaving out the %s of %s: kept staged by %s (`g2msync approve --release USER` lifts the keep).\n",
			s.Kind, view.Safe(view.FirstNonEmpty(s.Email, s.UPN, s.EntraID)), view.Safe(k.By))
	}
	if len(sel) == 0 {
		fmt.Fprintln(c.m.Stdout, "Every staged change is kept staged: nothing to approve.")
		return nil
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

// keep keeps the selected staged changes staged.
func (c *ApproveCommand) keep(ctx context.Context, svc *application.Service, staged []state.Staged, sel application.Selection, reason string) error {
	ids := make([]string, 0, len(sel))
	for _, s := range staged {
		if _, ok := sel[s.EntraID]; ok {
			ids = append(ids, s.EntraID)
		}
	}
	done, err := svc.Keep(ctx, c.m.actor(reason), ids)
	if err != nil {
		return err
	}
	for _, s := range done {
		fmt.Fprintf(c.m.Stdout, "Kept staged: %s %s; no approval releases it until `g2msync approve --release USER`.\n", s.Kind, view.Safe(view.FirstNonEmpty(s.Email, s.UPN, s.EntraID)))
	}
	if n := len(ids) - len(done); n > 0 {
		fmt.Fprintf(c.m.Stdout, "%d already kept staged.\n", n)
	}
	return nil
}

// release lifts the keeps of the selected staged changes.
func (c *ApproveCommand) release(ctx context.Context, svc *application.Service, staged []state.Staged, sel application.Selection, kept map[string]state.Keep, reason string) error {
	var ids []string
	for _, s := range staged {
		if _, ok := sel[s.EntraID]; !ok {
			continue
		}
		if _, held := kept[s.EntraID]; !held {
			return fmt.Errorf("the staged %s of %s is not kept staged, so nothing was released", s.Kind, view.Safe(view.FirstNonEmpty(s.Email, s.UPN, s.EntraID)))
		}
		ids = append(ids, s.EntraID)
	}
	done, err := svc.Release(ctx, c.m.actor(reason), ids)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.m.Stdout, "Released %d; each waits for its approval (`g2msync approve USER`), unless the next cycle finds it within the thresholds.\n", len(done))
	return nil
}
