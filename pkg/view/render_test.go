package view

import (
	"testing"

	"github.com/g2msync/g2msync/pkg/state"
)

func TestPaceNote(t *testing.T) {
	for _, tc := range []struct {
		c    state.Cycle
		want string
	}{
		{state.Cycle{}, ""},                 // unpaced, or a cycle recorded before the figures
		{state.Cycle{GoToThrottled: 3}, ""}, // no pace known: say nothing rather than half
		{state.Cycle{GoToPace: 9.5}, "; GoTo 429s 0, pace 9.5/s"},
		{state.Cycle{GoToPace: 4.7500001, GoToThrottled: 2}, "; GoTo 429s 2, pace 4.75/s"},
	} {
		if got := paceNote(tc.c); got != tc.want {
			t.Errorf("paceNote(%+v) = %q, want %q", tc.c, got, tc.want)
		}
	}
}
