package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	application "github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/console"
	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
	"github.com/g2msync/g2msync/pkg/state"
)

// actionWorld is a synced tenant with one staged disable (Leaver) and one
// quarantined account (Failing), a configuration file for the CLI, and
// the daemon's console on its real backend.
type actionWorld struct {
	*testWorld
	cfgFile         string
	leaver, failing state.AuditEntry // the people, as their log entries name them
	leaverFP        string
	hire            scenario.Person // a new hire, for provision
	ui              http.Handler
	// consoleSvc is the application layer behind ui.
	consoleSvc *application.Service
	cookie     *http.Cookie
	csrf       string
}

func newActionWorld(t *testing.T) *actionWorld {
	t.Helper()
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 4}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1}, "", "G2MSYNC_SAFETY_MAX_DISABLES=0")
	aw := &actionWorld{testWorld: tw, cfgFile: filepath.Join(tw.dir, "g2msync.yaml")}
	if err := os.WriteFile(aw.cfgFile, []byte(tw.w.ConfigYAML(tw.cfg.StatePath, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	tw.mustCycle(tw.app(), engine.Options{InitialSync: true})
	people := tw.w.InScope(false)
	if err := tw.w.RemoveFromGroup(people[0].ID); err != nil {
		t.Fatal(err)
	}
	if res := tw.mustCycle(tw.app(), engine.Options{}); res.Cycle.Staged != 1 {
		t.Fatalf("staged %d, want 1", res.Cycle.Staged)
	}
	st, err := state.Open(tw.cfg.StatePath, state.Options{Binding: binding(tw.cfg)})
	if err != nil {
		t.Fatal(err)
	}
	staged, _ := st.Staged()
	recs, _ := st.Records()
	for _, r := range recs {
		if r.EntraID == people[1].ID {
			aw.failing = state.AuditEntry{EntraID: r.EntraID, UPN: r.UPN, Email: r.Profile.Email, GoToKey: r.GoToKey}
		}
	}
	s := staged[0]
	aw.leaver, aw.leaverFP = state.AuditEntry{EntraID: s.EntraID, UPN: s.UPN, Email: s.Email, GoToKey: s.GoToKey}, s.Fingerprint
	f := aw.failing
	err = st.Commit(state.Outcome{EntraID: f.EntraID, Failure: &state.Failure{EntraID: f.EntraID, UPN: f.UPN, Email: f.Email, GoToKey: f.GoToKey,
		Kind: "update", Count: 5, Quarantined: true}})
	st.Close()
	if err != nil || aw.failing.GoToKey == "" {
		t.Fatalf("failing %+v: %v", aw.failing, err)
	}
	// The console, as the daemon serves it, with alice for an operator.
	cfg := *tw.cfg
	cfg.Listen = "127.0.0.1:9464"
	cfg.Console.OperatorsFile = filepath.Join(tw.dir, "operators")
	hash, err := console.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.Console.OperatorsFile, []byte("alice:"+hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	consoleApp := tw.appWith(&cfg)
	ui, err := tw.m.newConsole(consoleApp, func() daemon.StatusDoc { return daemon.StatusDoc{} })
	if err != nil || ui == nil {
		t.Fatalf("console: %v", err)
	}
	aw.ui, aw.consoleSvc = ui, consoleApp.svc
	return aw
}

// post sends a form to the console as a browser on its own page would.
func (aw *actionWorld) post(path string, form url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "http://localhost:9464"+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", "http://localhost:9464")
	if aw.cookie != nil {
		r.AddCookie(aw.cookie)
	}
	w := httptest.NewRecorder()
	aw.ui.ServeHTTP(w, r)
	return w
}

// signIn signs alice in to the console.
func (aw *actionWorld) signIn() {
	aw.t.Helper()
	w := aw.post("/login", url.Values{"name": {"alice"}, "password": {"correct horse battery"}, "next": {"/attention"}})
	for _, c := range w.Result().Cookies() {
		if c.Name == "g2msync_session" {
			aw.cookie = c
		}
	}
	if aw.cookie == nil {
		aw.t.Fatalf("sign in: %d %s", w.Code, w.Body)
	}
	r := httptest.NewRequest(http.MethodGet, "http://localhost:9464/attention", nil)
	r.AddCookie(aw.cookie)
	page := httptest.NewRecorder()
	aw.ui.ServeHTTP(page, r)
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page.Body.String())
	if m == nil {
		aw.t.Fatalf("no CSRF token on /attention:\n%s", page.Body)
	}
	aw.csrf = m[1]
}

// keepLeaver keeps the leaver's staged disable staged, as an operator
// would have.
func (aw *actionWorld) keepLeaver() {
	aw.t.Helper()
	st, err := state.Open(aw.cfg.StatePath, state.Options{Binding: binding(aw.cfg)})
	if err != nil {
		aw.t.Fatal(err)
	}
	defer st.Close()
	if err := st.Update(func(tx *state.Tx) error { _, err := tx.Keep("ops", "", []string{aw.leaver.EntraID}); return err }); err != nil {
		aw.t.Fatal(err)
	}
}

// flash is what the console said the operator's last action did.
func (aw *actionWorld) flash() string {
	r := httptest.NewRequest(http.MethodGet, "http://localhost:9464/attention", nil)
	r.AddCookie(aw.cookie)
	page := httptest.NewRecorder()
	aw.ui.ServeHTTP(page, r)
	if m := regexp.MustCompile(`(?s)class="flash[^"]*"[^>]*>(.*?)<`).FindStringSubmatch(page.Body.String()); m != nil {
		return m[1]
	}
	return ""
}

// Every operator action means one thing from either door: run through the
// CLI (as a person at a shell) and through the console (as a signed-in
// operator), it makes its change and writes one provisioning-log entry
// saying what, who, through which door, why, and for whom.
func TestEveryActionFromEitherDoor(t *testing.T) {
	host, _ := os.Hostname()
	type door struct {
		name, who, address string
	}
	doors := []door{{"cli", operator(), host}, {"console", "alice", "192.0.2.1"}}
	type person int
	const (
		nobody person = iota
		leaver
		failing
		hire
	)
	actions := []struct {
		action string
		setup  func(aw *actionWorld)
		// cli are the command's arguments; the configuration is added.
		cli func(aw *actionWorld) []string
		// path and form are the console's.
		path string
		form func(aw *actionWorld) url.Values
		// consoleReason: the console's form for this action asks why;
		// noReason: neither door does (the entry says what was done).
		consoleReason, noReason bool
		// reads: the command reads Entra and GoTo.
		reads  bool
		person person
		done   func(st *state.Store) bool
	}{
		{action: "pause",
			cli:  func(*actionWorld) []string { return []string{"pause", "--reason", "why pause"} },
			path: "/pause", form: func(*actionWorld) url.Values { return url.Values{"reason": {"why pause"}} }, consoleReason: true,
			done: func(st *state.Store) bool { p, _ := st.Paused(); return p != nil && p.Reason == "why pause" }},
		{action: "resume",
			setup: func(aw *actionWorld) {
				aw.read(func(*state.Store) {})
				st, err := state.Open(aw.cfg.StatePath, state.Options{Binding: binding(aw.cfg)})
				if err != nil {
					aw.t.Fatal(err)
				}
				defer st.Close()
				if err := st.SetPause(&state.Pause{Since: time.Now(), By: "ops"}); err != nil {
					aw.t.Fatal(err)
				}
			},
			cli:  func(*actionWorld) []string { return []string{"resume", "--reason", "why resume"} },
			path: "/resume", form: func(*actionWorld) url.Values { return url.Values{} },
			done: func(st *state.Store) bool { p, _ := st.Paused(); return p == nil }},
		{action: "retry", person: failing,
			cli: func(aw *actionWorld) []string {
				return []string{"retry", "--reason", "why retry", strings.ToUpper(aw.failing.UPN)}
			},
			path: "/retry", form: func(aw *actionWorld) url.Values { return url.Values{"who": {aw.failing.EntraID}} },
			done: func(st *state.Store) bool { f, _ := st.Failures(); return len(f) == 0 }},
		{action: "approve", person: leaver,
			cli: func(aw *actionWorld) []string {
				return []string{"approve", "--reason", "why approve", aw.leaver.GoToKey}
			},
			path: "/approvals", form: func(aw *actionWorld) url.Values {
				return url.Values{"id": {aw.leaver.EntraID + "|" + aw.leaverFP}, "shown": {aw.leaver.EntraID + "|" + aw.leaverFP}}
			},
			done: func(st *state.Store) bool { a, _ := st.Approvals(); return len(a) == 1 }},
		{action: "keep", person: leaver,
			cli: func(aw *actionWorld) []string {
				return []string{"approve", "--keep", "--reason", "why keep", aw.leaver.UPN}
			},
			path: "/approvals/keep", form: func(aw *actionWorld) url.Values {
				return url.Values{"id": {aw.leaver.EntraID + "|" + aw.leaverFP}, "reason": {"why keep"}}
			}, consoleReason: true,
			done: func(st *state.Store) bool { k, _ := st.Kept(); return len(k) == 1 }},
		{action: "release", person: leaver,
			setup: func(aw *actionWorld) { aw.keepLeaver() },
			cli: func(aw *actionWorld) []string {
				return []string{"approve", "--release", "--reason", "why release", aw.leaver.Email}
			},
			path: "/approvals/release", form: func(aw *actionWorld) url.Values { return url.Values{"release": {aw.leaver.EntraID}} },
			done: func(st *state.Store) bool { k, _ := st.Kept(); return len(k) == 0 }},
		{action: "provision", person: hire, noReason: true, reads: true,
			setup: func(aw *actionWorld) {
				var err error
				if aw.hire, err = aw.w.NewHire("Sales"); err != nil {
					aw.t.Fatal(err)
				}
			},
			cli:  func(aw *actionWorld) []string { return []string{"provision", aw.hire.UPN} },
			path: "/person/provision", form: func(aw *actionWorld) url.Values { return url.Values{"user": {aw.hire.UPN}} },
			done: func(st *state.Store) bool { r, _ := st.Records(); return len(r) == 5 }},
	}
	for _, a := range actions {
		for _, d := range doors {
			t.Run(a.action+"/"+d.name, func(t *testing.T) {
				aw := newActionWorld(t)
				if a.setup != nil {
					a.setup(aw)
				}
				reason := ""
				switch d.name {
				case "cli":
					args := append(a.cli(aw), "--config", aw.cfgFile)
					if a.reads {
						// A command that reads Entra and GoTo runs as its own
						// process, trusting the simulators' CA as a host would.
						ca := filepath.Join(aw.dir, "ca.pem")
						if err := aw.w.CA.WritePEM(ca); err != nil {
							t.Fatal(err)
						}
						cmd := exec.Command(binary(t), args...)
						cmd.Env = append(append([]string{"SSL_CERT_FILE=" + ca, "PATH=" + os.Getenv("PATH")}, aw.w.Environ()...), aw.m.Environ...)
						if out, err := cmd.CombinedOutput(); err != nil {
							t.Fatalf("g2msync %s: %v\n%s", strings.Join(args, " "), err, out)
						}
					} else if code, out, errOut := runMain(t, aw.m.Environ, args...); code != ExitOK {
						t.Fatalf("g2msync %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
					}
					if !a.noReason {
						reason = "why " + a.action
					}
				case "console":
					aw.signIn()
					form := a.form(aw)
					form.Set("csrf", aw.csrf)
					form.Set("back", "/attention")
					if w := aw.post(a.path, form); w.Code != http.StatusSeeOther {
						t.Fatalf("POST %s: %d %s", a.path, w.Code, w.Body)
					}
					if f := aw.flash(); strings.Contains(f, "failed") {
						t.Fatalf("POST %s: %s", a.path, f)
					}
					if a.consoleReason {
						reason = "why " + a.action
					}
				}
				var log []state.AuditEntry
				aw.read(func(st *state.Store) {
					if !a.done(st) {
						t.Errorf("the %s did not happen", a.action)
					}
					all, err := st.Audit(state.AuditFilter{})
					if err != nil {
						t.Fatal(err)
					}
					for _, e := range all {
						if e.Action == a.action {
							log = append(log, e)
						}
					}
				})
				if len(log) != 1 {
					t.Fatalf("%d %s entries in the provisioning log, want 1: %+v", len(log), a.action, log)
				}
				e := log[0]
				if e.Operator != d.who || e.Address != d.address || e.Door != d.name || e.Result != state.ResultSuccess {
					t.Errorf("entry says who %q from %q door %q result %q; want %q from %q door %q", e.Operator, e.Address, e.Door, e.Result, d.who, d.address, d.name)
				}
				if !strings.Contains(e.Reason, reason) || e.Reason == "" {
					t.Errorf("entry's reason %q, want it to hold %q", e.Reason, reason)
				}
				var want state.AuditEntry
				switch a.person {
				case leaver:
					want = aw.leaver
				case failing:
					want = aw.failing
				case hire:
					u, ok := aw.w.GoTo.UserByEmail(aw.hire.Mail)
					if !ok {
						t.Fatal("no GoTo account for the hire")
					}
					want = state.AuditEntry{EntraID: aw.hire.ID, UPN: aw.hire.UPN, Email: aw.hire.Mail, GoToKey: u.Key}
				}
				if e.EntraID != want.EntraID || e.UPN != want.UPN || e.Email != want.Email || e.GoToKey != want.GoToKey {
					t.Errorf("entry names %q %q %q %q, want %q %q %q %q", e.EntraID, e.UPN, e.Email, e.GoToKey, want.EntraID, want.UPN, want.Email, want.GoToKey)
				}
			})
		}
	}
}

// approve lists exactly what it approves, fingerprints included; a name
// that matches nothing approves nothing; run --once --allow-disables is
// approve --all, logged as such, then the cycle.
func TestApproveListsWhatItApproves(t *testing.T) {
	aw := newActionWorld(t)
	env, cfg := aw.m.Environ, aw.cfgFile
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"approve"}, ExitUsage, "name the people whose staged changes to approve, or give --all"},
		{[]string{"approve", "--all", aw.leaver.UPN}, ExitUsage, "or give --all"},
		{[]string{"approve", aw.leaver.UPN, "nobody@contoso.example"}, ExitFailure, `no staged change matches "nobody@contoso.example", so nothing was approved`},
	} {
		code, out, errOut := runMain(t, env, append(tc.args, "--config", cfg)...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("g2msync %s: exit %d, want %d with %q\n%s%s", strings.Join(tc.args, " "), code, tc.code, tc.want, out, errOut)
		}
	}
	aw.read(func(st *state.Store) {
		if a, _ := st.Approvals(); len(a) != 0 {
			t.Errorf("a refused approve approved %v", a)
		}
	})
	// run --once --allow-disables, as its Run calls it (a process would be
	// needed to trust the simulators' CA in the cycle that follows).
	aw.stdout.Reset()
	if err := aw.m.approveForRun(context.Background(), aw.app()); err != nil || !strings.Contains(aw.stdout.String(), "Releasing the 1 disables") {
		t.Fatalf("run --once --allow-disables: %v\n%s", err, aw.stdout)
	}
	if res := aw.mustCycle(aw.app(), engine.Options{}); res.Cycle.Applied["disable"] != 1 {
		t.Errorf("the cycle after the approval applied %v", res.Cycle.Applied)
	}
	aw.read(func(st *state.Store) {
		log, _ := st.Audit(state.AuditFilter{Action: "approve"})
		if len(log) != 1 || log[0].Door != "cli" || log[0].Operator != operator() || log[0].EntraID != aw.leaver.EntraID {
			t.Errorf("approve entries of run --once --allow-disables: %+v", log)
		}
	})
}

// The CLI's approve prints the rows and the fingerprints it approves.
func TestApproveCommandOutput(t *testing.T) {
	aw := newActionWorld(t)
	code, out, errOut := runMain(t, aw.m.Environ, "approve", "--all", "--config", aw.cfgFile)
	want := "Approving 1 staged change, each bound to the change listed:\n  disable " + aw.leaver.Email + " ("
	if code != ExitOK || !strings.HasPrefix(out, want) || !strings.Contains(out, "    fingerprint "+aw.leaverFP+"\nApproved 1; the next cycle applies them") {
		t.Errorf("approve --all: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := runMain(t, aw.m.Environ, "approve", "--all", "--config", aw.cfgFile); code != ExitOK || !strings.Contains(out, "Approved 1") {
		t.Errorf("approve again: exit %d\n%s", code, out)
	}
}

// run --once --initial-sync while the daemon holds the state file asks the
// daemon for a full sync; the request left no trace in the provisioning log.
func TestFullSyncRequestIsLogged(t *testing.T) {
	aw := newActionWorld(t)
	unlock, err := state.Lock(aw.cfg.StatePath) // the daemon's lock
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	code, out, errOut := runMain(t, aw.m.Environ, "run", "--once", "--initial-sync", "--config", aw.cfgFile)
	if code != ExitOK || !strings.Contains(out, "next cycle will be a full sync") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	st, err := state.Open(aw.cfg.StatePath, state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if r, _ := st.FullSyncRequested(); r == nil || r.By != operator() {
		t.Errorf("request %+v, want one by %s", r, operator())
	}
	es, _ := st.Audit(state.AuditFilter{Action: "full-sync"})
	if len(es) != 1 || es[0].Door != "cli" || es[0].Operator != operator() {
		t.Errorf("log entries %+v, want one full-sync entry from the command line", es)
	}
	st.Close()
	unlock()
	// `plan` shows the cycle that runs next: a full sync, until one ran.
	a := aw.app()
	for i, want := range []bool{true, true, false} {
		dry := i != 1
		rep, err := a.cycle(context.Background(), engine.Options{DryRun: dry})
		if err != nil || rep.Result == nil {
			t.Fatalf("cycle %d (dry run %v): %v", i, dry, err)
		}
		if full := strings.Contains(rep.Result.Cycle.Mode, "initial-sync"); full != want {
			t.Errorf("cycle %d (dry run %v): mode %q, want a full sync %v", i, dry, rep.Result.Cycle.Mode, want)
		}
	}
}

// approve --keep holds a row back from approve --all and from run --once
// --allow-disables, and approve names it when asked for it by name;
// --release lets it go.
func TestApproveKeepAndRelease(t *testing.T) {
	aw := newActionWorld(t)
	env, cfg := aw.m.Environ, aw.cfgFile
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"approve", "--keep", "--all"}, ExitUsage, "--keep and --release take the people named"},
		{[]string{"approve", "--keep", "--release", aw.leaver.UPN}, ExitUsage, "give one"},
		{[]string{"approve", "--release", aw.leaver.UPN}, ExitFailure, "is not kept staged, so nothing was released"},
		{[]string{"approve", "--keep", "--reason", "on leave", aw.leaver.UPN}, ExitOK, "Kept staged: disable " + aw.leaver.Email},
		{[]string{"approve", "--all"}, ExitOK, "Every staged change is kept staged: nothing to approve."},
		{[]string{"approve", aw.leaver.GoToKey}, ExitFailure, "is kept staged by " + operator()},
	} {
		code, out, errOut := runMain(t, env, append(tc.args, "--config", cfg)...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("g2msync %s: exit %d, want %d with %q\n%s%s", strings.Join(tc.args, " "), code, tc.code, tc.want, out, errOut)
		}
	}
	aw.stdout.Reset()
	if err := aw.m.approveForRun(context.Background(), aw.app()); err != nil || !strings.Contains(aw.stdout.String(), "Not released: 1 change kept staged by an operator") {
		t.Fatalf("run --once --allow-disables: %v\n%s", err, aw.stdout)
	}
	if res := aw.mustCycle(aw.app(), engine.Options{AllowDisables: true}); res.Cycle.Applied["disable"] != 0 || res.Cycle.Staged != 1 {
		t.Errorf("run --once --allow-disables applied %v and staged %d; the kept disable must stay staged", res.Cycle.Applied, res.Cycle.Staged)
	}
	if code, out, errOut := runMain(t, env, "approve", "--release", aw.leaver.UPN, "--config", cfg); code != ExitOK || !strings.Contains(out, "Released 1") {
		t.Errorf("release: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := runMain(t, env, "approve", "--all", "--config", cfg); code != ExitOK || !strings.Contains(out, "Approved 1") {
		t.Errorf("approve --all after the release: exit %d\n%s", code, out)
	}
	aw.read(func(st *state.Store) {
		for _, action := range []string{"keep", "release"} {
			log, _ := st.Audit(state.AuditFilter{Action: action})
			if len(log) != 1 || log[0].Door != "cli" || log[0].Operator != operator() || log[0].EntraID != aw.leaver.EntraID {
				t.Errorf("%s entries: %+v", action, log)
			}
		}
	})
}
