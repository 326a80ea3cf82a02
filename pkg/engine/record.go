package engine

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/g2msync/g2msync/pkg/logkey"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// problemPeople is how many people a grouped problem names.
const problemPeople = 10

// record writes what the plan left undone (skips, staged and deferred
// changes, approvals that no longer match) and settles the cycle's outcome.
// It runs after execution however that ended, so status tells the truth
// even of a cycle that stopped early.
func (c *cycle) record(p *plan.Plan, execErr error) error {
	rerr := c.recordPlan(p)
	c.res.Cycle.Problems = c.problems(p)
	switch {
	case execErr != nil:
		return execErr
	case rerr != nil:
		return rerr
	}
	if err := c.mostCallsFailed(); err != nil {
		return err
	}
	// Staged wins over partial: disables waiting for a person are the more
	// urgent news, and failed or deferred changes are tried without one.
	// Rows an operator kept staged wait for nobody's approval.
	switch {
	case len(p.Staged) > p.Kept:
		c.res.Cycle.Outcome = OutcomeStaged
		c.log.Warn("disables staged for approval", logkey.Count, len(p.Staged), logkey.Reason, p.StageReason)
	case len(c.res.Errors) > 0 || sum(c.res.Cycle.Failed) > 0 || len(p.Deferred) > 0:
		c.res.Cycle.Outcome = OutcomePartial
	default:
		c.res.Cycle.Outcome = OutcomeSuccess
	}
	return nil
}

// recordPlan writes audit entries for skips, staged and deferred changes
// that are new or whose reason changed, so the provisioning log says each
// once, not every cycle; and replaces the lists status shows.
func (c *cycle) recordPlan(p *plan.Plan) error {
	prev, err := c.e.Store.Skips()
	if err != nil {
		return err
	}
	now := c.e.now()
	cur := make(map[string]string, len(p.Skips))
	// An on-demand cycle decided only for the people named: what the last
	// regular cycle recorded for everyone else is kept.
	others := func(id string) bool { return p.Only != nil && !p.Only[id] }
	for id, reason := range prev {
		if others(id) {
			cur[id] = reason
		}
	}
	var outs []state.Outcome
	for i := range p.Skips {
		ch := &p.Skips[i]
		cur[ch.EntraID] = ch.Reason
		if prev[ch.EntraID] != ch.Reason {
			outs = append(outs, state.Outcome{EntraID: ch.EntraID, Audit: c.audit(ch, state.ResultSkipped, "")})
			c.log.Info("skipped", append(c.attrs(ch, ch.GoToKey), logkey.Reason, ch.Reason)...)
		}
	}
	prevStaged, err := c.e.Store.Staged()
	if err != nil {
		return err
	}
	since := map[string]state.Staged{}
	staged := make([]state.Staged, 0, len(p.Staged))
	for _, s := range prevStaged {
		since[s.EntraID] = s
		if others(s.EntraID) {
			staged = append(staged, s)
		}
	}
	for i := range p.Staged {
		ch := &p.Staged[i]
		fp := ch.Fingerprint()
		s, ok := since[ch.EntraID]
		if !ok || s.Fingerprint != fp {
			s = state.Staged{EntraID: ch.EntraID, UPN: ch.UPN, GoToKey: ch.GoToKey, Email: ch.Email(), Kind: ch.Kind, Reason: ch.Reason,
				Since: now, Fingerprint: fp}
			outs = append(outs, state.Outcome{EntraID: ch.EntraID, Audit: c.audit(ch, state.ResultStaged, "")})
		}
		// The threshold this cycle exceeded is what holds the change now,
		// whatever cycle staged it first.
		s.Gate = p.Gate
		staged = append(staged, s)
	}
	prevDeferred, err := c.e.Store.Deferred()
	if err != nil {
		return err
	}
	before := map[string]state.Deferred{}
	deferred := make([]state.Deferred, 0, len(p.Deferred))
	for _, d := range prevDeferred {
		before[d.EntraID] = d
		if others(d.EntraID) {
			deferred = append(deferred, d)
		}
	}
	for i := range p.Deferred {
		ch := &p.Deferred[i]
		d := ch.Deferral
		s := state.Deferred{EntraID: ch.EntraID, UPN: ch.UPN, GoToKey: ch.GoToKey, Email: ch.Email(), Kind: ch.Kind, Cause: string(d.Cause),
			Reason: d.Reason, Until: d.Until, Attempts: d.Attempts, LastError: d.LastError, Since: now, License: d.License}
		if b, ok := before[ch.EntraID]; ok && b.Reason == s.Reason && b.Kind == s.Kind {
			s.Since = b.Since
		} else {
			a := c.audit(ch, state.ResultDeferred, "")
			a.Reason = deferralText(d)
			outs = append(outs, state.Outcome{EntraID: ch.EntraID, Audit: a})
		}
		c.log.Debug("deferred", append(c.attrs(ch, ch.GoToKey), logkey.Reason, deferralText(d))...)
		deferred = append(deferred, s)
	}
	if len(outs) > 0 {
		if err := c.e.Store.Commit(outs...); err != nil {
			return err
		}
		c.committed(outs)
	}
	// Each list is written only when it changed: a cycle that changed
	// nothing writes no transaction for them (each costs the file's syncs).
	if !maps.Equal(prev, cur) {
		if err := c.e.Store.SetSkips(cur); err != nil {
			return err
		}
	}
	if !slices.EqualFunc(prevStaged, staged, sameStaged) {
		if err := c.e.Store.SetStaged(staged); err != nil {
			return err
		}
	}
	if !slices.Equal(prevDeferred, deferred) {
		if err := c.e.Store.SetDeferred(deferred); err != nil {
			return err
		}
	}
	return c.e.Store.ForgetApprovals(p.StaleApprovals)
}

// deferralText says why one change waits and until when.
func deferralText(d *plan.Deferral) string {
	s := d.Reason
	if !d.Until.IsZero() {
		s += "; next try after " + d.Until.UTC().Format(time.RFC3339)
	}
	if d.Attempts > 0 {
		s += fmt.Sprintf("; %d failed attempts, last: %s", d.Attempts, d.LastError)
	}
	return s
}

// problems groups the deferred and failed changes by kind and cause, so a
// summary states each cause once and then names the people.
func (c *cycle) problems(p *plan.Plan) []state.Problem {
	type key struct{ result, action, cause, reason string }
	var out []state.Problem
	index := map[key]int{}
	add := func(k key, person string) {
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, state.Problem{Result: k.result, Action: k.action, Cause: k.cause, Reason: k.reason, People: []string{}})
		}
		out[i].Count++
		if len(out[i].People) < problemPeople {
			out[i].People = append(out[i].People, person)
		}
	}
	for i := range p.Deferred {
		ch := &p.Deferred[i]
		add(key{state.ResultDeferred, string(ch.Kind), string(ch.Deferral.Cause), ch.Deferral.Reason}, firstNonEmpty(ch.Email(), ch.UPN, ch.EntraID))
	}
	for _, e := range c.res.Errors {
		reason := e.Class.Hint
		if reason == "" {
			reason = "GoTo refused the change (" + string(e.Class.Cause) + ")"
		}
		add(key{state.ResultFailure, string(e.Op), string(e.Class.Cause), reason}, firstNonEmpty(e.Email, e.UPN, e.EntraID))
	}
	return out
}

// sameStaged compares two staged rows by value: the gate each records is
// a pointer, new with every plan and every read of the file.
func sameStaged(a, b state.Staged) bool {
	ga, gb := a.Gate, b.Gate
	a.Gate, b.Gate = nil, nil
	return a == b && (ga == gb || (ga != nil && gb != nil && *ga == *gb))
}
