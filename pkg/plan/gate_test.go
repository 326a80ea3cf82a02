package plan

import (
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func TestGateText(t *testing.T) {
	tests := []struct {
		name string
		g    Gate
		want string
	}{
		{"count", Gate{Disables: 14, OwnedActive: 1000, MaxDisables: 10, MaxDisablesPercent: 20, OverCount: true},
			"14 disables in one cycle, over the limit of 10 (safety.max_disables)"},
		{"percent", Gate{Disables: 14, OwnedActive: 288, MaxDisables: 50, MaxDisablesPercent: 2, OverPercent: true},
			"14 disables in one cycle, over the limit of 5 (2 % of 288 owned active accounts, safety.max_disables_percent)"},
		{"both, percent tighter", Gate{Disables: 14, OwnedActive: 288, MaxDisables: 10, MaxDisablesPercent: 2, OverCount: true, OverPercent: true},
			"14 disables in one cycle, over the limit of 5 (2 % of 288 owned active accounts, safety.max_disables_percent) and of 10 (safety.max_disables)"},
		{"both, count tighter", Gate{Disables: 1, Deletes: 2, OwnedActive: 10, MaxDisables: 0, MaxDisablesPercent: 20, OverCount: true, OverPercent: true},
			"1 disable and 2 deletes in one cycle, over the limit of 0 (safety.max_disables) and of 2 (20 % of 10 owned active accounts, safety.max_disables_percent)"},
		{"deletes", Gate{Deletes: 1, OwnedActive: 10, MaxDisables: 0, MaxDisablesPercent: 100, OverCount: true},
			"1 delete in one cycle, over the limit of 0 (safety.max_disables)"},
	}
	for _, tt := range tests {
		if got := tt.g.Text(); got != tt.want {
			t.Errorf("%s: Text() =\n %q, want\n %q", tt.name, got, tt.want)
		}
	}
}

// TestGateRecordsItsNumbers: the plan says which threshold its staged
// changes exceeded, with the figures the gate weighed.
func TestGateRecordsItsNumbers(t *testing.T) {
	accounts, records := gatePeople(20)
	pol := testPolicy()
	pol.MaxDisables, pol.MaxDisablesPercent = 10, 100
	p := Compute(Input{Accounts: accounts[14:], Records: records, Policy: pol})
	if len(p.Staged) != 14 || p.Gate == nil {
		t.Fatalf("staged %d, gate %+v; want 14 and a gate", len(p.Staged), p.Gate)
	}
	want := Gate{Disables: 14, OwnedActive: 20, MaxDisables: 10, MaxDisablesPercent: 100, OverCount: true}
	if *p.Gate != want {
		t.Errorf("gate %+v, want %+v", *p.Gate, want)
	}
	under := Compute(Input{Accounts: accounts[5:], Records: records, Policy: pol})
	if under.Gate != nil || len(under.Staged) != 0 {
		t.Errorf("5 disables under a limit of 10: gate %+v, staged %d", under.Gate, len(under.Staged))
	}
}

// TestKeptStaysStaged: a disable an operator kept staged is staged under
// the thresholds, with --allow-disables and with an approval of it, and
// holds back no other change.
func TestKeptStaysStaged(t *testing.T) {
	accounts, records := gatePeople(20)
	pol := testPolicy()
	pol.MaxDisables, pol.MaxDisablesPercent = 10, 100
	first := accounts[0].EntraID
	kept := map[string]bool{first: true}
	approveAll := func(p *Plan) map[string]string {
		m := map[string]string{}
		for _, c := range p.Staged {
			m[c.EntraID] = c.Fingerprint()
		}
		return m
	}
	over := Compute(Input{Accounts: accounts[14:], Records: records, Policy: pol})
	tests := []struct {
		name string
		in   Input
		// applied is how many disables go ahead.
		applied int
	}{
		{"under the thresholds", Input{Accounts: accounts[3:], Records: records, Policy: pol, Kept: kept}, 2},
		{"allow-disables", Input{Accounts: accounts[14:], Records: records, Policy: pol, Kept: kept, AllowDisables: true}, 13},
		{"every staged change approved", Input{Accounts: accounts[14:], Records: records, Policy: pol, Kept: kept, Approvals: approveAll(over)}, 13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Compute(tt.in)
			if len(p.Staged) != 1 || p.Staged[0].EntraID != first || p.Kept != 1 {
				t.Fatalf("staged %v (%d kept), want only the kept %s", kinds(p), p.Kept, first)
			}
			if got := p.Count(KindDisable); got != tt.applied {
				t.Errorf("disables applied %d, want %d", got, tt.applied)
			}
			if p.Gate != nil {
				t.Errorf("no threshold was exceeded, yet gate %+v", p.Gate)
			}
			if !strings.Contains(p.StageReason, "kept staged") {
				t.Errorf("stage reason %q does not say the change is kept", p.StageReason)
			}
		})
	}
}

func gatePeople(n int) ([]Account, []Record) {
	var accounts []Account
	var records []Record
	for i := range n {
		id := string(rune('a'+i/26)) + string(rune('a'+i%26))
		a := person(id, id+"@x.com")
		accounts = append(accounts, a)
		records = append(records, owned(a, "K"+id))
	}
	return accounts, records
}

// On any history, a disable or delete an operator kept staged is never
// applied: not with an approval of it, not with --allow-disables, not under
// the thresholds; and keeping rows stages nothing that is not a
// deprovision. A plan whose gate holds changes says which threshold.
func TestPropertyKeptIsNeverApplied(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := drawHistory(t, drawWorld(t))
		in.AllowDisables = rapid.Bool().Draw(t, "allow")
		in.Kept = map[string]bool{}
		for _, r := range in.Records {
			if rapid.Bool().Draw(t, "kept") {
				in.Kept[r.EntraID] = true
			}
		}
		p := Compute(in)
		for _, c := range p.Changes {
			if c.Kind.Deprovisions() && in.Kept[c.EntraID] {
				t.Fatalf("the kept %s of %s is applied", c.Kind, c.EntraID)
			}
		}
		for _, c := range p.Staged {
			if !c.Kind.Deprovisions() {
				t.Fatalf("a %s of %s is staged", c.Kind, c.EntraID)
			}
			if !in.Kept[c.EntraID] && p.Gate == nil {
				t.Fatalf("%s is staged, not kept, and no threshold is said", c.EntraID)
			}
		}
	})
}
