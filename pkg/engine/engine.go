package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
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
	Deferred() ([]state.Deferred, error)
	SetDeferred([]state.Deferred) error
	Approvals() (map[string]string, error)
	ForgetApprovals([]string) error
	// Kept are the staged changes operators chose to keep staged.
	Kept() (map[string]state.Keep, error)
	SaveCycle(state.Cycle) error
	ViewDirectoryPicture(fn func(links, body []byte) error) error
	SaveDirectoryPicture(links, body []byte) error
}

var _ Store = (*state.Store)(nil)

// Engine runs cycles. Set the fields, then call Run.
//
// A cycle has four steps, in this order, and never goes back:
//
//	observe  the directory, the state file and what GoTo holds that the plan
//	         needs (plan.Need says what: accounts to match, live roles of
//	         accounts a disable may touch, licence seats)
//	compute  plan.Compute: every decision, pure
//	execute  the plan's changes, in its order, each outcome committed as it
//	         happens; the executor never re-decides or skips
//	record   the skipped, staged and deferred changes, the cycle's summary
type Engine struct {
	Source directory.Source
	// Finder reads named people for on-demand cycles (Options.OnDemand).
	Finder directory.Finder
	Mapper *mapping.Mapper
	Reader gotomeeting.Reader
	// Writer applies changes; nil for dry runs, where no write is reachable.
	Writer gotomeeting.Writer
	Store  Store
	// Policy is the planner's policy, back-off and quarantine included.
	Policy plan.Policy
	// BatchSize is the number of users per bulk create call; 0 means 100.
	BatchSize int
	// InFlight is how many calls (bulk creates, and changes other than
	// renames) are sent at once; 0 or 1 sends one at a time. Each person has
	// one change, so each account's calls stay in order; each outcome is
	// committed as it comes back.
	InFlight int
	// FullReadInterval is the longest time between full directory reads
	// when Source can follow changes (directory.DeltaSource): in between, a
	// cycle reads what changed since the last. 0 reads in full every cycle.
	FullReadInterval time.Duration
	// Pictures, if set, keeps the last directory picture decoded from one
	// cycle to the next in this process.
	Pictures *PictureCache
	// Records, if set, keeps the owned records decoded from one cycle to
	// the next in this process, as long as nothing writes them.
	Records *RecordCache
	// Mapped, if set, keeps the accounts the mapper made of the last
	// directory snapshot: a cycle given the same snapshot (a delta read
	// that found nothing changed) by the same mapper does not map 100,000
	// people again.
	Mapped *MapCache
	// ReadSeats reads GoTo's licences every cycle, not only when a change
	// may add one, so that Result.Licenses can warn before seats run out
	// (notify.seats_free_below).
	ReadSeats bool
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
}

// pacedClient is a GoTo reader that paces itself and counts 429s, as
// gotomeeting.Client does; a cycle reports both (state.Cycle.GoToPace).
// Optional, so that fakes need not pretend.
type pacedClient interface {
	Stats() gotomeeting.Stats
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
	// Reconcile lists every GoTo account, as a full sync does, and plans
	// each owned account from what GoTo holds, so that changes made in GoTo
	// outside g2msync are repaired or reported (plan.Input.Reconcile); the
	// directory is read as on any cycle. plan.Begin says when it is due.
	Reconcile bool
	// Stop, when closed, ends the cycle after the change in flight.
	Stop <-chan struct{}
	// AdoptOnly records ownership of the GoTo accounts that match in-scope
	// people and changes nothing else: `g2msync state rebuild`.
	AdoptOnly bool
	// OnProgress, if set, is told what the cycle is doing as it moves from
	// one phase to the next, and of each change done while it applies the
	// plan: the daemon serves it, so a long first sync shows how far it is.
	// It is called from the cycle's goroutines and must not block.
	OnProgress func(Progress)
	// OnDemand, when set, runs an on-demand cycle for these people (Entra
	// object ids, userPrincipalNames or mail addresses): only they are read
	// (Engine.Finder), planned (plan.Input.Only) and changed, and the
	// provisioning log marks their entries on-demand. What the last regular
	// cycle recorded for everyone else stays as it was.
	OnDemand []string
}

// Phase is what a running cycle is doing, in the order a cycle does it.
type Phase string

// The phases of a cycle.
const (
	PhaseEntra    Phase = "reading Entra"
	PhaseGoTo     Phase = "reading GoTo"
	PhasePlanning Phase = "planning"
	PhaseApplying Phase = "applying"
)

// Progress is where a running cycle is. Done and Total count the plan's
// changes, and are zero before the cycle applies any.
type Progress struct {
	Phase       Phase
	Done, Total int
	// Pace is the requests per second the GoTo client paces at now (0:
	// unpaced or unknown), and Throttled the 429s GoTo answered this
	// cycle so far: what is left takes about (Total-Done)/Pace seconds
	// when each change is one call.
	Pace      float64
	Throttled int64
}

// Cycle outcomes.
const (
	OutcomeSuccess = "success" // every planned change applied, none deferred
	OutcomePartial = "partial" // some changes failed or were deferred; they are tried again
	OutcomeStaged  = "staged"  // disables wait for approval; the rest applied
	OutcomeAborted = "aborted" // a safety gate refused the plan
	OutcomeFailed  = "failed"  // the cycle could not run, or stopped early on an outage
	OutcomeStopped = "stopped" // a person or the service manager stopped g2msync mid-cycle
	OutcomeDryRun  = "dry-run"
)

// Result is what a cycle did.
type Result struct {
	CycleID string
	Plan    *plan.Plan
	// Found is what an on-demand cycle read of the people named.
	Found *directory.Found
	// Licenses are GoTo's licences with their seats as the cycle read them,
	// before its changes; nil when it did not read them (a cycle reads them
	// when a change may take a seat, on a full sync or reconcile, and every
	// cycle when notify.seats_free_below is set).
	Licenses []gotomeeting.License
	Cycle    state.Cycle
	// Errors are the changes that failed, with what to do about them.
	Errors []*ChangeError
	// Owned counts the owned accounts by state when the cycle ended: the
	// records it read with the outcomes it committed. Nil when it did not
	// get as far as reading them; the state file can then be counted.
	// Counting here spares a report reading 100,000 records again, which
	// also maps every page of them into memory.
	Owned *OwnedCounts
}

// OwnedCounts counts owned accounts by state.
type OwnedCounts struct {
	Active, Disabled int
	// Licenses counts the seats the owned accounts hold, per licence, when
	// the cycle read GoTo's licences (nil otherwise): counted from the
	// records the cycle already holds, so nothing reads them again.
	Licenses plan.Holders
}

// ownedTally counts the owned accounts as the cycle goes (Result.Owned):
// the records as read, then each committed outcome in place of the record
// it replaces. It keeps a record's state and licences only for the people
// the plan changes: one for each of 100,000 records was 9 MB of a
// reconcile's peak memory (docs/benchmarks.md).
type ownedTally struct {
	counts OwnedCounts // Licenses always counted; dropped when GoTo's were not read
	// current holds the record now stored for each person the plan
	// changes (nil: none), as read until an outcome replaces it.
	current map[string]*ownedAccount
}

// ownedAccount is an owned record as stored, as far as the counts need.
type ownedAccount struct {
	state    plan.State
	licenses []string
}

func newOwnedTally(records []plan.Record) *ownedTally {
	t := &ownedTally{counts: OwnedCounts{Licenses: plan.Holders{}}, current: map[string]*ownedAccount{}}
	for _, r := range records {
		t.add(&ownedAccount{state: r.State, licenses: r.Licenses}, 1)
	}
	return t
}

// expect notes, from the records as read, the record of each person
// whose outcome p may commit: the people of its changes and of the
// interrupted changes it recovers. No outcome concerns anyone else.
func (t *ownedTally) expect(records []plan.Record, p *plan.Plan) {
	for _, chs := range [][]plan.Change{p.Changes, p.Recovered} {
		for i := range chs {
			t.current[chs[i].EntraID] = nil
		}
	}
	for _, r := range records {
		if _, ok := t.current[r.EntraID]; ok {
			t.current[r.EntraID] = &ownedAccount{state: r.State, licenses: r.Licenses}
		}
	}
}

// replace counts rec (nil: deleted) in place of the person's record.
func (t *ownedTally) replace(entraID string, rec *plan.Record) {
	t.add(t.current[entraID], -1)
	var now *ownedAccount
	if rec != nil {
		now = &ownedAccount{state: rec.State, licenses: rec.Licenses}
	}
	t.add(now, 1)
	t.current[entraID] = now
}

func (t *ownedTally) add(a *ownedAccount, n int) {
	if a == nil {
		return
	}
	if a.state == plan.StateDisabled {
		t.counts.Disabled += n
	} else {
		t.counts.Active += n
	}
	if n > 0 {
		t.counts.Licenses.Add(a.state, a.licenses)
	} else {
		t.counts.Licenses.Remove(a.state, a.licenses)
	}
}

// Outcome returns the cycle's outcome.
func (r *Result) Outcome() string { return r.Cycle.Outcome }

// keepsNothing says that the engine keeps nothing from one cycle to the
// next (`run --once`): what a cycle read is garbage once it is used, and
// worth giving back then, since no next cycle will use it.
func (e *Engine) keepsNothing() bool {
	return e.Pictures == nil && e.Records == nil && e.Mapped == nil
}

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
	paced, _ := e.Reader.(pacedClient)
	if paced != nil {
		c.throttledAtStart = paced.Stats().Throttled
	}
	c.paced = paced
	err := c.run(ctx)
	if c.recordsRead != nil && !opts.DryRun {
		e.Records.advance(e.Store, c.recordsGen, c.recordsRead, c.recordEdits)
	}
	if c.owned != nil && !opts.DryRun {
		o := c.owned.counts
		if c.res.Licenses == nil {
			o.Licenses = nil
		}
		c.res.Owned = &o
	}
	c.res.Cycle.End = e.now()
	c.res.Cycle.Calls = c.calls()
	if paced != nil {
		s := paced.Stats()
		c.res.Cycle.GoToThrottled, c.res.Cycle.GoToPace = s.Throttled-c.throttledAtStart, s.Pace
	}
	if err != nil {
		c.res.Cycle.Outcome = OutcomeFailed
		if errors.Is(err, ErrAborted) {
			c.res.Cycle.Outcome = OutcomeAborted
		}
		if errors.Is(err, ErrStopped) {
			c.res.Cycle.Outcome = OutcomeStopped
		}
		c.res.Cycle.Error = err.Error()
	}
	if c.recordable && !opts.DryRun {
		if serr := e.Store.SaveCycle(c.res.Cycle); serr != nil && err == nil {
			err = serr
		}
	}
	level := slog.LevelInfo
	if err != nil && !opts.DryRun {
		// A dry run's caller reports its error (plan, explain): logged as
		// an error too, a person would read it twice.
		level = slog.LevelError
	}
	c.log.Log(ctx, level, "cycle finished", logkey.Outcome, c.res.Cycle.Outcome,
		"planned", counts[int](c.res.Cycle.Planned), "applied", counts[int](c.res.Cycle.Applied), "failed", counts[int](c.res.Cycle.Failed),
		"skipped", c.res.Cycle.Skipped, "staged", c.res.Cycle.Staged, "deferred", c.res.Cycle.Deferred, "calls", counts[int64](c.res.Cycle.Calls),
		"goto_429s", c.res.Cycle.GoToThrottled, "goto_pace", c.res.Cycle.GoToPace, "read", c.res.Cycle.Read,
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
	if o.Reconcile {
		m = append(m, "reconcile")
	}
	if o.AllowDisables {
		m = append(m, "allow-disables")
	}
	if o.AdoptOnly {
		m = append(m, "adopt-only")
	}
	if o.OnDemand != nil {
		m = append(m, "on-demand")
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

// ErrStopped marks a cycle stopped on request (Options.Stop or a cancelled
// context) after its change in flight.
var ErrStopped = errors.New("stopped on request")

// cycle is the state of one Run.
type cycle struct {
	e            *Engine
	opts         Options
	id           string
	log          *slog.Logger
	res          *Result
	callsAtStart map[string]int64
	// throttledAtStart is the GoTo client's 429 count when the cycle began.
	throttledAtStart int64
	// paced is the GoTo reader's pace and 429 counts, when it keeps them.
	paced pacedClient
	// recordable is set once the directory read succeeded: from then on the
	// cycle's summary is saved, even if it fails later.
	recordable bool
	// ownedKeys maps the GoTo key of every owned account to its person,
	// for the creates to check the keys GoTo returns: nil in a cycle
	// whose plan creates nobody (at 100,000 records it is 6 MB).
	ownedKeys map[string]string
	// owned counts the owned records, once read (Result.Owned).
	owned     *ownedTally
	failures  map[string]state.Failure
	commitErr error
	tried     int           // changes whose call was made
	systemic  int           // failures of the kind that concern GoTo, not one person
	listed    []plan.Remote // every GoTo account, once listed this cycle, until the plan's input is complete
	// joined is the join plan.Need made, kept for Compute when the cycle
	// read nothing from GoTo.
	joined *plan.Joined
	// drifted are the people whose drift the cycle repairs, until their
	// repair is committed (state.Cycle.Reconcile).
	drifted map[string]bool
	// recordsRead are the owned records as the cycle read them, at
	// generation recordsGen; recordEdits the records it committed since,
	// by Entra id (nil: deleted), for Engine.Records.
	recordsRead []plan.Record
	recordsGen  string
	recordEdits map[string]*plan.Record
	// mu guards the cycle's bookkeeping (counts, errors, commits) while
	// changes are in flight together.
	mu sync.Mutex
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

// run is the cycle: observe → compute → execute → record.
func (c *cycle) run(ctx context.Context) error {
	in, err := c.observeStoppable(ctx)
	if err != nil {
		return err
	}
	c.phase(PhasePlanning)
	var p *plan.Plan
	if c.joined != nil {
		p, c.joined = c.joined.Compute(in), nil
	} else {
		p = plan.Compute(in)
	}
	c.res.Plan = p
	c.summarisePlan(p)
	c.owned.expect(in.Records, p)
	if p.Count(plan.KindCreate) > 0 {
		c.ownedKeys = make(map[string]string, len(in.Records))
		for _, r := range in.Records {
			c.ownedKeys[r.GoToKey] = r.EntraID
		}
	}
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
	return c.record(p, c.execute(ctx, p))
}

// observeStoppable observes under a context that a stop request cancels
// at once: the reads write nothing, so a directory read that is waiting on
// Graph's retries (Retry-After, up to entra.timeout per attempt) ends when
// SIGTERM comes, instead of after the grace period.
func (c *cycle) observeStoppable(ctx context.Context) (plan.Input, error) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.opts.Stop:
			cancel()
		case <-rctx.Done():
		}
	}()
	in, err := c.observe(rctx)
	select {
	case <-c.opts.Stop:
		if err != nil {
			return in, fmt.Errorf("%w while reading, before anything was decided: %w", ErrStopped, err)
		}
	default:
	}
	return in, err
}

func (c *cycle) summarisePlan(p *plan.Plan) {
	cy := &c.res.Cycle
	cy.InScope, cy.Owned = p.InScope, p.Owned
	for _, ch := range p.Changes {
		cy.Planned[string(ch.Kind)]++
	}
	if p.Reconciled {
		cy.Reconcile = &state.Reconcile{Drifted: len(p.Drift)}
		for _, d := range p.Drift {
			if d.Held {
				cy.Reconcile.Reported++
				continue
			}
			if c.drifted == nil {
				c.drifted = map[string]bool{}
			}
			c.drifted[d.EntraID] = true
		}
	}
	cy.Skipped = len(p.Skips)
	cy.Staged = len(p.Staged)
	cy.Deferred = len(p.Deferred)
	for _, ch := range p.Deferred {
		if cy.DeferredBy == nil {
			cy.DeferredBy = map[string]int{}
		}
		cy.DeferredBy[string(ch.Deferral.Cause)]++
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// counts logs a map of counts as a group, in key order: planned.create=3 in
// text logs, {"create":3} in JSON, never Go's map[create:3].
type counts[V int | int64] map[string]V

// LogValue implements slog.LogValuer.
func (m counts[V]) LogValue() slog.Value {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	attrs := make([]slog.Attr, len(keys))
	for i, k := range keys {
		attrs[i] = slog.Int64(k, int64(m[k]))
	}
	return slog.GroupValue(attrs...)
}
