package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/sim/gotosim"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
	"github.com/g2msync/g2msync/pkg/state"
)

// TestEndToEnd runs graphsim + gotosim + the real Graph SDK and GoTo client +
// a real bbolt file through the lifecycle of DESIGN §3, asserting the calls
// GoTo sees: an initial sync of 500 people with 20 accounts that already
// exist (emails in other case), a cycle with no writes, then a rename, an
// unassignment, a reassignment and a new hire, each exactly one call.
func TestEndToEnd(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{
		Groups:       []scenario.GroupSpec{{Name: "Sales", Size: 200}, {Name: "Engineering", Size: 160}, {Name: "Support", Size: 120}},
		DirectAdmins: 20, DefaultAccess: -1, Disabled: -1, PreExisting: 20,
	}, "")
	w, g := tw.w, tw.w.GoTo
	a := tw.app()
	if n := len(w.InScope(false)); n != 500 {
		t.Fatalf("scenario has %d people in scope, want 500", n)
	}
	before := len(g.Users())

	res := tw.mustCycle(a, engine.Options{InitialSync: true})
	if res.Outcome() != engine.OutcomeSuccess || res.Cycle.Applied["adopt"] != 20 || res.Cycle.Applied["create"] != 480 {
		t.Fatalf("initial sync: outcome %s applied %v errors %v", res.Outcome(), res.Cycle.Applied, res.Errors)
	}
	if got := len(g.Users()); got != before+480 {
		t.Errorf("GoTo holds %d users, want %d: adopted accounts must not be duplicated", got, before+480)
	}
	// 460 group members and 20 admins get different licence/role sets: ceil(460/100) + ceil(20/100) posts.
	if got := g.Calls()[gotosim.RouteCreateUsers]; got != 5+1 {
		t.Errorf("create calls = %d, want 6", got)
	}
	if g.Throttled() != 0 {
		t.Errorf("a steady run at the default rate got %d 429s", g.Throttled())
	}
	for _, p := range w.InScope(false) {
		u, ok := g.UserByEmail(p.Mail)
		if !ok || len(u.LicenseKeys) != 1 || u.LicenseKeys[0] != w.LicenseKey {
			t.Fatalf("%s: GoTo account %+v, want one with the licence", p.Mail, u)
		}
	}

	g.ResetCounters()
	res = tw.mustCycle(a, engine.Options{})
	if g.Writes() != 0 || !res.Plan.Empty() {
		t.Fatalf("second cycle: %d writes, plan %v", g.Writes(), res.Plan.Changes)
	}

	step := func(name, route string, change func() error, wantKind plan.Kind) {
		t.Helper()
		if err := change(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		g.ResetCounters()
		res := tw.mustCycle(a, engine.Options{})
		if g.Writes() != 1 || g.Calls()[route] != 1 {
			t.Errorf("%s: GoTo calls %v, want exactly one %s", name, g.Calls(), route)
		}
		if len(res.Plan.Changes) != 1 || res.Plan.Changes[0].Kind != wantKind || res.Outcome() != engine.OutcomeSuccess {
			t.Errorf("%s: plan %v outcome %s, want one %s", name, res.Plan.Changes, res.Outcome(), wantKind)
		}
	}
	var fresh []scenario.Person // created by g2msync, not adopted
	for _, p := range w.InScope(false) {
		if !p.PreExisting && p.Group != "" {
			fresh = append(fresh, p)
		}
	}
	renamed, leaver := fresh[10], fresh[30]
	step("rename", gotosim.RouteUpdateUser, func() error { return w.Rename(renamed.ID, "Haddad") }, plan.KindUpdate)
	if u, ok := g.UserByEmail(w.Person(renamed.ID).Mail); !ok || u.LastName != "Haddad" {
		t.Errorf("renamed account: %+v", u)
	}
	if _, ok := g.UserByEmail(renamed.Mail); ok {
		t.Error("the rename created a second account instead of updating the first")
	}
	step("unassign", gotosim.RouteUpdateUser, func() error { return w.RemoveFromGroup(leaver.ID) }, plan.KindDisable)
	if u, ok := g.UserByEmail(leaver.Mail); !ok || u.Status != "SUSPENDED" || len(u.LicenseKeys) != 0 {
		t.Errorf("unassigned account: %+v, want SUSPENDED without licences", u)
	}
	step("reassign", gotosim.RouteUpdateUser, func() error { return w.ReturnToGroup(leaver.ID) }, plan.KindEnable)
	if u, ok := g.UserByEmail(leaver.Mail); !ok || u.Status == "SUSPENDED" || len(u.LicenseKeys) != 1 {
		t.Errorf("re-enabled account: %+v", u)
	}
	var hire scenario.Person
	step("new hire", gotosim.RouteCreateUsers, func() (err error) { hire, err = w.NewHire("Support"); return err }, plan.KindCreate)
	if _, ok := g.UserByEmail(hire.Mail); !ok {
		t.Errorf("new hire %s not created", hire.Mail)
	}

	var entries []state.AuditEntry
	tw.read(func(st *state.Store) { entries, _ = st.Audit(state.AuditFilter{User: leaver.ID}) })
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action+"/"+e.Result)
	}
	if strings.Join(actions, " ") != "create/success disable/success enable/success" {
		t.Errorf("provisioning log of %s: %v", leaver.Mail, actions)
	}
}

func TestSeatsExhaustedFailsOnlyThosePeople(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 30}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1, Seats: 26}, "")
	a := tw.app()
	res := tw.mustCycle(a, engine.Options{InitialSync: true})
	// The SUPER_USER admin holds one seat: 25 free for 30 people.
	if res.Outcome() != engine.OutcomePartial || res.Cycle.Applied["create"] != 25 || res.Cycle.Failed["create"] != 5 {
		t.Fatalf("outcome %s applied %v failed %v", res.Outcome(), res.Cycle.Applied, res.Cycle.Failed)
	}
	for _, e := range res.Errors {
		if !errors.Is(e, gotomeeting.ErrSeatsExhausted) || !strings.Contains(e.Error(), "has no free seat (26 of 26 used)") {
			t.Errorf("error %v", e)
		}
	}
	if err := exitFor(res, nil); err == nil || tw.m.exit(err) != ExitPartial {
		t.Errorf("exit for a partial cycle: %v", err)
	}
	var fs []state.Failure
	tw.read(func(st *state.Store) { fs, _ = st.Failures() })
	if len(fs) != 5 {
		t.Errorf("%d failing accounts recorded, want 5", len(fs))
	}
}

func TestDryRunAgainstSimulatorsPrintsThePlanAndWritesNothing(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{}, "")
	a := tw.app()
	if err := tw.m.runOnce(context.Background(), a, engine.Options{DryRun: true, InitialSync: true}); err != nil {
		t.Fatal(err)
	}
	out := tw.stdout.String()
	for _, want := range []string{"291 people in scope", "adopt", "create", "Plan: 0 disable, 0 delete, 0 update, 0 enable, 15 adopt, 273 create; 3 left alone"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	if n := tw.w.GoTo.Writes(); n != 0 {
		t.Errorf("dry run made %d GoTo writes", n)
	}
	if recs := tw.records(); len(recs) != 0 {
		t.Errorf("dry run recorded %d accounts", len(recs))
	}
}

func TestRotatedRefreshTokenSurvivesARestart(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 5}}, DirectAdmins: -1, DefaultAccess: -1, Disabled: -1, PreExisting: -1}, "")
	first := tw.w.RefreshToken
	tw.mustCycle(tw.app(), engine.Options{InitialSync: true}) // rotates the configured token
	if tw.w.GoTo.RefreshTokenValid(first) {
		t.Fatal("the simulator did not rotate the refresh token")
	}
	// A new process, still configured with the first token, uses the rotated
	// one from the state file.
	tw.w.GoTo.ResetCounters()
	res := tw.mustCycle(tw.app(), engine.Options{InitialSync: true})
	if res.Outcome() != engine.OutcomeSuccess {
		t.Fatalf("after restart: %s %v", res.Outcome(), res.Cycle.Error)
	}
	for _, tok := range tw.w.GoTo.RejectedRefreshTokens() {
		if tok == first {
			t.Fatal("the restarted process tried the old token: the state file's token must win")
		}
	}
	var tok string
	tw.read(func(st *state.Store) { tok, _ = st.RefreshToken(context.Background()) })
	if tok == "" || tok == first || !tw.w.GoTo.RefreshTokenValid(tok) {
		t.Errorf("stored token valid=%v", tw.w.GoTo.RefreshTokenValid(tok))
	}
}

func TestRevokedRefreshTokenFailsTheCycleAndChangesNothing(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 5}}, DirectAdmins: -1, DefaultAccess: -1, Disabled: -1, PreExisting: -1}, "")
	a := tw.app()
	tw.mustCycle(a, engine.Options{InitialSync: true})
	before := tw.records()
	tw.w.GoTo.RevokeAllGrants()
	if _, err := tw.w.NewHire("Sales"); err != nil {
		t.Fatal(err)
	}
	tw.w.GoTo.ResetCounters()
	_, err := tw.cycle(tw.app(), engine.Options{})
	if err == nil || !strings.Contains(err.Error(), "GoTo rejected the refresh token: run `g2msync login goto`") {
		t.Fatalf("err = %v", err)
	}
	if tw.w.GoTo.Writes() != 0 {
		t.Errorf("%d writes after the token was revoked", tw.w.GoTo.Writes())
	}
	after := tw.records()
	if len(after) != len(before) {
		t.Errorf("records changed: %d → %d", len(before), len(after))
	}
}

func TestExpiredAccessTokenIsRefreshedMidCycle(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 5}}, DirectAdmins: -1, DefaultAccess: -1, Disabled: -1, PreExisting: -1}, "")
	a := tw.app()
	tw.mustCycle(a, engine.Options{InitialSync: true})
	for i, p := range tw.w.InScope(false) {
		if err := tw.w.Graph.UpdateUser(p.ID, map[string]any{"surname": fmt.Sprint("New", i)}); err != nil {
			t.Fatal(err)
		}
	}
	tw.w.GoTo.ExpireAccessTokens()
	res := tw.mustCycle(a, engine.Options{})
	if res.Outcome() != engine.OutcomeSuccess || res.Cycle.Applied["update"] != 5 {
		t.Fatalf("outcome %s applied %v errors %v", res.Outcome(), res.Cycle.Applied, res.Errors)
	}
}

// TestAnotherProcessRotatingTheTokenDoesNotLockTheDaemonOut: `g2msync plan`
// run beside the daemon refreshes and GoTo rotates the refresh token; the
// daemon, whose access token then expires, must use the rotated token from
// the state file, not its dead copy.
func TestAnotherProcessRotatingTheTokenDoesNotLockTheDaemonOut(t *testing.T) {
	tw := newTestWorld(t, smallWorld(), "")
	daemonApp := tw.app()
	tw.mustCycle(daemonApp, engine.Options{InitialSync: true})
	tw.w.GoTo.ExpireAccessTokens()
	// `g2msync plan --initial-sync`: it lists GoTo, so it must refresh.
	rotated := tw.w.GoTo.Calls()[gotosim.RouteToken]
	if _, err := tw.cycle(tw.app(), engine.Options{DryRun: true, InitialSync: true}); err != nil {
		t.Fatal(err)
	}
	if tw.w.GoTo.Calls()[gotosim.RouteToken] == rotated {
		t.Fatal("the plan did not refresh the token, so it tests nothing")
	}
	tw.w.GoTo.ExpireAccessTokens()
	if _, err := tw.w.NewHire("Sales"); err != nil {
		t.Fatal(err)
	}
	res := tw.mustCycle(daemonApp, engine.Options{})
	if res.Outcome() != engine.OutcomeSuccess || res.Cycle.Applied["create"] != 1 {
		t.Fatalf("daemon after another process rotated the token: %s %v %v", res.Outcome(), res.Cycle.Applied, res.Errors)
	}
}
