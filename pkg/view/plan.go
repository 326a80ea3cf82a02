package view

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// writePlanText prints a plan as a table an administrator can read top to
// bottom: what will change, what is held back, and what is left alone and why.
// limit > 0 shows at most limit rows of each kind and one person per skip
// reason, for plans too long to read whole; the summary counts everything.
func PlanText(w io.Writer, p *plan.Plan, limit int) error {
	fmt.Fprintf(w, "%d people in scope; g2msync owns %d GoTo accounts (%d active).\n", p.InScope, p.Owned, p.OwnedActive)
	if p.Abort != "" {
		fmt.Fprintf(w, "\nABORTED: %s\n", Safe(p.Abort))
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(p.Recovered) > 0 {
		fmt.Fprintln(w, "\nRecorded without a call (changes an earlier cycle made before it stopped):")
		for i := range p.Recovered {
			c := &p.Recovered[i]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Kind, user(c), Dash(c.GoToKey), Safe(c.Reason))
		}
		tw.Flush()
	}
	writeDrift(w, p)
	if len(p.Changes) == 0 && len(p.Staged) == 0 {
		fmt.Fprintln(w, "\nNothing to change.")
	} else {
		fmt.Fprintln(w)
		fmt.Fprintln(tw, "ACTION\tUSER\tGOTO KEY\tDETAILS")
		shown, total := map[plan.Kind]int{}, map[string]int{}
		for _, c := range p.Changes {
			total[string(c.Kind)]++
		}
		for _, c := range p.Staged {
			total["staged "+string(c.Kind)]++
		}
		for _, cs := range []struct {
			prefix  string
			changes []plan.Change
		}{{"", p.Changes}, {"staged ", p.Staged}} {
			for i := range cs.changes {
				c := &cs.changes[i]
				shown[c.Kind]++
				if limit > 0 && shown[c.Kind] > limit {
					if shown[c.Kind] == limit+1 {
						fmt.Fprintf(tw, "%s%s\t… %d more\t\t\n", cs.prefix, c.Kind, total[cs.prefix+string(c.Kind)]-limit)
					}
					continue
				}
				writeChangeRow(tw, plan.Kind(cs.prefix)+c.Kind, c)
			}
		}
		tw.Flush()
	}
	if len(p.Skips) > 0 {
		fmt.Fprintln(w, "\nLeft alone:")
		fmt.Fprintln(tw, "USER\tGOTO KEY\tREASON")
		reasons := map[string]int{}
		for _, s := range p.Skips {
			reasons[s.Reason]++
			if limit > 0 && reasons[s.Reason] > 1 {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", user(&s), Dash(s.GoToKey), Safe(s.Reason))
		}
		tw.Flush()
		if limit > 0 {
			for r, n := range reasons {
				if n > 1 {
					fmt.Fprintf(w, "  … and %d more for the same reason: %.60s…\n", n-1, Safe(r))
				}
			}
		}
	}
	writeDeferred(w, p.Deferred)
	fmt.Fprintf(w, "\n%s\n", PlanSummary(p))
	if r := p.StageReason; r != "" {
		fmt.Fprintf(w, "Staged: %s\n", r)
	}
	return nil
}

// writeDrift says that the plan reconciles (lists every GoTo account), and
// which owned accounts it found changed in GoTo outside g2msync, with the
// repair each gets, or that under goto.drift: report the repair is only
// shown.
func writeDrift(w io.Writer, p *plan.Plan) {
	if !p.Reconciled {
		return
	}
	fmt.Fprintf(w, "\nReconcile (goto.reconcile_interval has passed): every GoTo account listed; %s.\n", Plural(len(p.Drift), "account")+" changed in GoTo outside g2msync")
	if len(p.Drift) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tGOTO KEY\tIN GOTO NOW\tREPAIR")
	held := 0
	for i := range p.Drift {
		d := &p.Drift[i]
		repair := string(d.Repair.Kind)
		if d.Held {
			repair, held = "not applied (goto.drift: report): "+repair, held+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", Safe(FirstNonEmpty(d.UPN, d.EntraID)), Dash(d.GoToKey), Safe(DriftText(d)), repair)
	}
	tw.Flush()
	if held > 0 {
		fmt.Fprintln(w, "goto.drift is report: nothing is written to these accounts; repair them in GoTo Admin, or set goto.drift: repair.")
	}
}

// DriftText says in one line how GoTo holds an account otherwise than
// g2msync recorded.
func DriftText(d *plan.Drift) string {
	if d.Deleted {
		return "deleted in GoTo"
	}
	var parts []string
	if d.Suspended {
		parts = append(parts, "suspended by g2msync, but holds licences or admin roles again")
	}
	for _, f := range d.Fields {
		parts = append(parts, fmt.Sprintf("%s: %s, was %s", f.Field, Dash(f.New), Dash(f.Old)))
	}
	if d.Licenses != nil {
		parts = append(parts, fmt.Sprintf("licences: %s, was %s", Dash(strings.Join(d.Licenses.New, ",")), Dash(strings.Join(d.Licenses.Old, ","))))
	}
	if d.AdminRoles != nil {
		parts = append(parts, fmt.Sprintf("admin roles: %s, was %s", Dash(strings.Join(d.AdminRoles.New, ",")), Dash(strings.Join(d.AdminRoles.Old, ","))))
	}
	return strings.Join(parts, "; ")
}

// writeDeferred prints the changes that wait, grouped by what they wait
// for: the cause once, then the people.
func writeDeferred(w io.Writer, ds []plan.Change) {
	if len(ds) == 0 {
		return
	}
	fmt.Fprintln(w, "\nDeferred (not tried this cycle; no call is made for them):")
	type group struct {
		kind   plan.Kind
		reason string
		people []*plan.Change
	}
	var groups []*group
	index := map[string]*group{}
	for i := range ds {
		d := &ds[i]
		k := string(d.Kind) + "|" + d.Deferral.Reason
		g := index[k]
		if g == nil {
			g = &group{kind: d.Kind, reason: d.Deferral.Reason}
			index[k] = g
			groups = append(groups, g)
		}
		g.people = append(g.people, d)
	}
	for _, g := range groups {
		fmt.Fprintf(w, "  %s: %s\n", Plural(len(g.people), string(g.kind)), Safe(g.reason))
		for i, d := range g.people {
			if i == 10 {
				fmt.Fprintf(w, "    … and %d more\n", len(g.people)-10)
				break
			}
			line := "    " + user(d)
			if dd := d.Deferral; !dd.Until.IsZero() {
				line += "  next try after " + dd.Until.UTC().Format("2006-01-02 15:04 UTC")
			}
			if dd := d.Deferral; dd.Attempts > 0 {
				line += fmt.Sprintf("  (%d failed attempts; last: %s)", dd.Attempts, Safe(dd.LastError))
			}
			fmt.Fprintln(w, line)
		}
	}
}

// plural returns "1 create", "3 creates".
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func writeChangeRow(tw io.Writer, kind plan.Kind, c *plan.Change) {
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", kind, user(c), Dash(c.GoToKey), Safe(details(c)))
}

// user names the person of a change, made safe to print.
func user(c *plan.Change) string {
	return Safe(FirstNonEmpty(c.Email(), c.UPN, c.EntraID))
}

// dash prints s made safe, or "-" for nothing.
func Dash(s string) string {
	if s == "" {
		return "-"
	}
	return Safe(s)
}

// details says what a change does in one line.
func details(c *plan.Change) string {
	var parts []string
	switch c.Kind {
	case plan.KindCreate:
		parts = append(parts, fmt.Sprintf("%s %s", c.Profile.FirstName, c.Profile.LastName))
		if c.Licenses != nil {
			parts = append(parts, "licences "+strings.Join(c.Licenses.New, ","))
		}
		if c.AdminRoles != nil && len(c.AdminRoles.New) > 0 {
			parts = append(parts, "admin roles "+strings.Join(c.AdminRoles.New, ","))
		}
		return strings.Join(parts, "; ")
	case plan.KindDisable:
		return c.Reason + "; removes licences and admin roles"
	case plan.KindDelete:
		return c.Reason + "; deletes the account"
	case plan.KindForget:
		return c.Reason
	}
	if c.Kind == plan.KindAdopt || c.Kind == plan.KindEnable {
		parts = append(parts, c.Reason)
	}
	for _, f := range c.Fields {
		parts = append(parts, fmt.Sprintf("%s: %s → %s", f.Field, Dash(f.Old), f.New))
	}
	if c.Licenses != nil {
		parts = append(parts, fmt.Sprintf("licences: %s → %s", Dash(strings.Join(c.Licenses.Old, ",")), Dash(strings.Join(c.Licenses.New, ","))))
	}
	if c.AdminRoles != nil {
		parts = append(parts, fmt.Sprintf("admin roles: %s → %s", Dash(strings.Join(c.AdminRoles.Old, ",")), Dash(strings.Join(c.AdminRoles.New, ","))))
	}
	return strings.Join(parts, "; ")
}

func PlanSummary(p *plan.Plan) string {
	var parts []string
	for _, k := range plan.Kinds() {
		if k == plan.KindSkip || (k == plan.KindForget && p.Count(k) == 0) {
			continue
		}
		parts = append(parts, fmt.Sprintf("%d %s", p.Count(k), k))
	}
	return fmt.Sprintf("Plan: %s; %d left alone; %d staged; %d deferred.", strings.Join(parts, ", "), len(p.Skips), len(p.Staged), len(p.Deferred))
}

// PlanJSON writes p in its stable JSON shape.
func PlanJSON(w io.Writer, p *plan.Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(app.JSONPlan{InScope: p.InScope, Owned: p.Owned, OwnedActive: p.OwnedActive, Abort: p.Abort,
		Changes: app.JSONChanges(p.Changes), Staged: app.JSONChanges(p.Staged), Deferred: app.JSONChanges(p.Deferred), Skips: app.JSONChanges(p.Skips),
		Reconcile: p.Reconciled, Drift: app.JSONDrifts(p.Drift)})
}

// PausedNote says, above a plan, that provisioning is paused, so that the
// plan reads as what the first cycle after `resume` does; nothing for nil.
func PausedNote(w io.Writer, p *state.Pause) {
	if p == nil {
		return
	}
	fmt.Fprintf(w, "Note: %s. Until then cycles change nothing; this plan is what the first cycle after would do.\n\n", Safe(p.Text()))
}

// paceNote completes a cycle summary's "API calls" with GoTo's 429s and
// the pace its client ended at, as "; GoTo 429s 0, pace 9.5/s", so a
// person sees that the pacing held (or what it cost); "" when the client
// was unpaced or the cycle predates the figures.
func paceNote(c state.Cycle) string {
	if c.GoToPace <= 0 {
		return ""
	}
	return fmt.Sprintf("; GoTo 429s %d, pace %.3g/s", c.GoToThrottled, c.GoToPace)
}
