package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/mapping"
	"github.com/g2msync/g2msync/pkg/metrics"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
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

// explainLogEntries is how many provisioning log entries explain shows.
const explainLogEntries = 10

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
			return usageError{fmt.Errorf("%q is not an object id, userPrincipalName or mail address", safe(q))}
		}
	}
	cfg, err := c.m.loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	a, err := c.m.newApp(cfg, c.m.newLogger(cfg, c.m.Stderr), metrics.New(version), appOptions{})
	if err != nil {
		return err
	}
	rep, err := a.onDemand(ctx, queries, c.explain || *dry, *force, c.explain)
	return c.m.printOnDemand(rep, err, *output)
}

// printOnDemand prints the report of provision, explain or mapping test
// as text or JSON, and returns the command's outcome.
func (m *Main) printOnDemand(rep *onDemandReport, err error, output string) error {
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
		writeOnDemandText(m.Stdout, rep)
	}
	if err != nil {
		return err
	}
	return rep.exit()
}

// onDemandReport is the documented JSON shape of `provision` and
// `explain` (docs/provision.md; testdata/explain.json is its golden file).
// Fields are added, never renamed or removed.
type onDemandReport struct {
	DryRun  bool   `json:"dry_run"`
	CycleID string `json:"cycle_id,omitempty"`
	// Paused is the pause, when provisioning is paused.
	Paused string          `json:"paused,omitempty"`
	People []*personReport `json:"people"`
	// Unmatched are the USER arguments no Entra user matches.
	Unmatched []string `json:"unmatched"`
}

// personReport is one person's steps, in the portal's order.
type personReport struct {
	Query   string            `json:"query"`
	EntraID string            `json:"entra_id"`
	UPN     string            `json:"upn"`
	Import  map[string]string `json:"import"`
	Scope   scopeStep         `json:"scope"`
	Mapping mappingStep       `json:"mapping"`
	Match   matchStep         `json:"match"`
	Action  actionStep        `json:"action"`
	Result  resultStep        `json:"result"`
	// Known is what g2msync knows of the person (explain only).
	Known *knownStep `json:"known,omitempty"`
}

type scopeStep struct {
	InScope bool     `json:"in_scope"`
	Reasons []string `json:"reasons"`
}

type mappingStep struct {
	Fields     []fieldStep `json:"fields"`
	Licenses   []string    `json:"licenses"`
	AdminRoles []string    `json:"admin_roles"`
}

type fieldStep struct {
	Field      string `json:"field"`
	Expression string `json:"expression"`
	Value      string `json:"value"`
	// Default is what a create sends when Value is empty.
	Default string `json:"default,omitempty"`
}

// matchStep: By is "owned" (the account g2msync already links to this
// Entra id), "address" (an existing GoTo account adopted by a matching
// attribute) or "none".
type matchStep struct {
	By      string `json:"by"`
	GoToKey string `json:"goto_key,omitempty"`
	Detail  string `json:"detail"`
}

// actionStep: Action is a change kind (create, adopt, update, disable,
// delete, enable, forget), or skip, deferred, staged or none.
type actionStep struct {
	Action string      `json:"action"`
	Reason string      `json:"reason"`
	Change *jsonChange `json:"change,omitempty"`
}

// resultStep: Status is applied, failed, dry-run (planned, not applied),
// left-alone, deferred, staged or nothing (nothing was needed).
type resultStep struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

type knownStep struct {
	Account  *knownAccount      `json:"account"`
	Failure  *knownFailure      `json:"failure,omitempty"`
	Deferred *state.Deferred    `json:"deferred,omitempty"`
	Staged   *state.Staged      `json:"staged,omitempty"`
	Log      []state.AuditEntry `json:"log"`
}

type knownAccount struct {
	GoToKey    string   `json:"goto_key"`
	Email      string   `json:"email"`
	State      string   `json:"state"`
	Origin     string   `json:"origin"`
	Licenses   []string `json:"licenses"`
	AdminRoles []string `json:"admin_roles"`
}

type knownFailure struct {
	Kind        string    `json:"kind"`
	Attempts    int       `json:"attempts"`
	Quarantined bool      `json:"quarantined"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error"`
}

// Result statuses.
const (
	statusApplied  = "applied"
	statusFailed   = "failed"
	statusDryRun   = "dry-run"
	statusLeft     = "left-alone"
	statusDeferred = "deferred"
	statusStaged   = "staged"
	statusNothing  = "nothing"
)

// exit maps the results to the documented exit codes.
func (r *onDemandReport) exit() error {
	var failed, deferred, staged []string
	for _, p := range r.People {
		switch p.Result.Status {
		case statusFailed:
			failed = append(failed, p.UPN)
		case statusDeferred:
			deferred = append(deferred, p.UPN)
		case statusStaged:
			staged = append(staged, p.UPN)
		}
	}
	var msgs []string
	for _, q := range r.Unmatched {
		msgs = append(msgs, fmt.Sprintf("no Entra user matches %s", safe(q)))
	}
	if len(failed) > 0 {
		msgs = append(msgs, fmt.Sprintf("the change of %s failed", safe(strings.Join(failed, ", "))))
	}
	switch {
	case len(msgs) > 0:
		return exitError{ExitFailure, strings.Join(msgs, "; ")}
	case len(staged) > 0:
		return exitError{ExitStaged, fmt.Sprintf("the disable of %s is staged for approval: review it with `g2msync status`, approve it with `g2msync approve USER`, and the next cycle applies it",
			safe(strings.Join(staged, ", ")))}
	case len(deferred) > 0:
		return exitError{ExitPartial, fmt.Sprintf("the change of %s is deferred (see above); it is tried again on later cycles", safe(strings.Join(deferred, ", ")))}
	}
	return nil
}

// onDemand runs an on-demand cycle for the people queries name and reports
// each person's steps. A dry run changes nothing and, with explain, adds
// what the state file holds about them; it reads the state file first, in
// one short read, and lets it go before reading Graph and GoTo, so a cycle
// never waits for it. A provision holds the file for its run, as a cycle
// does.
func (a *app) onDemand(ctx context.Context, queries []string, dryRun, force, explain bool) (*onDemandReport, error) {
	rep := &onDemandReport{DryRun: dryRun, People: []*personReport{}, Unmatched: []string{}}
	var store engine.Store = emptyStore{}
	var held onDemandState
	if dryRun {
		snap, err := a.snapshot()
		if err != nil {
			return nil, err
		}
		if snap != nil {
			store, held = snap, snap
			if snap.paused != nil {
				rep.Paused = snap.paused.Text()
			}
		}
	} else {
		st, err := a.openState(false, true)
		if err != nil {
			return nil, err
		}
		defer st.Close()
		p, err := st.Paused()
		if err != nil {
			return nil, err
		}
		if p != nil {
			rep.Paused = p.Text()
			if !force {
				return nil, fmt.Errorf("%s (or provision with --force)", safe(p.Text()))
			}
		}
		a.tokens.set(st)
		defer a.tokens.set(nil)
		store, held = st, st
	}
	e := a.engine(store, dryRun)
	e.Finder = a.source
	res, runErr := e.Run(ctx, engine.Options{DryRun: dryRun, OnDemand: queries})
	if res == nil || res.Found == nil || res.Plan == nil {
		return nil, runErr
	}
	if !dryRun {
		rep.CycleID = res.CycleID
	}
	if err := a.fillOnDemand(rep, res, held, explain); err != nil {
		return nil, err
	}
	return rep, runErr
}

// onDemandState is what a report of named people reads of the state file:
// the file a provision holds, or a dry run's snapshot.
type onDemandState interface {
	Records() ([]plan.Record, error)
	Failures() ([]state.Failure, error)
	Deferred() ([]state.Deferred, error)
	Staged() ([]state.Staged, error)
	Audit(state.AuditFilter) ([]state.AuditEntry, error)
}

// fillOnDemand builds each person's steps from the cycle's read, plan and
// provisioning log, and with explain what the state file holds (st is nil
// before the first sync).
func (a *app) fillOnDemand(rep *onDemandReport, res *engine.Result, st onDemandState, explain bool) error {
	records := map[string]plan.Record{}
	var failures []state.Failure
	var deferred []state.Deferred
	var staged []state.Staged
	if st != nil {
		recs, err := st.Records()
		if err != nil {
			return err
		}
		for _, r := range recs {
			records[r.EntraID] = r
		}
		if failures, err = st.Failures(); err != nil {
			return err
		}
		if deferred, err = st.Deferred(); err != nil {
			return err
		}
		if staged, err = st.Staged(); err != nil {
			return err
		}
	}
	p := res.Plan
	snap := res.Found.Snapshot
	for _, m := range res.Found.Matches {
		if len(m.IDs) == 0 {
			rep.Unmatched = append(rep.Unmatched, m.Query)
			continue
		}
		for _, id := range m.IDs {
			i := slices.IndexFunc(snap.Users, func(u directory.User) bool { return u.ID == id })
			if i < 0 {
				continue
			}
			u := &snap.Users[i]
			pr := &personReport{Query: m.Query, EntraID: id, UPN: u.UserPrincipalName, Import: imported(u, a.mapper.Attributes())}
			x := a.mapper.Explain(u, snap)
			pr.Scope = scopeStep{InScope: x.InScope, Reasons: x.Scope}
			pr.Mapping = mappingStep{Fields: []fieldStep{}, Licenses: orEmpty(x.Licenses), AdminRoles: orEmpty(x.AdminRoles)}
			for _, f := range x.Fields {
				pr.Mapping.Fields = append(pr.Mapping.Fields, fieldStep{Field: f.Field.String(), Expression: f.Expr, Value: f.Value, Default: f.Default})
			}
			rec, owned := records[id]
			ch, list := planned(p, id)
			pr.Match = matchOf(ch, rec, owned, x.Account.MatchEmails)
			pr.Action, pr.Result = actionOf(ch, list, x, owned, rep.DryRun)
			if !rep.DryRun && list == "changes" {
				pr.Result = resultOf(res, st, id)
			}
			if explain {
				k, err := known(st, id, rec, owned, failures, deferred, staged)
				if err != nil {
					return err
				}
				pr.Known = k
			}
			rep.People = append(rep.People, pr)
		}
	}
	return nil
}

// imported is the import step: the attributes read, by their Graph name.
func imported(u *directory.User, attrs []string) map[string]string {
	out := map[string]string{"id": u.ID, "userPrincipalName": u.UserPrincipalName, "accountEnabled": u.Attr("accountEnabled")}
	for _, a := range attrs {
		out[a] = u.Attr(a)
	}
	return out
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// planned finds the person's change in the plan and which list holds it.
func planned(p *plan.Plan, id string) (*plan.Change, string) {
	for _, l := range []struct {
		name string
		cs   []plan.Change
	}{{"changes", p.Changes}, {"staged", p.Staged}, {"deferred", p.Deferred}, {"skips", p.Skips}} {
		for i := range l.cs {
			if l.cs[i].EntraID == id {
				return &l.cs[i], l.name
			}
		}
	}
	return nil, ""
}

func matchOf(ch *plan.Change, rec plan.Record, owned bool, matchEmails []string) matchStep {
	switch {
	case ch != nil && ch.Kind == plan.KindAdopt:
		return matchStep{By: "address", GoToKey: ch.GoToKey, Detail: ch.Reason}
	case ch != nil && ch.Kind == plan.KindCreate:
		return matchStep{By: "none", Detail: fmt.Sprintf("no GoTo account has %s; a new one is created", strings.Join(matchEmails, " or "))}
	case ch != nil && ch.Prior != nil:
		return matchStep{By: "owned", GoToKey: ch.Prior.GoToKey, Detail: "the GoTo account g2msync links to this Entra object id"}
	case owned:
		return matchStep{By: "owned", GoToKey: rec.GoToKey, Detail: "the GoTo account g2msync links to this Entra object id"}
	}
	return matchStep{By: "none", Detail: "g2msync owns no GoTo account for this person"}
}

func actionOf(ch *plan.Change, list string, x mapping.Explanation, owned, dryRun bool) (actionStep, resultStep) {
	switch list {
	case "changes":
		c := toJSONChanges([]plan.Change{*ch})[0]
		st := resultStep{Status: statusDryRun}
		return actionStep{Action: string(ch.Kind), Reason: ch.Reason, Change: &c}, st
	case "staged":
		c := toJSONChanges([]plan.Change{*ch})[0]
		return actionStep{Action: "staged", Reason: "the " + string(ch.Kind) + " exceeds the disable thresholds and waits for approval: " + ch.Reason, Change: &c},
			resultStep{Status: statusStaged}
	case "deferred":
		c := toJSONChanges([]plan.Change{*ch})[0]
		return actionStep{Action: "deferred", Reason: "the " + string(ch.Kind) + " waits: " + ch.Deferral.Reason, Change: &c}, resultStep{Status: statusDeferred}
	case "skips":
		return actionStep{Action: "skip", Reason: ch.Reason}, resultStep{Status: statusLeft}
	}
	reason := "the GoTo account already matches"
	switch {
	case !x.InScope && owned:
		reason = "out of scope, and the account is already disabled"
	case !x.InScope:
		reason = "out of scope, and g2msync owns no GoTo account for this person"
	}
	return actionStep{Action: "none", Reason: reason}, resultStep{Status: statusNothing}
}

// resultOf reads what the cycle recorded for the person's change.
func resultOf(res *engine.Result, st onDemandState, id string) resultStep {
	for _, e := range res.Errors {
		if e.EntraID == id {
			return resultStep{Status: statusFailed, Error: e.Error()}
		}
	}
	if st != nil {
		entries, err := st.Audit(state.AuditFilter{CycleID: res.CycleID, User: id})
		if err == nil || errors.As(err, new(*state.DamagedEntries)) {
			for _, e := range slices.Backward(entries) {
				switch e.Result {
				case state.ResultSuccess:
					return resultStep{Status: statusApplied}
				case state.ResultFailure:
					return resultStep{Status: statusFailed, Error: e.Error}
				}
			}
		}
	}
	msg := "not applied: the cycle ended before this change"
	if res.Cycle.Error != "" {
		msg += " (" + res.Cycle.Error + ")"
	}
	return resultStep{Status: statusFailed, Error: msg}
}

// known is what the state file holds about the person.
func known(st onDemandState, id string, rec plan.Record, owned bool, fs []state.Failure, ds []state.Deferred, ss []state.Staged) (*knownStep, error) {
	k := &knownStep{Log: []state.AuditEntry{}}
	if owned {
		k.Account = &knownAccount{GoToKey: rec.GoToKey, Email: rec.Profile.Email, State: string(rec.State), Origin: string(rec.Origin),
			Licenses: orEmpty(rec.Licenses), AdminRoles: orEmpty(rec.AdminRoles)}
	}
	for _, f := range fs {
		if f.EntraID == id {
			k.Failure = &knownFailure{Kind: string(f.Kind), Attempts: f.Count, Quarantined: f.Quarantined, NextAttempt: f.NextAttempt, LastError: f.LastError}
		}
	}
	for i := range ds {
		if ds[i].EntraID == id {
			k.Deferred = &ds[i]
		}
	}
	for i := range ss {
		if ss[i].EntraID == id {
			k.Staged = &ss[i]
		}
	}
	if st == nil {
		return k, nil
	}
	log, err := st.Audit(state.AuditFilter{User: id, Limit: explainLogEntries})
	if err != nil && !errors.As(err, new(*state.DamagedEntries)) {
		return nil, err // a damaged entry leaves out only itself
	}
	k.Log = append(k.Log, log...)
	return k, nil
}

// writeOnDemandText prints the steps person by person, as the portal lays
// them out. Every value from the directory or GoTo is made safe to print.
func writeOnDemandText(w io.Writer, r *onDemandReport) {
	if r.Paused != "" {
		fmt.Fprintf(w, "Note: %s.\n\n", safe(r.Paused))
	}
	for i, p := range r.People {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s (Entra object id %s)\n", safe(p.UPN), safe(p.EntraID))
		fmt.Fprintf(w, "  import   %s\n", importLine(p.Import))
		scope := "out of scope: "
		if p.Scope.InScope {
			scope = "in scope: "
		}
		for j, reason := range p.Scope.Reasons {
			if j == 0 {
				fmt.Fprintf(w, "  scope    %s%s\n", scope, safe(reason))
			} else {
				fmt.Fprintf(w, "           %s\n", safe(reason))
			}
		}
		for j, f := range p.Mapping.Fields {
			label := "         "
			if j == 0 {
				label = "mapping  "
			}
			value := dash(f.Value)
			if f.Value == "" && f.Default != "" {
				value += " (a create sends the default, " + safe(f.Default) + ")"
			}
			fmt.Fprintf(w, "  %s%-10s = %s → %s\n", label, f.Field, safe(f.Expression), value)
		}
		if len(p.Mapping.Licenses) > 0 || len(p.Mapping.AdminRoles) > 0 {
			fmt.Fprintf(w, "           licences %s; admin roles %s\n", dash(strings.Join(p.Mapping.Licenses, ",")), dash(strings.Join(p.Mapping.AdminRoles, ",")))
		}
		match := safe(p.Match.Detail)
		if p.Match.GoToKey != "" {
			match = "GoTo account " + safe(p.Match.GoToKey) + ": " + match
		}
		fmt.Fprintf(w, "  match    %s\n", match)
		action := p.Action.Action + ": " + safe(p.Action.Reason)
		if c := p.Action.Change; c != nil && p.Action.Action != "skip" {
			if d := changeDetails(c); d != "" {
				action += " (" + d + ")"
			}
		}
		fmt.Fprintf(w, "  action   %s\n", action)
		result := p.Result.Status
		switch p.Result.Status {
		case statusDryRun:
			result = "not applied (dry run)"
		case statusApplied:
			result = "applied in cycle " + r.CycleID
		case statusNothing:
			result = "nothing was needed"
		}
		if p.Result.Error != "" {
			result += ": " + safe(p.Result.Error)
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
		fmt.Fprintf(w, "%s: no Entra user matches it (by object id, userPrincipalName or mail)\n", safe(q))
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
		parts[i] = k + "=" + dash(attrs[k])
	}
	return strings.Join(parts, " ")
}

// changeDetails says what a change sends, in one line.
func changeDetails(c *jsonChange) string {
	var parts []string
	for _, f := range c.Fields {
		parts = append(parts, fmt.Sprintf("%s: %s → %s", f.Name, dash(f.Old), dash(f.New)))
	}
	if c.Licenses != nil {
		parts = append(parts, fmt.Sprintf("licences: %s → %s", dash(strings.Join(c.Licenses.Old, ",")), dash(strings.Join(c.Licenses.New, ","))))
	}
	if c.AdminRoles != nil && (len(c.AdminRoles.Old) > 0 || len(c.AdminRoles.New) > 0) {
		parts = append(parts, fmt.Sprintf("admin roles: %s → %s", dash(strings.Join(c.AdminRoles.Old, ",")), dash(strings.Join(c.AdminRoles.New, ","))))
	}
	return strings.Join(parts, "; ")
}

func writeKnown(w io.Writer, k *knownStep) {
	if a := k.Account; a != nil {
		fmt.Fprintf(w, "  known    owns GoTo account %s (%s, %s, %s; licences %s)\n", safe(a.GoToKey), safe(a.Email), a.State, a.Origin, dash(strings.Join(a.Licenses, ",")))
	} else {
		fmt.Fprintln(w, "  known    owns no GoTo account for this person")
	}
	if f := k.Failure; f != nil {
		line := fmt.Sprintf("failing: %d attempts of %s; last error: %s", f.Attempts, f.Kind, safe(f.LastError))
		if f.Quarantined {
			line = "quarantined (`g2msync retry " + "<user>` releases it): " + line
		} else if !f.NextAttempt.IsZero() {
			line += "; next try after " + f.NextAttempt.UTC().Format("2006-01-02 15:04 UTC")
		}
		fmt.Fprintf(w, "           %s\n", line)
	}
	if d := k.Deferred; d != nil {
		line := fmt.Sprintf("deferred %s since %s: %s", d.Kind, d.Since.UTC().Format("2006-01-02 15:04 UTC"), safe(d.Reason))
		if !d.Until.IsZero() {
			line += "; next try after " + d.Until.UTC().Format("2006-01-02 15:04 UTC")
		}
		fmt.Fprintf(w, "           %s\n", line)
	}
	if s := k.Staged; s != nil {
		fmt.Fprintf(w, "           staged %s since %s, waiting for approval: %s\n", s.Kind, s.Since.UTC().Format("2006-01-02 15:04 UTC"), safe(s.Reason))
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
		line := fmt.Sprintf("%s  %-7s %-8s %s", e.Time.UTC().Format("2006-01-02 15:04"), e.Action, e.Result, safe(firstNonEmpty(e.Error, e.Reason)))
		if e.OnDemand {
			line += " (on demand)"
		}
		fmt.Fprintf(w, "  %s%s\n", label, line)
	}
}
