package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// RetryPolicy says when a failed change is tried again. After the nth
// failure in a row of the same change, the next try waits Base·2^(n-1), at
// most Max; after QuarantineAfter failures the person is quarantined until
// the change differs (the directory moved on) or someone runs `g2msync retry`.
type RetryPolicy struct {
	Base            time.Duration // 0: 10 minutes
	Max             time.Duration // 0: 24 hours
	QuarantineAfter int           // 0: 5; negative: never
}

// Delay returns the wait after the nth failure in a row.
func (r RetryPolicy) Delay(n int) time.Duration {
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

// Failed returns what to remember after ch failed at now with the given
// cause: prev counts on when it was the same change, and a failure that
// concerns this person (quarantinable: not an outage, not throttling, not a
// cause the next cycle observes itself) repeated often enough quarantines
// them. An outage of a few hours must not quarantine whoever stood first.
func (r RetryPolicy) Failed(prev *Failure, ch *Change, cause Cause, quarantinable bool, now time.Time, errText string) Failure {
	f := Failure{EntraID: ch.EntraID, Fingerprint: ch.Fingerprint(), Cause: cause, Count: 1, FirstAt: now, LastError: errText}
	if prev != nil && prev.Fingerprint == f.Fingerprint {
		f.Count, f.FirstAt = prev.Count+1, prev.FirstAt
	}
	f.NextAttempt = now.Add(r.Delay(f.Count))
	if q := r.quarantineAfter(); q > 0 && f.Count >= q && quarantinable && cause == CauseOther {
		f.Quarantined = true
	}
	return f
}

// Deferral reasons, one sentence per cause, so that a summary can group the
// people who wait for the same thing.
const (
	reasonBackoff    = "failed before; waiting for its next try"
	reasonQuarantine = "quarantined after repeated failures; `g2msync retry <user>` releases it once the cause is fixed"
)

// backOff moves to deferred the changes whose very same change failed
// before and is not due again: quarantined, or inside its back-off. A
// failure whose cause the next cycle observes itself is not waited for:
// seats are read, and a refused address is looked up, every cycle.
func (c *computer) backOff(changes []Change) (kept, deferred []Change) {
	if c.failures == nil {
		return changes, nil
	}
	kept = changes[:0]
	for _, ch := range changes {
		if d := c.waiting(&ch); d != nil {
			ch.Deferral = d
			deferred = append(deferred, ch)
			continue
		}
		kept = append(kept, ch)
	}
	return kept, deferred
}

func (c *computer) waiting(ch *Change) *Deferral {
	f := c.failures[ch.EntraID]
	if f == nil || f.Fingerprint != ch.Fingerprint() || c.in.Only[ch.EntraID] {
		return nil
	}
	switch {
	case f.Cause == CauseSeats || f.Cause == CauseConflict:
		return nil // observed this cycle: tried as soon as the cause is gone
	case f.Quarantined:
		return &Deferral{Cause: CauseQuarantine, Reason: reasonQuarantine, Attempts: f.Count, LastError: f.LastError}
	case c.in.Now.Before(f.NextAttempt):
		return &Deferral{Cause: CauseBackoff, Reason: reasonBackoff, Until: f.NextAttempt, Attempts: f.Count, LastError: f.LastError}
	}
	return nil
}

// staleApprovals returns the people whose approval does not match the
// disable or delete now planned for them: it was for another change, so it
// must not carry over to this one or to a later one.
func staleApprovals(approvals map[string]string, changes []Change, only map[string]bool) []string {
	if len(approvals) == 0 {
		return nil
	}
	planned := map[string]string{}
	for i := range changes {
		if ch := &changes[i]; ch.Kind.Deprovisions() {
			if _, ok := approvals[ch.EntraID]; ok {
				planned[ch.EntraID] = ch.Fingerprint()
			}
		}
	}
	var out []string
	for id, fp := range approvals {
		if only != nil && !only[id] {
			continue // not planned for at all: an on-demand plan of others
		}
		if planned[id] != fp {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// trimMissing checks, when the licences were read, every licence a change
// adds. One the configuration gives that the GoTo account does not have is
// a configuration error that concerns everyone: it aborts the plan (its
// reason is returned). An unmanaged licence that no longer exists (a
// re-enable giving back what a disable took) is left out of the change.
// It runs before back-off, so a failure is remembered against the change
// as it is really sent.
func (c *computer) trimMissing(changes []Change) string {
	if c.in.Licenses == nil {
		return ""
	}
	exists := make(map[string]bool, len(c.in.Licenses))
	for _, l := range c.in.Licenses {
		exists[l.Key] = true
	}
	for i := range changes {
		ch := &changes[i]
		if ch.Licenses == nil {
			continue
		}
		var missing []string
		for _, k := range added(ch.Licenses.Old, ch.Licenses.New) {
			switch {
			case exists[k]:
			case slices.Contains(c.in.Policy.ManagedLicenses, k):
				return fmt.Sprintf("licence %s, which the configuration's roles give, does not exist in the GoTo account; "+
					"fix the licence keys under roles (`g2msync check` lists the account's licences); nothing was changed", k)
			default:
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			l := *ch.Licenses
			l.New = slices.DeleteFunc(slices.Clone(l.New), func(k string) bool { return slices.Contains(missing, k) })
			ch.Licenses = &l
		}
	}
	return ""
}

// seats defers, in apply order, each change that adds a licence with no
// free seat left once the changes before it are applied: disables first
// give theirs back.
func (c *computer) seats(p *Plan) {
	if c.in.Licenses == nil {
		return
	}
	seats, used := map[string]int{}, map[string]int{}
	for _, l := range c.in.Licenses {
		seats[l.Key], used[l.Key] = l.Seats, l.Used
	}
	kept := p.Changes[:0]
	for _, ch := range p.Changes {
		if ch.Licenses == nil {
			kept = append(kept, ch)
			continue
		}
		add := added(ch.Licenses.Old, ch.Licenses.New)
		full, lic := "", ""
		for _, k := range add {
			if n, ok := seats[k]; ok && full == "" && used[k] >= n {
				full, lic = fmt.Sprintf("licence %s has no free seat (%d of %d used); add seats in GoTo Admin or free some", k, used[k], n), k
			}
		}
		if full != "" {
			ch.Deferral = &Deferral{Cause: CauseSeats, Reason: full, License: lic}
			p.Deferred = append(p.Deferred, ch)
			continue
		}
		for _, k := range add {
			used[k]++
		}
		for _, k := range added(ch.Licenses.New, ch.Licenses.Old) {
			if _, ok := used[k]; ok {
				used[k]--
			}
		}
		kept = append(kept, ch)
	}
	p.Changes = kept
}

// added returns the items of want that old lacks.
func added(old, want []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(old, w) {
			out = append(out, w)
		}
	}
	return out
}

// sortCreates orders the creates (the tail of changes) by the licences and
// roles they give, then by Entra id, so that the people one bulk call can
// create together stand side by side and the engine's batches follow the
// plan's order exactly.
func sortCreates(changes []Change) {
	i := len(changes)
	for i > 0 && changes[i-1].Kind == KindCreate {
		i--
	}
	creates := changes[i:]
	if len(creates) < 2 {
		return
	}
	same := true
	for j := 1; j < len(creates) && same; j++ {
		same = SameLists(&creates[0], &creates[j])
	}
	if same {
		return
	}
	slices.SortStableFunc(creates, func(a, b Change) int {
		if d := strings.Compare(listKeyOf(a.Licenses), listKeyOf(b.Licenses)); d != 0 {
			return d
		}
		return strings.Compare(listKeyOf(a.AdminRoles), listKeyOf(b.AdminRoles))
	})
}

// SameLists reports whether two changes give the same licences and admin
// roles, so one bulk create can carry both.
func SameLists(a, b *Change) bool {
	return (a.Licenses == b.Licenses || slices.Equal(listNew(a.Licenses), listNew(b.Licenses))) &&
		(a.AdminRoles == b.AdminRoles || slices.Equal(listNew(a.AdminRoles), listNew(b.AdminRoles)))
}

func listNew(l *ListChange) []string {
	if l == nil {
		return nil
	}
	return l.New
}

func listKeyOf(l *ListChange) string { return strings.Join(listNew(l), ",") }
