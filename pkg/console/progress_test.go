package console

import (
	"strings"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/app"
)

// While a cycle runs, the overview shows its phase, the changes done of
// the total and the time left, and offers to follow it: followed, it
// reloads itself (the Refresh header: the CSP allows no script, and a
// meta refresh is what axe-core reports as critical); unasked it does not,
// nor does any other page, so nothing typed is lost and no screen reader
// loses its place; between cycles the overview does not reload.
func TestOverviewShowsTheRunningCycleAndRefreshesOnlyThen(t *testing.T) {
	s, b := newTestConsole(t, true)
	const refresh = "Stop following"
	if rec := get(t, s, "/?follow=1"); rec.Header().Get("Refresh") != "" || strings.Contains(rec.Body.String(), `id="running"`) {
		t.Errorf("between cycles the overview reloads itself or shows a running cycle")
	}
	if rec := get(t, s, "/"); rec.Header().Get("Refresh") != "" || strings.Contains(rec.Body.String(), "http-equiv") {
		t.Errorf("the overview reloads itself unasked")
	}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	b.status.CycleRunning = true
	b.status.Running = &app.Progress{Started: t0, Phase: "reading Entra", PhaseSince: t0.Add(2 * time.Second)}
	if rec := get(t, s, "/"); rec.Header().Get("Refresh") != "" || !strings.Contains(rec.Body.String(), `href="/?follow=1#running"`) {
		t.Errorf("a running cycle: the overview reloads unasked (%q), or offers no way to follow it", rec.Header().Get("Refresh"))
	}
	rec := get(t, s, "/?follow=1")
	if rec.Header().Get("Refresh") != "5" {
		t.Errorf("following: Refresh %q, want 5", rec.Header().Get("Refresh"))
	}
	body := rec.Body.String()
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
	body = get(t, s, "/?follow=1").Body.String()
	for _, want := range []string{refresh, `<progress id="running-bar" max="288" value="72"`, "72 of 288 changes (25%)",
		"6.0 changes a second; about 36s left, until 2026-12-01 10:00:48 UTC", "GoTo paced at 6.5 requests a second, 3 429s"} {
		if !strings.Contains(body, want) {
			t.Errorf("applying: the overview lacks %q", want)
		}
	}
	for _, path := range []string{"/person", "/log", "/attention", "/approvals", "/cycles"} {
		if rec := get(t, s, path+"?follow=1"); rec.Header().Get("Refresh") != "" || strings.Contains(rec.Body.String(), "http-equiv") {
			t.Errorf("%s reloads itself while a cycle runs: a half-filled form would be lost", path)
		}
	}
}
