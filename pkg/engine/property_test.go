package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// faults are the errors a random fault schedule draws from: some concern
// one person, some GoTo as a whole, one stops the cycle.
var faults = []error{
	fmt.Errorf("goto: 409 user.email.exists: %w", gotomeeting.ErrConflict),
	fmt.Errorf("goto: 503: %w", gotomeeting.ErrUnavailable),
	fmt.Errorf("goto: 400 seats.exceeded: %w", gotomeeting.ErrSeatsExhausted),
	fmt.Errorf("goto: 403: %w", gotomeeting.ErrForbidden),
	fmt.Errorf("goto: 400 invalid.request"),
	fmt.Errorf("goto: 401: %w", gotomeeting.ErrUnauthorized),
}

// drawFaults makes a random share of the GoTo accounts and directory
// addresses fail their writes.
func drawFaults(t *rapid.T, h *harness, label string) {
	clear(h.target.fail)
	var targets []string
	for k, u := range h.target.users {
		targets = append(targets, k, strings.ToLower(u.Email))
	}
	for _, u := range h.src.snap.Users {
		targets = append(targets, strings.ToLower(u.Attributes["mail"]))
	}
	slices.Sort(targets) // maps iterate at random; draws must not
	for _, k := range targets {
		if rapid.IntRange(0, 9).Draw(t, label) < 2 {
			h.target.fail[k] = rapid.SampledFrom(faults).Draw(t, label+"-err")
		}
	}
}

// sortedUsers returns the GoTo accounts in key order, for drawing.
func sortedUsers(h *harness) []*gotomeeting.User {
	var us []*gotomeeting.User
	for _, u := range h.target.users {
		us = append(us, u)
	}
	slices.SortFunc(us, func(a, b *gotomeeting.User) int { return strings.Compare(a.Key, b.Key) })
	return us
}

// drawWorld builds a provisioned world with history: a first cycle under a
// random fault schedule (failures, back-off, quarantine, interrupted
// creates), perhaps an approval, then directory and GoTo changes made
// since, some of them behind g2msync's back.
func drawWorld(t *rapid.T, h *harness) {
	n := rapid.IntRange(1, 12).Draw(t, "people")
	for i := range n {
		h.src.add(fmt.Sprintf("u%04d", i), fmt.Sprintf("user%04d@contoso.com", i))
	}
	h.policy.Mode = rapid.SampledFrom([]plan.Mode{plan.ModeSync, plan.ModeSync, plan.ModeCreateUpdate, plan.ModeCreateOnly}).Draw(t, "mode")
	if rapid.IntRange(0, 4).Draw(t, "delete") == 0 {
		h.policy.Deprovision = plan.DeprovisionDelete
	}
	h.policy.MaxDisables = rapid.IntRange(-1, 3).Draw(t, "maxDisables")
	h.policy.MaxDisablesPercent = 100
	h.policy.Retry = plan.RetryPolicy{QuarantineAfter: rapid.IntRange(1, 3).Draw(t, "quarantineAfter")}
	h.policy.Drift = rapid.SampledFrom([]plan.DriftPolicy{plan.DriftRepair, plan.DriftReport}).Draw(t, "drift")
	h.target.seats["1001"] = rapid.IntRange(0, n+2).Draw(t, "seats")
	for i := range n { // accounts that exist before g2msync: adopted
		if rapid.IntRange(0, 3).Draw(t, "preexisting") == 0 {
			key := fmt.Sprintf("9%03d", i)
			h.target.users[key] = &gotomeeting.User{Key: key, Email: fmt.Sprintf("USER%04d@contoso.com", i), FirstName: "Old", LastName: "Name"}
		}
	}
	drawFaults(t, h, "firstFaults")
	_, _ = h.run(Options{InitialSync: true})
	if rapid.Bool().Draw(t, "approve") {
		st, err := state.Open(h.path, state.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = approveAll(st)
		st.Close()
	}
	drawInterrupted(t, h, n)
	// Since then: leavers, renames, edits, new hires...
	for i := range n {
		id := fmt.Sprintf("u%04d", i)
		switch rapid.IntRange(0, 5).Draw(t, "change") {
		case 0:
			h.src.remove(id)
		case 1:
			h.src.edit(id, func(u *directory.User) { u.Attributes["mail"] = fmt.Sprintf("renamed%04d@contoso.com", i) })
		case 2:
			h.src.edit(id, func(u *directory.User) { u.Attributes["surname"] = "Edited" })
		case 3:
			h.src.edit(id, func(u *directory.User) { u.AccountEnabled = false })
		}
	}
	for i := range rapid.IntRange(0, 3).Draw(t, "hires") {
		h.src.add(fmt.Sprintf("h%04d", i), fmt.Sprintf("hire%04d@contoso.com", i))
	}
	// ... and GoTo edited by hand: super users granted, accounts deleted,
	// licences added or removed, names edited, an unmanaged account holding
	// a new hire's address.
	for _, u := range sortedUsers(h) {
		switch rapid.IntRange(0, 9).Draw(t, "gotoEdit") {
		case 0:
			u.AdminRoles = append(u.AdminRoles, gotomeeting.RoleSuperUser)
		case 1:
			delete(h.target.users, u.Key)
		case 2:
			u.Licenses = append(slices.Clone(u.Licenses), "2002")
		case 3:
			u.Licenses = nil
		case 4:
			u.LastName = "Edited in GoTo"
		}
	}
	if rapid.Bool().Draw(t, "squatter") {
		h.target.users["8000"] = &gotomeeting.User{Key: "8000", Email: "renamed0000@contoso.com"}
	}
	h.target.seats["1001"] = rapid.IntRange(0, n+3).Draw(t, "seatsNow")
	h.target.seats["2002"] = 5
	h.now = h.now.Add(time.Duration(rapid.IntRange(0, 120).Draw(t, "minutes")) * time.Minute)
}

// expectedCalls are the writes a plan asks for, in its order: the creates
// that stand side by side with the same lists share one bulk call.
func expectedCalls(p *plan.Plan, batch int) []string {
	var out []string
	cs := p.Changes
	for i := 0; i < len(cs); {
		ch := &cs[i]
		switch {
		case ch.Kind == plan.KindCreate:
			var emails []string
			j := i
			for j < len(cs) && j-i < batch && cs[j].Kind == plan.KindCreate && plan.SameLists(ch, &cs[j]) {
				emails = append(emails, cs[j].Profile.Email)
				j++
			}
			out = append(out, "create:"+strings.Join(emails, ","))
			i = j
			continue
		case !ch.Writes():
		case ch.Kind == plan.KindDelete:
			out = append(out, "delete:"+ch.GoToKey)
		default:
			out = append(out, "update:"+ch.GoToKey)
		}
		i++
	}
	return out
}

// attempts turns write calls into the people they attempt, in order, each
// once: a bulk create GoTo refuses is sent again in halves, so that only the
// people it concerns fail, and those calls attempt the same people again.
func attempts(calls []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, call := range calls {
		op, detail, _ := strings.Cut(call, ":")
		if op != "create" {
			out = append(out, call)
			continue
		}
		for _, e := range strings.Split(detail, ",") {
			if !seen[e] {
				seen[e] = true
				out = append(out, "create:"+e)
			}
		}
	}
	return out
}

func isWrite(call string) bool {
	op, _, _ := strings.Cut(call, ":")
	return op == "create" || op == "update" || op == "delete"
}

// TestPropertyPlanIsWhatTheRunAttempts checks the promise of `g2msync plan`:
// the changes it prints are exactly the calls the next `run --once` makes,
// in the same order, whatever GoTo then answers; and the run reads exactly
// what the plan read, all of it before its first write.
func TestPropertyPlanIsWhatTheRunAttempts(t *testing.T) { planIsWhatTheRunAttempts(t, 0) }

// With changes in flight together the same holds, but for the order of the
// calls sent together, and a stop leaves some of them out, not a suffix.
func TestPropertyPlanIsWhatAConcurrentRunAttempts(t *testing.T) { planIsWhatTheRunAttempts(t, 4) }

func planIsWhatTheRunAttempts(t *testing.T, inFlight int) {
	recovered := 0 // worlds whose plan recorded interrupted changes
	drifted := 0   // worlds whose reconcile found drift
	defer func() {
		// About a quarter of the worlds do; none would mean the property
		// no longer covers recovery.
		t.Logf("%d worlds settled interrupted changes, %d reconciled drift", recovered, drifted)
		if recovered == 0 && !t.Failed() {
			t.Error("no world settled an interrupted change: drawInterrupted no longer reaches the plan")
		}
		if drifted == 0 && !t.Failed() {
			t.Error("no reconcile found drift: the property no longer covers reconciles")
		}
	}()
	rapid.Check(t, func(rt *rapid.T) {
		h := newHarness(t, 0)
		h.inFlight = inFlight
		drawWorld(rt, h)
		opts := Options{AllowDisables: rapid.Bool().Draw(rt, "allowDisables")}
		switch rapid.IntRange(0, 2).Draw(rt, "cycle") {
		case 1:
			opts.InitialSync = true
		case 2:
			opts.Reconcile = true
		}
		now := h.now

		h.target.reset()
		dry := opts
		dry.DryRun = true
		planned, err := h.run(dry)
		h.now = now // the run comes at the same moment
		if err != nil && planned.Plan == nil {
			return // the world aborts before planning (no one in scope): nothing to compare
		}
		want := expectedCalls(planned.Plan, 100)
		planReads := slices.Clone(h.target.log)
		if slices.ContainsFunc(planReads, isWrite) {
			rt.Fatalf("the dry run wrote: %v", planReads)
		}

		drawFaults(rt, h, "faults")
		h.target.reset()
		res, runErr := h.run(opts)
		if d := cmp.Diff(planned.Plan, res.Plan); d != "" {
			rt.Fatalf("the run computed another plan than `plan` printed (-plan +run):\n%s", d)
		}
		if len(res.Plan.Recovered) > 0 && res.Plan.Abort == "" {
			recovered++
			checkRecovered(rt, h, res.Plan)
		}
		if len(res.Plan.Drift) > 0 {
			drifted++
			checkDrift(rt, h.policy.Drift, res.Plan)
		}
		log := h.target.log
		first := slices.IndexFunc(log, isWrite)
		if first < 0 {
			first = len(log)
		}
		// The same reads, in any order: the licences are read while the
		// accounts are.
		if d := cmp.Diff(planReads, log[:first], cmpopts.EquateEmpty(), cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
			rt.Fatalf("the run read other things than the plan did (-plan +run):\n%s", d)
		}
		got := log[first:]
		if slices.ContainsFunc(got, func(c string) bool { return !isWrite(c) }) {
			rt.Fatalf("a GoTo read after the plan was computed: %v", got)
		}
		wantAttempts, gotAttempts := attempts(want), attempts(got)
		var stop errOutage
		stopped := runErr != nil && errors.As(runErr, &stop)
		if inFlight > 1 {
			slices.Sort(wantAttempts)
			slices.Sort(gotAttempts)
			if stopped {
				// Stopped early: each call made is one the plan asked for.
				left := slices.Clone(wantAttempts)
				for _, a := range gotAttempts {
					i := slices.Index(left, a)
					if i < 0 {
						rt.Fatalf("the stopped run made a call the plan did not ask for: %s", a)
					}
					left = slices.Delete(left, i, i+1)
				}
				return
			}
		}
		if stopped {
			wantAttempts = wantAttempts[:min(len(wantAttempts), len(gotAttempts))] // stopped early: a prefix
		} else if len(got) < len(want) {
			rt.Fatalf("%d write calls for the plan's %d", len(got), len(want))
		}
		if d := cmp.Diff(wantAttempts, gotAttempts, cmpopts.EquateEmpty()); d != "" {
			rt.Fatalf("the run's calls differ from the plan's changes (-plan +run), run error %v:\n%s", runErr, d)
		}
	})
}

// checkDrift checks that a reconcile under goto.drift: report applies no
// change to an account it found drifted, and that under repair each repair
// is not held (it may still wait for seats, a back-off or approval).
func checkDrift(rt *rapid.T, policy plan.DriftPolicy, p *plan.Plan) {
	for _, d := range p.Drift {
		in := slices.ContainsFunc(p.Changes, func(ch plan.Change) bool { return ch.EntraID == d.EntraID })
		if d.Held != (policy == plan.DriftReport) || (in && d.Held) {
			rt.Fatalf("drift of %s under %s: held %v, in the changes %v", d.EntraID, policy, d.Held, in)
		}
	}
}

// checkRecovered checks that what the plan recorded of interrupted changes
// is what the state file holds after the run: the created or disabled
// account is owned under its key, a deleted one is no longer owned.
func checkRecovered(rt *rapid.T, h *harness, p *plan.Plan) {
	st, err := state.Open(h.path, state.Options{ReadOnly: true})
	if err != nil {
		rt.Fatal(err)
	}
	defer st.Close()
	recs, err := st.Records()
	if err != nil {
		rt.Fatal(err)
	}
	for _, c := range p.Recovered {
		// The run may then change the same account: a recovered create
		// deleted as its person left, a recovered delete followed by a create.
		if slices.ContainsFunc(p.Changes, func(ch plan.Change) bool { return ch.EntraID == c.EntraID && ch.Writes() }) {
			continue
		}
		i := slices.IndexFunc(recs, func(r plan.Record) bool { return r.GoToKey == c.GoToKey })
		switch {
		case c.Recovery.Record == nil && i >= 0:
			rt.Fatalf("the plan recorded the delete of %s (%s), the state file still owns it", c.EntraID, c.GoToKey)
		case c.Recovery.Record != nil && (i < 0 || recs[i].EntraID != c.EntraID):
			rt.Fatalf("the plan recorded the %s of %s (%s), the state file does not own it for them", c.Kind, c.EntraID, c.GoToKey)
		}
	}
}

// drawInterrupted leaves intents as a process killed mid-call would: a
// create, disable or delete whose call went through (GoTo shows it) or not,
// and whose outcome was never committed.
func drawInterrupted(t *rapid.T, h *harness, n int) {
	st, err := state.Open(h.path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, err := st.Records()
	if err != nil {
		t.Fatal(err)
	}
	var intents []state.Intent
	for i := range n {
		if rapid.IntRange(0, 3).Draw(t, "interrupted") != 0 {
			continue
		}
		id, email := fmt.Sprintf("u%04d", i), fmt.Sprintf("user%04d@contoso.com", i)
		went := rapid.Bool().Draw(t, "wentThrough")
		j := slices.IndexFunc(recs, func(r plan.Record) bool { return r.EntraID == id })
		switch {
		case j < 0:
			if h.target.byEmail(email) != nil {
				continue
			}
			if went {
				_, _ = h.target.CreateUsers(context.Background(), gotomeeting.CreateRequest{
					Users: []gotomeeting.NewUser{{Email: email, FirstName: "G" + id, LastName: "S"}}, LicenseKeys: []string{"1001"}})
			}
			intents = append(intents, state.Intent{EntraID: id, Email: email, Kind: plan.KindCreate, CycleID: "killed"})
		case recs[j].State == plan.StateActive && h.target.users[recs[j].GoToKey] != nil:
			r, u := recs[j], h.target.users[recs[j].GoToKey]
			kind := rapid.SampledFrom([]plan.Kind{plan.KindDisable, plan.KindDelete}).Draw(t, "interruptedKind")
			if went && kind == plan.KindDisable {
				u.Licenses, u.AdminRoles = nil, nil
			} else if went {
				delete(h.target.users, r.GoToKey)
			}
			intents = append(intents, state.Intent{EntraID: id, Email: r.Profile.Email, GoToKey: r.GoToKey, Kind: kind, CycleID: "killed",
				Licenses: r.Licenses, AdminRoles: r.AdminRoles})
		}
	}
	if err := st.WriteIntents(intents); err != nil {
		t.Fatal(err)
	}
}
