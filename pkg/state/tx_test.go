package state

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/plan"
)

// An operator's action and its provisioning-log entry land together or not
// at all: a failure after both were written inside one Update keeps
// neither.
func TestActionAndItsLogEntryLandTogether(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.db"), Options{Binding: binding})
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	if err := s.Commit(Outcome{EntraID: "e1", Failure: &Failure{EntraID: "e1", UPN: "ann@contoso.com", Count: 5, Quarantined: true}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetStaged([]Staged{{EntraID: "e2", UPN: "bob@contoso.com", Kind: "disable", Fingerprint: "fp2"}}); err != nil {
		t.Fatal(err)
	}
	entry := func(action string) AuditEntry {
		return AuditEntry{Time: at, Action: action, Result: ResultSuccess, Operator: "alice", Address: "192.0.2.1", Door: "console"}
	}
	boom := errors.New("boom")
	actions := []struct {
		name string
		do   func(tx *Tx) error
		// done says whether the action's change is in the file.
		done func() bool
	}{
		{"pause", func(tx *Tx) error { return tx.SetPause(&Pause{Since: at, By: "alice"}) },
			func() bool { p, _ := s.Paused(); return p != nil }},
		{"retry", func(tx *Tx) error {
			c, err := tx.ClearFailures("ANN@contoso.com")
			if len(c) != 1 {
				t.Errorf("retry cleared %+v", c)
			}
			return err
		}, func() bool { f, _ := s.Failures(); return len(f) == 0 }},
		{"approve", func(tx *Tx) error {
			a, err := tx.Approve("alice", map[string]string{"e2": "fp2"})
			if len(a) != 1 {
				t.Errorf("approve approved %+v", a)
			}
			return err
		}, func() bool { a, _ := s.Approvals(); return a["e2"] == "fp2" }},
	}
	for _, a := range actions {
		// Both written, then a failure: neither is kept.
		err := s.Update(func(tx *Tx) error {
			if err := a.do(tx); err != nil {
				return err
			}
			if err := tx.Log(entry(a.name)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("%s: Update returned %v, want fn's error", a.name, err)
		}
		if log, _ := s.Audit(AuditFilter{}); a.done() || len(log) != 0 {
			t.Errorf("%s: a failed Update kept its change (%v) or its log entry (%+v)", a.name, a.done(), log)
		}
		// Both written, no failure: both are kept.
		if err := s.Update(func(tx *Tx) error {
			if err := a.do(tx); err != nil {
				return err
			}
			return tx.Log(entry(a.name))
		}); err != nil {
			t.Fatalf("%s: %v", a.name, err)
		}
		log, _ := s.Audit(AuditFilter{})
		if !a.done() || len(log) != 1 || log[0].Action != a.name || log[0].Door != "console" || log[0].Operator != "alice" {
			t.Errorf("%s: change kept %v, log %+v", a.name, a.done(), log)
		}
		if _, err := s.PruneAudit(at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
}

// An approval never releases a change other than the one shown.
func TestApproveOnlyWhatWasShown(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.db"), Options{Binding: binding})
	if err := s.SetStaged([]Staged{{EntraID: "e1", Fingerprint: "fp1"}, {EntraID: "e2", Fingerprint: "fp2"}, {EntraID: "e3", Fingerprint: "fp3"}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ApproveShown("alice", map[string]string{"e1": "fp1", "e2": "another", "e9": "fp9"})
	if err != nil || len(got) != 1 || got[0].EntraID != "e1" {
		t.Fatalf("approved %+v %v", got, err)
	}
	if a, _ := s.Approvals(); len(a) != 1 || a["e1"] != "fp1" {
		t.Errorf("approvals %v", a)
	}
}

// A kept staged change is approved by no approval, its earlier approval is
// withdrawn, a release makes it approvable again, and the keep lapses when
// the change is no longer staged.
func TestKeepStaged(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.db"), Options{Binding: binding})
	gate := &plan.Gate{Disables: 3, OwnedActive: 10, MaxDisables: 1, MaxDisablesPercent: 100, OverCount: true}
	staged := []Staged{{EntraID: "e1", Fingerprint: "fp1", Gate: gate}, {EntraID: "e2", Fingerprint: "fp2", Gate: gate}, {EntraID: "e3", Fingerprint: "fp3", Gate: gate}}
	if err := s.SetStaged(staged); err != nil {
		t.Fatal(err)
	}
	all := map[string]string{"e1": "fp1", "e2": "fp2", "e3": "fp3"}
	if _, err := s.ApproveShown("alice", map[string]string{"e2": "fp2"}); err != nil {
		t.Fatal(err)
	}
	var kept []Staged
	err := s.Update(func(tx *Tx) (err error) {
		kept, err = tx.Keep("bob (console, 10.0.0.1)", "on leave, not gone", []string{"e2", "e2", "e9"})
		return err
	})
	if err != nil || len(kept) != 1 || kept[0].EntraID != "e2" {
		t.Fatalf("kept %+v %v; want e2 alone", kept, err)
	}
	if a, _ := s.Approvals(); a["e2"] != "" {
		t.Errorf("the approval of e2 stands after it was kept: %v", a)
	}
	if k, _ := s.Kept(); k["e2"].By != "bob (console, 10.0.0.1)" || k["e2"].Reason != "on leave, not gone" || k["e2"].At.IsZero() {
		t.Errorf("keep recorded as %+v", k["e2"])
	}
	got, err := s.ApproveShown("alice", all)
	if err != nil || len(got) != 2 || got[0].EntraID != "e1" || got[1].EntraID != "e3" {
		t.Fatalf("approve all approved %+v %v; want e1 and e3, not the kept e2", got, err)
	}
	if st, _ := s.Staged(); st[0].Gate == nil || *st[0].Gate != *gate {
		t.Errorf("staged gate read back as %+v", st[0].Gate)
	}
	var released []Keep
	if err := s.Update(func(tx *Tx) (err error) { released, err = tx.Release([]string{"e2", "e2", "e1"}); return err }); err != nil || len(released) != 1 {
		t.Fatalf("released %+v %v; want e2 once", released, err)
	}
	if got, _ := s.ApproveShown("alice", all); len(got) != 3 {
		t.Errorf("after the release, approved %d; want 3", len(got))
	}
	// Kept again, then no longer staged: the keep lapses.
	if err := s.Update(func(tx *Tx) error { _, err := tx.Keep("bob", "", []string{"e2"}); return err }); err != nil {
		t.Fatal(err)
	}
	if err := s.SetStaged(staged[:1]); err != nil {
		t.Fatal(err)
	}
	if k, _ := s.Kept(); len(k) != 0 {
		t.Errorf("keeps %v outlived their staged change", k)
	}
}
