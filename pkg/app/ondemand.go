package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/logkey"
	"github.com/g2msync/g2msync/pkg/mapping"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// OnDemandOptions say what an on-demand run of named people is.
type OnDemandOptions struct {
	// DryRun plans and changes nothing (provision --dry-run, mapping test).
	DryRun bool
	// Force provisions while provisioning is paused.
	Force bool
	// Explain is a dry run that adds what g2msync knows of each person.
	Explain bool
	// Known adds what g2msync knows of each person to a provision too (the
	// console's person page shows the record beside the steps).
	Known bool
	// By, when set, is who asked for a provision: each person provisioned
	// gets a "provision" entry in the provisioning log naming them, beside
	// the changes the on-demand cycle logs.
	By *Actor
	// NoWait refuses a provision with ErrBusy when a cycle holds the state
	// file, instead of waiting for it: a page must not hang on a ten-minute
	// cycle.
	NoWait bool
}

// ExplainLogEntries is how many provisioning log entries explain shows.
const ExplainLogEntries = 10

// OnDemandReport is what provision, explain and mapping test report, in
// the documented JSON shape (docs/provision.md;
// cmd/g2msync/testdata/explain.json is its golden file).
// Fields are added, never renamed or removed.
type OnDemandReport struct {
	DryRun  bool   `json:"dry_run"`
	CycleID string `json:"cycle_id,omitempty"`
	// Paused is the pause, when provisioning is paused.
	Paused string          `json:"paused,omitempty"`
	People []*PersonReport `json:"people"`
	// Unmatched are the USER arguments no Entra user matches.
	Unmatched []string `json:"unmatched"`
}

// PersonReport is one person's steps, in the portal's order.
type PersonReport struct {
	Query   string            `json:"query"`
	EntraID string            `json:"entra_id"`
	UPN     string            `json:"upn"`
	Import  map[string]string `json:"import"`
	Scope   ScopeStep         `json:"scope"`
	Mapping MappingStep       `json:"mapping"`
	Match   MatchStep         `json:"match"`
	Action  ActionStep        `json:"action"`
	Result  ResultStep        `json:"result"`
	// Known is what g2msync knows of the person (explain only).
	Known *KnownStep `json:"known,omitempty"`
}

type ScopeStep struct {
	InScope bool     `json:"in_scope"`
	Reasons []string `json:"reasons"`
}

type MappingStep struct {
	Fields     []FieldStep `json:"fields"`
	Licenses   []string    `json:"licenses"`
	AdminRoles []string    `json:"admin_roles"`
}

type FieldStep struct {
	Field      string `json:"field"`
	Expression string `json:"expression"`
	Value      string `json:"value"`
	// Default is what a create sends when Value is empty.
	Default string `json:"default,omitempty"`
}

// MatchStep: By is "owned" (the account g2msync already links to this
// Entra id), "address" (an existing GoTo account adopted by a matching
// attribute) or "none".
type MatchStep struct {
	By      string `json:"by"`
	GoToKey string `json:"goto_key,omitempty"`
	Detail  string `json:"detail"`
}

// ActionStep: Action is a change kind (create, adopt, update, disable,
// delete, enable, forget), or skip, deferred, staged or none.
type ActionStep struct {
	Action string      `json:"action"`
	Reason string      `json:"reason"`
	Change *JSONChange `json:"change,omitempty"`
}

// ResultStep: Status is applied, failed, dry-run (planned, not applied),
// left-alone, deferred, staged or nothing (nothing was needed).
type ResultStep struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

type KnownStep struct {
	Account  *KnownAccount      `json:"account,omitempty"`
	Failure  *KnownFailure      `json:"failure,omitempty"`
	Deferred *state.Deferred    `json:"deferred,omitempty"`
	Staged   *state.Staged      `json:"staged,omitempty"`
	Log      []state.AuditEntry `json:"log"`
}

type KnownAccount struct {
	GoToKey    string   `json:"goto_key"`
	Email      string   `json:"email"`
	State      string   `json:"state"`
	Origin     string   `json:"origin"`
	Licenses   []string `json:"licenses"`
	AdminRoles []string `json:"admin_roles"`
}

type KnownFailure struct {
	Kind        string    `json:"kind"`
	Attempts    int       `json:"attempts"`
	Quarantined bool      `json:"quarantined"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error"`
}

// Result statuses.
const (
	StatusApplied  = "applied"
	StatusFailed   = "failed"
	StatusDryRun   = "dry-run"
	StatusLeft     = "left-alone"
	StatusDeferred = "deferred"
	StatusStaged   = "staged"
	StatusNothing  = "nothing"
)

// onDemand runs an on-demand cycle for the people queries name and reports
// each person's steps. A dry run changes nothing and, with explain, adds
// what the state file holds about them; it reads the state file first, in
// one short read, and lets it go before reading Graph and GoTo, so a cycle
// never waits for it. A provision holds the file for its run, as a cycle
// does.
func (s *Service) OnDemand(ctx context.Context, queries []string, o OnDemandOptions) (*OnDemandReport, error) {
	if s.rt == nil {
		return nil, errNoRuntime
	}
	return s.onDemand(ctx, queries, o, onDemandRules{mapper: s.rt.mapper, cfg: s.rt.cfg, finder: s.rt.dir})
}

// onDemandRules are the mappings an on-demand run maps with, and the
// reader of the people it names: the configuration's, or a mapping test's.
type onDemandRules struct {
	mapper *mapping.Mapper
	cfg    *config.Config
	finder directory.Finder
}

func (s *Service) onDemand(ctx context.Context, queries []string, o OnDemandOptions, rules onDemandRules) (*OnDemandReport, error) {
	dryRun, force, explain := o.DryRun || o.Explain, o.Force, o.Explain
	rep := &OnDemandReport{DryRun: dryRun, People: []*PersonReport{}, Unmatched: []string{}}
	var store engine.Store = emptyStore{}
	var held onDemandState
	var provisioned *state.Store // the file a provision holds
	if dryRun {
		snap, err := s.snapshot()
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
		st, err := s.openProvision(o.NoWait)
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
				return nil, fmt.Errorf("%s (or provision with --force)", p.Text())
			}
		}
		s.rt.tokens.set(st)
		defer s.rt.tokens.set(nil)
		store, held, provisioned = st, st, st
	}
	e := s.engine(store, dryRun)
	e.Finder, e.Mapper, e.Policy = rules.finder, rules.mapper, policy(rules.cfg, rules.mapper)
	res, runErr := e.Run(ctx, engine.Options{DryRun: dryRun, OnDemand: queries})
	if res == nil || res.Found == nil || res.Plan == nil {
		return nil, runErr
	}
	if !dryRun {
		rep.CycleID = res.CycleID
	}
	if err := s.fillOnDemand(rep, res, held, rules.mapper, explain || o.Known); err != nil {
		return nil, err
	}
	if provisioned != nil && o.By != nil {
		if err := s.logProvision(provisioned, *o.By, rep); err != nil {
			return rep, errors.Join(runErr, err)
		}
	}
	return rep, runErr
}

// openProvision opens the state file for an on-demand provision: waiting
// for a running cycle as a command does, or with noWait refusing at once
// (ErrBusy) when a cycle of this process runs and after a moment when one
// of another process holds the file.
func (s *Service) openProvision(noWait bool) (*state.Store, error) {
	if !noWait {
		return s.openCycle(true)
	}
	if running, _ := s.Live.Use(func(*state.Store) error { return nil }); running {
		return nil, ErrBusy
	}
	st, err := state.Open(s.StatePath, state.Options{MustExist: true, Binding: s.Binding, Timeout: s.rt.console.wait})
	if errors.Is(err, state.ErrInUse) {
		return nil, ErrBusy
	}
	return st, err
}

// logProvision records who provisioned each person, and what came of it,
// in the provisioning log of the file the provision holds.
func (s *Service) logProvision(st *state.Store, a Actor, rep *OnDemandReport) error {
	// The account's key: the one matched, or, for a create, the one this
	// cycle's entry for the person names.
	keys := map[string]string{}
	for _, p := range rep.People {
		keys[p.EntraID] = p.Match.GoToKey
		if keys[p.EntraID] != "" || rep.CycleID == "" {
			continue
		}
		entries, _ := st.Audit(state.AuditFilter{CycleID: rep.CycleID, User: p.EntraID})
		for _, e := range entries {
			if e.GoToKey != "" {
				keys[p.EntraID] = e.GoToKey
			}
		}
	}
	err := st.Update(func(tx *state.Tx) error {
		for _, p := range rep.People {
			email := ""
			if c := p.Action.Change; c != nil {
				email = c.Email
			}
			e := s.personEntry(a, "provision", a.because(fmt.Sprintf("provisioned on demand %s: %s, %s", a.where(), p.Action.Action, p.Result.Status)),
				p.EntraID, p.UPN, email, keys[p.EntraID])
			e.CycleID = rep.CycleID
			if p.Result.Status == StatusFailed {
				e.Result, e.Error = state.ResultFailure, p.Result.Error
			}
			if err := tx.Log(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("provisioned, but the provisioning log entry failed: %w", err)
	}
	for _, p := range rep.People {
		s.logged(a, "provision", logkey.EntraID, p.EntraID, logkey.UPN, p.UPN)
	}
	return nil
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
func (s *Service) fillOnDemand(rep *OnDemandReport, res *engine.Result, st onDemandState, mapper *mapping.Mapper, explain bool) error {
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
			pr := &PersonReport{Query: m.Query, EntraID: id, UPN: u.UserPrincipalName, Import: imported(u, mapper.Attributes())}
			x := mapper.Explain(u, snap)
			pr.Scope = ScopeStep{InScope: x.InScope, Reasons: x.Scope}
			pr.Mapping = MappingStep{Fields: []FieldStep{}, Licenses: orEmpty(x.Licenses), AdminRoles: orEmpty(x.AdminRoles)}
			for _, f := range x.Fields {
				pr.Mapping.Fields = append(pr.Mapping.Fields, FieldStep{Field: f.Field.String(), Expression: f.Expr, Value: f.Value, Default: f.Default})
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

func matchOf(ch *plan.Change, rec plan.Record, owned bool, matchEmails []string) MatchStep {
	switch {
	case ch != nil && ch.Kind == plan.KindAdopt:
		return MatchStep{By: "address", GoToKey: ch.GoToKey, Detail: ch.Reason}
	case ch != nil && ch.Kind == plan.KindCreate:
		return MatchStep{By: "none", Detail: fmt.Sprintf("no GoTo account has %s; a new one is created", strings.Join(matchEmails, " or "))}
	case ch != nil && ch.Prior != nil:
		return MatchStep{By: "owned", GoToKey: ch.Prior.GoToKey, Detail: "the GoTo account g2msync links to this Entra object id"}
	case owned:
		return MatchStep{By: "owned", GoToKey: rec.GoToKey, Detail: "the GoTo account g2msync links to this Entra object id"}
	}
	return MatchStep{By: "none", Detail: "g2msync owns no GoTo account for this person"}
}

func actionOf(ch *plan.Change, list string, x mapping.Explanation, owned, dryRun bool) (ActionStep, ResultStep) {
	switch list {
	case "changes":
		c := JSONChanges([]plan.Change{*ch})[0]
		st := ResultStep{Status: StatusDryRun}
		return ActionStep{Action: string(ch.Kind), Reason: ch.Reason, Change: &c}, st
	case "staged":
		c := JSONChanges([]plan.Change{*ch})[0]
		return ActionStep{Action: "staged", Reason: "the " + string(ch.Kind) + " exceeds the disable thresholds and waits for approval: " + ch.Reason, Change: &c},
			ResultStep{Status: StatusStaged}
	case "deferred":
		c := JSONChanges([]plan.Change{*ch})[0]
		return ActionStep{Action: "deferred", Reason: "the " + string(ch.Kind) + " waits: " + ch.Deferral.Reason, Change: &c}, ResultStep{Status: StatusDeferred}
	case "skips":
		return ActionStep{Action: "skip", Reason: ch.Reason}, ResultStep{Status: StatusLeft}
	}
	reason := "the GoTo account already matches"
	switch {
	case !x.InScope && owned:
		reason = "out of scope, and the account is already disabled"
	case !x.InScope:
		reason = "out of scope, and g2msync owns no GoTo account for this person"
	}
	return ActionStep{Action: "none", Reason: reason}, ResultStep{Status: StatusNothing}
}

// resultOf reads what the cycle recorded for the person's change.
func resultOf(res *engine.Result, st onDemandState, id string) ResultStep {
	for _, e := range res.Errors {
		if e.EntraID == id {
			return ResultStep{Status: StatusFailed, Error: e.Error()}
		}
	}
	if st != nil {
		entries, err := st.Audit(state.AuditFilter{CycleID: res.CycleID, User: id})
		if err == nil || errors.As(err, new(*state.DamagedEntries)) {
			for _, e := range slices.Backward(entries) {
				switch e.Result {
				case state.ResultSuccess:
					return ResultStep{Status: StatusApplied}
				case state.ResultFailure:
					return ResultStep{Status: StatusFailed, Error: e.Error}
				}
			}
		}
	}
	msg := "not applied: the cycle ended before this change"
	if res.Cycle.Error != "" {
		msg += " (" + res.Cycle.Error + ")"
	}
	return ResultStep{Status: StatusFailed, Error: msg}
}

// known is what the state file holds about the person.
func known(st onDemandState, id string, rec plan.Record, owned bool, fs []state.Failure, ds []state.Deferred, ss []state.Staged) (*KnownStep, error) {
	k := &KnownStep{Log: []state.AuditEntry{}}
	if owned {
		k.Account = &KnownAccount{GoToKey: rec.GoToKey, Email: rec.Profile.Email, State: string(rec.State), Origin: string(rec.Origin),
			Licenses: orEmpty(rec.Licenses), AdminRoles: orEmpty(rec.AdminRoles)}
	}
	for _, f := range fs {
		if f.EntraID == id {
			k.Failure = &KnownFailure{Kind: string(f.Kind), Attempts: f.Count, Quarantined: f.Quarantined, NextAttempt: f.NextAttempt, LastError: f.LastError}
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
	log, err := st.Audit(state.AuditFilter{User: id, Limit: ExplainLogEntries})
	if err != nil && !errors.As(err, new(*state.DamagedEntries)) {
		return nil, err // a damaged entry leaves out only itself
	}
	k.Log = append(k.Log, log...)
	return k, nil
}
