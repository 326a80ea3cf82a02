package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/security"
	"github.com/chromedp/chromedp"

	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/sim/graphsim"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
	"github.com/g2msync/g2msync/pkg/state"
)

// TestConsoleEntraSignInInABrowser drives a running daemon's console in
// headless Chromium, signing in through the simulated Entra's authorize
// page: a member of the operators group pauses, resumes and approves
// staged disables, and the provisioning log names her UPN and Entra object
// id; a person of the tenant outside the group sees the pages, no action,
// and a forged action from her session is refused. Screenshots of the
// sign-in pages go to the screenshots directory.
func TestConsoleEntraSignInInABrowser(t *testing.T) {
	ctx := browser(t)
	pw := newProcWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 20}}, DirectAdmins: 2}, "@every 2s")
	g := pw.w.Graph
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// The daemon's app registration takes the console's redirect URI and
	// emits the groups claim; the tenant has an operators group.
	must(g.AddRedirectURI(pw.w.ClientID, "http://"+pw.listen+"/auth/callback"))
	must(g.SetGroupClaims(pw.w.ClientID, true))
	ops, err := g.AddGroup(graphsim.Group{DisplayName: "g2msync operators", SecurityEnabled: true})
	must(err)
	const password = "Entra-sign-in-1"
	people := map[string]string{}
	for _, upn := range []string{"ida.operator@" + scenario.Domain, "rae.reader@" + scenario.Domain} {
		id, err := g.AddUser(graphsim.User{UserPrincipalName: upn, DisplayName: upn})
		must(err)
		must(g.SetPassword(id, password))
		people[upn] = id
	}
	operator, reader := "ida.operator@"+scenario.Domain, "rae.reader@"+scenario.Domain
	must(g.AddMember(ops, people[operator]))

	configure(t, pw, "console: { entra: { enabled: true, operators_group: "+ops+" } }\nsafety: { max_disables: 2 }\n")
	stderr := runProcess(t, pw)
	base := "http://" + pw.listen
	waitFor := statusWaiter(t, pw, stderr)
	waitFor("a cycle", func(s daemon.StatusDoc) bool { return len(s.Cycles) > 0 })
	dir := screenshots(t)
	shot := shooter(dir)
	run := func(ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, stderr)
		}
	}
	// The simulated Entra serves HTTPS with a throwaway authority the
	// browser does not know; the console itself is plain HTTP on loopback.
	trustSimulator := func(ctx context.Context) {
		t.Helper()
		if _, err := chromedp.Call(ctx, security.SetIgnoreCertificateErrors, security.SetIgnoreCertificateErrorsParams{Ignore: true}); err != nil {
			t.Fatal(err)
		}
	}
	signIn := func(ctx context.Context, upn, prefix string) {
		t.Helper()
		trustSimulator(ctx)
		run(ctx, "sign in as "+upn, chromedp.Navigate(base+"/login?next=/attention"), chromedp.WaitVisible(`#sign-in-entra`), shot(prefix+"login"),
			chromedp.Click(`#sign-in-entra`), chromedp.WaitVisible(`#username`), shot(prefix+"authorize"),
			chromedp.SendKeys(`#username`, upn), chromedp.SendKeys(`#password`, password), chromedp.Submit(`#password`),
			chromedp.WaitVisible(`#pause-h`))
	}

	// The sign-in page with Entra, as a keyboard, a screen reader and a
	// phone meet it (where axe-core is installed: CI always).
	if axe, err := findAxe(); err == nil {
		checkAccessible(t, ctx, axe, base+"/login", "#sign-in-entra", "a11y-entra-login")
	} else if os.Getenv("CI") != "" {
		t.Fatalf("no axe-core: %v", err)
	}

	// The operator signs in through Entra's page, pauses and resumes.
	signIn(ctx, operator, "entra-")
	var who, flash string
	run(ctx, "pause", into(&who, chromedp.Text(`.who`)), shot("entra-operator-attention"),
		chromedp.SendKeys(`#reason`, "checking the Entra sign-in"), chromedp.Submit(`#reason`), chromedp.WaitVisible(`.flash`),
		into(&flash, chromedp.Text(`.flash`)))
	if !strings.Contains(who, operator) || strings.Contains(who, "read only") || !strings.Contains(flash, "provisioning paused") {
		t.Errorf("signed in as %q; after pausing: %q", who, flash)
	}
	waitFor("the daemon to report the pause", func(s daemon.StatusDoc) bool { return s.Paused != nil })
	run(ctx, "resume", chromedp.Navigate(base+"/attention"), chromedp.WaitVisible(`form[action="/resume"] button`),
		chromedp.Click(`form[action="/resume"] button`), chromedp.WaitVisible(`.flash`), into(&flash, chromedp.Text(`.flash`)))
	if !strings.Contains(flash, "provisioning resumed") {
		t.Errorf("after resuming: %q", flash)
	}
	waitFor("the daemon to report the resume", func(s daemon.StatusDoc) bool { return s.Paused == nil })
	// Five leave: more than max_disables, so the daemon stages them; she
	// keeps one staged and approves a selection of the other four. Then
	// she provisions a new hire on demand.
	for _, q := range pw.w.InScope(false)[:5] {
		must(pw.w.RemoveFromGroup(q.ID))
	}
	waitFor("staged disables", func(s daemon.StatusDoc) bool { return len(s.Staged) == 5 })
	op := runner(t, ctx, stderr)
	op("approvals", chromedp.Navigate(base+"/approvals"), chromedp.WaitVisible(`#g1-h`))
	browserKeepOneApproveTheRest(t, op, shot)
	waitFor("the approved disables applied", func(s daemon.StatusDoc) bool { return s.Owned["disabled"] == 4 })
	browserProvisionNow(t, op, shot, base, pw)

	// A person of the tenant outside the group, in another browser: she
	// reads, is offered no action, and a forged one from her session fails.
	rctx, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	signIn(rctx, reader, "entra-reader-")
	var main string
	var forms int
	run(rctx, "reader's attention page", into(&who, chromedp.Text(`.who`)), into(&main, chromedp.Text(`main`)),
		into(&forms, chromedp.Evaluate[int](`document.querySelectorAll('main form').length`)), shot("entra-reader-attention"))
	if !strings.Contains(who, reader) || !strings.Contains(who, "read only") || forms != 0 || !strings.Contains(main, "not in the console's operators group") {
		t.Errorf("the reader sees %q with %d forms:\n%s", who, forms, main)
	}
	got, err := chromedp.Call(rctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	must(err)
	var session *http.Cookie
	for _, c := range got.Cookies {
		if c.Name == "g2msync_session" {
			session = &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	if session == nil {
		t.Fatalf("the reader's browser holds no session: %+v", got.Cookies)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/pause", strings.NewReader(url.Values{"reason": {"forged"}, "csrf": {"0"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	req.AddCookie(session)
	res, err := http.DefaultClient.Do(req)
	must(err)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("the reader's forged pause: %d", res.StatusCode)
	}

	// The provisioning log names the operator by UPN and Entra object id,
	// for each of her actions; none is the reader's.
	resp, err := http.Get(base + "/log.json")
	must(err)
	defer resp.Body.Close()
	var entries []state.AuditEntry
	must(json.NewDecoder(resp.Body).Decode(&entries))
	byAction := map[string]int{}
	for _, e := range entries {
		if e.Operator == "" {
			continue
		}
		if e.Operator != operator || e.OperatorID != people[operator] || e.Door != "console" {
			t.Errorf("entry %s by %q (%q) through %q", e.Action, e.Operator, e.OperatorID, e.Door)
		}
		byAction[e.Action]++
	}
	if byAction["pause"] != 1 || byAction["resume"] != 1 || byAction["approve"] != 4 || byAction["keep"] != 1 || byAction["provision"] != 1 {
		t.Errorf("operator entries by action: %v", byAction)
	}
	t.Logf("screenshots in %s", dir)
}
