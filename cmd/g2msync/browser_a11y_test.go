package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
)

// axeSource returns axe-core, the accessibility checker .ci/run installs
// from npm into .ci/npm. Without it the test skips, except in CI (CI set),
// where a console never goes unchecked.
func axeSource(t *testing.T) string {
	t.Helper()
	src, err := findAxe()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no axe-core to check the console (.ci/run installs it: npm install --prefix .ci/npm axe-core): %v", err)
		}
		t.Skipf("no axe-core here (npm install --no-save --prefix .ci/npm axe-core@4.14.1); CI runs this test: %v", err)
	}
	return src
}

// findAxe reads axe-core from $G2MSYNC_AXE or .ci/npm.
func findAxe() (string, error) {
	path := os.Getenv("G2MSYNC_AXE")
	if path == "" {
		_, file, _, _ := runtime.Caller(0)
		path = filepath.Join(filepath.Dir(file), "..", "..", ".ci", "npm", "node_modules", "axe-core", "axe.min.js")
	}
	src, err := os.ReadFile(path)
	return string(src), err
}

// axeFinding is one rule axe-core found broken, with where.
type axeFinding struct {
	ID, Impact, Help string
	Nodes            []string
}

// axeRun runs axe-core on the page shown and returns the serious and
// critical violations (the bar; moderate and minor are reported
// by the test's log only).
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations.map(v => ({
	ID: v.id, Impact: v.impact || "", Help: v.help,
	Nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + ": " + (n.failureSummary || "").replace(/\s+/g, " "))}))))`

// keyboardWalk marks every control a person can act on or follow (in
// document order, visible ones), so that pressing Tab can be checked to
// reach each one. It returns how many.
const keyboardMark = `(() => {
	const sel = 'a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';
	const els = [...document.querySelectorAll(sel)].filter(e => e.getClientRects().length > 0);
	els.forEach((e, i) => e.setAttribute("data-kb", String(i)));
	if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
	return els.length;
})()`

// focused says which marked control has the focus, and whether the focus
// shows: some style of the control or of what it holds (an outline, a
// shadow, a stroke, a colour) differs from the same control unfocused.
const focused = `(() => {
	const e = document.activeElement;
	if (!e || !e.hasAttribute("data-kb")) return "";
	const look = () => [e, ...e.querySelectorAll("*")].slice(0, 20).map(n => {
		const s = getComputedStyle(n);
		return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow, s.stroke, s.strokeWidth, s.fill,
			s.backgroundColor, s.color, s.textDecorationLine, s.borderColor].join("|");
	}).join(";");
	const on = look();
	e.blur();
	const off = look();
	e.focus();
	return e.getAttribute("data-kb") + (on !== off ? "" : "!") + " " + (e.id || e.getAttribute("name") || e.textContent.trim().slice(0, 30));
})()`

// checkAccessible checks the page at url as a keyboard user, a screen
// reader and a phone would meet it: axe-core finds no serious or critical
// violation, at 1280 px and at 390 px; Tab reaches every control and the
// focus shows on each; at 390 px nothing runs off the side. ready is a
// selector the page shows when loaded. It saves both screenshots.
func checkAccessible(t *testing.T, ctx context.Context, axe, url, ready, name string) {
	t.Helper()
	checkAccessibleAfter(t, ctx, axe, url, name, chromedp.Navigate(url), chromedp.WaitVisible(ready))
}

// checkAccessibleAfter is checkAccessible of the page open brings (a
// form's answer, say), run once at each width.
func checkAccessibleAfter(t *testing.T, ctx context.Context, axe, url, name string, open ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	dir := screenshots(t)
	shot := shooter(dir)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %s: %v", name, what, err)
		}
	}
	audit := func(width string) {
		t.Helper()
		var out string
		run("axe "+width, chromedp.Evaluate[chromedp.Void](axe), into(&out, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise)))
		var found []axeFinding
		if err := json.Unmarshal([]byte(out), &found); err != nil {
			t.Fatalf("%s: axe's reply: %v\n%s", name, err, out)
		}
		for _, f := range found {
			msg := fmt.Sprintf("%s at %s: axe %s %s (%s):\n\t%s", url, width, f.Impact, f.ID, f.Help, strings.Join(f.Nodes, "\n\t"))
			if f.Impact == "serious" || f.Impact == "critical" {
				t.Error(msg)
			} else {
				t.Log(msg)
			}
		}
	}

	run("open", append(append([]chromedp.Action[chromedp.Void]{chromedp.EmulateReset()}, open...), shot(name))...)
	audit("1280 px")

	// Tab from the top of the page: every control once, in order, each
	// with a focus a sighted keyboard user can see.
	var n int
	run("mark controls", into(&n, chromedp.Evaluate[int](keyboardMark)))
	reached := map[string]bool{}
	for i := 0; i < n+2 && len(reached) < n; i++ {
		var f string
		run("tab", chromedp.KeyEvent("\t"), into(&f, chromedp.Evaluate[string](focused)))
		if f == "" {
			continue
		}
		idx, label, _ := strings.Cut(f, " ")
		if strings.HasSuffix(idx, "!") {
			idx = strings.TrimSuffix(idx, "!")
			if !reached[idx] {
				t.Errorf("%s: the focus does not show on %q", url, label)
			}
		}
		reached[idx] = true
	}
	if len(reached) < n {
		var missed string
		run("missed", into(&missed, chromedp.Evaluate[string](`[...document.querySelectorAll("[data-kb]")].filter(e => !`+
			fmt.Sprintf("%q", reachedList(reached))+`.split(",").includes(e.getAttribute("data-kb"))).map(e => e.outerHTML.slice(0, 80)).join("\n")`)))
		t.Errorf("%s: Tab reached %d of %d controls; not:\n%s", url, len(reached), n, missed)
	}

	var width int
	run("phone", append(append([]chromedp.Action[chromedp.Void]{chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)}, open...),
		into(&width, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)), shot(name+"-phone"))...)
	if width > 390 {
		t.Errorf("%s: at 390 px the page is %d px wide", url, width)
	}
	audit("390 px")
	run("reset", chromedp.EmulateReset())
}

func reachedList(m map[string]bool) string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	return strings.Join(s, ",")
}

// TestConsoleAccessible checks every page of the console, signed out and
// signed in as an operator (so that every action is on the page), with
// checkAccessible.
func TestConsoleAccessible(t *testing.T) {
	ctx := browser(t)
	axe := axeSource(t)
	pw := newProcWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 20}}, DirectAdmins: 2}, "@every 2s")
	withOperator(t, pw, "safety: { max_disables: 1 }\n")
	// Two leave, over max_disables: the approvals page has rows.
	for _, q := range pw.w.InScope(false)[:2] {
		if err := pw.w.RemoveFromGroup(q.ID); err != nil {
			t.Fatal(err)
		}
	}
	stderr := runProcess(t, pw)
	var cycleID string
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if s, err := pw.status(); err == nil && len(s.Staged) == 2 && len(s.Cycles) > 0 {
			cycleID = s.Cycles[0].ID
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for the staged disables\n%s", stderr)
		}
	}
	base := "http://" + pw.listen
	person := pw.w.InScope(false)[3].Mail
	pages := []struct{ path, ready, name string }{
		{"/", "#last-cycle", "overview"},
		{"/cycles", "table", "cycles"},
		{"/statistics", "#days-chart", "statistics"},
		{"/mappings", "#try-h", "mappings"},
		{"/mappings?user=" + person, "#try-h", "mappings-tried"},
		{"/cycles/" + cycleID, "dl.facts", "cycle"},
		{"/log?user=" + person, "table", "log"},
		{"/person?user=" + person, "main", "person"},
		{"/approvals", "table", "approvals"},
		{"/attention", "#pause-h", "attention"},
	}
	checkAccessible(t, ctx, axe, base+"/login", "#name", "a11y-login")
	for _, p := range pages {
		checkAccessible(t, ctx, axe, base+p.path, p.ready, "a11y-signed-out-"+p.name)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/login"), chromedp.WaitVisible(`#name`),
		chromedp.SendKeys(`#name`, "alice"), chromedp.SendKeys(`#password`, "correct horse battery"), chromedp.Submit(`#password`),
		chromedp.WaitVisible(`form[action="/logout"]`)); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	for _, p := range pages {
		checkAccessible(t, ctx, axe, base+p.path, p.ready, "a11y-"+p.name)
	}
	// The answers of the person page's and the mappings page's forms.
	checkAccessibleAfter(t, ctx, axe, base+"/person (explain)", "a11y-person-explained",
		chromedp.Navigate(base+"/person?user="+person), chromedp.WaitVisible(`form.search button`), chromedp.Click(`form.search button`),
		chromedp.WaitVisible(`section.steps table`))
	checkAccessibleAfter(t, ctx, axe, base+"/mappings (tried)", "a11y-mappings-tried",
		chromedp.Navigate(base+"/mappings?user="+person), chromedp.WaitVisible(`#try-user`), chromedp.Submit(`#try-user`),
		chromedp.WaitVisible(`section.steps table`))
}
