package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	application "github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/sim/gotosim"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
	"github.com/g2msync/g2msync/pkg/sim/simtls"
	"github.com/g2msync/g2msync/pkg/state"
	"github.com/g2msync/g2msync/pkg/view"
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

// TestSeatStory is issue 9's story as a new user meets it: a licence with
// too few seats. The people beyond the free seats are deferred, not failed:
// `plan` and the summary say so once with the licence and its seats, the run
// exits 4 and spends no call on them; once seats are added, the very next
// cycle creates them, without waiting for any back-off. And the run makes
// exactly the calls the plan read, plus the plan's own writes.
func TestSeatStory(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 33}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1, Seats: 6}, "")
	lic := tw.w.GoTo.Licenses()[0]
	// The SUPER_USER admin holds one seat: 5 free for 33 people.
	a := tw.app()
	res := tw.mustCycle(a, engine.Options{InitialSync: true})
	if res.Outcome() != engine.OutcomePartial || res.Cycle.Applied["create"] != 5 || res.Cycle.Deferred != 28 || len(res.Errors) != 0 {
		t.Fatalf("outcome %s applied %v deferred %d errors %v", res.Outcome(), res.Cycle.Applied, res.Cycle.Deferred, res.Errors)
	}
	if err := exitFor(res, nil); err == nil || tw.m.exit(err) != ExitPartial {
		t.Errorf("exit for a cycle with deferred changes: %v, want %d", err, ExitPartial)
	}
	reason := fmt.Sprintf("licence %s has no free seat (6 of 6 used); add seats in GoTo Admin or free some", lic.Key)
	var sum bytes.Buffer
	view.CycleSummary(&sum, res)
	if !strings.Contains(sum.String(), "28 creates deferred: "+reason+"\n") || strings.Count(sum.String(), "no free seat") != 1 {
		t.Errorf("summary does not state the cause once for the 28:\n%s", sum.String())
	}

	// `plan` now: the same 28, deferred, with the same words.
	tw.stdout.Reset()
	before := tw.w.GoTo.Calls()
	if err := tw.m.runOnce(context.Background(), tw.app(), engine.Options{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	planReads := diffCalls(before, tw.w.GoTo.Calls())
	out := tw.stdout.String()
	for _, want := range []string{"Deferred (not tried this cycle; no call is made for them):", "28 creates: " + reason, "… and 18 more", "28 deferred."} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if tw.w.GoTo.Writes() != 1 { // the initial sync's one POST
		t.Errorf("plan wrote to GoTo")
	}

	// A run without seats: what the plan read, and no write.
	before = tw.w.GoTo.Calls()
	res = tw.mustCycle(tw.app(), engine.Options{})
	if got := diffCalls(before, tw.w.GoTo.Calls()); !cmp.Equal(got, planReads) || res.Cycle.Deferred != 28 {
		t.Errorf("run calls %v, plan read %v; deferred %d", got, planReads, res.Cycle.Deferred)
	}
	var st []state.Deferred
	tw.read(func(s *state.Store) { st, _ = s.Deferred() })
	if len(st) != 28 || st[0].Reason != reason || !st[0].Until.IsZero() {
		t.Errorf("status holds %d deferred, first %+v", len(st), st)
	}

	// Seats are added in GoTo Admin: the next cycle creates the 28 at once.
	if err := tw.w.GoTo.SetSeats(lic.Key, 40); err != nil {
		t.Fatal(err)
	}
	before = tw.w.GoTo.Calls()
	res = tw.mustCycle(tw.app(), engine.Options{})
	if res.Outcome() != engine.OutcomeSuccess || res.Cycle.Applied["create"] != 28 || res.Cycle.Deferred != 0 {
		t.Fatalf("after seats were added: outcome %s applied %v deferred %d", res.Outcome(), res.Cycle.Applied, res.Cycle.Deferred)
	}
	want := maps.Clone(planReads)
	want[gotosim.RouteCreateUsers] = 1 // the plan's one change: 28 people, one bulk call
	if got := diffCalls(before, tw.w.GoTo.Calls()); !cmp.Equal(got, want) {
		t.Errorf("calls by route %v, want the plan's reads and one POST %v", got, want)
	}
}

// diffCalls returns the requests per route made between two counts.
func diffCalls(before, after map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range after {
		if d := v - before[k]; d > 0 && k != gotosim.RouteToken {
			out[k] = d
		}
	}
	return out
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

// TestMaxRetriesZeroMeansNoRetry: goto.max_retries: 0 makes one attempt
// per call, not the client's default of four retries.
func TestMaxRetriesZeroMeansNoRetry(t *testing.T) {
	for _, tc := range []struct {
		retries  string
		attempts int
	}{{"0", 1}, {"2", 3}} {
		tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 2}}, DirectAdmins: -1, DefaultAccess: -1,
			Disabled: -1, PreExisting: -1}, "", "G2MSYNC_GOTO_MAX_RETRIES="+tc.retries)
		tw.w.GoTo.InjectFault(gotosim.Fault{Route: gotosim.RouteListUsers, Status: 503, Times: -1})
		if _, err := tw.cycle(tw.app(), engine.Options{InitialSync: true}); err == nil {
			t.Fatal("the cycle succeeded through a permanent 503")
		}
		if got := tw.w.GoTo.Calls()[gotosim.RouteListUsers]; got != tc.attempts {
			t.Errorf("max_retries %s: %d attempts, want %d", tc.retries, got, tc.attempts)
		}
	}
}

// TestReloadAppliesEverySettingOrRefuses: SIGHUP applies notification
// changes (a new mail tracker) and refuses, naming it, a setting that needs a
// restart; it never silently ignores one.
func TestReloadAppliesEverySettingOrRefuses(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 1}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1}, "")
	statePath := filepath.Join(tw.dir, "state.db")
	cfgPath := filepath.Join(tw.dir, "g2msync.yaml")
	write := func(listen, notify string) {
		t.Helper()
		if err := os.WriteFile(cfgPath, []byte(tw.w.ConfigYAML(statePath, listen)+notify), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("127.0.0.1:9464", "")
	cfg, err := tw.m.loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	tw.cfg = cfg
	reload := tw.m.reloader(tw.app(), cfgPath, func() daemon.StatusDoc { return daemon.StatusDoc{} })

	if r, err := reload(); err != nil || r.NotifyChanged || r.Console == nil {
		t.Errorf("unchanged file: %+v, %v; want the console rebuilt", r, err)
	}
	write("127.0.0.1:9464", "notify: { smtp: { host: mail.example.com, port: 587 }, from: g2msync@example.com, to: [ops@example.com] }\n")
	if r, err := reload(); err != nil || !r.NotifyChanged || r.Tracker == nil {
		t.Errorf("notify added: %+v, %v; want a new tracker", r, err)
	}
	if r, err := reload(); err != nil || r.NotifyChanged {
		t.Errorf("notify unchanged since the last reload: %+v, %v", r, err)
	}
	// The console and the status token follow the file.
	token := filepath.Join(tw.dir, "status-token")
	if err := os.WriteFile(token, []byte("a-long-enough-status-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	write("127.0.0.1:9464", "console: { disabled: true }\nstatus_token_file: "+token+"\n")
	if r, err := reload(); err != nil || r.Console != nil || r.StatusToken != "a-long-enough-status-token-0123456789" {
		t.Errorf("console disabled, a status token: console %v token %q, %v", r.Console, r.StatusToken, err)
	}
	ca, err := simtls.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	crt, key := filepath.Join(tw.dir, "tls.crt"), filepath.Join(tw.dir, "tls.key")
	if err := ca.WriteServerPEM(crt, key); err != nil {
		t.Fatal(err)
	}
	write("127.0.0.1:9464", "listen_tls: { cert_file: "+crt+", key_file: "+key+" }\n")
	if _, err := reload(); err == nil || !strings.Contains(err.Error(), "listen_tls changed from none (plain HTTP) to cert_file") {
		t.Errorf("listen_tls changed: err %v, want a refusal naming listen_tls", err)
	}
	write("0.0.0.0:9999", "")
	if _, err := reload(); err == nil || !strings.Contains(err.Error(), `listen changed from "127.0.0.1:9464" to "0.0.0.0:9999"; restart g2msync`) {
		t.Errorf("listen changed: err %v, want a refusal naming listen", err)
	}
}

// run --once --allow-disables released whatever the run itself planned:
// it now releases only what the last cycle staged, each as it was staged,
// so a disable that has since become a delete (or was never shown) waits.
func TestAllowDisablesReleasesOnlyWhatWasStaged(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 10}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1}, "", "G2MSYNC_SAFETY_MAX_DISABLES=0") // every disable needs an approval
	tw.mustCycle(tw.app(), engine.Options{InitialSync: true})
	people := tw.w.InScope(false)
	for _, p := range people[:3] {
		tw.w.RemoveFromGroup(p.ID)
	}
	// Nothing staged yet: --allow-disables releases nothing, and stages.
	a := tw.app()
	if err := tw.m.approveForRun(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	res := tw.mustCycle(a, engine.Options{})
	if res.Cycle.Staged != 3 || res.Cycle.Applied["disable"] != 0 {
		t.Fatalf("first: staged %d applied %v", res.Cycle.Staged, res.Cycle.Applied)
	}
	// A fourth leaver since: the approval releases the three that were staged.
	tw.w.RemoveFromGroup(people[3].ID)
	a = tw.app()
	tw.stdout.Reset()
	if err := tw.m.approveForRun(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	res = tw.mustCycle(a, engine.Options{})
	if res.Cycle.Applied["disable"] != 3 || res.Cycle.Staged != 1 || !strings.Contains(tw.stdout.String(), "Releasing the 3 disables") {
		t.Errorf("after approval: applied %v staged %d\n%s", res.Cycle.Applied, res.Cycle.Staged, tw.stdout.String())
	}
}

// pause → run --once changes nothing and says so → resume → the next cycle
// converges; status shows the pause.
func TestPauseAndResume(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 5}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1}, "")
	tw.mustCycle(tw.app(), engine.Options{InitialSync: true})
	hire, err := tw.w.NewHire("Sales")
	if err != nil {
		t.Fatal(err)
	}
	tw.m.Environ = append(tw.m.Environ, "G2MSYNC_STATE_PATH="+tw.cfg.StatePath)
	if err := tw.m.Run(context.Background(), []string{"pause", "--config", "", "--reason", "tenant migration"}); err != nil {
		t.Fatal(err)
	}
	writes := tw.w.GoTo.Writes()
	tw.stdout.Reset()
	if err := tw.m.runOnce(context.Background(), tw.app(), engine.Options{}); err != nil {
		t.Fatalf("run --once while paused: %v", err)
	}
	if !strings.Contains(tw.stdout.String(), "Nothing done: provisioning is paused since") || !strings.Contains(tw.stdout.String(), "(tenant migration); `g2msync resume` resumes") ||
		tw.w.GoTo.Writes() != writes {
		t.Fatalf("while paused: %d writes\n%s", tw.w.GoTo.Writes()-writes, tw.stdout.String())
	}
	// `plan` while paused shows what the first cycle after resume does.
	tw.stdout.Reset()
	if err := tw.m.runOnce(context.Background(), tw.app(), engine.Options{DryRun: true}); err != nil {
		t.Fatalf("plan while paused: %v", err)
	}
	if out := tw.stdout.String(); !strings.HasPrefix(out, "Note: provisioning is paused since") || !strings.Contains(out, hire.UPN) {
		t.Errorf("plan while paused:\n%s", out)
	}
	var s *application.Status
	tw.read(func(st *state.Store) { s, _ = application.ReadStatus(st, 5) })
	var out bytes.Buffer
	view.Status(&out, s)
	if !strings.HasPrefix(out.String(), "PAUSED: provisioning is paused since") {
		t.Errorf("status:\n%s", out.String())
	}
	if err := tw.m.Run(context.Background(), []string{"resume", "--config", ""}); err != nil {
		t.Fatal(err)
	}
	res := tw.mustCycle(tw.app(), engine.Options{})
	if _, ok := tw.w.GoTo.UserByEmail(hire.Mail); !ok || res.Cycle.Applied["create"] != 1 {
		t.Errorf("after resume: applied %v", res.Cycle.Applied)
	}
}
