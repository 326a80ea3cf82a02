package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/state"
)

const licenseKey = "5100000000000000000001"

// explainReport is what the memBackend's explain and provision report for
// user: a person in scope through Sales, holding one licence.
func explainReport(user string) *app.OnDemandReport {
	return &app.OnDemandReport{People: []*app.PersonReport{{Query: user, EntraID: "x", UPN: user,
		Import:  map[string]string{"id": "x", "mail": user},
		Scope:   app.ScopeStep{InScope: true, Reasons: []string{"member of <b>Sales</b>"}},
		Mapping: app.MappingStep{Fields: []app.FieldStep{{Field: "email", Expression: "mail ?? userPrincipalName", Value: user}}, Licenses: []string{licenseKey}},
		Match:   app.MatchStep{By: "owned", GoToKey: "K1", Detail: "the GoTo account g2msync links to this Entra object id"},
		Action:  app.ActionStep{Action: "none", Reason: "the GoTo account already matches"},
		Result:  app.ResultStep{Status: app.StatusNothing},
		Known: &app.KnownStep{Account: &app.KnownAccount{GoToKey: "K1", Email: user, State: "active", Origin: "created", Licenses: []string{licenseKey}},
			Log: []state.AuditEntry{{Action: "create", Result: "success", Reason: "new " + hostile}}},
	}}, Unmatched: []string{}}
}

func (b *memBackend) Provision(_ context.Context, op Operator, user string) (*app.OnDemandReport, error) {
	if b.provisionErr != nil {
		return nil, b.provisionErr
	}
	b.actions = append(b.actions, "provision "+op.Name+" "+user)
	rep := explainReport(user)
	rep.CycleID = "od1"
	rep.People[0].Action = app.ActionStep{Action: "create", Reason: "no GoTo account has " + user}
	rep.People[0].Result = app.ResultStep{Status: app.StatusApplied}
	return rep, nil
}

func (b *memBackend) LicenseNames(context.Context) map[string]string {
	if b.licenseNames != nil {
		return b.licenseNames
	}
	return map[string]string{licenseKey: "GoToMeeting Business"}
}

// A licence name GoTo sends is shown escaped, with no control character,
// wherever a key is: the log, the person page, the mappings.
func TestHostileLicenceNames(t *testing.T) {
	s, b := newTestConsole(t, true)
	b.licenseNames = map[string]string{licenseKey: hostile + "\x1b[2J\r\nX"}
	b.entries = append(b.entries, state.AuditEntry{Seq: 2, EntraID: "e1", UPN: "ann@contoso.com", Action: "update", Result: "success",
		Changes: []state.PropertyChange{{Name: "licenseKeys", Old: licenseKey, New: ""}}})
	for _, page := range []string{
		get(t, s, "/log").Body.String(),
		get(t, s, "/mappings").Body.String(),
		post(t, s, "/person", url.Values{"user": {"ann@contoso.com"}}, "http://localhost:9464").Body.String(),
	} {
		if strings.Contains(page, "<script") || strings.Contains(page, "\x1b") || !strings.Contains(page, "&lt;script&gt;") {
			t.Errorf("a hostile licence name is not neutralised:\n%s", page)
		}
	}
}

// The person page: explain as a table of the CLI's steps, licences by
// name, the record and the log; provision now for an operator, from this
// console's page only, shown once after it ran.
func TestPersonExplainAndProvision(t *testing.T) {
	s, b := newTestConsole(t, true)
	b.entries = append(b.entries, state.AuditEntry{Seq: 2, EntraID: "e1", UPN: "ann@contoso.com", Action: "update", Result: "success",
		Changes: []state.PropertyChange{{Name: "licenseKeys", Old: licenseKey, New: ""}}})
	page := get(t, s, "/person?user=ann%40contoso.com").Body.String()
	for _, want := range []string{"Last entries of the provisioning log", "GoToMeeting Business (" + licenseKey + ") → -", `href="/log?user=ann%40contoso.com"`} {
		if !strings.Contains(page, want) {
			t.Errorf("person page lacks %q", want)
		}
	}
	if strings.Contains(page, `formaction="/person/provision"`) {
		t.Errorf("a reader who is not signed in is offered Provision now")
	}
	explain := post(t, s, "/person", url.Values{"user": {"ann@contoso.com"}}, "http://localhost:9464").Body.String()
	for _, want := range []string{
		`<h2 id="p-x">ann@contoso.com (Entra object id x)</h2>`, `<th scope="row">scope</th>`, "in scope: member of &lt;b&gt;Sales&lt;/b&gt;",
		`<td><code>mail ?? userPrincipalName</code></td>`, "licences GoToMeeting Business (" + licenseKey + "); admin roles -",
		"owns GoTo account K1 (ann@contoso.com, active, created; licences GoToMeeting Business (" + licenseKey + "))",
		"new &lt;script&gt;", `href="/log?user=x"`, "What <code>g2msync explain</code> says",
	} {
		if !strings.Contains(explain, want) {
			t.Errorf("explain lacks %q", want)
		}
	}

	cookie, csrf := signIn(t, s)
	if !strings.Contains(get(t, s, "/person?user=ann%40contoso.com", cookie).Body.String(), `formaction="/person/provision"`) {
		t.Errorf("an operator is not offered Provision now")
	}
	form := url.Values{"user": {"ann@contoso.com"}, "back": {"/person?user=ann@contoso.com"}}
	for _, tc := range []struct {
		name    string
		form    url.Values
		origin  string
		cookies []*http.Cookie
	}{
		{"no session", with(form, "csrf", csrf), "http://localhost:9464", nil},
		{"no CSRF token", form, "http://localhost:9464", []*http.Cookie{cookie}},
		{"another origin", with(form, "csrf", csrf), "http://evil.example", []*http.Cookie{cookie}},
	} {
		if w := post(t, s, "/person/provision", tc.form, tc.origin, tc.cookies...); w.Code < 400 {
			t.Errorf("%s: %d", tc.name, w.Code)
		}
	}
	if len(b.actions) != 0 {
		t.Fatalf("refused provisions acted: %v", b.actions)
	}
	w := post(t, s, "/person/provision", with(form, "csrf", csrf), "http://localhost:9464", cookie)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/person?user=ann@contoso.com" || len(b.actions) != 1 || b.actions[0] != "provision alice ann@contoso.com" {
		t.Fatalf("provision: %d %s, actions %v", w.Code, w.Header().Get("Location"), b.actions)
	}
	done := get(t, s, "/person?user=ann%40contoso.com", cookie).Body.String()
	for _, want := range []string{"provisioned on demand: ann@contoso.com: create, applied", "What <code>g2msync provision</code> did", "applied in cycle od1"} {
		if !strings.Contains(done, want) {
			t.Errorf("after the provision the page lacks %q", want)
		}
	}
	if again := get(t, s, "/person?user=ann%40contoso.com", cookie).Body.String(); strings.Contains(again, "applied in cycle od1") {
		t.Errorf("the provision's report is shown twice")
	}
	// While a cycle holds the state file: refused at once, saying so.
	b.provisionErr = ErrBusy
	post(t, s, "/person/provision", with(form, "csrf", csrf), "http://localhost:9464", cookie)
	if page := get(t, s, "/person?user=ann%40contoso.com", cookie).Body.String(); !strings.Contains(page, "failed: the state file is busy with a running cycle; try again in a moment") {
		t.Errorf("a busy provision is not said to be busy")
	}
	// A person field that names no one is refused, and acts on nothing.
	b.provisionErr = nil
	for _, bad := range []string{"", "ann@contoso.com\r\nX-Injected: 1", strings.Repeat("a", 400)} {
		post(t, s, "/person/provision", url.Values{"user": {bad}, "csrf": {csrf}}, "http://localhost:9464", cookie)
		if w := get(t, s, "/person?user="+url.QueryEscape(bad)); bad != "" && w.Code != http.StatusBadRequest {
			t.Errorf("person page of %q: %d", bad, w.Code)
		}
	}
	if len(b.actions) != 1 {
		t.Errorf("bad person fields acted: %v", b.actions)
	}
}

func with(v url.Values, key, value string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	out.Set(key, value)
	return out
}
