package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/g2msync/g2msync/pkg/state"
)

// The browser test's steps for the person, mappings and approvals pages
// (issue 28): each takes the test's run and shot, so that its steps read
// as the test's own.
type (
	runFunc  func(what string, actions ...chromedp.Action[chromedp.Void])
	shotFunc func(name string) chromedp.Action[chromedp.Void]
)

// browserExplain explains a person from their page: a table of the CLI's
// steps, with their record and licences by name.
func browserExplain(t *testing.T, run runFunc, shot shotFunc, base, mail string) {
	t.Helper()
	var explain string
	run("explain", chromedp.Navigate(base+"/person?user="+url.QueryEscape(mail)), chromedp.Click(chromedp.CSS(`form.search button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`section.steps table`)), into(&explain, chromedp.Text(chromedp.CSS(`section.steps`))), shot("person"))
	for _, want := range []string{"in scope: member of", "owns GoTo account", "GoToMeeting"} {
		if !strings.Contains(explain, want) {
			t.Errorf("the person page lacks %q:\n%s", want, explain)
		}
	}
}

// browserKeepOneApproveTheRest keeps the first of the five staged disables
// staged, with a reason, then selects all the others with the page's
// "select all" button and approves the selection.
func browserKeepOneApproveTheRest(t *testing.T, run runFunc, shot shotFunc) {
	t.Helper()
	var cause, kept, approved string
	run("keep one staged", into(&cause, chromedp.Text(chromedp.CSS(`#g1-h`))),
		chromedp.Click(chromedp.CSS(`#g1 tbody tr:first-child input[type=checkbox]`)), chromedp.SendKeys(chromedp.CSS(`#g1-reason`), "on leave, not a leaver"),
		chromedp.Click(chromedp.CSS(`#g1 button[formaction="/approvals/keep"]`)), chromedp.WaitVisible(chromedp.CSS(`.flash`)), into(&kept, chromedp.Text(chromedp.CSS(`.flash`))))
	if !strings.HasPrefix(cause, "5 disables in one cycle, over the limit of 2 (safety.max_disables)") {
		t.Errorf("the group's cause reads %q", cause)
	}
	if !strings.Contains(kept, "kept 1 change staged") {
		t.Errorf("after keeping: %q", kept)
	}
	run("select all and approve the selection", chromedp.Click(chromedp.CSS(`#g1 button[formaction="/approvals/select"]`)), chromedp.WaitVisible(chromedp.CSS(`#g1 input[type=checkbox][checked]`)),
		shot("approvals-selected"), chromedp.Click(chromedp.CSS(`#g1 button[name=selected]`)), chromedp.WaitVisible(chromedp.CSS(`.flash`)), into(&approved, chromedp.Text(chromedp.CSS(`.flash`))))
	if !strings.Contains(approved, "approved 4 staged disables") {
		t.Errorf("after approving the selection: %q", approved)
	}
}

// browserKeptStaysStaged: once the four went, the kept disable is still
// staged, in a group of its own, with who kept it and why.
func browserKeptStaysStaged(t *testing.T, run runFunc, shot shotFunc, base string) {
	t.Helper()
	var page string
	run("the kept row", chromedp.Navigate(base+"/approvals"), chromedp.WaitVisible(chromedp.CSS(`#g1`)), into(&page, chromedp.Text(chromedp.CSS(`main`))), shot("approvals-kept"))
	for _, want := range []string{"Kept staged by an operator", "Within the thresholds now", "by alice (console, 127.0.0.1)", "on leave, not a leaver", "Release"} {
		if !strings.Contains(page, want) {
			t.Errorf("the approvals page lacks %q:\n%s", want, page)
		}
	}
}

// browserProvisionNow provisions a new hire from their page, as an
// operator: the page says what was done, step by step. The daemon's own
// cycles run every two seconds: one that holds the state file makes the
// console say busy, and the operator tries again, as a person would.
func browserProvisionNow(t *testing.T, run runFunc, shot shotFunc, base string, pw *procWorld) {
	t.Helper()
	hire, err := pw.w.NewHire("Sales")
	if err != nil {
		t.Fatal(err)
	}
	var flash string
	for try := 0; ; try++ {
		run("provision now", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/person?user="+url.QueryEscape(hire.Mail)),
			chromedp.Click(chromedp.CSS(`button[formaction="/person/provision"]`)), chromedp.WaitVisible(chromedp.CSS(`.flash`)), into(&flash, chromedp.Text(chromedp.CSS(`.flash`))))
		if !strings.Contains(flash, "busy") || try == 20 {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	var steps string
	run("the provision's steps", into(&steps, chromedp.Text(chromedp.CSS(`section.steps`))), shot("person-provision"))
	if !strings.Contains(flash, "provisioned on demand: "+hire.UPN) || !strings.Contains(steps, "g2msync provision") {
		t.Errorf("after Provision now: %q\n%s", flash, steps)
	}
	if !strings.Contains(flash, "create, applied") {
		// The daemon's cycle may have created the hire first.
		t.Logf("Provision now found the hire already created: %q", flash)
	}
	if _, ok := pw.w.GoTo.UserByEmail(hire.Mail); !ok {
		t.Errorf("no GoTo account for the hire after Provision now")
	}
}

// browserMappings shows the rules in force and tries an override on a
// person.
func browserMappings(t *testing.T, run runFunc, shot shotFunc, base, mail string) {
	t.Helper()
	var rules, tried string
	run("mappings", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/mappings"), chromedp.WaitVisible(chromedp.CSS(`#map-h`)), into(&rules, chromedp.Text(chromedp.CSS(`main`))), shot("mappings"))
	for _, want := range []string{"mail ?? userPrincipalName", "Roles and licences", "GoToMeeting"} {
		if !strings.Contains(rules, want) {
			t.Errorf("the mappings page lacks %q", want)
		}
	}
	run("try on a person", chromedp.SendKeys(chromedp.CSS(`#try-user`), mail), chromedp.SendKeys(chromedp.CSS(`#try-sets`), "firstName=Left([givenName], 1)"),
		chromedp.Click(chromedp.CSS(`#try-h ~ form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`section.steps`)), into(&tried, chromedp.Text(chromedp.CSS(`section.steps`))),
		shot("mappings-try"))
	if !strings.Contains(tried, "Left([givenName], 1)") || !strings.Contains(tried, "not applied (dry run)") {
		t.Errorf("try on a person:\n%s", tried)
	}
}

// browserPhoneWidth: at a phone's width the new pages are no wider than
// the screen.
func browserPhoneWidth(t *testing.T, run runFunc, shot shotFunc, base, mail string) {
	t.Helper()
	for name, path := range map[string]string{"approvals": "/approvals", "mappings": "/mappings", "person": "/person?user=" + url.QueryEscape(mail)} {
		var width int
		run(name+" on a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS(`main`)),
			into(&width, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)), shot(name+"-phone"), chromedp.EmulateReset())
		if width > 390 {
			t.Errorf("at 390 px the %s page is %d px wide", name, width)
		}
	}
}

// browserLog reads the provisioning log's entries of one action.
func browserLog(t *testing.T, base, action string) []state.AuditEntry {
	t.Helper()
	resp, err := http.Get(base + "/log.json?action=" + action)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var entries []state.AuditEntry
	if err := json.NewDecoder(resp.Body).Decode(&entries); err != nil {
		t.Fatal(err)
	}
	return entries
}
