package plan

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// drawHistory turns a world into a full planner input: what GoTo holds now
// for some owned accounts (SUPER_USER granted out of band, deleted, renamed),
// licence seats, earlier failures of the changes a first plan would make,
// and approvals, some of them of changes that have since changed.
func drawHistory(t *rapid.T, w world) Input {
	in := w.input()
	in.Now = t0
	in.Policy.MaxDisables = rapid.IntRange(-1, 3).Draw(t, "maxDisables")
	in.Observed = map[string]*Remote{}
	for _, r := range w.records {
		switch rapid.IntRange(0, 4).Draw(t, "observed") {
		case 0:
			in.Observed[r.GoToKey] = nil
		case 1:
			in.Observed[r.GoToKey] = &Remote{Key: r.GoToKey, Profile: r.Profile, Licenses: r.Licenses, AdminRoles: []string{"SUPER_USER"}}
		case 2:
			in.Observed[r.GoToKey] = &Remote{Key: r.GoToKey, Profile: Profile{Email: "other@x.com"}, Licenses: r.Licenses}
		}
	}
	if rapid.Bool().Draw(t, "licences") {
		for _, k := range licencePool {
			n := rapid.IntRange(0, 4).Draw(t, "seats")
			in.Licenses = append(in.Licenses, License{Key: k, Seats: n, Used: rapid.IntRange(0, n).Draw(t, "used")})
		}
	}
	first := Compute(in)
	in.Approvals = map[string]string{}
	for _, c := range slices.Concat(first.Changes, first.Staged, first.Deferred) {
		switch rapid.IntRange(0, 5).Draw(t, "history") {
		case 0:
			in.Failures = append(in.Failures, Failure{EntraID: c.EntraID, Fingerprint: c.Fingerprint(), Count: 1,
				NextAttempt: t0.Add(time.Duration(rapid.IntRange(-30, 30).Draw(t, "next")) * time.Minute),
				Cause:       rapid.SampledFrom([]Cause{CauseOther, CauseSeats, CauseConflict}).Draw(t, "cause")})
		case 1:
			in.Failures = append(in.Failures, Failure{EntraID: c.EntraID, Fingerprint: c.Fingerprint(), Count: 5, Quarantined: true})
		case 2:
			in.Approvals[c.EntraID] = c.Fingerprint()
		case 3:
			in.Approvals[c.EntraID] = "disable|some-other-account|l=|r="
		}
	}
	return in
}

func TestPropertyRulesHoldOnAnyHistory(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := drawHistory(t, drawWorld(t))
		p := Compute(in)
		if p.Abort != "" {
			return
		}
		// One decision per person.
		seen := map[string]string{}
		for list, cs := range map[string][]Change{"change": p.Changes, "staged": p.Staged, "deferred": p.Deferred} {
			for _, c := range cs {
				if prev, ok := seen[c.EntraID]; ok {
					t.Fatalf("%s is both %s and %s", c.EntraID, prev, list)
				}
				seen[c.EntraID] = list
			}
		}
		failures := map[string]Failure{}
		for _, f := range in.Failures {
			failures[f.EntraID] = f
		}
		for _, c := range p.Changes {
			// An approval releases only the very change approved.
			if c.Approved && in.Approvals[c.EntraID] != c.Fingerprint() {
				t.Fatalf("%s of %s released by an approval of another change", c.Kind, c.EntraID)
			}
			// Nothing waiting for its back-off is tried.
			if f, ok := failures[c.EntraID]; ok && f.Fingerprint == c.Fingerprint() &&
				(f.Quarantined || (f.Cause == CauseOther && in.Now.Before(f.NextAttempt))) {
				t.Fatalf("%s of %s tried before its next attempt (%+v)", c.Kind, c.EntraID, f)
			}
			// No super user GoTo reports is deprovisioned.
			if o := in.Observed[c.GoToKey]; c.Kind.Deprovisions() && o != nil && slices.Contains(o.AdminRoles, "SUPER_USER") && !in.Policy.DisableSuperUsers {
				t.Fatalf("%s of %s, which holds SUPER_USER in GoTo", c.Kind, c.EntraID)
			}
			// An account whose GoTo address is not the one recorded is not deprovisioned.
			if o := in.Observed[c.GoToKey]; c.Kind.Deprovisions() && o != nil && o.Profile.Email == "other@x.com" {
				t.Fatalf("%s of %s, whose GoTo address changed", c.Kind, c.EntraID)
			}
		}
		// Applied in order, the plan never takes a seat a licence does not have.
		if in.Licenses != nil {
			used, seats := map[string]int{}, map[string]int{}
			for _, l := range in.Licenses {
				used[l.Key], seats[l.Key] = l.Used, l.Seats
			}
			for _, c := range p.Changes {
				if c.Licenses == nil {
					continue
				}
				for _, k := range added(c.Licenses.Old, c.Licenses.New) {
					if used[k]++; used[k] > seats[k] {
						t.Fatalf("%s of %s takes seat %d of licence %s, which has %d", c.Kind, c.EntraID, used[k], k, seats[k])
					}
				}
				for _, k := range added(c.Licenses.New, c.Licenses.Old) {
					if _, ok := used[k]; ok {
						used[k]--
					}
				}
			}
		}
	})
}

// TestPropertyNeedCoversThePlan: whatever Need did not ask for, the plan
// does not depend on. Reading exactly what it asks for gives a plan whose
// disables were all observed and whose licence additions were seat-checked.
func TestPropertyNeedCoversThePlan(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := drawWorld(t)
		in := w.input()
		in.Policy.Mode = rapid.SampledFrom([]Mode{ModeSync, ModeCreateUpdate, ModeCreateOnly}).Draw(t, "mode")
		need := Need(in)
		in.Observed = map[string]*Remote{}
		for _, k := range need.Live {
			for i := range w.remotes {
				if w.remotes[i].Key == k {
					in.Observed[k] = &w.remotes[i]
				}
			}
		}
		looked := map[string]bool{}
		for _, e := range need.Lookups {
			looked[fold(e)] = true
		}
		p := Compute(in)
		for _, c := range slices.Concat(p.Changes, p.Staged) {
			if c.Kind.Deprovisions() {
				if _, ok := in.Observed[c.GoToKey]; !ok {
					t.Fatalf("%s of %s without reading account %s first", c.Kind, c.EntraID, c.GoToKey)
				}
			}
			if c.Licenses != nil && len(added(c.Licenses.Old, c.Licenses.New)) > 0 && !need.Licenses {
				t.Fatalf("%s of %s adds a licence, but Need did not ask for seats", c.Kind, c.EntraID)
			}
			if c.Kind == KindAdopt && !looked[fold(c.Remote.Profile.Email)] {
				t.Fatalf("adoption of %s by an address Need did not look up", c.GoToKey)
			}
		}
	})
}

// An on-demand plan (Input.Only) touches no one else: every change, skip,
// staged or deferred change and dropped approval is of a person named; a
// named person is never held by back-off; applied, it converges for them;
// and it makes for each person the change a full plan would make, unless
// the full plan had to skip them for an address that someone not named
// was about to take or give up.
func TestPropertyOnDemandTouchesOnlyThePeopleNamed(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := drawWorld(t)
		in := drawHistory(t, w)
		ids := map[string]bool{}
		for _, a := range in.Accounts {
			ids[a.EntraID] = true
		}
		for _, r := range in.Records {
			ids[r.EntraID] = true
		}
		all := slices.Sorted(maps.Keys(ids))
		in.Only = map[string]bool{}
		for _, id := range all {
			if rapid.IntRange(0, 2).Draw(t, "named") == 0 {
				in.Only[id] = true
			}
		}
		p := Compute(in)
		for _, list := range [][]Change{p.Changes, p.Skips, p.Staged, p.Deferred} {
			for _, c := range list {
				if !in.Only[c.EntraID] {
					t.Fatalf("on-demand plan of %v has a %s for %s", in.Only, c.Kind, c.EntraID)
				}
			}
		}
		for _, id := range p.StaleApprovals {
			if !in.Only[id] {
				t.Fatalf("on-demand plan drops the approval of %s, who was not named", id)
			}
		}
		for _, c := range p.Deferred {
			if c.Deferral.Cause == CauseBackoff || c.Deferral.Cause == CauseQuarantine {
				t.Fatalf("%s was named, yet its %s waits: %s", c.EntraID, c.Kind, c.Deferral.Reason)
			}
		}

		// Against a full plan of the same world without history.
		w.policy = in.Policy
		fullIn := w.input()
		fullIn.AllowDisables = true
		full := Compute(fullIn)
		onIn := fullIn
		onIn.Only = in.Only
		on := Compute(onIn)
		if full.Abort != "" || on.Abort != "" {
			return
		}
		fullOf := map[string]Change{}
		for _, c := range slices.Concat(full.Changes, full.Skips) {
			fullOf[c.EntraID] = c
		}
		for _, c := range on.Changes {
			f, ok := fullOf[c.EntraID]
			switch {
			case ok && f.Kind == c.Kind && f.Fingerprint() == c.Fingerprint():
			case ok && f.Kind == KindSkip && strings.Contains(f.Reason, "email"):
			default:
				t.Fatalf("on demand %s gets %s (%s); a full plan: %+v", c.EntraID, c.Kind, c.Reason, f)
			}
		}
		onDemand := func(w world) Input {
			i := w.input()
			i.Policy, i.Only, i.AllowDisables = fullIn.Policy, in.Only, true
			return i
		}
		w = w.apply(on)
		again := Compute(onDemand(w))
		if retriesUnique(on, again) {
			again = Compute(onDemand(w.apply(again)))
		}
		if len(again.Changes) != 0 {
			t.Fatalf("after applying the on-demand plan, it plans again: %v", kinds(again))
		}
	})
}

// A join made once for Need serves Compute when GoTo gave nothing: the
// plan is the one Compute makes afresh, Need's answer is Need's, and Need
// leaves the join as it found it. When GoTo gave something, Compute
// plans afresh.
func TestPropertyJoinedComputesWhatComputeDoes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := drawHistory(t, drawWorld(t))
		in.Policy.Mode = rapid.SampledFrom([]Mode{ModeSync, ModeCreateOnly, ModeAdoptOnly}).Draw(t, "mode")
		if rapid.Bool().Draw(t, "onDemand") {
			in.Only = map[string]bool{}
			for _, a := range in.Accounts {
				if rapid.Bool().Draw(t, "only") {
					in.Only[a.EntraID] = true
				}
			}
		}
		withGoTo := in
		in.Remotes, in.Observed, in.Licenses = nil, nil, nil
		j := Join(in)
		if d := cmp.Diff(Need(in), j.Need()); d != "" {
			t.Fatalf("Need from the join (-alone +joined):\n%s", d)
		}
		if d := cmp.Diff(Compute(in), j.Compute(in)); d != "" {
			t.Fatalf("Compute from the join that Need used (-alone +joined):\n%s", d)
		}
		j = Join(withGoTo)
		j.Need()
		if d := cmp.Diff(Compute(withGoTo), j.Compute(withGoTo)); d != "" {
			t.Fatalf("Compute with what GoTo gave (-alone +joined):\n%s", d)
		}
	})
}
