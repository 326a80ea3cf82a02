package console

import (
	"strings"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/app"
)

// While a cycle runs, the overview shows its phase, the changes done of
// the total and the time left, and reloads itself (a meta refresh: the CSP
// allows no script); no other page reloads, so nothing typed is lost;
// between cycles the overview does not reload.
func TestOverviewShowsTheRunningCycleAndRefreshesOnlyThen(t *testing.T) {
	s, b := newTestConsole(t, true)
	const refresh = `<meta http-equiv="refresh" content="5">`
	if body := get(t, s, "/").Body.String(); strings.Contains(body, "http-equiv=\"refresh\"") || strings.Contains(body, `id="running"`) {
		t.Errorf("between cycles the overview reloads itself or shows a running cycle")
	}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	b.status.CycleRunning = true
	b.status.Running = &app.Progress{Started: t0, Phase: "reading Entra", PhaseSince: t0.Add(2 * time.Second)}
	body := get(t, s, "/").Body.String()
	for _, want := range []string{refresh, `Cycle running: reading Entra`, "since 2026-12-01 10:00:02 UTC"} {
		if !strings.Contains(body, want) {
			t.Errorf("reading Entra: the overview lacks %q", want)
		}
	}
	if strings.Contains(body, "<progress") {
		t.Errorf("a bar before the plan counted the changes")
	}
	b.status.Running = &app.Progress{Started: t0, Phase: "applying", PhaseSince: t0, Done: 72, Total: 288, PerSecond: 6, LeftSeconds: 36,
		ETA: t0.Add(48 * time.Second), GoToPace: 6.5, GoTo429s: 3}
	body = get(t, s, "/").Body.String()
	for _, want := range []string{refresh, `<progress id="running-bar" max="288" value="72"`, "72 of 288 changes (25%)",
		"6.0 changes a second; about 36s left, until 2026-12-01 10:00:48 UTC", "GoTo paced at 6.5 requests a second, 3 429s"} {
		if !strings.Contains(body, want) {
			t.Errorf("applying: the overview lacks %q", want)
		}
	}
	for _, path := range []string{"/person", "/log", "/attention", "/approvals", "/cycles"} {
		if strings.Contains(get(t, s, path).Body.String(), "http-equiv=\"refresh\"") {
			t.Errorf("%s reloads itself while a cycle runs: a half-filled form would be lost", path)
		}
	}
}
