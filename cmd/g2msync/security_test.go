package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/g2msync/g2msync/pkg/view"

	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/sim/gotosim"
	"github.com/g2msync/g2msync/pkg/sim/graphsim"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
	"github.com/g2msync/g2msync/pkg/state"
)

// TestLookAlikeAddressCannotTakeOverAnAccount replays the security review's
// attack end to end: an Entra user sets mail to "\u212Aate.victim@…" (KELVIN
// SIGN), which Unicode case folding turns into kate.victim's address (and
// gotosim's filter folds it so). Before the fix g2msync adopted Kate's
// unmanaged account, renamed it to the attacker, and suspended it once the
// attacker was unassigned. Now the attacker is skipped, saying why, and
// Kate's account is never written to.
func TestLookAlikeAddressCannotTakeOverAnAccount(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 3}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1}, "")
	kate, err := tw.w.GoTo.AddUser(gotosim.User{Email: "kate.victim@contoso.example", FirstName: "Kate", LastName: "Victim"})
	if err != nil {
		t.Fatal(err)
	}
	mallory, err := tw.w.Graph.AddUser(graphsim.User{UserPrincipalName: "mallory@contoso.example", Mail: "\u212Aate.victim@contoso.example",
		GivenName: "Mallory", Surname: "Attacker"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.w.Graph.AddMember(tw.w.GroupIDs["Sales"], mallory); err != nil {
		t.Fatal(err)
	}
	before, _ := tw.w.GoTo.User(kate)
	for _, opts := range []engine.Options{{InitialSync: true}, {}} {
		res := tw.mustCycle(tw.app(), opts)
		skipped := false
		for _, s := range res.Plan.Skips {
			if s.EntraID == mallory && strings.Contains(s.Reason, "U+212A") {
				skipped = true
			}
		}
		if !skipped {
			t.Errorf("%+v: the look-alike address was not skipped with its reason; skips %+v", opts, res.Plan.Skips)
		}
	}
	if err := tw.w.Graph.RemoveMember(tw.w.GroupIDs["Sales"], mallory); err != nil {
		t.Fatal(err)
	}
	tw.mustCycle(tw.app(), engine.Options{AllowDisables: true})
	after, _ := tw.w.GoTo.User(kate)
	if after.Email != before.Email || after.FirstName != "Kate" || after.Status != before.Status {
		t.Errorf("Kate's account changed: %+v → %+v", before, after)
	}
	for _, r := range tw.records() {
		if r.GoToKey == kate {
			t.Errorf("g2msync owns Kate's account: %+v", r)
		}
	}
}

// TestHostileNamesCannotForgeOutput: a crafted givenName with a newline,
// ESC and BEL forged a whole line of the plan; a mail starting with "="
// ran as a spreadsheet formula in `report --output csv`. Text output now
// shows such characters escaped, CSV neutralises formulas, JSON stays exact.
func TestHostileNamesCannotForgeOutput(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 2}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1}, "")
	forged := "Eve\ndisable  ceo@x.co\x1b[2K\a" // under GoTo's 32 characters, so it is kept whole
	eve, err := tw.w.Graph.AddUser(graphsim.User{UserPrincipalName: "eve@contoso.example", Mail: "=1+2@contoso.example",
		GivenName: forged, Surname: "\u202eredna"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.w.Graph.AddMember(tw.w.GroupIDs["Sales"], eve); err != nil {
		t.Fatal(err)
	}
	if err := tw.m.runOnce(context.Background(), tw.app(), engine.Options{DryRun: true, InitialSync: true}); err != nil {
		t.Fatal(err)
	}
	plan := tw.stdout.String()
	for _, line := range strings.Split(plan, "\n") {
		if strings.HasPrefix(line, "disable  ceo@") {
			t.Errorf("a name forged a line of the plan:\n%s", plan)
		}
	}
	if strings.ContainsAny(plan, "\x1b\a\u202e") || !strings.Contains(plan, `Eve\ndisable  ceo@`) {
		t.Errorf("plan output carries control characters raw, or does not show them escaped:\n%q", plan)
	}
	tw.mustCycle(tw.app(), engine.Options{InitialSync: true})
	var entries []state.AuditEntry
	tw.read(func(st *state.Store) { entries, _ = st.Audit(state.AuditFilter{User: eve}) })
	var csvOut, jsonOut, textOut bytes.Buffer
	if err := view.Log(&csvOut, entries, "csv"); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&csvOut).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("csv: %v rows, %v", len(rows), err)
	}
	for _, c := range rows[1] {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			t.Errorf("csv cell %q would run as a formula", c)
		}
		if strings.ContainsAny(c, "\n\x1b\a") {
			t.Errorf("csv cell %q carries control characters", c)
		}
	}
	view.Log(&textOut, entries, "text")
	if strings.Count(textOut.String(), "\n") != 2 {
		t.Errorf("report text has more lines than entries:\n%s", textOut.String())
	}
	view.Log(&jsonOut, entries, "json")
	var back []state.AuditEntry
	if err := json.Unmarshal(jsonOut.Bytes(), &back); err != nil || back[0].Changes[1].New != forged {
		t.Errorf("JSON must keep the name exact: %v %+v", err, back)
	}
}

// Entra's token endpoint answering 400 with an error_description that
// repeated the request printed client_secret=… in check and in run --once,
// as WARN and ERROR lines and as the cycle's error. The process runs
// against graphsim told to echo every token request.
func TestEchoedSecretsAreNeverPrinted(t *testing.T) {
	pw := newProcWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 3}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1}, "@every 20m")
	if err := pw.w.Graph.InjectFault(graphsim.Fault{Route: "POST /token", Status: 400, Echo: true, Times: -1}); err != nil {
		t.Fatal(err)
	}
	secret := pw.w.ClientSecret
	for _, args := range [][]string{{"check"}, {"run", "--once", "--initial-sync"}} {
		code, out := pw.exitCode(args...)
		if code == ExitOK || !strings.Contains(out, "the request was") {
			t.Errorf("%v against an echoing token endpoint: exit %d, want a failure that quotes the reply\n%s", args, code, out)
		}
		for _, s := range []string{secret, url.QueryEscape(secret)} {
			if strings.Contains(out, s) {
				t.Errorf("%v printed the client secret:\n%s", args, out)
			}
		}
	}
}
