package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/view"

	application "github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/sim/gotosim"
	"github.com/g2msync/g2msync/pkg/sim/graphsim"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
	"github.com/g2msync/g2msync/pkg/state"
)

func (tw *testWorld) onDemand(dry, explain bool, queries ...string) *application.OnDemandReport {
	tw.t.Helper()
	rep, err := tw.app().svc.OnDemand(context.Background(), queries, application.OnDemandOptions{DryRun: dry, Force: false, Explain: explain})
	if err != nil {
		tw.t.Fatalf("provision %v: %v", queries, err)
	}
	return rep
}

// The acceptance story. Three changes are pending: a new hire in an
// assigned group, a rename and an unassignment. Provisioning the new hire
// makes exactly one bulk create holding only them, and no other write;
// provisioning the unassigned person disables only them; the next regular
// cycle applies the rename alone.
func TestProvisionTouchesOnlyThePersonNamed(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 8}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1}, "")
	w, g := tw.w, tw.w.GoTo
	tw.mustCycle(tw.app(), engine.Options{InitialSync: true})
	hire, err := w.NewHire("Sales")
	if err != nil {
		t.Fatal(err)
	}
	renamed, leaver := w.InScope(false)[1], w.InScope(false)[2]
	if err := w.Rename(renamed.ID, "Haddad"); err != nil {
		t.Fatal(err)
	}
	if err := w.RemoveFromGroup(leaver.ID); err != nil {
		t.Fatal(err)
	}
	accounts := len(g.Users())

	g.ResetCounters()
	rep := tw.onDemand(false, false, strings.ToUpper(hire.UPN))
	if g.Writes() != 1 || g.Calls()[gotosim.RouteCreateUsers] != 1 || len(g.Users()) != accounts+1 {
		t.Fatalf("provision the new hire: GoTo calls %v, %d accounts (was %d); want one create", g.Calls(), len(g.Users()), accounts)
	}
	if body := string(g.LastBody(gotosim.RouteCreateUsers)); !strings.Contains(body, hire.Mail) || strings.Count(body, `"email"`) != 1 {
		t.Errorf("the bulk create holds more than the new hire: %s", body)
	}
	p := rep.People[0]
	if len(rep.People) != 1 || p.EntraID != hire.ID || p.Action.Action != "create" || p.Result.Status != application.StatusApplied || p.Match.By != "none" ||
		!p.Scope.InScope || p.Scope.Reasons[0] != "member of Sales, assigned as User" || onDemandExit(rep) != nil {
		t.Errorf("report: %+v", p)
	}

	g.ResetCounters()
	rep = tw.onDemand(false, false, leaver.Mail)
	if g.Writes() != 1 || g.Calls()[gotosim.RouteUpdateUser] != 1 {
		t.Fatalf("provision the leaver: GoTo calls %v, want one update", g.Calls())
	}
	if u, _ := g.UserByEmail(leaver.Mail); u.Status != "SUSPENDED" {
		t.Errorf("leaver's account %+v, want SUSPENDED", u)
	}
	if p := rep.People[0]; p.Action.Action != "disable" || p.Result.Status != application.StatusApplied || p.Match.By != "owned" || p.Scope.InScope ||
		p.Scope.Reasons[0] != "not assigned to the app, directly or through an assigned group" {
		t.Errorf("report: %+v", p)
	}
	var entries []state.AuditEntry
	tw.read(func(st *state.Store) { entries, _ = st.Audit(state.AuditFilter{Result: state.ResultSuccess}) })
	var onDemand []string
	for _, e := range entries {
		if e.OnDemand {
			onDemand = append(onDemand, e.Action+":"+e.Email)
		}
	}
	if strings.Join(onDemand, " ") != "create:"+hire.Mail+" disable:"+leaver.Mail {
		t.Errorf("log entries marked on-demand: %v", onDemand)
	}

	g.ResetCounters()
	res := tw.mustCycle(tw.app(), engine.Options{})
	if g.Writes() != 1 || len(res.Plan.Changes) != 1 || res.Plan.Changes[0].Kind != plan.KindUpdate || res.Plan.Changes[0].EntraID != renamed.ID {
		t.Errorf("next cycle: %d writes, plan %v; want the rename alone", g.Writes(), res.Plan.Changes)
	}
}

// An on-demand run keeps what the last regular cycle recorded for everyone
// else: the disables staged for others stay staged.
func TestProvisionKeepsWhatOthersHaveStaged(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 8}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1}, "safety: { max_disables: 1 }\n")
	w := tw.w
	tw.mustCycle(tw.app(), engine.Options{InitialSync: true})
	for _, p := range w.InScope(false)[:2] {
		if err := w.RemoveFromGroup(p.ID); err != nil {
			t.Fatal(err)
		}
	}
	if res := tw.mustCycle(tw.app(), engine.Options{}); len(res.Plan.Staged) != 2 {
		t.Fatalf("staged %d, want 2", len(res.Plan.Staged))
	}
	hire, err := w.NewHire("Sales")
	if err != nil {
		t.Fatal(err)
	}
	tw.onDemand(false, false, hire.UPN)
	var staged []state.Staged
	tw.read(func(st *state.Store) { staged, _ = st.Staged() })
	if len(staged) != 2 {
		t.Errorf("after provisioning someone else, %d disables staged, want the 2 still there", len(staged))
	}
}

// explain answers each scope reason, in the words the portal uses.
func TestExplainScopeReasons(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 4}, {Name: "Support", Size: 3}},
		DirectAdmins: 1, DefaultAccess: 1, Disabled: 1, PreExisting: -1, Nested: 1},
		"scope:\n  filters:\n    - name: staff\n      clauses:\n        - { attribute: department, op: NOT EQUALS, value: Support }\n"+
			"    - name: no department\n      clauses:\n        - { attribute: department, op: IS NULL }\n")
	tw.mustCycle(tw.app(), engine.Options{InitialSync: true})
	find := func(pred func(scenario.Person) bool) scenario.Person {
		for _, p := range tw.w.People {
			if pred(p) {
				return p
			}
		}
		t.Fatal("no such person in the scenario")
		return scenario.Person{}
	}
	outsider, err := tw.w.NewHire("Sales")
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.w.RemoveFromGroup(outsider.ID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		who    scenario.Person
		in     bool
		reason string
	}{
		{"direct", find(func(p scenario.Person) bool { return p.Role == "Admin" }), true, "assigned directly as Admin"},
		{"group", find(func(p scenario.Person) bool { return p.Group == "Sales" && !p.Disabled }), true, "member of Sales, assigned as User"},
		{"nested", find(func(p scenario.Person) bool { return p.Group == "Sales Interns" }), false,
			"not assigned to the app: only nested in Sales, and entra.nested_groups is off"},
		{"disabled", find(func(p scenario.Person) bool { return p.Disabled }), false, "account disabled in Entra (accountEnabled is false)"},
		{"default access", find(func(p scenario.Person) bool { return p.Role == "Default Access" }), true, "assigned directly as Default Access"},
		{"scope filter", find(func(p scenario.Person) bool { return p.Group == "Support" && !p.Disabled }), false,
			`filtered out by scope filter staff (department NOT EQUALS "Support" does not hold: it is "Support"); and by scope filter no department (department IS NULL does not hold: it is "Support")`},
		{"not assigned", outsider, false, "not assigned to the app, directly or through an assigned group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := tw.onDemand(true, true, tc.who.UPN)
			if len(rep.People) != 1 {
				t.Fatalf("%d people, want 1", len(rep.People))
			}
			p := rep.People[0]
			if p.Scope.InScope != tc.in || p.Scope.Reasons[0] != tc.reason {
				t.Errorf("scope %v %q, want %v %q", p.Scope.InScope, p.Scope.Reasons, tc.in, tc.reason)
			}
			if p.Known == nil {
				t.Fatal("explain says nothing of what g2msync knows")
			}
			var out bytes.Buffer
			view.OnDemandText(&out, rep)
			if !strings.Contains(out.String(), tc.reason) {
				t.Errorf("text output lacks the reason:\n%s", out.String())
			}
		})
	}
	da := find(func(p scenario.Person) bool { return p.Role == "Default Access" })
	if p := tw.onDemand(true, true, da.UPN).People[0]; p.Action.Action != "skip" || !strings.HasPrefix(p.Action.Reason, "assigned only Default Access") {
		t.Errorf("default access action: %+v", p.Action)
	}
}

// A USER that matches nobody is named, and fails the command; the others
// are still provisioned. While paused, provision is refused unless forced.
func TestProvisionUnmatchedAndPaused(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 3}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1}, "")
	tw.mustCycle(tw.app(), engine.Options{InitialSync: true})
	hire, err := tw.w.NewHire("Sales")
	if err != nil {
		t.Fatal(err)
	}
	rep := tw.onDemand(true, false, "nobody@contoso.example", hire.ID)
	var ee exitError
	if err := onDemandExit(rep); !errors.As(err, &ee) || ee.code != ExitFailure || !strings.Contains(ee.msg, "no Entra user matches nobody@contoso.example") {
		t.Errorf("exit = %v", err)
	}
	if len(rep.People) != 1 || rep.People[0].Result.Status != application.StatusDryRun {
		t.Errorf("people: %+v", rep.People)
	}

	st, err := state.Open(tw.cfg.StatePath, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetPause(&state.Pause{Since: time.Now(), By: "ops", Reason: "migration"}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	writes := tw.w.GoTo.Writes()
	_, err = tw.app().svc.OnDemand(context.Background(), []string{hire.UPN}, application.OnDemandOptions{DryRun: false, Force: false, Explain: false})
	if err == nil || !strings.Contains(err.Error(), "provisioning is paused since") || !strings.Contains(err.Error(), "--force") || tw.w.GoTo.Writes() != writes {
		t.Fatalf("while paused: %v, %d writes", err, tw.w.GoTo.Writes()-writes)
	}
	rep, err = tw.app().svc.OnDemand(context.Background(), []string{hire.UPN}, application.OnDemandOptions{DryRun: false, Force: true, Explain: false})
	if err != nil || rep.People[0].Result.Status != application.StatusApplied {
		t.Fatalf("--force: %v %+v", err, rep)
	}
}

// The JSON of explain is a documented, stable shape: this golden file is
// its contract (volatile values, ids and times, are replaced).
func TestExplainJSONGolden(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 3}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1}, "")
	tw.mustCycle(tw.app(), engine.Options{InitialSync: true})
	p := tw.w.InScope(false)[0]
	if err := tw.w.Rename(p.ID, "Haddad"); err != nil {
		t.Fatal(err)
	}
	rep := tw.onDemand(true, true, tw.w.Person(p.ID).Mail, "nobody@contoso.example")
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	out = strings.ReplaceAll(out, p.ID, "ENTRA-ID")
	out = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`).ReplaceAllString(out, "TIME")
	out = regexp.MustCompile(`\d{8}T\d{6}Z-[0-9a-f]{4}`).ReplaceAllString(out, "CYCLE")
	golden(t, "explain.json", out+"\n")
}

// mapping test tries an expression on a real person before it is saved,
// and refuses a malformed one naming the field and the column.
func TestMappingTestTriesAnExpression(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 2}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1}, "")
	tw.mustCycle(tw.app(), engine.Options{InitialSync: true})
	p := tw.w.InScope(false)[0]
	// The running configuration's service, as the console has it: the
	// locale reads preferredLanguage, which the mappings in force do not.
	a := tw.app()
	writes := tw.w.GoTo.Writes()
	rep, err := a.svc.MappingTest(context.Background(), []string{p.UPN},
		[]string{`lastName=ToUpper(Left([surname], 3))`, `locale=Switch([preferredLanguage], "en_US", "de-DE", "de_DE")`})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range rep.People[0].Mapping.Fields {
		got[f.Field] = f.Expression + " → " + f.Value
	}
	if want := `ToUpper(Left([surname], 3)) → ` + strings.ToUpper(p.Surname[:3]); got["lastName"] != want {
		t.Errorf("lastName: %q, want %q", got["lastName"], want)
	}
	if !strings.HasSuffix(got["locale"], "→ en_US") {
		t.Errorf("locale: %q", got["locale"])
	}
	if rep.People[0].Action.Action != "update" || tw.w.GoTo.Writes() != writes {
		t.Errorf("action %+v, %d writes: want an update planned, nothing written", rep.People[0].Action, tw.w.GoTo.Writes()-writes)
	}
	_, err = application.WithMappingSets(tw.cfg, []string{`firstName=Left([givenName], "1")`})
	if err == nil || !strings.Contains(err.Error(), "mapping.firstName") || !strings.Contains(err.Error(), "at column 19") {
		t.Errorf("bad --set: %v", err)
	}
}

// SelectUniqueValue against the simulators: people who share a name get
// different addresses, the next cycle changes nothing, and one more John
// Smith takes the next free candidate that GoTo does not hold.
func TestSelectUniqueValueGivesEachPersonAFreeAddress(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 60}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1}, `mapping:
  email: { expr: 'SelectUniqueValue(ToLower(Join("@", Join(".", [givenName], [surname]), "corp.example")), ToLower(Join("@", Join(".", Left([givenName], 1), [surname]), "corp.example")), ToLower(Join("@", Join(".", [givenName], Left([givenName], 2), [surname]), "corp.example")))', apply: on_create }
  firstName: givenName
  lastName: surname
`)
	res := tw.mustCycle(tw.app(), engine.Options{InitialSync: true})
	names := map[string]int{}
	for _, p := range tw.w.InScope(false) {
		names[p.GivenName+" "+p.Surname]++
	}
	shared := 0
	for _, n := range names {
		if n > 1 {
			shared += n
		}
	}
	if shared == 0 {
		t.Fatal("the scenario has no two people with one name; the test shows nothing")
	}
	seen := map[string]bool{}
	for _, r := range tw.records() {
		if seen[r.Profile.Email] || !strings.HasSuffix(r.Profile.Email, "@corp.example") {
			t.Errorf("address %s given twice, or not from the expression", r.Profile.Email)
		}
		seen[r.Profile.Email] = true
	}
	if res.Cycle.Applied["create"]+len(res.Plan.Skips) != 60 {
		t.Errorf("applied %v, skipped %d: want each of 60 created or left alone with the reason", res.Cycle.Applied, len(res.Plan.Skips))
	}
	tw.w.GoTo.ResetCounters()
	if res := tw.mustCycle(tw.app(), engine.Options{}); !res.Plan.Empty() || tw.w.GoTo.Writes() != 0 {
		t.Errorf("second cycle: %v", res.Plan.Changes)
	}
	t.Logf("%d people share a name with someone; %d addresses given", shared, len(seen))

	hire, err := tw.w.NewHire("Sales")
	if err != nil {
		t.Fatal(err)
	}
	first := strings.ToLower(hire.GivenName + "." + hire.Surname + "@corp.example")
	if _, taken := tw.w.GoTo.UserByEmail(first); !taken {
		if _, err := tw.w.GoTo.AddUser(gotosim.User{Email: first, FirstName: "Someone", LastName: "Else"}); err != nil {
			t.Fatal(err)
		}
	}
	tw.mustCycle(tw.app(), engine.Options{})
	got := ""
	for _, r := range tw.records() {
		if r.EntraID == hire.ID {
			got = r.Profile.Email
		}
	}
	if got == "" || strings.EqualFold(got, first) || !strings.HasSuffix(got, "@corp.example") {
		t.Errorf("new hire got %q, though GoTo holds %s", got, first)
	}
}

// A scoping filter changed in the configuration takes effect on the next
// cycle, which re-evaluates everyone: those it leaves out are deprovisioned,
// and the thresholds stage them when there are too many.
func TestChangedScopeFilterReevaluatesEveryone(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 6}, {Name: "Support", Size: 3}}, DirectAdmins: -1,
		DefaultAccess: -1, Disabled: -1, PreExisting: -1}, "")
	tw.mustCycle(tw.app(), engine.Options{InitialSync: true})
	cfg := *tw.cfg
	cfg.Scope.Filters = []config.Filter{{Name: "no support", Clauses: []config.Clause{{Attribute: "department", Op: "NOT EQUALS", Value: "Support"}}}}
	res := tw.mustCycle(tw.appWith(&cfg), engine.Options{AllowDisables: true})
	if got := res.Cycle.Applied["disable"]; got != 3 || len(res.Plan.Changes) != 3 {
		t.Fatalf("after the filter: applied %v, plan %v; want the 3 Support people disabled", res.Cycle.Applied, res.Plan.Changes)
	}
	for _, c := range res.Plan.Changes {
		if !strings.HasPrefix(c.Reason, "filtered out by scope filter no support") {
			t.Errorf("disable reason %q", c.Reason)
		}
	}
}

// Explain held the state file through its Graph and GoTo reads: the
// daemon's cycles waited for it and, with explains posted in a loop, failed
// with "state file … is in use". Explain now reads what it needs of the
// file in one short read and lets it go before reading Graph: a cycle of
// this process or of another runs while an explain waits on Graph.
func TestCyclesRunWhileAnExplainWaitsOnGraph(t *testing.T) {
	tw, a := syncedSales(t)
	if err := tw.w.Graph.InjectFault(graphsim.Fault{Route: "GET /users", Hang: true, Times: -1}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := a.svc.OnDemand(ctx, []string{"nobody@contoso.example"}, application.OnDemandOptions{DryRun: true, Force: false, Explain: true})
		done <- err
	}()
	for tw.w.Graph.Calls("GET /users") == 0 { // the explain now waits on Graph
		select {
		case err := <-done:
			t.Fatalf("the explain ended before its Graph read: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	for name, c := range map[string]*app{"this process": a, "another process": tw.app()} {
		if rep, err := c.cycle(context.Background(), engine.Options{}); err != nil || rep.Result == nil {
			t.Errorf("a cycle of %s while an explain waits on Graph: %v", name, err)
		}
	}
	cancel()
	<-done
}

// The console's pages opened the state file between cycles and answered
// "busy" for the whole of a cycle (a long initial sync): they now read
// beside the cycle of their own process.
func TestConsoleReadsWhileACycleRuns(t *testing.T) {
	tw, a := syncedSales(t)
	stop := cycleWaitingOnGraph(t, tw, a)
	a.svc.SetPageWait(200 * time.Millisecond)
	b := &consoleBackend{svc: a.svc}
	cycles, err := b.Cycles(context.Background(), 0)
	if err != nil || len(cycles) == 0 {
		t.Errorf("the console's cycles page during a cycle: %d cycles, %v", len(cycles), err)
	}
	if entries, err := b.Audit(context.Background(), state.AuditFilter{}); err != nil || len(entries) == 0 {
		t.Errorf("the console's log during a cycle: %d entries, %v", len(entries), err)
	}
	// An operator's action writes beside the cycle too, with its log entry.
	svc := &application.Service{StatePath: a.cfg.StatePath, Binding: binding(a.cfg), Live: a.svc.Live, Wait: 500 * time.Millisecond}
	if _, err := svc.Pause(context.Background(), application.Actor{Name: "alice", Door: application.DoorConsole, Reason: "migration"}); err != nil {
		t.Errorf("a pause from the console during a cycle: %v", err)
	}
	if entries, _ := b.Audit(context.Background(), state.AuditFilter{Action: "pause"}); len(entries) != 1 {
		t.Errorf("the pause's log entry: %d entries", len(entries))
	}
	stop()
}

// syncedSales is a world of five people in Sales after its initial sync,
// and the app that made it.
func syncedSales(t *testing.T) (*testWorld, *app) {
	t.Helper()
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 5}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1}, "")
	a := tw.app()
	if _, err := a.cycle(context.Background(), engine.Options{InitialSync: true}); err != nil {
		t.Fatal(err)
	}
	return tw, a
}

// status and report refused while a cycle held the state file: the whole
// of a long initial sync. They now ask the running daemon at its listen
// address (/status, and the console's log download).
func TestStatusAndReportAskTheDaemonWhileACycleHoldsTheFile(t *testing.T) {
	// On loopback the daemon answers this host; on an address other hosts
	// reach, it answers whoever has the status token (the console is off
	// there: it would need operators and TLS).
	for _, offLoopback := range []bool{false, true} {
		t.Run(fmt.Sprintf("offLoopback=%v", offLoopback), func(t *testing.T) {
			statusAndReportDuringACycle(t, offLoopback)
		})
	}
}

func statusAndReportDuringACycle(t *testing.T, offLoopback bool) {
	tw, _ := syncedSales(t)
	listen := freeAddr(t)
	cfg := *tw.cfg
	cfg.Listen, cfg.Console.Disabled = listen, false
	yaml := "state_path: " + tw.cfg.StatePath + "\nlisten: " + listen + "\n"
	if offLoopback {
		_, port, _ := net.SplitHostPort(listen)
		listen = "0.0.0.0:" + port
		tokenFile := filepath.Join(tw.dir, "status-token")
		if err := os.WriteFile(tokenFile, []byte("a-long-status-token-for-the-test\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		yaml = "state_path: " + tw.cfg.StatePath + "\nlisten: " + listen + "\nstatus_token_file: " + tokenFile + "\n"
		cfg.Listen, cfg.Console.Disabled = listen, true
		cfg.StatusToken = config.NewSecret("a-long-status-token-for-the-test", "status_token_file")
	}
	cfgFile := filepath.Join(tw.dir, "g2msync.yaml")
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	const route = "GET /servicePrincipals/{id}/appRoleAssignedTo"
	if err := tw.w.Graph.InjectFault(graphsim.Fault{Route: route, Hang: true}); err != nil {
		t.Fatal(err)
	}
	before := tw.w.Graph.Calls(route)
	b := tw.appWith(&cfg) // the daemon's
	var d *daemon.Daemon
	ui, err := tw.m.newConsole(b, func() daemon.StatusDoc { return d.Status() })
	if err != nil || (ui == nil) != offLoopback {
		t.Fatalf("console: %v", err)
	}
	opts := daemon.Options{Schedule: "@every 1h", Cycle: b.cycle, Listen: listen, Logger: b.log, Metrics: b.metrics,
		StatusToken: cfg.StatusToken.Value(), Log: b.svc.Audit}
	if ui != nil {
		opts.Console = ui
	}
	d, err = daemon.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	sig := make(chan os.Signal, 2)
	done := make(chan struct{})
	go func() { d.Run(context.Background(), sig); close(done) }()
	defer func() { sig <- syscall.SIGTERM; sig <- syscall.SIGTERM; tw.w.Graph.ClearFaults(); <-done }()
	for tw.w.Graph.Calls(route) == before { // the daemon's cycle holds the file and waits on Graph
		time.Sleep(10 * time.Millisecond)
	}
	_, port, _ := net.SplitHostPort(listen)
	asked := "http://127.0.0.1:" + port
	code, out, errOut := runMain(t, nil, "status", "--config", cfgFile)
	if code != ExitOK || !strings.Contains(errOut, "live status from "+asked+"/status") || !strings.Contains(out, "Changes deferred") {
		t.Errorf("status during a cycle: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, out, errOut = runMain(t, nil, "report", "--config", cfgFile, "--action", "create", "--output", "json")
	var entries []state.AuditEntry
	if code != ExitOK || json.Unmarshal([]byte(out), &entries) != nil || len(entries) != 5 || !strings.Contains(errOut, asked+"/status/log") {
		t.Errorf("report during a cycle: exit %d, %d entries, want the 5 creates\nstdout:\n%s\nstderr:\n%s", code, len(entries), out, errOut)
	}
	code, out, errOut = runMain(t, nil, "report", "--config", cfgFile, "--limit", "2", "--output", "json")
	if code != ExitOK || json.Unmarshal([]byte(out), &entries) != nil || len(entries) != 2 {
		t.Errorf("report --limit 2 during a cycle: exit %d, %d entries\nstdout:\n%s\nstderr:\n%s", code, len(entries), out, errOut)
	}
}

// state backup writes a copy that opens and holds what was committed: in
// the daemon's process beside a running cycle (a pause written during the
// cycle included); from another process it waits for the cycle, and says
// so when it waits too long.
func TestBackupBesideARunningCycle(t *testing.T) {
	tw, a := syncedSales(t)
	stop := cycleWaitingOnGraph(t, tw, a)
	if _, err := a.svc.Pause(context.Background(), application.Actor{Name: "alice", Door: application.DoorConsole}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(tw.dir, "backup.db")
	b, err := a.svc.Backup(context.Background(), path, false)
	if err != nil || b.Accounts != 5 || b.Cycles != 1 {
		t.Fatalf("backup beside the cycle: %+v, %v", b, err)
	}
	st, err := state.Open(path, state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := st.Paused()
	st.Close()
	if p == nil || p.By != "alice" {
		t.Errorf("the backup lacks the pause committed during the cycle: %+v", p)
	}
	// Another process waits for the cycle; told to wait briefly, it says why.
	other := filepath.Join(tw.dir, "other.db")
	code, _, errOut := runMain(t, nil, "state", "backup", "--state", tw.cfg.StatePath, "--wait", "200ms", other)
	if code != ExitFailure || !strings.Contains(errOut, "in use") {
		t.Errorf("backup from another process during the cycle: exit %d %s", code, errOut)
	}
	stop()
	code, out, errOut := runMain(t, nil, "state", "backup", "--state", tw.cfg.StatePath, other)
	if code != ExitOK || !strings.Contains(out, "5 accounts") {
		t.Errorf("backup after the cycle: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runMain(t, nil, "state", "backup", "--state", tw.cfg.StatePath, other); code != ExitUsage || !strings.Contains(errOut, "exists") {
		t.Errorf("backup over an existing file: exit %d %s", code, errOut)
	}
}

// cycleWaitingOnGraph starts a cycle of a that holds the state file and
// waits on Graph until stop is called.
func cycleWaitingOnGraph(t *testing.T, tw *testWorld, a *app) (stop func()) {
	t.Helper()
	const route = "GET /servicePrincipals/{id}/appRoleAssignedTo"
	if err := tw.w.Graph.InjectFault(graphsim.Fault{Route: route, Hang: true}); err != nil {
		t.Fatal(err)
	}
	before := tw.w.Graph.Calls(route)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := a.cycle(ctx, engine.Options{})
		done <- err
	}()
	for tw.w.Graph.Calls(route) == before { // the cycle holds the file and waits on Graph
		time.Sleep(10 * time.Millisecond)
	}
	return func() { cancel(); <-done }
}
