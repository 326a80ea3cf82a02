package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/state"
)

// memBackend is the console's boundary held in memory: what the pages
// read, and a record of the actions asked for. The wiring to the state
// file and the daemon is tested in cmd/g2msync, in a browser.
type memBackend struct {
	status  daemon.StatusDoc
	cycles  []state.Cycle
	entries []state.AuditEntry
	damaged error // what Audit returns with the entries
	// cyclesErr, when set, is what Cycles returns: the state file is busy.
	cyclesErr error
	actions   []string
	// kept and approvalsErr serve the approvals page (approvals_test.go).
	kept         map[string]state.Keep
	approvalsErr error
	// provisionErr is what Provision returns, licenseNames what
	// LicenseNames does when set (person_test.go).
	provisionErr error
	licenseNames map[string]string
}

func (b *memBackend) Status() daemon.StatusDoc { return b.status }
func (b *memBackend) Cycles(context.Context, int) ([]state.Cycle, error) {
	if b.cyclesErr != nil {
		return nil, b.cyclesErr
	}
	return b.cycles, nil
}
func (b *memBackend) Audit(_ context.Context, f state.AuditFilter) ([]state.AuditEntry, error) {
	var out []state.AuditEntry
	for _, e := range b.entries {
		search := strings.ToLower(f.Search)
		if (f.User == "" || strings.EqualFold(e.UPN, f.User) || e.EntraID == f.User) && (f.CycleID == "" || e.CycleID == f.CycleID) &&
			(search == "" || strings.Contains(strings.ToLower(e.UPN), search) || strings.Contains(strings.ToLower(e.Email), search) || e.EntraID == f.Search) &&
			(f.Action == "" || e.Action == f.Action) && (f.Since.IsZero() || !e.Time.Before(f.Since)) && (f.Until.IsZero() || !e.Time.After(f.Until)) {
			out = append(out, e)
		}
	}
	return out, b.damaged
}
func (b *memBackend) WriteLog(w io.Writer, entries []state.AuditEntry, format string) error {
	return json.NewEncoder(w).Encode(entries)
}
func (b *memBackend) Seats(context.Context) ([]Seat, error) {
	return []Seat{{Key: "5100000000000000000001", Name: "GoToMeeting Business", Used: 47, Total: 50, ManagedActive: 45, Unmanaged: 2, Waiting: 3, RunsOut: "2027-01-10"}}, nil
}
func (b *memBackend) Explain(_ context.Context, user string) (*app.OnDemandReport, error) {
	return explainReport(user), nil
}
func (b *memBackend) Approve(_ context.Context, op Operator, shown map[string]string) (int, error) {
	var pairs []string
	for id, fp := range shown {
		pairs = append(pairs, id+"|"+fp)
	}
	slices.Sort(pairs)
	b.actions = append(b.actions, "approve "+op.Name+"@"+op.Address+" "+strings.Join(pairs, ","))
	return len(shown), nil
}
func (b *memBackend) Retry(_ context.Context, op Operator, who string) (int, error) {
	b.actions = append(b.actions, "retry "+op.Name+" "+who)
	return 1, nil
}
func (b *memBackend) Pause(_ context.Context, op Operator, reason string) error {
	b.actions = append(b.actions, "pause "+op.Name+" "+reason)
	return nil
}
func (b *memBackend) Resume(_ context.Context, op Operator) error {
	b.actions = append(b.actions, "resume "+op.Name)
	return nil
}

const hostile = `<script>alert("pwned")</script>`

func newTestConsole(t *testing.T, open bool) (*Server, *memBackend) {
	t.Helper()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	b := &memBackend{
		status: daemon.StatusDoc{NextCycle: t0.Add(20 * time.Minute), Owned: map[string]int{"active": 40, "disabled": 2},
			Staged: []state.Staged{{EntraID: "e1", UPN: hostile + "@contoso.com", Email: hostile, Kind: "disable", Reason: "no longer assigned " + hostile, Since: t0, Fingerprint: "fp1"},
				{EntraID: "e4", UPN: "dee@contoso.com", Kind: "disable", Reason: "no longer assigned", Since: t0, Fingerprint: "fp4"}},
			Failures: []state.Failure{{EntraID: "e2", UPN: "bob@contoso.com", Kind: "create", Count: 5, Quarantined: true, LastError: hostile}},
			Deferred: []state.Deferred{{EntraID: "e3", UPN: "cy@contoso.com", Kind: "create", Cause: "seats", Reason: "no free seat"}}},
		cycles: []state.Cycle{{ID: "c2", Start: t0, End: t0.Add(time.Second), Outcome: "staged", Applied: map[string]int{"create": 3}, Failed: map[string]int{"update": 1},
			Problems: []state.Problem{{Result: "failure", Action: "update", Cause: "other", Reason: hostile, Count: 1, People: []string{hostile}}}},
			{ID: "c1", Start: t0.Add(-time.Hour), End: t0.Add(-time.Hour), Outcome: "success", Applied: map[string]int{"create": 40}}},
		entries: []state.AuditEntry{{Seq: 1, Time: t0, CycleID: "c2", EntraID: "e1", UPN: "ann@contoso.com", Email: hostile, Action: "create", Result: "success",
			Changes: []state.PropertyChange{{Name: "lastName", Old: "", New: hostile}}}},
	}
	hash, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Backend: b, Operators: map[string][]byte{"alice": []byte(hash)}, OpenReads: open, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return s, b
}

func get(t *testing.T, h http.Handler, path string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "http://localhost:9464"+path, nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func post(t *testing.T, h http.Handler, path string, form url.Values, origin string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	return postFrom(t, h, "192.0.2.7:51000", path, form, origin, cookies...)
}

// postFrom is post from the address addr.
func postFrom(t *testing.T, h http.Handler, addr, path string, form url.Values, origin string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://localhost:9464"+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	r.RemoteAddr = addr
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// signIn signs alice in and returns her session cookie and CSRF token.
func signIn(t *testing.T, s *Server) (*http.Cookie, string) {
	t.Helper()
	w := post(t, s, "/login", url.Values{"name": {"alice"}, "password": {"correct horse battery"}, "next": {"/"}}, "http://localhost:9464")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
		t.Fatalf("sign in: %d %s", w.Code, w.Header().Get("Location"))
	}
	var c *http.Cookie
	for _, k := range w.Result().Cookies() {
		if k.Name == cookieName {
			c = k
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %+v", c)
	}
	page := get(t, s, "/approvals", c).Body.String()
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the approvals page of a signed-in operator:\n%s", page)
	}
	return c, m[1]
}

// Every page renders, under a policy that runs no script, with every name
// from the directory or GoTo escaped.
func TestEveryPageRendersEscaped(t *testing.T) {
	s, _ := newTestConsole(t, true)
	for _, path := range []string{"/", "/cycles", "/cycles/c2", "/log", "/log?user=ann%40contoso.com&since=24h&page=1", "/log?since=2026-12-01&until=2026-12-01", "/person", "/person?user=ann%40contoso.com",
		"/approvals", "/attention", "/login", "/static/style.css"} {
		w := get(t, s, path)
		if w.Code != http.StatusOK {
			t.Errorf("%s: %d\n%s", path, w.Code, w.Body)
			continue
		}
		body := w.Body.String()
		if strings.Contains(body, "<script") || strings.Contains(body, "<b>Sales") {
			t.Errorf("%s renders markup from the directory unescaped", path)
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
	if body := get(t, s, "/approvals").Body.String(); !strings.Contains(body, "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;") {
		t.Errorf("the hostile name is not shown escaped:\n%s", body)
	}
	if w := get(t, s, "/cycles/nope"); w.Code != http.StatusNotFound {
		t.Errorf("unknown cycle: %d", w.Code)
	}
	if w := get(t, s, "/log?since=yesterday"); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "is not a date") {
		t.Errorf("bad since: %d", w.Code)
	}
	if w := get(t, s, "/log.json?user=ann%40contoso.com"); w.Code != http.StatusOK || !strings.Contains(w.Header().Get("Content-Disposition"), "attachment") {
		t.Errorf("download: %d %v", w.Code, w.Header())
	}
	overview := get(t, s, "/").Body.String()
	for _, want := range []string{`<svg class="chart"`, `47 of 50 used (94%): 45 managed, 2 other accounts; 3 waiting for a seat; runs out 2027-01-10`, `GoToMeeting Business (5100000000000000000001)`, `40 active`, `2 staged disables`, `href="/cycles/c2"`} {
		if !strings.Contains(overview, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
}

// An action needs a signed-in operator, the session's CSRF token and a
// same-origin request; a refused one does nothing.
func TestActionsAreAuthenticated(t *testing.T) {
	s, b := newTestConsole(t, true)
	cookie, csrf := signIn(t, s)
	form := func(csrf string) url.Values {
		return url.Values{"csrf": {csrf}, "id": {"e1|fp1"}, "back": {"/approvals"}}
	}
	for _, tc := range []struct {
		name    string
		form    url.Values
		origin  string
		cookies []*http.Cookie
		want    int
	}{
		{"no session", form(csrf), "http://localhost:9464", nil, http.StatusUnauthorized},
		{"bad CSRF token", form("0000"), "http://localhost:9464", []*http.Cookie{cookie}, http.StatusForbidden},
		{"no CSRF token", url.Values{"id": {"e1|fp1"}}, "http://localhost:9464", []*http.Cookie{cookie}, http.StatusForbidden},
		{"https origin on http", form(csrf), "https://localhost:9464", []*http.Cookie{cookie}, http.StatusForbidden},
		{"cross-origin", form(csrf), "http://evil.example", []*http.Cookie{cookie}, http.StatusForbidden},
		{"no Origin or Referer", form(csrf), "", []*http.Cookie{cookie}, http.StatusForbidden},
		{"forged session", form(csrf), "http://localhost:9464", []*http.Cookie{{Name: cookieName, Value: "f00"}}, http.StatusUnauthorized},
	} {
		if w := post(t, s, "/approvals", tc.form, tc.origin, tc.cookies...); w.Code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, w.Code, tc.want)
		}
	}
	if len(b.actions) != 0 {
		t.Fatalf("refused requests acted: %v", b.actions)
	}
	w := post(t, s, "/approvals", form(csrf), "http://localhost:9464", cookie)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/approvals" {
		t.Errorf("approve: %d %s", w.Code, w.Header().Get("Location"))
	}
	if body := get(t, s, "/approvals", cookie).Body.String(); !strings.Contains(body, "approved 1 staged disables") {
		t.Errorf("the approval's result is not shown once, from the session")
	}
	if body := get(t, s, "/approvals?done=Session+expired", cookie).Body.String(); strings.Contains(body, "approved 1") || strings.Contains(body, "Session expired") {
		t.Errorf("a flash shows twice, or from a link")
	}
	// "Approve all" is every row shown, with the fingerprint shown: never
	// what a cycle staged since.
	post(t, s, "/approvals", url.Values{"csrf": {csrf}, "all": {"1"}, "shown": {"e1|fp1", "e4|fp4"}}, "http://localhost:9464", cookie)
	post(t, s, "/retry", url.Values{"csrf": {csrf}, "who": {"e2"}}, "http://localhost:9464", cookie)
	post(t, s, "/pause", url.Values{"csrf": {csrf}, "reason": {"migration"}}, "http://localhost:9464", cookie)
	post(t, s, "/resume", url.Values{"csrf": {csrf}, "back": {"//evil.example/x"}}, "http://localhost:9464", cookie)
	want := "approve alice@192.0.2.7 e1|fp1|approve alice@192.0.2.7 e1|fp1,e4|fp4|retry alice e2|pause alice migration|resume alice"
	if got := strings.Join(b.actions, "|"); got != want {
		t.Errorf("actions %q, want %q", got, want)
	}
	if w := post(t, s, "/resume", url.Values{"csrf": {csrf}, "back": {"//evil.example/x"}}, "http://localhost:9464", cookie); strings.Contains(w.Header().Get("Location"), "evil") {
		t.Errorf("an action redirected off the console: %s", w.Header().Get("Location"))
	}
	if w := post(t, s, "/login", url.Values{"name": {"alice"}, "password": {"wrong"}}, "http://localhost:9464"); !strings.Contains(w.Header().Get("Location"), "failed=1") {
		t.Errorf("wrong password: %s", w.Header().Get("Location"))
	}
	for range 5 {
		post(t, s, "/login", url.Values{"name": {"mallory"}, "password": {"guess"}}, "http://localhost:9464")
	}
	if w := post(t, s, "/login", url.Values{"name": {"alice"}, "password": {"correct horse battery"}}, "http://localhost:9464"); w.Code != http.StatusTooManyRequests {
		t.Errorf("after 6 failed sign-ins from one address: %d, want 429", w.Code)
	}
	if w := post(t, s, "/login", url.Values{"name": {"alice"}, "password": {"correct horse battery"}}, "http://evil.example"); w.Code != http.StatusForbidden {
		t.Errorf("cross-origin sign-in: %d", w.Code)
	}
	post(t, s, "/logout", nil, "http://localhost:9464", cookie)
	if w := post(t, s, "/pause", url.Values{"csrf": {csrf}}, "http://localhost:9464", cookie); w.Code != http.StatusUnauthorized {
		t.Errorf("after sign-out: %d", w.Code)
	}
}

// Off loopback, reading needs a signed-in operator too.
func TestPagesNeedAnOperatorOffLoopback(t *testing.T) {
	s, _ := newTestConsole(t, false)
	for _, path := range []string{"/", "/log", "/log.csv", "/person?user=x", "/approvals", "/cycles/c2"} {
		if w := get(t, s, path); w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login?next=") {
			t.Errorf("%s without a session: %d %s", path, w.Code, w.Header().Get("Location"))
		}
	}
	cookie, _ := signIn(t, s)
	if w := get(t, s, "/log", cookie); w.Code != http.StatusOK {
		t.Errorf("/log signed in: %d", w.Code)
	}
}

func TestParseOperators(t *testing.T) {
	h, _ := HashPassword("correct horse battery")
	ops, err := ParseOperators([]byte("# operators\nalice:" + h + "\n\n"))
	if err != nil || len(ops) != 1 {
		t.Fatalf("%v %v", ops, err)
	}
	for _, bad := range []string{"", "alice", "alice:plaintext", ":" + h} {
		if _, err := ParseOperators([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The demo's button changes the simulated tenant, for an operator only.
func TestDemoChanges(t *testing.T) {
	s, _ := newTestConsole(t, true)
	calls := 0
	s.opts.DemoChanges = func() (string, error) { calls++; return "in Entra: ann joined Sales", nil }
	s.routes()
	if body := get(t, s, "/").Body.String(); !strings.Contains(body, "Sign in as demo") {
		t.Errorf("the demo overview offers no sign-in")
	}
	if w := post(t, s, "/demo/changes", url.Values{}, "http://localhost:9464"); w.Code != http.StatusUnauthorized || calls != 0 {
		t.Errorf("signed out: %d, %d calls", w.Code, calls)
	}
	cookie, csrf := signIn(t, s)
	if body := get(t, s, "/", cookie).Body.String(); !strings.Contains(body, `id="demo-changes"`) {
		t.Errorf("no button for a signed-in operator")
	}
	post(t, s, "/demo/changes", url.Values{"csrf": {csrf}, "back": {"/"}}, "http://localhost:9464", cookie)
	if body := get(t, s, "/", cookie).Body.String(); calls != 1 || !strings.Contains(body, "ann joined Sales") {
		t.Errorf("%d calls; the overview does not say what changed", calls)
	}
}

// A page elsewhere whose name was rebound to 127.0.0.1 reads nothing; an
// explain runs only when posted from the console's own page; a day given
// as until includes that day.
func TestRebindingAndExplainAndUntil(t *testing.T) {
	s, _ := newTestConsole(t, true)
	r := httptest.NewRequest(http.MethodGet, "http://attacker.example:9464/log.json", nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusMisdirectedRequest {
		t.Errorf("rebound host: %d", w.Code)
	}
	if body := get(t, s, "/person?user=ann%40contoso.com").Body.String(); strings.Contains(body, "(Entra object id x)") {
		t.Errorf("a GET ran an explain")
	}
	if w := post(t, s, "/person", url.Values{"user": {"ann@contoso.com"}}, "http://evil.example"); w.Code != http.StatusForbidden {
		t.Errorf("cross-site explain: %d", w.Code)
	}
	if body := post(t, s, "/person", url.Values{"user": {"ann@contoso.com"}}, "http://localhost:9464").Body.String(); !strings.Contains(body, "(Entra object id x)") {
		t.Errorf("posted explain shows nothing:\n%s", body)
	}
	if body := get(t, s, "/log?since=2026-12-01&until=2026-12-01").Body.String(); !strings.Contains(body, "1 entry.") {
		t.Errorf("until=2026-12-01 leaves out the entry of 10:00 that day")
	}
}

// One damaged log entry made the log, the cycle page and the downloads
// fail whole; they show the rest and say what is left out.
func TestDamagedLogEntriesAreLeftOutWithANotice(t *testing.T) {
	s, b := newTestConsole(t, true)
	b.damaged = &state.DamagedEntries{Path: "/var/lib/g2msync/state.db", Seqs: []uint64{7}, First: errors.New("unexpected end of JSON input")}
	for _, path := range []string{"/log", "/log?user=ann%40contoso.com", "/cycles/c2", "/log.json", "/log.csv"} {
		w := get(t, s, path)
		body := w.Body.String()
		if w.Code != http.StatusOK || !strings.Contains(body, "ann@contoso.com") && !strings.Contains(body, `href="/person?user=e1"`) {
			t.Errorf("%s: %d, want the readable entries:\n%s", path, w.Code, body)
			continue
		}
		if !strings.HasSuffix(path, ".json") && !strings.HasSuffix(path, ".csv") && !strings.Contains(body, "entry 7") {
			t.Errorf("%s does not say which entry is left out:\n%s", path, body)
		}
	}
}

// A form over its limit is refused with 413 and does nothing, whether its
// length is declared or not, and whether the console's limit or the
// daemon's listener-wide one catches it; an approval of thousands of
// staged rows, the one form that grows, still goes through.
func TestOversizedFormsAreRefused(t *testing.T) {
	s, b := newTestConsole(t, true)
	cookie, csrf := signIn(t, s)
	d, err := daemon.New(daemon.Options{Schedule: "@hourly", Console: s})
	if err != nil {
		t.Fatal(err)
	}
	h := d.Handler() // the daemon's listener serves the console so
	pad := func(n int) string { return strings.Repeat("x", n) }
	for _, tc := range []struct {
		name, path string
		form       url.Values
		chunked    bool
	}{
		{"pause with a reason over 64 KiB", "/pause", url.Values{"csrf": {csrf}, "reason": {pad(maxFormBytes)}}, false},
		{"retry over 64 KiB, no length", "/retry", url.Values{"csrf": {csrf}, "who": {pad(maxFormBytes)}}, true},
		{"sign-in over 16 KiB", "/login", url.Values{"name": {"alice"}, "password": {"correct horse battery"}, "next": {pad(maxSignInBytes)}}, false},
		{"explain over 64 KiB", "/person", url.Values{"user": {"ann@contoso.com"}, "x": {pad(maxFormBytes)}}, false},
		{"approval over the listener's limit", "/approvals", url.Values{"csrf": {csrf}, "all": {"1"}, "shown": {"e1|fp1", pad(daemon.MaxBodyBytes)}}, false},
		{"approval over the listener's limit, no length", "/approvals", url.Values{"csrf": {csrf}, "all": {"1"}, "shown": {"e1|fp1", pad(daemon.MaxBodyBytes)}}, true},
	} {
		var body io.Reader = strings.NewReader(tc.form.Encode())
		if tc.chunked {
			body = io.MultiReader(body) // no declared length
		}
		r := httptest.NewRequest(http.MethodPost, "http://localhost:9464"+tc.path, body)
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Origin", "http://localhost:9464")
		r.AddCookie(cookie)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: %d, want 413", tc.name, w.Code)
		}
		if strings.Contains(w.Body.String(), "(Entra object id x)") || len(w.Result().Cookies()) != 0 {
			t.Errorf("%s: the refused form acted: %s", tc.name, w.Body.String())
		}
	}
	if len(b.actions) != 0 {
		t.Errorf("refused forms acted: %v", b.actions)
	}

	shown := url.Values{"csrf": {csrf}, "all": {"1"}, "back": {"/approvals"}}
	for i := range 5000 {
		shown.Add("shown", fmt.Sprintf("%08d-0000-4000-8000-000000000000|disable|12345678901234567890123456|l=|r=", i))
	}
	if w := post(t, h, "/approvals", shown, "http://localhost:9464", cookie); w.Code != http.StatusSeeOther || len(b.actions) != 1 {
		t.Errorf("approve all of 5,000 staged rows (%d bytes): %d, actions %d", len(shown.Encode()), w.Code, len(b.actions))
	}
}

// lastCycleCard returns the overview's "Last cycle" card: its opening tag,
// its inner HTML and its text.
func lastCycleCard(t *testing.T, body string) (tag, inner, text string) {
	t.Helper()
	m := regexp.MustCompile(`(?s)(<div class="[^"]*"[^>]*>)\s*<h2>Last cycle</h2>(.*?)</div>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no Last cycle card in the overview:\n%s", body)
	}
	return m[1], m[2], strings.Join(strings.Fields(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(m[2], " ")), " ")
}

// The daemon keeps its cycles newest first, and the overview showed the
// last of them, the oldest: with 20 disables staged by the newest cycle the
// card said "success · applied none" for an older one. The card shows the
// newest cycle, and turns amber when that cycle staged disables, or left
// changes failed or deferred, or when any are still pending.
func TestOverviewShowsTheNewestCycle(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	staging := state.Cycle{ID: "c3", Start: t0, End: t0.Add(time.Second), Outcome: "staged", Staged: 20}
	older := state.Cycle{ID: "c2", Start: t0.Add(-time.Hour), End: t0.Add(-time.Hour), Outcome: "success"}
	oldest := state.Cycle{ID: "c1", Start: t0.Add(-2 * time.Hour), End: t0.Add(-2 * time.Hour), Outcome: "success", Applied: map[string]int{"create": 40}}
	calm := state.Cycle{ID: "c4", Start: t0.Add(time.Hour), End: t0.Add(time.Hour), Outcome: "success", Applied: map[string]int{"update": 2}}
	failing := state.Cycle{ID: "c4", Start: t0.Add(time.Hour), End: t0.Add(time.Hour), Outcome: "partial",
		Applied: map[string]int{"update": 2}, Failed: map[string]int{"create": 3}, Deferred: 1}
	for _, tc := range []struct {
		name    string
		cycles  []state.Cycle // newest first, as the daemon keeps them
		pending daemon.StatusDoc
		id      string
		amber   bool
		says    []string
	}{
		{name: "disables staged by the newest", cycles: []state.Cycle{staging, older, oldest}, id: "c3", amber: true, says: []string{"staged", "20 disables staged"}},
		{name: "changes failed and deferred in the newest", cycles: []state.Cycle{failing, staging, oldest}, id: "c4", amber: true,
			says: []string{"partial", "failed create 3", "1 deferred"}},
		{name: "a calm cycle, nothing pending", cycles: []state.Cycle{calm, older, oldest}, id: "c4", says: []string{"success", "applied update 2"}},
		{name: "a calm cycle, disables still staged", cycles: []state.Cycle{calm, staging},
			pending: daemon.StatusDoc{Staged: []state.Staged{{EntraID: "e1", Kind: "disable"}}}, id: "c4", amber: true, says: []string{"success", "1 staged disable waiting"}},
		{name: "a calm cycle, changes still failing", cycles: []state.Cycle{calm, staging},
			pending: daemon.StatusDoc{Failures: []state.Failure{{EntraID: "e2", Kind: "create"}}, Deferred: []state.Deferred{{EntraID: "e3"}, {EntraID: "e4"}}},
			id:      "c4", amber: true, says: []string{"success", "1 failing", "2 deferred"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, b := newTestConsole(t, true)
			b.status = tc.pending
			b.status.Cycles = tc.cycles
			w := get(t, s, "/")
			if w.Code != http.StatusOK {
				t.Fatalf("overview: %d", w.Code)
			}
			tag, inner, text := lastCycleCard(t, w.Body.String())
			if want := `href="/cycles/` + tc.id + `"`; !strings.Contains(inner, want) {
				t.Errorf("the card links no %s: %q", tc.id, text)
			}
			if got := strings.Contains(tag, "attention"); got != tc.amber {
				t.Errorf("card %s amber = %v, want %v (text %q)", tag, got, tc.amber, text)
			}
			for _, s := range tc.says {
				if !strings.Contains(text, s) {
					t.Errorf("card says %q, want it to say %q", text, s)
				}
			}
		})
	}
}

// When the state file is busy the chart draws the daemon's own cycles,
// which it keeps newest first, as it draws the file's: oldest on the left.
func TestChartFromTheDaemonsCyclesReadsOldestFirst(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s, b := newTestConsole(t, true)
	b.cyclesErr = errors.New("state file busy")
	b.status.Cycles = []state.Cycle{{ID: "newest", End: t0}, {ID: "middle", End: t0.Add(-time.Hour)}, {ID: "oldest", End: t0.Add(-2 * time.Hour)}}
	body := get(t, s, "/").Body.String()
	var got []string
	for _, m := range regexp.MustCompile(`<title>([a-z]+): `).FindAllStringSubmatch(body, -1) {
		got = append(got, m[1])
	}
	if want := []string{"oldest", "middle", "newest"}; !slices.Equal(got, want) {
		t.Errorf("chart bars left to right %v, want %v", got, want)
	}
}

// Guesses sent together were all checked: each passed the count before the
// first failure was recorded. Now the checks under way count too.
func TestConcurrentGuessesAreThrottled(t *testing.T) {
	s, _ := newTestConsole(t, false)
	var checked, refused atomic.Int32
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := post(t, s, "/login", url.Values{"name": {"alice"}, "password": {fmt.Sprintf("guess %d", i)}}, "http://localhost:9464")
			switch w.Code {
			case http.StatusSeeOther:
				checked.Add(1)
			case http.StatusTooManyRequests:
				refused.Add(1)
			default:
				t.Errorf("a guess: %d", w.Code)
			}
		}()
	}
	wg.Wait()
	if checked.Load() > signInFailures || checked.Load()+refused.Load() != 200 {
		t.Errorf("%d of 200 concurrent guesses were checked (%d refused), want at most %d", checked.Load(), refused.Load(), signInFailures)
	}
}

// The log's person field searches: part of a name finds the person ("maya"
// found nothing when it matched whole addresses only).
func TestLogSearchesPartOfAName(t *testing.T) {
	s, _ := newTestConsole(t, true)
	for _, path := range []string{"/log?user=ANN", "/log.json?user=ann"} {
		if w := get(t, s, path); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "ann@contoso.com") && !strings.Contains(w.Body.String(), `href="/person?user=e1"`) {
			t.Errorf("%s: %d, ann's entry missing:\n%s", path, w.Code, w.Body)
		}
	}
}

// Signing in again ends the session the browser had: it is not left valid
// beside the new one for the rest of its eight hours.
func TestSigningInAgainEndsTheOldSession(t *testing.T) {
	s, _ := newTestConsole(t, false)
	old, _ := signIn(t, s)
	w := post(t, s, "/login", url.Values{"name": {"alice"}, "password": {"correct horse battery"}, "next": {"/"}}, "http://localhost:9464", old)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("second sign-in: %d", w.Code)
	}
	s.mu.Lock()
	_, kept := s.sessions[old.Value]
	n := len(s.sessions)
	s.mu.Unlock()
	if kept || n != 1 {
		t.Errorf("after signing in again: the old session kept %v, %d sessions", kept, n)
	}
}
