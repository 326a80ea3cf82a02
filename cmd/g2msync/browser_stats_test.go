package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	application "github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
)

// slowCycle starts a daemon whose first cycle is slow: 40 people change
// surname, and GoTo answers each call after 600 ms (4 in flight: some 6 s
// of applying). It returns the world, the daemon's stderr, and a watch
// that polls /status until the cycle ends, calling applying once with the
// progress while the cycle is half way, and returns every progress seen.
func slowCycle(t *testing.T) (pw *procWorld, stderr fmt.Stringer, watch func(applying func(application.Progress)) []application.Progress) {
	pw = newProcWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 60}}, DirectAdmins: 2}, "@every 1h")
	if code, out := pw.exitCode("run", "--once", "--initial-sync"); code != ExitOK {
		t.Fatalf("initial sync: exit %d\n%s", code, out)
	}
	for _, p := range pw.w.InScope(false)[:40] {
		if err := pw.w.Graph.UpdateUser(p.ID, map[string]any{"surname": p.Surname + "-Lee"}); err != nil {
			t.Fatal(err)
		}
	}
	pw.w.GoTo.SetLatency(600 * time.Millisecond)
	logs := runProcess(t, pw)
	return pw, logs, func(applying func(application.Progress)) []application.Progress {
		var seen []application.Progress
		called := false
		for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(150 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the cycle did not end; progress seen %+v\n%s", seen, logs)
			}
			s, err := pw.status()
			if err != nil {
				continue
			}
			if s.Running == nil {
				if len(s.Cycles) > 0 && len(seen) > 0 {
					break
				}
				continue
			}
			seen = append(seen, *s.Running)
			if p := *s.Running; !called && p.Phase == "applying" && p.Done > 0 && p.Done < p.Total {
				called = true
				applying(p)
			}
		}
		if !called {
			t.Fatalf("never saw the cycle applying: %+v", seen)
		}
		return seen
	}
}

// checkProgress checks the progress a slow cycle of total changes
// reported, by counts, never by the clock: the phases in order, done never
// going back, the total fixed, and an estimate of what is left whenever
// something is.
func checkProgress(t *testing.T, seen []application.Progress, total int) {
	t.Helper()
	order := map[string]int{"starting": 0, "reading Entra": 1, "reading GoTo": 2, "planning": 3, "applying": 4}
	last, done, withETA, applying := -1, 0, 0, 0
	for _, p := range seen {
		o, ok := order[p.Phase]
		if !ok || o < last {
			t.Fatalf("phase %q after %d: %+v", p.Phase, last, seen)
		}
		last = o
		if p.Phase != "applying" {
			continue
		}
		applying++
		if p.Total != total || p.Done < done || p.Done > p.Total {
			t.Errorf("applying %d of %d after %d done", p.Done, p.Total, done)
		}
		done = p.Done
		if p.Done < p.Total && p.LeftSeconds > 0 && !p.ETA.IsZero() && p.LeftSeconds < 3600 {
			withETA++
		}
	}
	t.Logf("%d progress reports, %d while applying, %d of them with an estimate; the last: %d of %d", len(seen), applying, withETA, done, total)
	if applying < 3 || withETA*2 < applying || done == 0 {
		t.Errorf("%d reports while applying, %d with a sane estimate, %d done at the last", applying, withETA, done)
	}
}

// A slow cycle's progress moves on /status and in `g2msync status`, with a
// sane estimate: without a browser, so that it runs wherever the tests do.
func TestDaemonShowsASlowCyclesProgress(t *testing.T) {
	pw, _, watch := slowCycle(t)
	var statusText string
	seen := watch(func(application.Progress) { _, statusText = pw.exitCode("status") })
	checkProgress(t, seen, 40)
	if !strings.Contains(statusText, "A cycle is running: applying,") || !strings.Contains(statusText, "of 40 changes") {
		t.Errorf("g2msync status while applying says:\n%s", statusText)
	}
}

// TestConsoleProgressAndStatisticsInABrowser watches the slow cycle in
// headless Chromium: the overview shows its phase and a bar of done of
// total, offers to follow it, and followed reloads itself (the Refresh
// header) while it runs and not after. Then /statistics
// shows the days and the accounts; both hold at 390 px. Screenshots of
// each are saved.
func TestConsoleProgressAndStatisticsInABrowser(t *testing.T) {
	ctx := browser(t)
	pw, stderr, watch := slowCycle(t)
	base := "http://" + pw.listen
	dir := screenshots(t)
	shot := shooter(dir)
	run := runner(t, ctx, stderr)
	refresh := func(r *network.Response) string {
		if r == nil {
			return ""
		}
		v, _ := r.Headers["Refresh"].(string)
		return v
	}
	var page string
	var unasked, followed *network.Response
	seen := watch(func(application.Progress) {
		run("overview while applying", into(&unasked, chromedp.NavigateResponse(base+"/")), chromedp.WaitVisible(`#running-bar`),
			chromedp.Click(`#follow`), chromedp.WaitVisible(`#running-bar`), into(&page, chromedp.Text(`#running`)), shot("overview-running"))
		run("following", into(&followed, chromedp.NavigateResponse(base+"/?follow=1")), chromedp.WaitVisible(`#running-bar`))
	})
	checkProgress(t, seen, 40)
	if !strings.Contains(page, "Cycle running: applying") || !strings.Contains(page, "of 40 changes") || !strings.Contains(page, "Stop following") ||
		refresh(unasked) != "" || refresh(followed) != "5" {
		t.Errorf("the overview while applying (reloading unasked %q, followed %q) says:\n%s", refresh(unasked), refresh(followed), page)
	}
	var after *network.Response
	run("overview after", into(&after, chromedp.NavigateResponse(base+"/?follow=1")), chromedp.WaitVisible(`#last-cycle`), shot("overview-after-slow-cycle"))
	if refresh(after) != "" {
		t.Errorf("the overview reloads itself between cycles")
	}
	var total, active string
	run("statistics", chromedp.Navigate(base+"/statistics"), chromedp.WaitVisible(`#days-chart`), into(&total, chromedp.Text(`#st-total`)),
		into(&active, chromedp.Text(`#st-active`)), shot("statistics"))
	if !strings.Contains(total, "40 updated") || !strings.Contains(total, "2 cycles") {
		t.Errorf("the statistics' total says %q", total)
	}
	if s, err := pw.status(); err != nil || active != strconv.Itoa(s.Owned["active"]) || active == "0" {
		t.Errorf("managed and active: %q, /status says %v (%v)", active, s.Owned, err)
	}
	for _, path := range []string{"/statistics", "/"} {
		var width int
		name := "statistics-phone"
		if path == "/" {
			name = "overview-phone"
		}
		run("phone "+path, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(base+path), chromedp.WaitVisible(`svg.chart`),
			into(&width, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)), shot(name), chromedp.EmulateReset())
		if width > 390 {
			t.Errorf("at 390 px %s is %d px wide", path, width)
		}
	}
	t.Logf("screenshots in %s", dir)
}
