package view

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/g2msync/g2msync/pkg/app"
)

// OnDemandText prints the steps person by person, as the portal lays
// them out. Every value from the directory or GoTo is made safe to print.
func OnDemandText(w io.Writer, r *app.OnDemandReport) {
	if r.Paused != "" {
		fmt.Fprintf(w, "Note: %s.\n\n", Safe(r.Paused))
	}
	for i, p := range r.People {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s (Entra object id %s)\n", Safe(p.UPN), Safe(p.EntraID))
		fmt.Fprintf(w, "  import   %s\n", importLine(p.Import))
		scope := "out of scope: "
		if p.Scope.InScope {
			scope = "in scope: "
		}
		for j, reason := range p.Scope.Reasons {
			if j == 0 {
				fmt.Fprintf(w, "  scope    %s%s\n", scope, Safe(reason))
			} else {
				fmt.Fprintf(w, "           %s\n", Safe(reason))
			}
		}
		for j, f := range p.Mapping.Fields {
			label := "         "
			if j == 0 {
				label = "mapping  "
			}
			value := Dash(f.Value)
			if f.Value == "" && f.Default != "" {
				value += " (a create sends the default, " + Safe(f.Default) + ")"
			}
			fmt.Fprintf(w, "  %s%-10s = %s → %s\n", label, f.Field, Safe(f.Expression), value)
		}
		if len(p.Mapping.Licenses) > 0 || len(p.Mapping.AdminRoles) > 0 {
			fmt.Fprintf(w, "           licences %s; admin roles %s\n", Dash(strings.Join(p.Mapping.Licenses, ",")), Dash(strings.Join(p.Mapping.AdminRoles, ",")))
		}
		match := Safe(p.Match.Detail)
		if p.Match.GoToKey != "" {
			match = "GoTo account " + Safe(p.Match.GoToKey) + ": " + match
		}
		fmt.Fprintf(w, "  match    %s\n", match)
		action := p.Action.Action + ": " + Safe(p.Action.Reason)
		if c := p.Action.Change; c != nil && p.Action.Action != "skip" {
			if d := changeDetails(c); d != "" {
				action += " (" + d + ")"
			}
		}
		fmt.Fprintf(w, "  action   %s\n", action)
		result := p.Result.Status
		switch p.Result.Status {
		case app.StatusDryRun:
			result = "not applied (dry run)"
		case app.StatusApplied:
			result = "applied in cycle " + r.CycleID
		case app.StatusNothing:
			result = "nothing was needed"
		}
		if p.Result.Error != "" {
			result += ": " + Safe(p.Result.Error)
		}
		fmt.Fprintf(w, "  result   %s\n", result)
		if p.Known != nil {
			writeKnown(w, p.Known)
		}
	}
	for _, q := range r.Unmatched {
		if len(r.People) > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s: no Entra user matches it (by object id, userPrincipalName or mail)\n", Safe(q))
	}
}

func importLine(attrs map[string]string) string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		if k != "id" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + Dash(attrs[k])
	}
	return strings.Join(parts, " ")
}

// changeDetails says what a change sends, in one line.
func changeDetails(c *app.JSONChange) string {
	var parts []string
	for _, f := range c.Fields {
		parts = append(parts, fmt.Sprintf("%s: %s → %s", f.Name, Dash(f.Old), Dash(f.New)))
	}
	if c.Licenses != nil {
		parts = append(parts, fmt.Sprintf("licences: %s → %s", Dash(strings.Join(c.Licenses.Old, ",")), Dash(strings.Join(c.Licenses.New, ","))))
	}
	if c.AdminRoles != nil && (len(c.AdminRoles.Old) > 0 || len(c.AdminRoles.New) > 0) {
		parts = append(parts, fmt.Sprintf("admin roles: %s → %s", Dash(strings.Join(c.AdminRoles.Old, ",")), Dash(strings.Join(c.AdminRoles.New, ","))))
	}
	return strings.Join(parts, "; ")
}

func writeKnown(w io.Writer, k *app.KnownStep) {
	if a := k.Account; a != nil {
		fmt.Fprintf(w, "  known    owns GoTo account %s (%s, %s, %s; licences %s)\n", Safe(a.GoToKey), Safe(a.Email), a.State, a.Origin, Dash(strings.Join(a.Licenses, ",")))
	} else {
		fmt.Fprintln(w, "  known    owns no GoTo account for this person")
	}
	if f := k.Failure; f != nil {
		line := fmt.Sprintf("failing: %d attempts of %s; last error: %s", f.Attempts, f.Kind, Safe(f.LastError))
		if f.Quarantined {
			line = "quarantined (`g2msync retry " + "<user>` releases it): " + line
		} else if !f.NextAttempt.IsZero() {
			line += "; next try after " + f.NextAttempt.UTC().Format("2006-01-02 15:04 UTC")
		}
		fmt.Fprintf(w, "           %s\n", line)
	}
	if d := k.Deferred; d != nil {
		line := fmt.Sprintf("deferred %s since %s: %s", d.Kind, d.Since.UTC().Format("2006-01-02 15:04 UTC"), Safe(d.Reason))
		if !d.Until.IsZero() {
			line += "; next try after " + d.Until.UTC().Format("2006-01-02 15:04 UTC")
		}
		fmt.Fprintf(w, "           %s\n", line)
	}
	if s := k.Staged; s != nil {
		fmt.Fprintf(w, "           staged %s since %s, waiting for approval: %s\n", s.Kind, s.Since.UTC().Format("2006-01-02 15:04 UTC"), Safe(s.Reason))
	}
	if len(k.Log) == 0 {
		fmt.Fprintln(w, "  log      no entries")
		return
	}
	for i, e := range k.Log {
		label := "         "
		if i == 0 {
			label = "log      "
		}
		line := fmt.Sprintf("%s  %-7s %-8s %s", e.Time.UTC().Format("2006-01-02 15:04"), e.Action, e.Result, Safe(FirstNonEmpty(e.Error, e.Reason)))
		if e.OnDemand {
			line += " (on demand)"
		}
		fmt.Fprintf(w, "  %s%s\n", label, line)
	}
}
