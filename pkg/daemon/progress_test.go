package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/engine"
)

// While a cycle runs, /status says where it is: its phase, the changes
// done of the total, the pace seen and when it should end, moving as the
// cycle reports; once it ends, no running cycle is shown.
func TestStatusShowsTheRunningCyclesProgress(t *testing.T) {
	clock := newFakeClock()
	step := make(chan engine.Progress)
	shown := make(chan struct{})
	cycle := func(_ context.Context, opts engine.Options) (*Report, error) {
		for p := range step {
			opts.OnProgress(p)
			shown <- struct{}{}
		}
		return okReport("c1"), nil
	}
	d, _, _ := start(t, Options{Schedule: "@every 1h", Cycle: cycle, Clock: clock})
	waitFor(t, "the cycle", func() bool { return d.Status().CycleRunning })
	running := func() *app.Progress {
		t.Helper()
		code, body := get(t, d, "/status")
		if code != http.StatusOK {
			t.Fatalf("/status: %d %s", code, body)
		}
		var doc StatusDoc
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatal(err)
		}
		return doc.Running
	}
	if p := running(); p == nil || p.Phase != phaseStarting {
		t.Fatalf("before the engine reports: %+v", p)
	}
	tell := func(p engine.Progress, after time.Duration) *app.Progress {
		t.Helper()
		step <- p
		<-shown
		clock.Advance(after)
		return running()
	}
	if p := tell(engine.Progress{Phase: engine.PhaseEntra}, 3*time.Second); p.Phase != "reading Entra" || p.Total != 0 || !p.ETA.IsZero() {
		t.Errorf("reading Entra: %+v", p)
	}
	tell(engine.Progress{Phase: engine.PhaseGoTo}, time.Second)
	tell(engine.Progress{Phase: engine.PhasePlanning}, 0)
	// Nothing done yet: the estimate is the GoTo pace, 288 changes at 8/s.
	p := tell(engine.Progress{Phase: engine.PhaseApplying, Total: 288, Pace: 8}, 0)
	if p.Phase != "applying" || p.Done != 0 || p.Total != 288 || p.LeftSeconds != 36 || !p.ETA.Equal(clock.Now().Add(36*time.Second)) {
		t.Errorf("applying, none done: %+v", p)
	}
	// 72 done in 12 s: 6 a second, 216 left take 36 s; 429s slowed it.
	p = tell(engine.Progress{Phase: engine.PhaseApplying, Done: 72, Total: 288, Pace: 6.5, Throttled: 3}, 12*time.Second)
	if p.Done != 72 || p.PerSecond != 6 || p.LeftSeconds != 36 || p.GoTo429s != 3 || p.GoToPace != 6.5 || !p.ETA.Equal(clock.Now().Add(36*time.Second)) {
		t.Errorf("applying, 72 done: %+v", p)
	}
	if p.Started.IsZero() || !p.PhaseSince.After(p.Started) {
		t.Errorf("started %v, applying since %v", p.Started, p.PhaseSince)
	}
	close(step)
	waitFor(t, "the cycle to end", func() bool { return !d.Status().CycleRunning })
	if p := running(); p != nil {
		t.Errorf("after the cycle: %+v", p)
	}
}

// /status/statistics serves the statistics of the days asked for (30 when
// not), refuses a count it cannot serve, and says no more than "try again"
// when they cannot be read.
func TestStatusStatistics(t *testing.T) {
	var asked []int
	fail := false
	d, err := New(Options{Schedule: "@every 1h", Clock: newFakeClock(), Statistics: func(_ context.Context, days int) (*app.Statistics, error) {
		asked = append(asked, days)
		if fail {
			return nil, errors.New("open /var/lib/g2msync/state.db: busy")
		}
		return &app.Statistics{Days: make([]app.Day, days), Total: app.Day{Cycles: 3}}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		code int
	}{
		{"/status/statistics", 200}, {"/status/statistics?days=7", 200}, {"/status/statistics?days=0", 400},
		{"/status/statistics?days=367", 400}, {"/status/statistics?days=x", 400},
	} {
		if code, body := get(t, d, c.path); code != c.code {
			t.Errorf("%s: %d %s", c.path, code, body)
		}
	}
	if len(asked) != 2 || asked[0] != 30 || asked[1] != 7 {
		t.Errorf("asked for %v days", asked)
	}
	fail = true
	if code, body := get(t, d, "/status/statistics"); code != http.StatusServiceUnavailable || strings.Contains(body, "state.db") {
		t.Errorf("unreadable: %d %s", code, body)
	}
}
