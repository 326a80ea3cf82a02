package view

import (
	"bytes"
	"strings"
	"testing"

	"github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// status says once which threshold holds the staged disables.
func TestStatusSaysWhyDisablesAreStaged(t *testing.T) {
	g := &plan.Gate{Disables: 14, OwnedActive: 288, MaxDisables: 10, MaxDisablesPercent: 20, OverCount: true}
	var out bytes.Buffer
	err := Status(&out, &app.Status{Staged: []state.Staged{{EntraID: "a", Kind: "disable", Gate: g}, {EntraID: "b", Kind: "disable", Gate: g}, {EntraID: "c", Kind: "disable"}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Staged because: 14 disables in one cycle, over the limit of 10 (safety.max_disables)\n"; strings.Count(out.String(), want) != 1 {
		t.Errorf("status:\n%s\nwant %q once", out.String(), want)
	}
}

// A staged row an operator kept is not waiting for an approval: status
// counts only the others as waiting, and lists the kept one with who kept
// it. It counted every staged row and told to approve --all, which leaves
// kept rows.
func TestStatusSetsKeptRowsApart(t *testing.T) {
	var out bytes.Buffer
	err := Status(&out, &app.Status{Staged: []state.Staged{{EntraID: "a", Email: "ann@x.test", Kind: "disable"}, {EntraID: "b", Email: "bob@x.test", Kind: "disable"}},
		Kept: map[string]state.Keep{"b": {EntraID: "b", By: "alice", Reason: "on leave"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"Disables waiting for approval: 1\n", "Kept staged by an operator: 1", "bob@x.test, kept by alice at 0001-01-01 00:00: on leave"} {
		if !strings.Contains(got, want) {
			t.Errorf("status lacks %q:\n%s", want, got)
		}
	}
	if i := strings.Index(got, "Kept staged"); strings.Contains(got[:i], "bob@x.test") {
		t.Errorf("the kept row is listed as waiting:\n%s", got)
	}
}
