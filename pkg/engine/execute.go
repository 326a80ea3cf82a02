package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/g2msync/g2msync/pkg/address"
	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/logkey"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// execute runs the plan's changes in its order (calls that go together,
// Engine.InFlight, in any order among themselves: one run at a time, and
// the next run starts once they are all back) and commits each outcome as
// it happens. It decides nothing: a change GoTo refuses is an outcome, and
// the only choice left here is to stop early (on request, refused
// credentials, or an outage), leaving the rest for the next cycle.
func (c *cycle) execute(ctx context.Context, p *plan.Plan) error {
	if recovered := c.recoveredOutcomes(p); len(recovered) > 0 {
		if err := c.e.Store.Commit(recovered...); err != nil {
			return err
		}
		c.committed(recovered)
	}
	total := len(p.Changes)
	c.progress(0, total)
	outages := 0
	for i := 0; i < total; {
		if err := c.stopRequested(ctx); err != nil {
			return err
		}
		if n, jobs := c.jobsAt(p.Changes[i:]); n > 0 {
			stop := c.sendTogether(ctx, jobs, &outages, i, total)
			i += n
			if c.commitErr != nil {
				return c.commitErr
			}
			if stop != nil {
				return stop
			}
			continue
		}
		n, err := 1, error(nil)
		if p.Changes[i].Kind == plan.KindCreate {
			n = c.batchLen(p.Changes[i:])
			c.tried += n
			err = c.createBatch(ctx, p.Changes[i:i+n])
		} else {
			err = c.applyOne(ctx, &p.Changes[i])
		}
		i += n
		c.progress(i, total)
		if c.commitErr != nil {
			return c.commitErr
		}
		if stop := c.stopAfter(err, &outages, total-i); stop != nil {
			return stop
		}
	}
	return nil
}

// together reports whether a change may be sent beside others: one call
// on one account that gives no address. Creates go in bulk calls;
// renames one at a time, since one may free the address another takes.
func together(ch *plan.Change) bool {
	switch ch.Kind {
	case plan.KindUpdate, plan.KindEnable, plan.KindDisable, plan.KindDelete:
	default:
		return false
	}
	for _, f := range ch.Fields {
		if f.Field == plan.FieldEmail {
			return false
		}
	}
	return ch.Writes()
}

// job is calls that go in flight together: one change, or one bulk
// create of n people.
type job struct {
	n   int
	run func(ctx context.Context) error
}

// jobsAt returns, when calls may be in flight together, the run at the
// head of cs that may (the bulk creates, or the changes together admits)
// as jobs, and its length; 0 when the head goes alone.
func (c *cycle) jobsAt(cs []plan.Change) (int, []job) {
	if c.e.InFlight <= 1 {
		return 0, nil
	}
	var jobs []job
	n := 0
	switch {
	case cs[0].Kind == plan.KindCreate:
		for n < len(cs) && cs[n].Kind == plan.KindCreate {
			size := c.batchLen(cs[n:])
			batch := cs[n : n+size]
			jobs = append(jobs, job{n: size, run: func(ctx context.Context) error {
				c.mu.Lock()
				c.tried += len(batch)
				c.mu.Unlock()
				return c.createBatch(ctx, batch)
			}})
			n += size
		}
	case together(&cs[0]):
		for n < len(cs) && together(&cs[n]) {
			ch := &cs[n]
			jobs = append(jobs, job{n: 1, run: func(ctx context.Context) error { return c.applyOne(ctx, ch) }})
			n++
		}
	}
	return n, jobs
}

// sendTogether runs jobs with up to InFlight of them in flight, each
// outcome committed as it comes back. The first reason to stop (a stop
// request, refused credentials, an outage) starts no further job; those in
// flight finish and are recorded. done is how many changes came before.
func (c *cycle) sendTogether(ctx context.Context, jobs []job, outages *int, done, total int) error {
	sem := make(chan struct{}, c.e.InFlight)
	var wg sync.WaitGroup
	var halt error
	halted := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return halt != nil || c.commitErr != nil
	}
	for _, j := range jobs {
		if err := c.stopRequested(ctx); err != nil {
			c.mu.Lock()
			if halt == nil {
				halt = err
			}
			c.mu.Unlock()
			break
		}
		sem <- struct{}{}
		if halted() {
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := j.run(ctx)
			c.mu.Lock()
			defer c.mu.Unlock()
			done += j.n
			c.progress(done, total)
			if halt == nil {
				halt = c.stopAfter(err, outages, total-done)
			}
		}()
	}
	wg.Wait()
	return halt
}

// batchLen returns how many of the creates at the head of cs one bulk call
// carries: those that follow each other in the plan and give the same
// licences and roles (the plan puts them side by side), at most BatchSize.
func (c *cycle) batchLen(cs []plan.Change) int {
	size := c.e.BatchSize
	if size <= 0 {
		size = 100
	}
	n := 1
	for n < len(cs) && n < size && cs[n].Kind == plan.KindCreate && plan.SameLists(&cs[0], &cs[n]) {
		n++
	}
	return n
}

func (c *cycle) progress(done, total int) {
	if c.e.Progress != nil {
		c.e.Progress(done, total)
	}
	c.report(Progress{Phase: PhaseApplying, Done: done, Total: total})
}

// phase tells Options.OnProgress that the cycle begins a phase.
func (c *cycle) phase(p Phase) { c.report(Progress{Phase: p}) }

// report tells Options.OnProgress where the cycle is, with the GoTo
// client's pace and this cycle's 429s so far.
func (c *cycle) report(p Progress) {
	if c.opts.OnProgress == nil {
		return
	}
	if c.paced != nil {
		s := c.paced.Stats()
		p.Pace, p.Throttled = s.Pace, s.Throttled-c.throttledAtStart
	}
	c.opts.OnProgress(p)
}

func (c *cycle) stopRequested(ctx context.Context) error {
	select {
	case <-c.opts.Stop:
		return fmt.Errorf("%w; the remaining changes wait for the next cycle", ErrStopped)
	default:
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cycle cancelled (%w): %w", ErrStopped, err)
	}
	return nil
}

// applyOne makes the one call of a change other than a create and commits
// its outcome. The returned error is the call's, for stopAfter; it is
// already recorded.
//
// Only the call itself runs outside c.mu, so changes sent together keep
// the cycle's bookkeeping whole.
func (c *cycle) applyOne(ctx context.Context, ch *plan.Change) error {
	c.mu.Lock()
	if ch.Kind == plan.KindForget {
		defer c.mu.Unlock()
		o := c.outcome(ch, state.ResultSuccess, "")
		o.DeleteRecord, o.ClearIntent, o.ClearFailure = true, true, true
		if c.commit(o) {
			c.res.Cycle.Applied[string(ch.Kind)]++
			c.log.Info("applied", c.attrs(ch, ch.GoToKey)...)
		}
		return nil
	}
	if ch.Kind.Deprovisions() && !c.writeIntent(ch) {
		defer c.mu.Unlock()
		return c.commitErr
	}
	if ch.Writes() {
		c.tried++
	}
	c.mu.Unlock()
	var err error
	switch {
	case !ch.Writes():
		// An adoption with nothing to change: record ownership only.
	case ch.Kind == plan.KindDelete:
		err = c.e.Writer.DeleteUser(ctx, ch.GoToKey)
	default:
		err = c.e.Writer.UpdateUser(ctx, ch.GoToKey, toUpdate(ch))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case errors.Is(err, gotomeeting.ErrNotFound):
		return c.gone(ch)
	case err != nil:
		return c.fail(ch, err, gotomeeting.Classify(err).Ambiguous)
	}
	c.succeed(ch, ch.Result(ch.GoToKey))
	return nil
}

// writeIntent records, before a disable or delete is sent, what the account
// holds, so a crash before the outcome is committed loses nothing (see
// state.Intent). It reports whether the write succeeded.
func (c *cycle) writeIntent(ch *plan.Change) bool {
	in := state.Intent{EntraID: ch.EntraID, UPN: ch.UPN, Email: ch.Email(), Kind: ch.Kind, CycleID: c.id, At: c.e.now(), GoToKey: ch.GoToKey}
	if ch.Licenses != nil {
		in.Licenses = ch.Licenses.Old
	}
	if ch.AdminRoles != nil {
		in.AdminRoles = ch.AdminRoles.Old
	}
	if ch.Kind == plan.KindDelete && ch.Prior != nil {
		in.Licenses, in.AdminRoles = ch.Prior.Licenses, ch.Prior.AdminRoles
	}
	if err := c.e.Store.WriteIntents([]state.Intent{in}); err != nil {
		c.commitErr = err
		return false
	}
	return true
}

func toUpdate(ch *plan.Change) gotomeeting.Update {
	var u gotomeeting.Update
	for _, f := range ch.Fields {
		v := f.New
		switch f.Field {
		case plan.FieldEmail:
			u.Email = &v
		case plan.FieldFirstName:
			u.FirstName = &v
		case plan.FieldLastName:
			u.LastName = &v
		case plan.FieldLocale:
			u.Locale = &v
		case plan.FieldTimeZone:
			u.TimeZone = &v
		}
	}
	if ch.Licenses != nil {
		u.LicenseKeys = nonNil(ch.Licenses.New)
	}
	if ch.AdminRoles != nil {
		u.AdminRoles = nonNil(ch.AdminRoles.New)
	}
	return u
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func listNew(l *plan.ListChange) []string {
	if l == nil {
		return nil
	}
	return l.New
}

// createBatch creates accounts in one bulk call: everyone in batch gets the
// same licences and admin roles, as GoTo applies them per request. The
// intents are written before the call and the outcomes committed after, in
// one transaction each. Only the call runs outside c.mu.
func (c *cycle) createBatch(ctx context.Context, batch []plan.Change) error {
	lic, roles := listNew(batch[0].Licenses), listNew(batch[0].AdminRoles)
	intents := make([]state.Intent, len(batch))
	req := gotomeeting.CreateRequest{LicenseKeys: nonNil(lic), AdminRoles: nonNil(roles), SuppressEmail: c.e.SuppressEmail}
	for i := range batch {
		ch := &batch[i]
		intents[i] = state.Intent{EntraID: ch.EntraID, UPN: ch.UPN, Email: ch.Profile.Email, Kind: plan.KindCreate, CycleID: c.id,
			At: c.e.now(), Licenses: lic, AdminRoles: roles, Profile: ch.Profile}
		req.Users = append(req.Users, gotomeeting.NewUser{Email: ch.Profile.Email, FirstName: ch.Profile.FirstName,
			LastName: ch.Profile.LastName, Locale: ch.Profile.Locale, TimeZone: ch.Profile.TimeZone})
	}
	c.mu.Lock()
	if err := c.e.Store.WriteIntents(intents); err != nil {
		c.commitErr = err
		c.mu.Unlock()
		return err
	}
	c.mu.Unlock()
	created, err := c.e.Writer.CreateUsers(ctx, req)
	if cl := gotomeeting.Classify(err); err != nil && len(batch) > 1 && !cl.Systemic && !cl.Ambiguous {
		// GoTo refused the request as a whole, perhaps for one entry (a
		// field it will not take, an address another account holds): the
		// halves go again, so only the people it concerns fail. Same
		// people, same order; at most twice the calls.
		mid := len(batch) / 2
		err := c.createBatch(ctx, batch[:mid])
		c.mu.Lock()
		commitErr := c.commitErr
		c.mu.Unlock()
		if commitErr != nil {
			return err
		}
		return c.createBatch(ctx, batch[mid:])
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		// After a timeout or outage the call may have gone through: keep the
		// intents, so the next cycle finds the accounts instead of creating twice.
		ambiguous := gotomeeting.Classify(err).Ambiguous
		for i := range batch {
			c.fail(&batch[i], err, ambiguous)
		}
		return err
	}
	keys := make(map[string]string, len(created))
	for _, cr := range created {
		keys[address.Fold(cr.Email)] = cr.Key
	}
	var outs []state.Outcome
	for i := range batch {
		ch := &batch[i]
		key := keys[address.Fold(ch.Profile.Email)]
		switch owner := c.ownedKeys[key]; {
		case key == "":
			c.fail(ch, fmt.Errorf("GoTo did not return an account for %s", ch.Profile.Email), false)
		case owner != "" && owner != ch.EntraID:
			c.fail(ch, fmt.Errorf("GoTo returned account %s for %s, which g2msync already links to entra id %s: %w",
				key, ch.Profile.Email, owner, gotomeeting.ErrConflict), false)
		default:
			rec := ch.Result(key)
			c.ownedKeys[key] = ch.EntraID
			o := c.outcome(ch, state.ResultSuccess, "")
			o.Record, o.ClearIntent, o.ClearFailure = &rec, true, true
			o.Audit.GoToKey = key
			outs = append(outs, o)
		}
	}
	if c.commit(outs...) {
		c.res.Cycle.Applied[string(plan.KindCreate)] += len(outs)
		for i := range outs {
			c.log.Info("applied", logkey.Op, string(plan.KindCreate), logkey.EntraID, outs[i].EntraID, logkey.UPN, outs[i].Audit.UPN,
				logkey.GoToKey, outs[i].Audit.GoToKey)
		}
	}
	return nil
}

// succeed commits a change's new record, clears its failure, intent and
// approval, and writes its audit entry.
func (c *cycle) succeed(ch *plan.Change, rec plan.Record) {
	o := c.outcome(ch, state.ResultSuccess, "")
	o.ClearIntent, o.ClearFailure = true, true
	if ch.Kind == plan.KindDelete {
		o.DeleteRecord = true
	} else {
		o.Record = &rec
		o.Audit.GoToKey = rec.GoToKey
	}
	if !c.commit(o) {
		return // not recorded: the summary must not say applied (a full disk)
	}
	c.res.Cycle.Applied[string(ch.Kind)]++
	c.log.Info("applied", c.attrs(ch, ch.GoToKey)...)
}

// gone handles a 404: the account was deleted in GoTo outside g2msync. The
// record is dropped, so the person is matched or created again next cycle.
func (c *cycle) gone(ch *plan.Change) error {
	o := c.outcome(ch, state.ResultSuccess, "")
	o.DeleteRecord, o.ClearIntent, o.ClearFailure = true, true, true
	if ch.Kind.Deprovisions() {
		o.Audit.Reason = "GoTo account " + ch.GoToKey + " no longer exists; nothing left to " + string(ch.Kind)
		c.res.Cycle.Applied[string(ch.Kind)]++
	} else {
		msg := fmt.Sprintf("GoTo account %s was deleted outside g2msync; the person will be matched or created again next cycle", ch.GoToKey)
		o.Audit.Result, o.Audit.Error = state.ResultFailure, msg
		c.res.Cycle.Failed[string(ch.Kind)]++
		c.res.Errors = append(c.res.Errors, newChangeError(ch, errors.New("the GoTo account no longer exists"),
			gotomeeting.Class{Cause: gotomeeting.CauseNotFound, Retryable: true, Hint: "deleted outside g2msync; the person is matched or created again next cycle"}))
		c.log.Warn("owned account gone", append(c.attrs(ch, ch.GoToKey), logkey.Error, msg)...)
	}
	c.commit(o)
	return nil
}

// fail records a failed change: an audit entry, a failure counted towards
// back-off (by the plan's retry policy), and the error in the result.
// keepIntent leaves a create's intent in place when the call may have gone
// through.
func (c *cycle) fail(ch *plan.Change, err error, keepIntent bool) error {
	cl := gotomeeting.Classify(err)
	if cl.Systemic {
		c.systemic++
	}
	ce := newChangeError(ch, err, cl)
	c.res.Errors = append(c.res.Errors, ce)
	c.res.Cycle.Failed[string(ch.Kind)]++
	var prev *plan.Failure
	if f, ok := c.failures[ch.EntraID]; ok {
		pf := toPlanFailure(f)
		prev = &pf
	}
	pf := c.e.Policy.Retry.Failed(prev, ch, failureCause(cl), cl.Retryable && !cl.Systemic, c.e.now(), ce.Error())
	f := &state.Failure{EntraID: ch.EntraID, UPN: ch.UPN, Email: ch.Email(), GoToKey: ch.GoToKey, Kind: ch.Kind, Count: pf.Count,
		FirstAt: pf.FirstAt, LastAt: c.e.now(), NextAttempt: pf.NextAttempt, LastError: pf.LastError, Quarantined: pf.Quarantined,
		Fingerprint: pf.Fingerprint, Cause: string(pf.Cause)}
	o := c.outcome(ch, state.ResultFailure, ce.Error())
	o.ClearIntent, o.Failure = !keepIntent, f
	if f.Quarantined {
		o.Audit.Reason = fmt.Sprintf("quarantined after %d failed attempts: not retried until the change differs or someone runs `g2msync retry %s`",
			f.Count, firstNonEmpty(ch.Email(), ch.UPN, ch.EntraID))
		c.log.Error("account quarantined", append(c.attrs(ch, ch.GoToKey), logkey.Error, ce.Error(), logkey.Count, f.Count)...)
	} else {
		c.log.Warn("change failed", append(c.attrs(ch, ch.GoToKey), logkey.Error, ce.Error(), logkey.Count, f.Count)...)
	}
	c.commit(o)
	return err
}

// failureCause is the plan's reading of a GoTo failure: seats and address
// conflicts are causes the next cycle observes itself.
func failureCause(cl gotomeeting.Class) plan.Cause {
	switch cl.Cause {
	case gotomeeting.CauseSeats:
		return plan.CauseSeats
	case gotomeeting.CauseConflict:
		return plan.CauseConflict
	}
	return plan.CauseOther
}

// commit writes outcomes and reports whether they were written; a state
// write failure is fatal to the cycle, so it is kept and returned at the
// next check.
func (c *cycle) commit(os ...state.Outcome) bool {
	if len(os) == 0 {
		return true
	}
	if err := c.e.Store.Commit(os...); err != nil {
		if c.commitErr == nil {
			c.commitErr = err
		}
		return false
	}
	c.committed(os)
	return true
}

// committed follows outcomes the state file now holds in the owned
// records' states (Result.Owned). Callers hold c.mu where changes run
// together.
func (c *cycle) committed(os []state.Outcome) {
	for _, o := range os {
		if c.drifted[o.EntraID] && o.Audit.Result == state.ResultSuccess {
			delete(c.drifted, o.EntraID)
			c.res.Cycle.Reconcile.Repaired++
		}
	}
	for _, o := range os {
		if c.e.Records == nil || (!o.DeleteRecord && o.Record == nil) {
			continue // nothing kept for a next cycle (`run --once`)
		}
		if c.recordEdits == nil {
			c.recordEdits = map[string]*plan.Record{}
		}
		if o.DeleteRecord {
			c.recordEdits[o.EntraID] = nil
		} else {
			r := *o.Record
			c.recordEdits[o.EntraID] = &r
		}
	}
	if c.owned == nil {
		return
	}
	for _, o := range os {
		if o.DeleteRecord || o.Record != nil {
			c.owned.replace(o.EntraID, o.Record)
		}
	}
}

// outcome returns the outcome of ch with its audit entry; an approved
// change's approval is used up whatever the result.
func (c *cycle) outcome(ch *plan.Change, result, errText string) state.Outcome {
	return state.Outcome{EntraID: ch.EntraID, Audit: c.audit(ch, result, errText), ClearApproval: ch.Approved}
}

func (c *cycle) audit(ch *plan.Change, result, errText string) state.AuditEntry {
	e := state.AuditEntry{Time: c.e.now(), CycleID: c.id, EntraID: ch.EntraID, UPN: ch.UPN, GoToKey: ch.GoToKey,
		Email: ch.Email(), Action: string(ch.Kind), Result: result, Reason: ch.Reason, Error: errText, OnDemand: c.opts.OnDemand != nil}
	for _, f := range ch.Fields {
		e.Changes = append(e.Changes, state.PropertyChange{Name: f.Field.String(), Old: f.Old, New: f.New})
	}
	if ch.Kind == plan.KindCreate {
		for _, f := range plan.AllFields() {
			if v := ch.Profile.Get(f); v != "" {
				e.Changes = append(e.Changes, state.PropertyChange{Name: f.String(), New: v})
			}
		}
	}
	if ch.Licenses != nil {
		e.Changes = append(e.Changes, state.PropertyChange{Name: "licenseKeys", Old: strings.Join(ch.Licenses.Old, ","), New: strings.Join(ch.Licenses.New, ",")})
	}
	if ch.AdminRoles != nil && (len(ch.AdminRoles.Old) > 0 || len(ch.AdminRoles.New) > 0) {
		e.Changes = append(e.Changes, state.PropertyChange{Name: "adminRoles", Old: strings.Join(ch.AdminRoles.Old, ","), New: strings.Join(ch.AdminRoles.New, ",")})
	}
	return e
}

// attrs are a change's log attributes; key is the GoTo account acted on
// (for a create, the one GoTo returned).
func (c *cycle) attrs(ch *plan.Change, key string) []any {
	a := []any{logkey.Op, string(ch.Kind), logkey.EntraID, ch.EntraID, logkey.UPN, ch.UPN, logkey.GoToKey, key}
	if len(ch.Fields) > 0 {
		names := make([]string, len(ch.Fields))
		for i, f := range ch.Fields {
			names[i] = f.Field.String()
		}
		a = append(a, logkey.Fields, strings.Join(names, ","))
	}
	return a
}

// ChangeError is one failed change, with what an administrator can do.
type ChangeError struct {
	Op      plan.Kind
	EntraID string
	UPN     string
	GoToKey string
	Email   string
	Err     error
	// Class is the GoTo client's reading of Err.
	Class gotomeeting.Class
}

// Error says which change failed on whom, why, and what to do.
func (e *ChangeError) Error() string {
	var b strings.Builder
	b.WriteString(e.Person())
	fmt.Fprintf(&b, ": %v", e.Err)
	if e.Class.Hint != "" {
		b.WriteString("; " + e.Class.Hint)
	}
	return b.String()
}

// Person names the change and whom it concerns, as in
// `update goto user 7731 (jane@contoso.com, entra 4b1e…)`.
func (e *ChangeError) Person() string {
	key := ""
	if e.GoToKey != "" {
		key = " " + e.GoToKey
	}
	return fmt.Sprintf("%s goto user%s (%s, entra %s)", e.Op, key, firstNonEmpty(e.Email, e.UPN), e.EntraID)
}

func (e *ChangeError) Unwrap() error { return e.Err }

func newChangeError(ch *plan.Change, err error, cl gotomeeting.Class) *ChangeError {
	return &ChangeError{Op: ch.Kind, EntraID: ch.EntraID, UPN: ch.UPN, GoToKey: ch.GoToKey, Email: ch.Email(), Err: err, Class: cl}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// recoveredOutcomes turns the plan's settling of interrupted changes into
// outcomes: every settled intent is cleared, and each Recovered change
// writes its record (or drops it, for a delete) and its log entry.
func (c *cycle) recoveredOutcomes(p *plan.Plan) []state.Outcome {
	if len(p.Settled) == 0 {
		return nil
	}
	byID := make(map[string]*plan.Change, len(p.Recovered))
	for i := range p.Recovered {
		byID[p.Recovered[i].EntraID] = &p.Recovered[i]
	}
	out := make([]state.Outcome, 0, len(p.Settled))
	for _, id := range p.Settled {
		o := state.Outcome{EntraID: id, ClearIntent: true}
		if ch := byID[id]; ch != nil {
			o.Record, o.DeleteRecord, o.ClearFailure = ch.Recovery.Record, ch.Recovery.Record == nil, true
			o.Audit = state.AuditEntry{Time: c.e.now(), CycleID: c.id, EntraID: id, UPN: ch.UPN, GoToKey: ch.GoToKey, Email: ch.Email(),
				Action: string(ch.Kind), Result: state.ResultSuccess, Reason: ch.Reason}
			if rec := ch.Recovery.Record; rec != nil && c.ownedKeys != nil {
				c.ownedKeys[rec.GoToKey] = id
			} else {
				delete(c.ownedKeys, ch.GoToKey)
			}
			c.log.Info("recovered interrupted "+string(ch.Kind), logkey.EntraID, id, logkey.GoToKey, ch.GoToKey, logkey.Email, ch.Email())
		}
		out = append(out, o)
	}
	return out
}
