package app

import (
	"context"
	"strings"
	"testing"

	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// Keep holds a row back from approve all, with the operator's decision in
// the provisioning log; Release lets it be approved again.
func TestKeepAndRelease(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	bob := Actor{Name: "bob", Address: "10.0.0.7", Door: DoorConsole, Reason: "on leave, not gone"}
	long := bob
	long.Reason = strings.Repeat("x", 2000)
	if kept, err := s.Keep(ctx, long, []string{"e2"}); err == nil || len(kept) != 0 {
		t.Errorf("a 2,000-byte reason: kept %v, %v", kept, err)
	}
	kept, err := s.Keep(ctx, bob, []string{"e2", "nobody"})
	if err != nil || len(kept) != 1 || kept[0].EntraID != "e2" {
		t.Fatalf("kept %+v %v; want e2", kept, err)
	}
	staged, _ := s.Staged(ctx)
	approved, err := s.ApproveAllShown(ctx, Actor{Name: "alice", Door: DoorCLI})
	if err != nil || len(approved) != 1 || approved[0].EntraID != "e1" || len(staged) != 2 {
		t.Fatalf("approve all approved %+v %v; want e1 alone", approved, err)
	}
	k, err := s.Kept(ctx)
	if err != nil || k["e2"].Reason != "on leave, not gone" || !strings.HasPrefix(k["e2"].By, "bob (console, 10.0.0.7)") {
		t.Errorf("kept %+v %v", k, err)
	}
	released, err := s.Release(ctx, Actor{Name: "carol", Door: DoorConsole}, []string{"e2"})
	if err != nil || len(released) != 1 {
		t.Fatalf("released %+v %v", released, err)
	}
	if again, _ := s.Release(ctx, Actor{Name: "carol", Door: DoorConsole}, []string{"e2"}); len(again) != 0 {
		t.Errorf("a second release released %+v", again)
	}
	if approved, _ := s.ApproveAllShown(ctx, Actor{Name: "alice", Door: DoorCLI}); len(approved) != 2 {
		t.Errorf("after the release approve all approved %d, want 2", len(approved))
	}
	log := s.audit(t)
	var keep, release *state.AuditEntry
	for i := range log {
		switch log[i].Action {
		case "keep":
			keep = &log[i]
		case "release":
			release = &log[i]
		}
	}
	if keep == nil || keep.Operator != "bob" || keep.EntraID != "e2" || keep.UPN != "bob@contoso.com" || keep.Door != "console" ||
		!strings.Contains(keep.Reason, "on leave, not gone") || keep.Time != at {
		t.Errorf("keep entry %+v", keep)
	}
	if release == nil || release.Operator != "carol" || release.EntraID != "e2" || !strings.Contains(release.Reason, "kept by bob") {
		t.Errorf("release entry %+v", release)
	}
}

func TestGroupStagedByCause(t *testing.T) {
	over := &plan.Gate{Disables: 3, OwnedActive: 288, MaxDisables: 2, MaxDisablesPercent: 20, OverCount: true}
	staged := []state.Staged{
		{EntraID: "a", Gate: over}, {EntraID: "b", Gate: over}, {EntraID: "c", Gate: over},
		{EntraID: "d"}, // an older file
		{EntraID: "e"}, // kept, within the thresholds now
	}
	groups := GroupStaged(staged, map[string]state.Keep{"b": {EntraID: "b", By: "bob"}, "e": {EntraID: "e", By: "bob"}})
	if len(groups) != 3 {
		t.Fatalf("%d groups, want 3: %+v", len(groups), groups)
	}
	g := groups[0]
	if g.Cause != "3 disables in one cycle, over the limit of 2 (safety.max_disables)" || len(g.Rows) != 3 || g.Approvable != 2 || g.Rows[1].Kept == nil || g.Gate != over {
		t.Errorf("first group %+v", g)
	}
	if groups[1].Cause != causeUnknown || groups[1].Approvable != 1 || groups[2].Cause != causeKeptOnly || groups[2].Approvable != 0 {
		t.Errorf("other groups %+v %+v", groups[1], groups[2])
	}
}

// A staged row an operator kept waits for a release, not an approval: the
// daemon's staged-disables gauge and mail count only the others.
func TestReportAwaitingLeavesOutKeptRows(t *testing.T) {
	rep := &Report{Staged: []state.Staged{{EntraID: "a"}, {EntraID: "b"}, {EntraID: "c"}},
		Kept: map[string]state.Keep{"b": {EntraID: "b", By: "alice"}, "gone": {EntraID: "gone"}}}
	var ids []string
	for _, s := range rep.Awaiting() {
		ids = append(ids, s.EntraID)
	}
	if strings.Join(ids, ",") != "a,c" {
		t.Errorf("awaiting %v, want a and c", ids)
	}
}
