package app

import (
	"testing"
	"time"

	"pgregory.net/rapid"
)

// The estimate of what is left: never negative nor past its bound, none
// left once all is done, less left for more done in the same time, and
// before any change is done, the changes left at the GoTo pace.
func TestEstimateLeftProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		total := rapid.IntRange(0, 200_000).Draw(t, "total")
		done := rapid.IntRange(0, total).Draw(t, "done")
		applying := time.Duration(rapid.Int64Range(0, int64(48*time.Hour)).Draw(t, "applying"))
		pace := rapid.Float64Range(0, 20).Draw(t, "pace")
		left, per, ok := EstimateLeft(done, total, applying, pace)
		if left < 0 || left > maxLeft || per < 0 {
			t.Fatalf("left %v, %v per second", left, per)
		}
		if done == total && (left != 0 || ok != (total > 0)) {
			t.Fatalf("all %d done: left %v, ok %v", total, left, ok)
		}
		if done < total && done > 0 && applying > 0 {
			more := rapid.IntRange(done, total).Draw(t, "more")
			later, _, _ := EstimateLeft(more, total, applying, pace)
			if later > left {
				t.Fatalf("%d done leaves %v, %d done leaves %v", done, left, more, later)
			}
		}
		if done == 0 && total > 0 {
			secs := float64(total) / pace
			want := time.Duration(secs * float64(time.Second))
			switch {
			case pace == 0 && ok:
				t.Fatalf("no pace and nothing done, yet an estimate of %v", left)
			case pace > 0 && secs >= maxLeft.Seconds() && left != maxLeft:
				t.Fatalf("%d changes at %g/s: %v, want the bound", total, pace, left)
			case pace > 0 && secs < maxLeft.Seconds() && (left-want > time.Millisecond || want-left > time.Millisecond):
				t.Fatalf("%d changes at %.2f/s: %v, want %v", total, pace, left, want)
			}
		}
	})
}

// Literal cases beside the property: the pace seen wins over the client's
// once a change is done, and a stalled cycle gets the bound, not an
// overflow.
func TestEstimateLeftCases(t *testing.T) {
	for _, c := range []struct {
		name        string
		done, total int
		applying    time.Duration
		pace        float64
		want        time.Duration
		wantOK      bool
	}{
		{"nothing to do", 0, 0, 0, 9, 0, false},
		{"nothing done yet, at the pace", 0, 288, 0, 8, 36 * time.Second, true},
		{"nothing done, no pace", 0, 288, time.Minute, 0, 0, false},
		{"half done in a minute", 144, 288, time.Minute, 8, time.Minute, true},
		{"bulk creates: 100 in 2 s", 100, 1000, 2 * time.Second, 8, 18 * time.Second, true},
		{"stalled", 1, 1_000_000, 24 * time.Hour, 8, maxLeft, true},
		{"all done", 288, 288, time.Minute, 8, 0, true},
		{"the clock went back: the GoTo pace", 10, 90, -time.Minute, 8, 10 * time.Second, true},
	} {
		left, _, ok := EstimateLeft(c.done, c.total, c.applying, c.pace)
		if left != c.want || ok != c.wantOK {
			t.Errorf("%s: %v, %v; want %v, %v", c.name, left, ok, c.want, c.wantOK)
		}
	}
}
