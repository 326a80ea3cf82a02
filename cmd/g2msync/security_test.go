package main

import (
	"strings"
	"testing"

	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/sim/gotosim"
	"github.com/g2msync/g2msync/pkg/sim/graphsim"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
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
