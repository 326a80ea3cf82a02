package console

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// Who acts is decided by the token's groups and roles alone: a holder of
// the configured role, or a member of the configured group (object ids
// compare without case); nothing configured, no one.
func TestEntraOperatorRule(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ids := rapid.SampledFrom([]string{"", "5f3c0000-0000-0000-0000-00000000000a", "5F3C0000-0000-0000-0000-00000000000A", "7a1b0000-0000-0000-0000-00000000000b"})
		roles := rapid.SampledFrom([]string{"", "Console.Operator", "console.operator", "Reader"})
		group, role := ids.Draw(t, "group"), roles.Draw(t, "role")
		c := &idClaims{Groups: rapid.SliceOfN(ids, 0, 3).Draw(t, "groups"), Roles: rapid.SliceOfN(roles, 0, 3).Draw(t, "roles")}
		s := &Server{entra: &entraSignIn{cfg: Entra{OperatorsGroup: group, OperatorsRole: role}}}
		want := (role != "" && slices.Contains(c.Roles, role)) ||
			(group != "" && slices.ContainsFunc(c.Groups, func(g string) bool { return strings.EqualFold(g, group) }))
		if got := s.entraOperator(c); got != want {
			t.Fatalf("group %q role %q, token groups %v roles %v: acts %v, want %v", group, role, c.Groups, c.Roles, got, want)
		}
		if group == "" && role == "" && s.entraOperator(c) {
			t.Fatal("acts with nothing configured")
		}
	})
}

// Whatever a callback carries, a visitor who started no sign-in gets no
// session and a clear page, and the console does not fail.
func FuzzEntraCallback(f *testing.F) {
	for _, seed := range []string{"code=abc&state=def", "error=access_denied&error_description=%3Cscript%3E", "state=&code=", "%zz", "state=" + strings.Repeat("a", 5000)} {
		f.Add(seed, "cookie-value")
	}
	s, err := New(Options{Backend: &memBackend{}, Entra: &Entra{Issuer: "https://login.invalid/t/v2.0", TenantID: "t", ClientID: "c", ClientSecret: "s"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, query, cookie string) {
		r := httptest.NewRequest(http.MethodGet, "http://localhost:9464/auth/callback", nil)
		r.URL.RawQuery = query
		r.RemoteAddr = "192.0.2.1:1"
		if cookie != "" {
			r.Header.Set("Cookie", signInCookie+"="+cookie) // as sent, valid or not
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code < 400 || sessionCookie(w) != nil {
			t.Fatalf("query %q: %d, session %v", query, w.Code, sessionCookie(w))
		}
		s.mu.Lock()
		s.failures = map[string]*failures{} // the throttle is not what this tests
		s.mu.Unlock()
	})
}
