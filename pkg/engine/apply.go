package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/logkey"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// outageLimit is how many calls in a row may fail with an outage before the
// cycle stops and leaves the rest for the next one.
const outageLimit = 5

// errStopped ends the apply loop early; the cycle reports why.
type errStopped struct{ reason string }

func (e errStopped) Error() string { return e.reason }

func (c *cycle) apply(ctx context.Context, p *plan.Plan) error {
	total := 0
	for i := range p.Changes {
		if p.Changes[i].Writes() || p.Changes[i].Kind == plan.KindAdopt {
			total++
		}
	}
	c.progress(0, total)
	deferred := c.deferred(p)
	seats := c.loadSeats(ctx, p)
	var creates []*plan.Change
	done, outages := 0, 0
	for i := range p.Changes {
		ch := &p.Changes[i]
		if deferred[ch.EntraID] {
			done++
			continue
		}
		if ch.Kind == plan.KindCreate {
			creates = append(creates, ch)
			continue
		}
		if !ch.Writes() && ch.Kind != plan.KindAdopt {
			continue
		}
		if err := c.stopRequested(ctx); err != nil {
			return err
		}
		err := c.applyOne(ctx, ch, seats)
		done++
		c.progress(done, total)
		if c.commitErr != nil {
			return c.commitErr
		}
		if stop := c.stopAfter(err, &outages, total-done); stop != nil {
			return stop
		}
	}
	return c.applyCreates(ctx, creates, seats, done, total)
}

func (c *cycle) progress(done, total int) {
	if c.e.Progress != nil {
		c.e.Progress(done, total)
	}
}

func (c *cycle) stopRequested(ctx context.Context) error {
	select {
	case <-c.opts.Stop:
		return errStopped{"stopped on request; the remaining changes wait for the next cycle"}
	default:
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cycle cancelled: %w", err)
	}
	return nil
}

// systemic reports whether a failure says more about GoTo or g2msync's
// credentials than about the one person: an outage, throttling that outlasted
// the retries, or a refused token. Only these count towards failing the
// whole cycle; a 409 or a full licence fails one person.
func systemic(err error) bool {
	return errors.Is(err, gotomeeting.ErrUnavailable) || errors.Is(err, gotomeeting.ErrThrottled) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, gotomeeting.ErrUnauthorized) ||
		errors.Is(err, gotomeeting.ErrRefreshTokenRejected) || errors.Is(err, gotomeeting.ErrForbidden)
}

// stopAfter decides, after each call, whether carrying on makes sense:
// refused credentials fail every later call too, and an outage is not helped
// by hammering the API.
func (c *cycle) stopAfter(err error, outages *int, left int) error {
	if err == nil {
		*outages = 0
		return nil
	}
	if errors.Is(err, gotomeeting.ErrRefreshTokenRejected) || errors.Is(err, gotomeeting.ErrUnauthorized) {
		return errStopped{fmt.Sprintf("stopping: GoTo refused the credentials (%v); %d changes wait for the next cycle", err, left)}
	}
	// A 403 may concern one account (an identity GoTo marks read-only) or
	// the admin's role as a whole: a streak of them tells which.
	if errors.Is(err, gotomeeting.ErrUnavailable) || errors.Is(err, gotomeeting.ErrThrottled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, gotomeeting.ErrForbidden) {
		*outages++
		if *outages >= outageLimit {
			return errStopped{fmt.Sprintf("stopping: %d GoTo calls in a row failed (last: %v); %d changes wait for the next cycle", *outages, err, left)}
		}
		return nil
	}
	*outages = 0
	return nil
}

// applyOne makes the one call of a non-create change and commits its outcome.
// The returned error is the call's, for stopAfter; it is already recorded.
func (c *cycle) applyOne(ctx context.Context, ch *plan.Change, seats *seatLedger) error {
	c.tried++
	if ch.Kind == plan.KindDisable || ch.Kind == plan.KindDelete {
		if done, err := c.checkLive(ctx, ch); done {
			return err
		}
	}
	if err := seats.reserve(listOld(ch.Licenses), listNew(ch.Licenses)); err != nil {
		return c.fail(ch, err, false)
	}
	var err error
	switch ch.Kind {
	case plan.KindDelete:
		err = c.e.Writer.DeleteUser(ctx, ch.GoToKey)
	default:
		if !ch.Writes() {
			break // an adoption with nothing to change: record ownership only
		}
		err = c.e.Writer.UpdateUser(ctx, ch.GoToKey, toUpdate(ch))
	}
	if errors.Is(err, gotomeeting.ErrNotFound) {
		seats.release(listOld(ch.Licenses), listNew(ch.Licenses))
		return c.gone(ch)
	}
	if err != nil {
		seats.release(listOld(ch.Licenses), listNew(ch.Licenses))
		return c.fail(ch, err, false)
	}
	c.succeed(ch, ch.Result(ch.GoToKey))
	return nil
}

// checkLive reads a GoTo account before it is deprovisioned. What g2msync
// last applied is not enough: someone may have made the account a super
// user in GoTo since, which the plan cannot know. The disable then takes
// away what the account really holds, so a re-enable gives it back. done
// reports that the change was settled here (protected, gone or failed).
func (c *cycle) checkLive(ctx context.Context, ch *plan.Change) (done bool, err error) {
	u, err := c.e.Reader.GetUser(ctx, ch.GoToKey)
	switch {
	case errors.Is(err, gotomeeting.ErrNotFound):
		return true, c.gone(ch)
	case err != nil:
		return true, c.fail(ch, err, false)
	case slices.Contains(u.AdminRoles, gotomeeting.RoleSuperUser) && !c.e.Policy.DisableSuperUsers:
		rec := *ch.Prior
		rec.AdminRoles, rec.Licenses = u.AdminRoles, u.Licenses // so later plans protect it without a call
		a := c.audit(ch, state.ResultSkipped, "")
		a.Reason = "holds SUPER_USER in GoTo (granted outside g2msync), so it is not deprovisioned; " +
			"set safety.disable_super_users to allow; would have: " + ch.Reason
		c.commit(state.Outcome{EntraID: ch.EntraID, Record: &rec, Audit: a})
		c.log.Warn("not deprovisioning a super user", append(c.attrs(ch), logkey.Reason, a.Reason)...)
		return true, nil
	}
	if ch.Kind == plan.KindDisable {
		ch.Licenses = &plan.ListChange{Old: u.Licenses, New: []string{}}
		ch.AdminRoles = &plan.ListChange{Old: u.AdminRoles, New: []string{}}
	}
	return false, nil
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

func listOld(l *plan.ListChange) []string {
	if l == nil {
		return nil
	}
	return l.Old
}

func listNew(l *plan.ListChange) []string {
	if l == nil {
		return nil
	}
	return l.New
}

// succeed commits a change's new record, clears its failure and intent, and
// writes its audit entry.
func (c *cycle) succeed(ch *plan.Change, rec plan.Record) {
	o := state.Outcome{EntraID: ch.EntraID, ClearIntent: true, ClearFailure: true, Audit: c.audit(ch, state.ResultSuccess, "")}
	if ch.Kind == plan.KindDelete {
		o.DeleteRecord = true
	} else {
		o.Record = &rec
		o.Audit.GoToKey = rec.GoToKey
	}
	c.commit(o)
	c.res.Cycle.Applied[string(ch.Kind)]++
	c.log.Info("applied", c.attrs(ch)...)
}

// gone handles a 404: the account was deleted in GoTo outside g2msync. The
// record is dropped, so the person is matched or created again next cycle.
func (c *cycle) gone(ch *plan.Change) error {
	o := state.Outcome{EntraID: ch.EntraID, DeleteRecord: true, ClearIntent: true, ClearFailure: true}
	if ch.Kind == plan.KindDisable || ch.Kind == plan.KindDelete {
		o.Audit = c.audit(ch, state.ResultSuccess, "")
		o.Audit.Reason = "GoTo account " + ch.GoToKey + " no longer exists; nothing left to " + string(ch.Kind)
		c.res.Cycle.Applied[string(ch.Kind)]++
	} else {
		msg := fmt.Sprintf("GoTo account %s was deleted outside g2msync; the person will be matched or created again next cycle", ch.GoToKey)
		o.Audit = c.audit(ch, state.ResultFailure, msg)
		c.res.Cycle.Failed[string(ch.Kind)]++
		c.log.Warn("owned account gone", append(c.attrs(ch), logkey.Error, msg)...)
	}
	c.commit(o)
	return nil
}

// fail records a failed change: an audit entry, a failure counted towards
// back-off, and the error in the result. keepIntent leaves a create's intent
// in place when the call may have gone through.
func (c *cycle) fail(ch *plan.Change, err error, keepIntent bool) error {
	if systemic(err) {
		c.systemic++
	}
	ce := newChangeError(ch, err)
	c.res.Errors = append(c.res.Errors, ce)
	c.res.Cycle.Failed[string(ch.Kind)]++
	f := c.failure(ch, ce)
	audit := c.audit(ch, state.ResultFailure, ce.Error())
	if f.Quarantined {
		audit.Reason = fmt.Sprintf("quarantined after %d failed attempts: not retried until the change differs or someone runs `g2msync retry %s`",
			f.Count, firstNonEmpty(ch.Email(), ch.UPN, ch.EntraID))
		c.log.Error("account quarantined", append(c.attrs(ch), logkey.Error, ce.Error(), logkey.Count, f.Count)...)
	} else {
		c.log.Warn("change failed", append(c.attrs(ch), logkey.Error, ce.Error(), logkey.Count, f.Count)...)
	}
	c.commit(state.Outcome{EntraID: ch.EntraID, ClearIntent: !keepIntent, Failure: f, Audit: audit})
	return err
}

func (c *cycle) failure(ch *plan.Change, ce *ChangeError) *state.Failure {
	now := c.e.now()
	f := &state.Failure{EntraID: ch.EntraID, UPN: ch.UPN, Email: ch.Email(), GoToKey: ch.GoToKey, Kind: ch.Kind,
		Count: 1, FirstAt: now, LastAt: now, LastError: ce.Error(), Fingerprint: fingerprint(ch)}
	if prev, ok := c.prevFailures()[ch.EntraID]; ok && prev.Fingerprint == f.Fingerprint {
		f.Count, f.FirstAt = prev.Count+1, prev.FirstAt
	}
	f.NextAttempt = now.Add(c.e.Retry.delay(f.Count))
	if q := c.e.Retry.quarantineAfter(); q > 0 && f.Count >= q && ce.Retryable {
		f.Quarantined = true
	}
	return f
}

// deferred returns the people whose change is not tried this cycle: the same
// change failed before and its back-off has not passed, or it is quarantined.
// A different change (the directory moved on) is tried at once.
func (c *cycle) deferred(p *plan.Plan) map[string]bool {
	out := map[string]bool{}
	fs := c.prevFailures()
	if len(fs) == 0 {
		return out
	}
	now := c.e.now()
	for i := range p.Changes {
		ch := &p.Changes[i]
		f, ok := fs[ch.EntraID]
		if !ok || f.Fingerprint != fingerprint(ch) {
			continue
		}
		if f.Quarantined || now.Before(f.NextAttempt) {
			out[ch.EntraID] = true
			c.res.Cycle.Deferred++
			why := fmt.Sprintf("waiting until %s after %d failed attempts", f.NextAttempt.UTC().Format(time.RFC3339), f.Count)
			if f.Quarantined {
				why = fmt.Sprintf("quarantined after %d failed attempts; run `g2msync retry %s` once the cause is fixed", f.Count, firstNonEmpty(f.Email, f.UPN, f.EntraID))
			}
			c.log.Debug("deferred", append(c.attrs(ch), logkey.Reason, why)...)
		}
	}
	return out
}

// fingerprint identifies what a change asks GoTo to do.
func fingerprint(ch *plan.Change) string {
	var b strings.Builder
	b.WriteString(string(ch.Kind))
	b.WriteString("|" + ch.GoToKey)
	for _, f := range ch.Fields {
		fmt.Fprintf(&b, "|%s=%s", f.Field, f.New)
	}
	if ch.Kind == plan.KindCreate {
		b.WriteString("|" + ch.Profile.Email)
	}
	fmt.Fprintf(&b, "|l=%s|r=%s", strings.Join(listNew(ch.Licenses), ","), strings.Join(listNew(ch.AdminRoles), ","))
	return b.String()
}

func (c *cycle) prevFailures() map[string]state.Failure {
	if c.failures == nil {
		c.failures = map[string]state.Failure{}
		fs, err := c.e.Store.Failures()
		if err != nil {
			c.log.Warn("read failure history", logkey.Error, err.Error())
		}
		for _, f := range fs {
			c.failures[f.EntraID] = f
		}
	}
	return c.failures
}

// commit writes an outcome; a state write failure is fatal to the cycle, so
// it is kept and returned at the next check.
func (c *cycle) commit(os ...state.Outcome) {
	if err := c.e.Store.Commit(os...); err != nil && c.commitErr == nil {
		c.commitErr = err
	}
}

func (c *cycle) audit(ch *plan.Change, result, errText string) state.AuditEntry {
	e := state.AuditEntry{Time: c.e.now(), CycleID: c.id, EntraID: ch.EntraID, UPN: ch.UPN, GoToKey: ch.GoToKey,
		Email: ch.Email(), Action: string(ch.Kind), Result: result, Reason: ch.Reason, Error: errText}
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

func (c *cycle) attrs(ch *plan.Change) []any {
	a := []any{logkey.Op, string(ch.Kind), logkey.EntraID, ch.EntraID, logkey.UPN, ch.UPN, logkey.GoToKey, ch.GoToKey}
	if len(ch.Fields) > 0 {
		names := make([]string, len(ch.Fields))
		for i, f := range ch.Fields {
			names[i] = f.Field.String()
		}
		a = append(a, logkey.Fields, strings.Join(names, ","))
	}
	return a
}

// recordSkipsAndStaged writes audit entries for skips and staged disables that
// are new or whose reason changed, so the provisioning log says it once, not
// every cycle.
func (c *cycle) recordSkipsAndStaged(p *plan.Plan) error {
	prev, err := c.e.Store.Skips()
	if err != nil {
		return err
	}
	cur := make(map[string]string, len(p.Skips))
	var outs []state.Outcome
	for i := range p.Skips {
		ch := &p.Skips[i]
		cur[ch.EntraID] = ch.Reason
		if prev[ch.EntraID] != ch.Reason {
			outs = append(outs, state.Outcome{EntraID: ch.EntraID, Audit: c.audit(ch, state.ResultSkipped, "")})
			c.log.Info("skipped", append(c.attrs(ch), logkey.Reason, ch.Reason)...)
		}
	}
	prevStaged, err := c.e.Store.Staged()
	if err != nil {
		return err
	}
	since := map[string]state.Staged{}
	for _, s := range prevStaged {
		since[s.EntraID] = s
	}
	staged := make([]state.Staged, 0, len(p.Staged))
	for i := range p.Staged {
		ch := &p.Staged[i]
		s, ok := since[ch.EntraID]
		if !ok {
			s = state.Staged{EntraID: ch.EntraID, UPN: ch.UPN, GoToKey: ch.GoToKey, Email: ch.Email(), Reason: ch.Reason, Since: c.e.now()}
			outs = append(outs, state.Outcome{EntraID: ch.EntraID, Audit: c.audit(ch, state.ResultStaged, "")})
		}
		staged = append(staged, s)
	}
	if len(outs) > 0 {
		if err := c.e.Store.Commit(outs...); err != nil {
			return err
		}
	}
	if err := c.e.Store.SetSkips(cur); err != nil {
		return err
	}
	return c.e.Store.SetStaged(staged)
}

// ChangeError is one failed change, with what an administrator can do.
type ChangeError struct {
	Op      plan.Kind
	EntraID string
	UPN     string
	GoToKey string
	Email   string
	Err     error
	// Retryable says whether the next cycle may succeed without a person acting.
	Retryable bool
	Hint      string
}

func (e *ChangeError) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Op))
	if e.GoToKey != "" {
		b.WriteString(" goto user " + e.GoToKey)
	} else {
		b.WriteString(" goto user")
	}
	fmt.Fprintf(&b, " (%s, entra %s): %v", firstNonEmpty(e.Email, e.UPN), e.EntraID, e.Err)
	if e.Hint != "" {
		b.WriteString("; " + e.Hint)
	}
	return b.String()
}

func (e *ChangeError) Unwrap() error { return e.Err }

func newChangeError(ch *plan.Change, err error) *ChangeError {
	ce := &ChangeError{Op: ch.Kind, EntraID: ch.EntraID, UPN: ch.UPN, GoToKey: ch.GoToKey, Email: ch.Email(), Err: err, Retryable: true}
	switch {
	case errors.Is(err, gotomeeting.ErrRefreshTokenRejected):
		ce.Retryable = false // the error text says what to run
	case errors.Is(err, gotomeeting.ErrSeatsExhausted):
		ce.Hint = "free a seat or buy more; retried next cycle"
	case errors.Is(err, gotomeeting.ErrConflict):
		ce.Hint = "another GoTo account already uses this email; rename or remove it, then it is retried next cycle"
	case errors.Is(err, gotomeeting.ErrForbidden):
		ce.Retryable = false
		ce.Hint = "the GoTo admin g2msync signs in as cannot manage users; give it the MANAGE_USERS or SUPER_USER role"
	case errors.Is(err, gotomeeting.ErrUnauthorized):
		ce.Retryable = false
		ce.Hint = "run `g2msync login goto`"
	default:
		ce.Hint = "retried next cycle"
	}
	return ce
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
