package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/console"
	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
)

// browser starts headless Chromium, or skips the test when there is none;
// in CI (.ci/run sets CI) a missing browser fails it instead, so the
// console is never untested there.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, p := range []string{os.Getenv("G2MSYNC_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no Chromium to drive the console test (apt-get install chromium; .ci/run installs it)")
		}
		t.Skip("no Chromium here (apt-get install chromium); CI runs this test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelTimeout)
	if err := chromedp.Do(ctx); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("start Chromium at %s: %v", path, err)
		}
		t.Skipf("Chromium at %s does not start: %v", path, err)
	}
	return ctx
}

// screenshots is where the browser test leaves its pictures, to be looked at.
func screenshots(t *testing.T) string {
	dir := os.Getenv("G2MSYNC_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "g2msync-console-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestConsoleInABrowser drives the console of a running daemon in
// headless Chromium: the overview, the last cycle, a search of the log for
// a person, their explain; then disables are staged, an operator signs in
// and approves them, and the next cycle applies them. It saves a full-page
// screenshot of each page.
func TestConsoleInABrowser(t *testing.T) {
	ctx := browser(t)
	pw := newProcWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 30}, {Name: "Support", Size: 10}}, DirectAdmins: 3}, "@every 2s")
	withOperator(t, pw, "safety: { max_disables: 2 }\n")
	stderr := runProcess(t, pw)
	base := "http://" + pw.listen
	waitFor := statusWaiter(t, pw, stderr)
	waitFor("a cycle", func(s daemon.StatusDoc) bool { return len(s.Cycles) > 0 })
	dir := screenshots(t)
	shot := shooter(dir)
	run := runner(t, ctx, stderr)

	// The overview, and the last cycle from it.
	var mood, cycleTitle string
	run("overview", chromedp.Navigate(base+"/"), chromedp.WaitVisible(`#last-cycle`), into(&mood, chromedp.Text(`.card .big`)), shot("overview"))
	if mood != "running" {
		t.Errorf("overview says %q, want running", mood)
	}
	run("last cycle", chromedp.Click(`#last-cycle`), chromedp.WaitVisible(`dl.facts`), into(&cycleTitle, chromedp.Text(`h1`)), shot("cycle"))
	if !strings.HasPrefix(cycleTitle, "Cycle ") {
		t.Errorf("the last cycle's page is titled %q", cycleTitle)
	}

	// A search of the log for one person.
	p := pw.w.InScope(false)[3]
	var found string
	run("search the log", chromedp.Navigate(base+"/log"), chromedp.SendKeys(`#user`, p.Mail), chromedp.Submit(`#user`),
		chromedp.WaitVisible(`table tbody tr td a`), into(&found, chromedp.Text(`table tbody`)), shot("log"))
	if other := pw.w.InScope(false)[4].Mail; !strings.Contains(found, p.Mail) || strings.Contains(found, other) {
		t.Errorf("the log search for %s shows:\n%s", p.Mail, found)
	}
	browserExplain(t, run, shot, base, p.Mail)

	// Five leave: more than max_disables, so the daemon stages them.
	for _, q := range pw.w.InScope(false)[:5] {
		if err := pw.w.RemoveFromGroup(q.ID); err != nil {
			t.Fatal(err)
		}
	}
	waitFor("staged disables", func(s daemon.StatusDoc) bool { return len(s.Staged) == 5 })
	var signIn string
	run("approvals, signed out", chromedp.Navigate(base+"/approvals"), chromedp.WaitVisible(`table`), into(&signIn, chromedp.Text(`main`)))
	if !strings.Contains(signIn, "Sign in as an operator") {
		t.Errorf("approvals offer no sign-in:\n%s", signIn)
	}
	run("sign in", chromedp.Navigate(base+"/login?next=/approvals"), chromedp.WaitVisible(`#name`),
		chromedp.SendKeys(`#name`, "alice"), chromedp.SendKeys(`#password`, "correct horse battery"), chromedp.Submit(`#password`),
		chromedp.WaitVisible(chromedp.CSS(`#g1`)), shot("approvals"))
	browserKeepOneApproveTheRest(t, run, shot)
	waitFor("the approved disables applied", func(s daemon.StatusDoc) bool { return len(s.Staged) == 1 && s.Owned["disabled"] == 4 })
	browserKeptStaysStaged(t, run, shot, base)
	run("cycles", chromedp.Navigate(base+"/cycles"), chromedp.WaitVisible(`table`), shot("cycles"))
	s, err := pw.status()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range s.Cycles {
		if c.Applied["disable"] == 4 {
			var applied string
			run("the cycle that applied them", chromedp.Navigate(base+"/cycles/"+c.ID), chromedp.WaitVisible(`dl.facts`),
				into(&applied, chromedp.Text(`main`)), shot("cycle-disables"))
			if strings.Count(applied, "licenseKeys") != 4 {
				t.Errorf("the cycle's page does not list the 4 disables with their licences:\n%s", applied)
			}
		}
	}
	run("attention", chromedp.Navigate(base+"/attention"), chromedp.WaitVisible(`#pause-h`), shot("attention"))
	run("overview after", chromedp.Navigate(base+"/"), chromedp.WaitVisible(`#last-cycle`), shot("overview-after"))
	// At a phone's width nothing runs off the side: the page is no wider
	// than the screen.
	var width int
	run("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(base+"/attention"), chromedp.WaitVisible(`#pause-h`),
		into(&width, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)), shot("attention-phone"), chromedp.EmulateReset())
	if width > 390 {
		t.Errorf("at 390 px the attention page is %d px wide", width)
	}

	browserProvisionNow(t, run, shot, base, pw)
	browserMappings(t, run, shot, base, pw.w.InScope(false)[6].Mail)
	browserPhoneWidth(t, run, shot, base, p.Mail)

	// The approvals, the keep and the provision are in the provisioning
	// log with the operator's name.
	for action, n := range map[string]int{"approve": 4, "keep": 1, "provision": 1} {
		entries := browserLog(t, base, action)
		if len(entries) != n || entries[0].Operator != "alice" || entries[0].Address != "127.0.0.1" || entries[0].Door != "console" {
			t.Errorf("%s entries: %+v", action, entries)
		}
	}
	t.Logf("screenshots in %s", dir)
}

// withOperator gives pw's console the operator alice (password "correct
// horse battery"), appends yaml to its configuration, and runs the first
// sync.
func withOperator(t *testing.T, pw *procWorld, yaml string) {
	t.Helper()
	hash, err := console.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	ops := filepath.Join(pw.dir, "operators")
	if err := os.WriteFile(ops, []byte("alice:"+hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	configure(t, pw, "console: { operators_file: "+ops+" }\n"+yaml)
}

// configure appends yaml to pw's configuration and runs the first sync.
func configure(t *testing.T, pw *procWorld, yaml string) {
	t.Helper()
	f, err := os.OpenFile(pw.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(yaml)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if code, out := pw.exitCode("run", "--once", "--initial-sync"); code != ExitOK {
		t.Fatalf("initial sync: exit %d\n%s", code, out)
	}
}

// runProcess runs `g2msync run` for pw until the test ends, and returns
// what it writes to stderr.
func runProcess(t *testing.T, pw *procWorld) fmt.Stringer {
	t.Helper()
	cmd, _, stderr := pw.command("run")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	return stderr
}

// shooter returns an action that saves a full-page screenshot of what the
// browser shows as dir/name.png.
func shooter(dir string) func(name string) chromedp.Action[chromedp.Void] {
	return func(name string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return chromedp.Void{}, err
			}
			return chromedp.Void{}, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
		}
	}
}

// runner returns run: it runs actions in the browser of ctx, and fails t
// with what the daemon said (stderr) when one fails.
func runner(t *testing.T, ctx context.Context, stderr fmt.Stringer) func(what string, actions ...chromedp.Action[chromedp.Void]) {
	return func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, stderr)
		}
	}
}

// statusWaiter returns waitFor: it waits up to a minute for the daemon's
// /status to meet cond, and fails t with the daemon's stderr if it does not.
func statusWaiter(t *testing.T, pw *procWorld, stderr fmt.Stringer) func(what string, cond func(daemon.StatusDoc) bool) {
	return func(what string, cond func(daemon.StatusDoc) bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if s, err := pw.status(); err == nil && cond(s) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\n%s", what, stderr)
			}
		}
	}
}

// into runs a, keeping its value in dst.
func into[T any](dst *T, a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, tg)
		*dst = v
		return chromedp.Void{}, err
	}
}

// On an address other hosts reach, the daemon will not serve the console
// without operators; disabled, it serves none; on loopback it reads open.
func TestConsoleNeedsOperatorsOffLoopback(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 1}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1}, "")
	cfg := *tw.cfg
	cfg.Listen = "0.0.0.0:9464"
	status := func() daemon.StatusDoc { return daemon.StatusDoc{} }
	if _, err := tw.m.newConsole(tw.appWith(&cfg), status); err == nil || !strings.Contains(err.Error(), "needs operators to sign in") {
		t.Errorf("non-loopback without operators: %v", err)
	}
	hash, err := console.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Console.OperatorsFile = filepath.Join(tw.dir, "operators")
	if err := os.WriteFile(cfg.Console.OperatorsFile, []byte("alice:"+hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.m.newConsole(tw.appWith(&cfg), status); err == nil || !strings.Contains(err.Error(), "over plain HTTP") {
		t.Errorf("non-loopback without TLS: %v", err)
	}
	cfg.ListenTLS = config.ListenTLS{CertFile: "cert.pem", KeyFile: "key.pem"}
	if ui, err := tw.m.newConsole(tw.appWith(&cfg), status); ui == nil || err != nil {
		t.Errorf("non-loopback with operators and TLS: %v %v", ui, err)
	}
	cfg.Console.Disabled = true
	if ui, err := tw.m.newConsole(tw.appWith(&cfg), status); ui != nil || err != nil {
		t.Errorf("disabled: %v %v", ui, err)
	}
	cfg = *tw.cfg
	cfg.Listen = "127.0.0.1:9464"
	if ui, err := tw.m.newConsole(tw.appWith(&cfg), status); ui == nil || err != nil {
		t.Errorf("loopback: %v %v", ui, err)
	}
}
