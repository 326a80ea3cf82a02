package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/logkey"
	"github.com/g2msync/g2msync/pkg/mapping"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// Store is the part of the state store a cycle uses.
type Store interface {
	Records() ([]plan.Record, error)
	Intents() ([]state.Intent, error)
	WriteIntents([]state.Intent) error
	Commit(...state.Outcome) error
	Failures() ([]state.Failure, error)
	Skips() (map[string]string, error)
	SetSkips(map[string]string) error
	Staged() ([]state.Staged, error)
	SetStaged([]state.Staged) error
	Approved() (map[string]bool, error)
	ClearApproved() error
	SaveCycle(state.Cycle) error
}

var _ Store = (*state.Store)(nil)

// Engine runs cycles. Set the fields, then call Run or Plan.
type Engine struct {
	Source directory.Source
	Mapper *mapping.Mapper
	Reader gotomeeting.Reader
	// Writer applies changes; nil for dry runs, where no write is reachable.
	Writer gotomeeting.Writer
	Store  Store
	Policy plan.Policy
	// BatchSize is the number of users per bulk create call; 0 means 100.
	BatchSize int
	// SuppressEmail asks GoTo not to send welcome emails to created users.
	SuppressEmail bool
	Logger        *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Progress, if set, is told how many changes are done out of how many.
	Progress func(done, total int)
	// Calls, if set, returns cumulative API request counts by API name, so a
	// cycle can report how many it made.
	Calls func() map[string]int64
	// Retry is the back-off and quarantine of people whose change failed.
	Retry RetryPolicy
}

// RetryPolicy says when a failed change is tried again. After the nth
// failure in a row of the same change, the next try waits Base·2^(n-1),
// at most Max; after QuarantineAfter failures the person is quarantined
// until the change differs (the directory moved on) or someone runs
// `g2msync retry`.
type RetryPolicy struct {
	Base            time.Duration // 0: 10 minutes
	Max             time.Duration // 0: 24 hours
	QuarantineAfter int           // 0: 5; negative: never
}

func (r RetryPolicy) delay(n int) time.Duration {
	base, maxd := r.Base, r.Max
	if base <= 0 {
		base = 10 * time.Minute
	}
	if maxd <= 0 {
		maxd = 24 * time.Hour
	}
	d := base
	for i := 1; i < n && d < maxd; i++ {
		d *= 2
	}
	return min(d, maxd)
}

func (r RetryPolicy) quarantineAfter() int {
	if r.QuarantineAfter == 0 {
		return 5
	}
	return r.QuarantineAfter
}

// Options select what kind of cycle to run.
type Options struct {
	// DryRun plans and stops: nothing is written anywhere.
	DryRun bool
	// InitialSync lists every GoTo account, refreshes owned records from what
	// GoTo holds and re-matches everyone, as after install or a restore.
	InitialSync bool
	// AllowDisables releases disables the threshold gate would stage.
	AllowDisables bool
	// Stop, when closed, ends the cycle after the change in flight.
	Stop <-chan struct{}
	// AdoptOnly records ownership of the GoTo accounts that match in-scope
	// people and changes nothing else: `g2msync state rebuild`.
	AdoptOnly bool
}

// Cycle outcomes.
const (
	OutcomeSuccess = "success" // every planned change applied
	OutcomePartial = "partial" // some changes failed; they are retried next cycle
	OutcomeStaged  = "staged"  // disables wait for approval; the rest applied
	OutcomeAborted = "aborted" // a safety gate refused the plan
	OutcomeFailed  = "failed"  // the cycle could not run or was stopped early
	OutcomeDryRun  = "dry-run"
)

// Result is what a cycle did.
type Result struct {
	CycleID string
	Plan    *plan.Plan
	Cycle   state.Cycle
	// Errors are the changes that failed, with what to do about them.
	Errors []*ChangeError
}

// Outcome returns the cycle's outcome.
func (r *Result) Outcome() string { return r.Cycle.Outcome }

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// NewCycleID returns a sortable, unique cycle id.
func NewCycleID(t time.Time) string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// Run runs one cycle. The error is non-nil when the cycle failed or was
// aborted; a cycle whose changes partly failed returns a nil error and a
// Result whose outcome says so.
func (e *Engine) Run(ctx context.Context, opts Options) (*Result, error) {
	start := e.now()
	c := &cycle{e: e, opts: opts, id: NewCycleID(start)}
	c.log = e.logger().With(logkey.CycleID, c.id)
	c.res = &Result{CycleID: c.id, Cycle: state.Cycle{ID: c.id, Start: start, Mode: mode(opts),
		Planned: map[string]int{}, Applied: map[string]int{}, Failed: map[string]int{}}}
	if e.Calls != nil {
		c.callsAtStart = e.Calls()
	}
	err := c.run(ctx)
	c.res.Cycle.End = e.now()
	c.res.Cycle.Calls = c.calls()
	if err != nil {
		c.res.Cycle.Outcome = OutcomeFailed
		if errors.Is(err, ErrAborted) {
			c.res.Cycle.Outcome = OutcomeAborted
		}
		c.res.Cycle.Error = err.Error()
	}
	if c.recordable && !opts.DryRun {
		if serr := e.Store.SaveCycle(c.res.Cycle); serr != nil && err == nil {
			err = serr
		}
	}
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelError
	}
	c.log.Log(ctx, level, "cycle finished", logkey.Outcome, c.res.Cycle.Outcome,
		"planned", c.res.Cycle.Planned, "applied", c.res.Cycle.Applied, "failed", c.res.Cycle.Failed,
		"skipped", c.res.Cycle.Skipped, "staged", c.res.Cycle.Staged, "calls", c.res.Cycle.Calls,
		logkey.DurationMS, c.res.Cycle.End.Sub(start).Milliseconds(), logkey.Error, errString(err))
	return c.res, err
}

func mode(o Options) string {
	var m []string
	if o.DryRun {
		m = append(m, "dry-run")
	}
	if o.InitialSync {
		m = append(m, "initial-sync")
	}
	if o.AllowDisables {
		m = append(m, "allow-disables")
	}
	if o.AdoptOnly {
		m = append(m, "adopt-only")
	}
	if len(m) == 0 {
		return "incremental"
	}
	return strings.Join(m, ",")
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// ErrAborted marks a cycle a safety gate refused.
var ErrAborted = errors.New("cycle aborted by a safety gate")

// cycle is the state of one Run.
type cycle struct {
	e            *Engine
	opts         Options
	id           string
	log          *slog.Logger
	res          *Result
	callsAtStart map[string]int64
	// recordable is set once the directory read succeeded: from then on the
	// cycle's summary is saved, even if it fails later.
	recordable bool
	owned      map[string]*plan.Record // by GoTo key
	failures   map[string]state.Failure
	commitErr  error
	tried      int                // changes whose call was made or refused by the seat ledger
	systemic   int                // failures of the kind that concern GoTo, not one person
	listed     []gotomeeting.User // every GoTo account, once listed this cycle
}

func (c *cycle) calls() map[string]int64 {
	if c.e.Calls == nil {
		return nil
	}
	out := map[string]int64{}
	for k, v := range c.e.Calls() {
		if d := v - c.callsAtStart[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

func (c *cycle) run(ctx context.Context) error {
	snap, err := c.e.Source.Read(ctx)
	if err != nil {
		// Nothing has been written: a partial read is never a full picture.
		return fmt.Errorf("read directory: %w", err)
	}
	accounts := c.e.Mapper.Map(snap)
	c.recordable = true
	if !c.opts.DryRun {
		if err := c.recoverIntents(ctx); err != nil {
			return err
		}
	}
	records, err := c.e.Store.Records()
	if err != nil {
		return err
	}
	remotes, records, err := c.remotes(ctx, accounts, records)
	if err != nil {
		return err
	}
	pol := c.e.Policy
	if c.opts.AdoptOnly {
		pol.Mode = plan.ModeAdoptOnly
	}
	in := plan.Input{Accounts: accounts, Records: records, Remotes: remotes, Policy: pol, AllowDisables: c.opts.AllowDisables}
	p := plan.Compute(in)
	approved := false
	if len(p.Staged) > 0 && !c.opts.DryRun {
		if ok, err := c.approved(p); err != nil {
			return err
		} else if ok {
			in.AllowDisables, approved = true, true
			p = plan.Compute(in)
			c.log.Info("applying disables a person approved", logkey.Count, p.Count(plan.KindDisable)+p.Count(plan.KindDelete))
		}
	}
	c.res.Plan = p
	c.summarisePlan(p)
	if p.Abort != "" {
		return fmt.Errorf("%w: %s", ErrAborted, p.Abort)
	}
	if c.opts.DryRun {
		c.res.Cycle.Outcome = OutcomeDryRun
		return nil
	}
	if c.e.Writer == nil {
		return errors.New("engine has no GoTo writer; only dry runs may omit it")
	}
	if err := c.recordSkipsAndStaged(p); err != nil {
		return err
	}
	c.owned = make(map[string]*plan.Record, len(records))
	for i := range records {
		c.owned[records[i].GoToKey] = &records[i]
	}
	if err := c.apply(ctx, p); err != nil {
		return err
	}
	if approved {
		if err := c.e.Store.ClearApproved(); err != nil {
			return err
		}
	}
	if tried := c.tried; tried >= 10 && c.systemic*2 > tried {
		return fmt.Errorf("%d of %d GoTo changes failed for reasons beyond the people concerned (outage, throttling, refused credentials); "+
			"treating the cycle as failed", c.systemic, tried)
	}
	// Staged wins over partial: disables waiting for a person are the more
	// urgent news, and failed changes are retried without one.
	switch {
	case len(p.Staged) > 0:
		c.res.Cycle.Outcome = OutcomeStaged
		c.log.Warn("disables staged for approval", logkey.Count, len(p.Staged), logkey.Reason, p.StageReason(c.e.Policy))
	case len(c.res.Errors) > 0 || sum(c.res.Cycle.Failed) > 0:
		c.res.Cycle.Outcome = OutcomePartial
	default:
		c.res.Cycle.Outcome = OutcomeSuccess
	}
	return nil
}

func (c *cycle) summarisePlan(p *plan.Plan) {
	cy := &c.res.Cycle
	cy.InScope, cy.Owned = p.InScope, p.Owned
	for _, ch := range p.Changes {
		cy.Planned[string(ch.Kind)]++
	}
	cy.Skipped = len(p.Skips)
	cy.Staged = len(p.Staged)
}

// approved reports whether a person approved every disable this plan stages
// (`g2msync run --once --allow-disables` while the daemon runs). A disable
// staged since the approval was not seen by that person, so it waits.
func (c *cycle) approved(p *plan.Plan) (bool, error) {
	ok, err := c.e.Store.Approved()
	if err != nil || len(ok) == 0 {
		return false, err
	}
	for _, ch := range p.Staged {
		if !ok[ch.EntraID] {
			return false, nil
		}
	}
	return true, nil
}

// remotes returns the GoTo accounts the planner may adopt: every account on
// an initial sync (which also refreshes the owned records from them), or
// those found by the emails of people without a record.
func (c *cycle) remotes(ctx context.Context, accounts []plan.Account, records []plan.Record) ([]plan.Remote, []plan.Record, error) {
	if c.opts.InitialSync {
		users, err := c.listUsers(ctx)
		if err != nil {
			return nil, nil, err
		}
		remotes := make([]plan.Remote, len(users))
		byKey := make(map[string]*plan.Remote, len(users))
		for i, u := range users {
			remotes[i] = toRemote(u)
			byKey[u.Key] = &remotes[i]
		}
		return remotes, refresh(records, byKey, c.log), nil
	}
	have := make(map[string]bool, len(records))
	for _, r := range records {
		have[r.EntraID] = true
	}
	var emails []string
	seen := map[string]bool{}
	for _, a := range accounts {
		if have[a.EntraID] || a.OutOfScope != "" || a.Skip != "" {
			continue
		}
		for _, m := range append(append([]string(nil), a.MatchEmails...), a.Profile.Email) {
			if k := strings.ToLower(m); m != "" && !seen[k] {
				seen[k] = true
				emails = append(emails, m)
			}
		}
	}
	if len(emails) == 0 {
		return nil, records, nil
	}
	if len(emails) > lookupLimit {
		users, err := c.listUsers(ctx)
		if err != nil {
			return nil, nil, err
		}
		return toRemotes(users), records, nil
	}
	var remotes []plan.Remote
	for _, m := range emails {
		users, err := c.e.Reader.FindUsersByEmail(ctx, m)
		if err != nil {
			return nil, nil, fmt.Errorf("look up GoTo user %s: %w", m, err)
		}
		remotes = append(remotes, toRemotes(users)...)
	}
	return remotes, records, nil
}

// lookupLimit is the number of email lookups above which listing every GoTo
// account is cheaper: a page holds 100 accounts.
const lookupLimit = 40

// listUsers lists every GoTo account, once per cycle: intent recovery and
// matching share the list.
func (c *cycle) listUsers(ctx context.Context) ([]gotomeeting.User, error) {
	if c.listed != nil {
		return c.listed, nil
	}
	users, err := c.e.Reader.ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list GoTo users: %w", err)
	}
	if users == nil {
		users = []gotomeeting.User{}
	}
	c.listed = users
	return users, nil
}

func toRemote(u gotomeeting.User) plan.Remote {
	return plan.Remote{Key: u.Key, Profile: plan.Profile{Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		Locale: u.Locale, TimeZone: u.TimeZone}, Licenses: u.Licenses, AdminRoles: u.AdminRoles}
}

func toRemotes(us []gotomeeting.User) []plan.Remote {
	out := make([]plan.Remote, len(us))
	for i, u := range us {
		out[i] = toRemote(u)
	}
	return out
}

// refresh replaces what owned records remember with what GoTo holds, so an
// initial sync corrects edits made outside g2msync. Records whose account is
// gone are dropped from the plan's input, so their person is matched again.
func refresh(records []plan.Record, byKey map[string]*plan.Remote, log *slog.Logger) []plan.Record {
	out := records[:0]
	for _, r := range records {
		rm, ok := byKey[r.GoToKey]
		if !ok {
			log.Warn("owned GoTo account no longer exists; its person will be matched again",
				logkey.EntraID, r.EntraID, logkey.UPN, r.UPN, logkey.GoToKey, r.GoToKey)
			continue
		}
		r.Profile, r.Licenses, r.AdminRoles = rm.Profile, rm.Licenses, rm.AdminRoles
		if r.State == plan.StateDisabled && (len(rm.Licenses) > 0 || len(rm.AdminRoles) > 0) {
			r.State = plan.StateActive // someone re-enabled it in GoTo
		}
		out = append(out, r)
	}
	return out
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
