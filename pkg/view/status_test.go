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
