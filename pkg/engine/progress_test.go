package engine

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/g2msync/g2msync/pkg/directory"
)

// A cycle reports its phases in order (Entra, GoTo, planning, applying),
// and while it applies, each change done of the same total, rising to it;
// with calls in flight together as with one at a time.
func TestCycleReportsItsPhasesAndProgress(t *testing.T) {
	for _, inFlight := range []int{1, 4} {
		t.Run(fmt.Sprintf("in flight %d", inFlight), func(t *testing.T) {
			h := newHarness(t, 30)
			h.inFlight = inFlight
			if _, err := h.run(Options{InitialSync: true}); err != nil {
				t.Fatal(err)
			}
			for i := range 12 {
				h.src.edit(fmt.Sprintf("u%04d", i), func(u *directory.User) { u.Attributes["surname"] = "Changed" })
			}
			var mu sync.Mutex
			var got []Progress
			_, err := h.run(Options{OnProgress: func(p Progress) { mu.Lock(); got = append(got, p); mu.Unlock() }})
			if err != nil {
				t.Fatal(err)
			}
			var phases []Phase
			for _, p := range got {
				if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
					phases = append(phases, p.Phase)
				}
			}
			if want := []Phase{PhaseEntra, PhaseGoTo, PhasePlanning, PhaseApplying}; !slices.Equal(phases, want) {
				t.Fatalf("phases %v, want %v", phases, want)
			}
			done := -1
			for _, p := range got {
				if p.Phase != PhaseApplying {
					if p.Done != 0 || p.Total != 0 {
						t.Errorf("%s reports %d of %d changes", p.Phase, p.Done, p.Total)
					}
					continue
				}
				if p.Total != 12 || p.Done < done || p.Done > p.Total {
					t.Errorf("applying: %d of %d after %d", p.Done, p.Total, done)
				}
				done = p.Done
			}
			if done != 12 {
				t.Errorf("the last report says %d done, want 12", done)
			}
		})
	}
}
