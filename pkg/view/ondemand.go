package view

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/g2msync/g2msync/pkg/app"
)

// OnDemand is an on-demand report (provision, explain, mapping test) as
// every door shows it: the CLI prints it as text (OnDemandText), the
// console as a table of steps. Every value from the directory or GoTo is
// made safe to print.
type OnDemand struct {
	// Note says provisioning is paused, or "".
	Note      string
	People    []OnDemandPerson
	Unmatched []string
}

// OnDemandPerson is one person's steps, in the portal's order.
type OnDemandPerson struct {
	// Title is "UPN (Entra object id ID)".
	Title   string
	EntraID string
	Steps   []Step
}

// Step is one step of a person's report (import, scope, mapping, match,
// action, result; known and log for explain) and its lines; a step with
// no Name continues the one before it.
type Step struct {
	Name  string
	Lines []string
	// Fields are the mapping step's fields one by one, for a table.
	Fields []app.FieldStep
}

// OnDemandView builds the report's steps. names gives licences' names by
// key, shown beside their keys; nil shows keys alone.
func OnDemandView(r *app.OnDemandReport, names map[string]string) OnDemand {
	var v OnDemand
	if r.Paused != "" {
		v.Note = Safe(r.Paused)
	}
	for _, p := range r.People {
		op := OnDemandPerson{Title: fmt.Sprintf("%s (Entra object id %s)", Safe(p.UPN), Safe(p.EntraID)), EntraID: p.EntraID}
		add := func(name string, lines ...string) { op.Steps = append(op.Steps, Step{Name: name, Lines: lines}) }
		add("import", importLine(p.Import))
		scope := "out of scope: "
		if p.Scope.InScope {
			scope = "in scope: "
		}
		if len(p.Scope.Reasons) > 0 {
			lines := make([]string, len(p.Scope.Reasons))
			for j, reason := range p.Scope.Reasons {
				lines[j] = Safe(reason)
			}
			lines[0] = scope + lines[0]
			add("scope", lines...)
		}
		if len(p.Mapping.Fields) > 0 {
			m := Step{Name: "mapping", Fields: p.Mapping.Fields}
			for _, f := range p.Mapping.Fields {
				m.Lines = append(m.Lines, fmt.Sprintf("%-10s = %s → %s", f.Field, Safe(f.Expression), MappedValue(f)))
			}
			op.Steps = append(op.Steps, m)
		}
		if len(p.Mapping.Licenses) > 0 || len(p.Mapping.AdminRoles) > 0 {
			add("", fmt.Sprintf("licences %s; admin roles %s", LicenseList(p.Mapping.Licenses, names), Dash(strings.Join(p.Mapping.AdminRoles, ","))))
		}
		match := Safe(p.Match.Detail)
		if p.Match.GoToKey != "" {
			match = "GoTo account " + Safe(p.Match.GoToKey) + ": " + match
		}
		add("match", match)
		action := p.Action.Action + ": " + Safe(p.Action.Reason)
		if c := p.Action.Change; c != nil && p.Action.Action != "skip" {
			if d := changeDetails(c, names); d != "" {
				action += " (" + d + ")"
			}
		}
		add("action", action)
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
		add("result", result)
		if p.Known != nil {
			op.Steps = append(op.Steps, knownSteps(p.Known, names)...)
		}
		v.People = append(v.People, op)
	}
	for _, q := range r.Unmatched {
		v.Unmatched = append(v.Unmatched, fmt.Sprintf("%s: no Entra user matches it (by object id, userPrincipalName or mail)", Safe(q)))
	}
	return v
}

// MappedValue is a mapped field's value as the steps show it.
func MappedValue(f app.FieldStep) string {
	value := Dash(f.Value)
	if f.Value == "" && f.Default != "" {
		value += " (a create sends the default, " + Safe(f.Default) + ")"
	}
	return value
}

// LicenseList names licences by key, each as "Name (key)" when names
// knows it, comma-separated; "-" for none.
func LicenseList(keys []string, names map[string]string) string {
	if names == nil {
		return Dash(strings.Join(keys, ","))
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = LicenseName(k, names)
	}
	return Dash(strings.Join(parts, ", "))
}

// LicenseName is "Name (key)" when names knows the key, else the key.
func LicenseName(key string, names map[string]string) string {
	if n := names[key]; n != "" {
		return Safe(n) + " (" + Safe(key) + ")"
	}
	return Safe(key)
}

// OnDemandText prints the steps person by person, as the portal lays
// them out. Every value from the directory or GoTo is made safe to print.
func OnDemandText(w io.Writer, r *app.OnDemandReport) {
	v := OnDemandView(r, nil)
	if v.Note != "" {
		fmt.Fprintf(w, "Note: %s.\n\n", v.Note)
	}
	for i, p := range v.People {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, p.Title)
		for _, st := range p.Steps {
			for j, line := range st.Lines {
				label := ""
				if j == 0 {
					label = st.Name
				}
				fmt.Fprintf(w, "  %-9s%s\n", label, line)
			}
		}
	}
	for _, u := range v.Unmatched {
		if len(v.People) > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, u)
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
func changeDetails(c *app.JSONChange, names map[string]string) string {
	var parts []string
	for _, f := range c.Fields {
		parts = append(parts, fmt.Sprintf("%s: %s → %s", f.Name, Dash(f.Old), Dash(f.New)))
	}
	if c.Licenses != nil {
		parts = append(parts, fmt.Sprintf("licences: %s → %s", LicenseList(c.Licenses.Old, names), LicenseList(c.Licenses.New, names)))
	}
	if c.AdminRoles != nil && (len(c.AdminRoles.Old) > 0 || len(c.AdminRoles.New) > 0) {
		parts = append(parts, fmt.Sprintf("admin roles: %s → %s", Dash(strings.Join(c.AdminRoles.Old, ",")), Dash(strings.Join(c.AdminRoles.New, ","))))
	}
	return strings.Join(parts, "; ")
}

// knownSteps are what g2msync knows of the person: the account it owns,
// anything failing, deferred or staged, and the last log entries.
func knownSteps(k *app.KnownStep, names map[string]string) []Step {
	known := Step{Name: "known"}
	if a := k.Account; a != nil {
		known.Lines = append(known.Lines, fmt.Sprintf("owns GoTo account %s (%s, %s, %s; licences %s)", Safe(a.GoToKey), Safe(a.Email), a.State, a.Origin, LicenseList(a.Licenses, names)))
	} else {
		known.Lines = append(known.Lines, "owns no GoTo account for this person")
	}
	if f := k.Failure; f != nil {
		line := fmt.Sprintf("failing: %d attempts of %s; last error: %s", f.Attempts, f.Kind, Safe(f.LastError))
		if f.Quarantined {
			line = "quarantined (`g2msync retry " + "<user>` releases it): " + line
		} else if !f.NextAttempt.IsZero() {
			line += "; next try after " + f.NextAttempt.UTC().Format("2006-01-02 15:04 UTC")
		}
		known.Lines = append(known.Lines, line)
	}
	if d := k.Deferred; d != nil {
		line := fmt.Sprintf("deferred %s since %s: %s", d.Kind, d.Since.UTC().Format("2006-01-02 15:04 UTC"), Safe(d.Reason))
		if !d.Until.IsZero() {
			line += "; next try after " + d.Until.UTC().Format("2006-01-02 15:04 UTC")
		}
		known.Lines = append(known.Lines, line)
	}
	if s := k.Staged; s != nil {
		known.Lines = append(known.Lines, fmt.Sprintf("staged %s since %s, waiting for approval: %s", s.Kind, s.Since.UTC().Format("2006-01-02 15:04 UTC"), Safe(s.Reason)))
	}
	log := Step{Name: "log"}
	if len(k.Log) == 0 {
		log.Lines = []string{"no entries"}
	}
	for _, e := range k.Log {
		line := fmt.Sprintf("%s  %-7s %-8s %s", e.Time.UTC().Format("2006-01-02 15:04"), e.Action, e.Result, Safe(FirstNonEmpty(e.Error, e.Reason)))
		if e.OnDemand {
			line += " (on demand)"
		}
		log.Lines = append(log.Lines, line)
	}
	return []Step{known, log}
}
