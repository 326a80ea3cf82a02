package view

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// Status prints what `status` shows as text.
func Status(w io.Writer, s *app.Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if s.Paused != nil {
		fmt.Fprintf(w, "PAUSED: %s.\n\n", Safe(s.Paused.Text()))
	}
	if s.Running != nil {
		fmt.Fprintf(w, "A cycle is running: %s.\n\n", ProgressText(s.Running))
	}
	if len(s.Cycles) == 0 {
		fmt.Fprintln(w, "No cycle has run yet.")
	} else {
		fmt.Fprintln(w, "Recent cycles:")
		fmt.Fprintln(tw, "CYCLE\tSTARTED\tDURATION\tMODE\tREAD\tOUTCOME\tIN SCOPE\tAPPLIED\tFAILED\tDEFERRED\tSKIPPED\tSTAGED\tCALLS")
		for _, c := range s.Cycles {
			read, _, _ := strings.Cut(c.Read, ":")
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%d\t%s\n", Safe(c.ID), c.Start.UTC().Format("2006-01-02 15:04:05"),
				c.End.Sub(c.Start).Round(time.Millisecond), c.Mode, Dash(read), c.Outcome, c.InScope, Counts(c.Applied), Counts(c.Failed),
				c.Deferred, c.Skipped, c.Staged, Calls(c.Calls, c.GoToThrottled))
		}
		tw.Flush()
		fmt.Fprintln(w, "A cycle's changes: g2msync report --cycle CYCLE")
		last := s.Cycles[0]
		if last.Read != "" {
			fmt.Fprintf(w, "Last directory read: %s\n", Safe(last.Read))
		}
		for _, c := range s.Cycles {
			if c.Reconcile != nil {
				fmt.Fprintf(w, "Last reconcile (every GoTo account listed): %s, %s\n", c.Start.UTC().Format("2006-01-02 15:04"), ReconcileText(c.Reconcile))
				break
			}
		}
		if last.Error != "" {
			fmt.Fprintf(w, "Last cycle error: %s\n", Safe(last.Error))
		}
		if len(last.Problems) > 0 {
			fmt.Fprintln(w, "Last cycle's problems, by cause:")
			Problems(w, last.Problems, nil)
		}
	}
	awaiting := app.Awaiting(s.Staged, s.Kept)
	fmt.Fprintf(w, "\nDisables waiting for approval: %d\n", len(awaiting))
	if len(awaiting) > 0 {
		fmt.Fprintln(tw, "USER\tGOTO KEY\tSINCE\tREASON")
		for _, st := range awaiting {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", Safe(FirstNonEmpty(st.Email, st.UPN, st.EntraID)), Dash(st.GoToKey), st.Since.UTC().Format("2006-01-02 15:04"), Safe(st.Reason))
		}
		tw.Flush()
		var causes []string
		for _, st := range awaiting {
			if st.Gate != nil && !slices.Contains(causes, st.Gate.Text()) {
				causes = append(causes, st.Gate.Text())
			}
		}
		for _, c := range causes {
			fmt.Fprintf(w, "Staged because: %s\n", c)
		}
		fmt.Fprintln(w, "Approve them with: g2msync approve --all (or approve USER...); the next cycle applies them")
	}
	if n := len(s.Staged) - len(awaiting); n > 0 {
		fmt.Fprintf(w, "Kept staged by an operator: %d (they wait for `g2msync approve --release USER`, not an approval)\n", n)
		for _, st := range s.Staged {
			if k, ok := s.Kept[st.EntraID]; ok {
				why := ""
				if k.Reason != "" {
					why = ": " + Safe(k.Reason)
				}
				fmt.Fprintf(w, "  %s, kept by %s at %s%s\n", Safe(FirstNonEmpty(st.Email, st.UPN, st.EntraID)), Safe(k.By),
					k.At.UTC().Format("2006-01-02 15:04"), why)
			}
		}
	}
	fmt.Fprintf(w, "\nChanges deferred: %d\n", len(s.Deferred))
	if len(s.Deferred) > 0 {
		fmt.Fprintln(tw, "USER\tACTION\tSINCE\tNEXT TRY\tWAITING FOR")
		for _, d := range s.Deferred {
			next := "when the cause is gone"
			switch {
			case d.Cause == string(plan.CauseQuarantine):
				next = "g2msync retry " + Safe(FirstNonEmpty(d.Email, d.UPN, d.EntraID))
			case !d.Until.IsZero():
				next = d.Until.UTC().Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", Safe(FirstNonEmpty(d.Email, d.UPN, d.EntraID)), d.Kind, d.Since.UTC().Format("2006-01-02 15:04"), next, Safe(d.Reason))
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\nAccounts whose last change failed: %d\n", len(s.Failures))
	if len(s.Failures) > 0 {
		fmt.Fprintln(tw, "USER\tACTION\tATTEMPTS\tSINCE\tNEXT TRY\tLAST ERROR")
		quarantined := 0
		for _, f := range s.Failures {
			next := f.NextAttempt.UTC().Format("2006-01-02 15:04")
			if f.Quarantined {
				next, quarantined = "quarantined", quarantined+1
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", Safe(FirstNonEmpty(f.Email, f.UPN, f.EntraID)), f.Kind, f.Count,
				f.FirstAt.UTC().Format("2006-01-02 15:04"), next, Safe(f.LastError))
		}
		tw.Flush()
		if quarantined > 0 {
			fmt.Fprintln(w, "Quarantined accounts are not tried again until the directory changes them; once the cause is fixed: g2msync retry <user> (or --quarantined)")
		}
	}
	return nil
}

// Counts prints changes by kind, "-" for none.
func Counts(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	out := ""
	for _, k := range []string{"create", "adopt", "update", "enable", "disable", "delete"} {
		if m[k] > 0 {
			if out != "" {
				out += " "
			}
			out += fmt.Sprintf("%s:%d", k, m[k])
		}
	}
	return out
}

// Calls prints API calls by API, and GoTo's 429s when there were any;
// "-" for no call.
func Calls(m map[string]int64, goto429s int64) string {
	if len(m) == 0 {
		return "-"
	}
	out := ""
	for _, k := range []string{"graph", "goto"} {
		if m[k] > 0 {
			if out != "" {
				out += " "
			}
			out += fmt.Sprintf("%s:%d", k, m[k])
		}
	}
	if goto429s > 0 {
		out += fmt.Sprintf(" (goto 429s:%d)", goto429s)
	}
	return out
}

// ReconcileText says what a reconcile found: "reconciled: 2 drifted,
// repaired", or how many were repaired, reported or still wait.
func ReconcileText(r *state.Reconcile) string {
	switch {
	case r.Drifted == 0:
		return "reconciled: no drift"
	case r.Reported == r.Drifted:
		return fmt.Sprintf("reconciled: %d drifted, reported (goto.drift: report), not written", r.Drifted)
	case r.Repaired == r.Drifted:
		return fmt.Sprintf("reconciled: %d drifted, repaired", r.Drifted)
	}
	s := fmt.Sprintf("reconciled: %d drifted, %d repaired", r.Drifted, r.Repaired)
	if r.Reported > 0 {
		s += fmt.Sprintf(", %d reported", r.Reported)
	}
	if n := r.Drifted - r.Repaired - r.Reported; n > 0 {
		s += fmt.Sprintf(", %d not repaired yet (failed, deferred or staged)", n)
	}
	return s
}

// CycleSummary prints what a cycle did, in a few lines.
func CycleSummary(w io.Writer, res *engine.Result) {
	c := res.Cycle
	fmt.Fprintf(w, "Cycle %s: %s in %s.\n", c.ID, c.Outcome, c.End.Sub(c.Start).Round(time.Millisecond))
	fmt.Fprintf(w, "  in scope %d, owned %d; applied %s; failed %s; deferred %d; left alone %d; staged %d; API calls %s%s\n",
		c.InScope, c.Owned, CountsOrNone(c.Applied), CountsOrNone(c.Failed), c.Deferred, c.Skipped, c.Staged, callsOrNone(c.Calls), paceNote(c))
	if c.Read != "" {
		fmt.Fprintf(w, "  directory read %s\n", Safe(c.Read))
	}
	if r := c.Reconcile; r != nil {
		fmt.Fprintf(w, "  %s\n", ReconcileText(r))
	}
	if c.Error != "" {
		fmt.Fprintf(w, "  %s\n", Safe(c.Error))
	}
	Problems(w, c.Problems, res.Errors)
}

// Problems prints the failed and deferred changes grouped by cause:
// the cause and what to do once, then the people (with each failure's own
// error).
func Problems(w io.Writer, ps []state.Problem, errs []*engine.ChangeError) {
	for _, p := range ps {
		verb := "deferred"
		if p.Result == state.ResultFailure {
			verb = "failed"
		}
		fmt.Fprintf(w, "  %s %s: %s\n", Plural(p.Count, p.Action), verb, Safe(p.Reason))
		if p.Result == state.ResultFailure && errs != nil {
			shown := 0
			for _, e := range errs {
				if string(e.Op) != p.Action || string(e.Class.Cause) != p.Cause || shown == len(p.People) {
					continue
				}
				fmt.Fprintf(w, "    %s: %s\n", Safe(e.Person()), Safe(e.Err.Error()))
				shown++
			}
		} else {
			people := make([]string, len(p.People))
			for i, s := range p.People {
				people[i] = Safe(s)
			}
			fmt.Fprintf(w, "    %s\n", strings.Join(people, ", "))
		}
		if more := p.Count - len(p.People); more > 0 {
			fmt.Fprintf(w, "    … and %d more (g2msync status lists everyone)\n", more)
		}
	}
}

// CountsOrNone prints changes by kind, "none" for none.
func CountsOrNone(m map[string]int) string {
	if s := Counts(m); s != "-" {
		return s
	}
	return "none"
}

func callsOrNone(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
