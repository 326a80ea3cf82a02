package console

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/g2msync/g2msync/pkg/app"
)

func (b *memBackend) Mappings() (*app.Mappings, error) {
	return &app.Mappings{
		Fields:     []app.MappingField{{Field: "email", Expression: "mail ?? userPrincipalName"}, {Field: "firstName", Expression: hostile, CreateOnly: true, Default: "-"}},
		Matching:   []string{"mail", "userPrincipalName"},
		Scope:      []app.ScopeFilter{{Name: "staff", Clauses: []string{`department NOT EQUALS "Support"`}}},
		Roles:      []app.MappedRole{{Role: "User", Licenses: []string{licenseKey, "5100000000000000000009"}, AdminRoles: nil}},
		Policy:     app.Policy{Mode: "sync", Deprovision: "disable", MaxDisables: 10, MaxDisablesPercent: 5},
		Attributes: []string{"department", "givenName", "mail"},
	}, nil
}

func (b *memBackend) MappingTest(_ context.Context, user string, sets []string) (*app.OnDemandReport, error) {
	b.actions = append(b.actions, "mapping test "+user+" "+strings.Join(sets, ";"))
	if len(sets) > 0 && strings.Contains(sets[0], "bad") {
		return nil, errors.New("--set: configuration: mapping.firstName: at column 3, unknown function bad")
	}
	rep := explainReport(user)
	rep.People[0].Known = nil
	rep.People[0].Mapping.Fields = append(rep.People[0].Mapping.Fields, app.FieldStep{Field: "firstName", Expression: "Left([givenName], 1)", Value: "A"})
	rep.People[0].Result = app.ResultStep{Status: app.StatusDryRun}
	return rep, nil
}

// The mappings page shows the rules in force, licences by name, and tries
// them on a person, with overrides, as `g2msync mapping test` does. Only an
// operator may try overrides: an expression may name any attribute, which
// the person is read again for with g2msync's Graph permissions.
func TestMappingsPage(t *testing.T) {
	s, b := newTestConsole(t, true)
	if page := get(t, s, "/mappings").Body.String(); strings.Contains(page, `<label for="try-sets">`) {
		t.Error("a reader is offered overrides")
	}
	op, _ := signIn(t, s)
	page := get(t, s, "/mappings", op).Body.String()
	for _, want := range []string{
		"<code>mail ?? userPrincipalName</code>", "on create only", "&lt;script&gt;", `<code>department NOT EQUALS &#34;Support&#34;</code>`,
		"GoToMeeting Business (" + licenseKey + ")", "<div>5100000000000000000009</div>", "above 10 or above 5 %",
		`<label for="try-user">Person</label>`, `<label for="try-sets">`, `aria-current="page">Mappings`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("mappings page lacks %q", want)
		}
	}
	try := func(form url.Values, origin string) *httptest.ResponseRecorder {
		return post(t, s, "/mappings/test", form, origin, op)
	}
	if w := post(t, s, "/mappings/test", url.Values{"user": {"ann@contoso.com"}, "sets": {"firstName=[mobilePhone]"}}, "http://localhost:9464"); w.Code != http.StatusForbidden ||
		!strings.Contains(w.Body.String(), "overrides are for the console&#39;s operators") {
		t.Errorf("a reader's override: %d\n%s", w.Code, w.Body)
	}
	if len(b.actions) != 0 {
		t.Fatalf("a reader's override ran: %q", b.actions)
	}
	w := try(url.Values{"user": {"ann@contoso.com"}, "sets": {"firstName=Left([givenName], 1)\r\n\r\n  lastName=surname \n"}}, "http://localhost:9464")
	body := w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, "What <code>g2msync mapping test</code> says; nothing was changed") ||
		!strings.Contains(body, "<code>Left([givenName], 1)</code>") || !strings.Contains(body, "not applied (dry run)") {
		t.Errorf("try: %d\n%s", w.Code, body)
	}
	if want := "mapping test ann@contoso.com firstName=Left([givenName], 1);lastName=surname"; len(b.actions) != 1 || b.actions[0] != want {
		t.Errorf("actions %q, want %q", b.actions, want)
	}
	if !strings.Contains(body, "lastName=surname") {
		t.Errorf("the overrides are not kept in the form")
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		origin string
		code   int
		want   string
	}{
		{"another origin", url.Values{"user": {"ann@contoso.com"}}, "http://evil.example", http.StatusForbidden, "refused"},
		{"no person", url.Values{"user": {" "}}, "http://localhost:9464", http.StatusBadRequest, "names no one"},
		{"a line that is no override", url.Values{"user": {"a@b"}, "sets": {"firstName"}}, "http://localhost:9464", http.StatusBadRequest, "write each override as FIELD=EXPRESSION"},
		{"too many overrides", url.Values{"user": {"a@b"}, "sets": {strings.Repeat("firstName=givenName\n", 11)}}, "http://localhost:9464", http.StatusBadRequest, "at most 10"},
		{"an expression the language refuses", url.Values{"user": {"a@b"}, "sets": {"firstName=bad(1)"}}, "http://localhost:9464", http.StatusOK, "unknown function bad"},
		{"a body over the limit", url.Values{"user": {"a@b"}, "sets": {"firstName=" + strings.Repeat("x", maxFormBytes)}}, "http://localhost:9464", http.StatusRequestEntityTooLarge, "limit"},
	} {
		w := try(tc.form, tc.origin)
		if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%s: %d, want %d with %q", tc.name, w.Code, tc.code, tc.want)
		}
	}
	if len(b.actions) != 2 {
		t.Errorf("refused tries ran: %q", b.actions)
	}
}
