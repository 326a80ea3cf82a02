package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

func (b *memBackend) Approvals(context.Context) ([]app.ApprovalGroup, error) {
	if b.approvalsErr != nil {
		return nil, b.approvalsErr
	}
	return app.GroupStaged(b.status.Staged, b.kept), nil
}

func (b *memBackend) Keep(_ context.Context, op Operator, ids []string, reason string) (int, error) {
	slices.Sort(ids)
	b.actions = append(b.actions, "keep "+op.Name+" "+strings.Join(ids, ",")+" "+reason)
	if b.kept == nil {
		b.kept = map[string]state.Keep{}
	}
	for _, id := range ids {
		b.kept[id] = state.Keep{EntraID: id, By: op.Name, Reason: reason}
	}
	return len(ids), nil
}

func (b *memBackend) Release(_ context.Context, op Operator, ids []string) (int, error) {
	b.actions = append(b.actions, "release "+op.Name+" "+strings.Join(ids, ","))
	for _, id := range ids {
		delete(b.kept, id)
	}
	return len(ids), nil
}

// The approvals page groups staged changes by the threshold that holds
// them, says it once with its numbers, and offers per group: approve all,
// approve selected, select all (a link: no script) and keep selected.
func TestApprovalsGroupedByCause(t *testing.T) {
	s, b := newTestConsole(t, true)
	over := &plan.Gate{Disables: 14, OwnedActive: 288, MaxDisables: 10, MaxDisablesPercent: 20, OverCount: true}
	var staged []state.Staged
	for _, id := range []string{"a1", "a2", "a3"} {
		staged = append(staged, state.Staged{EntraID: id, UPN: id + "@contoso.com", Kind: "disable", Reason: "no longer assigned", Fingerprint: "fp-" + id, Gate: over})
	}
	staged = append(staged, state.Staged{EntraID: "old", UPN: "old@contoso.com", Kind: "disable", Reason: "no longer assigned", Fingerprint: "fp-old"})
	b.status.Staged = staged
	b.kept = map[string]state.Keep{"a2": {EntraID: "a2", By: "bob (console, 10.0.0.1)", Reason: "on leave"}}
	cookie, csrf := signIn(t, s)
	body := get(t, s, "/approvals", cookie).Body.String()
	for _, want := range []string{
		`<h2 id="g1-h">14 disables in one cycle, over the limit of 10 (safety.max_disables)</h2>`,
		"Each change: no longer assigned",
		"Approve all 2 in this group", `formaction="/approvals/select" name="select" value="g1"`, "Keep selected staged",
		`<span class="tag">kept</span>`, "by bob (console, 10.0.0.1)", ": on leave", `formaction="/approvals/release" name="release" value="a2"`,
		`<h2 id="g2-h">Staged by an earlier g2msync</h2>`, "the next cycle records it",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("approvals page lacks %q", want)
		}
	}
	if strings.Count(body, "no longer assigned") != 2 {
		t.Errorf("the shared reason is said %d times, want once a group", strings.Count(body, "no longer assigned"))
	}
	if strings.Contains(body, `value="a2|fp-a2"`) {
		t.Errorf("the kept row can be ticked or approved with its group")
	}
	// Select all, a button, comes back with the group's approvable rows
	// ticked, and only that group's; a forged group is ignored.
	for group, want := range map[string]string{"g1": "/approvals?select=g1#g1", `g1"><script>`: "/approvals"} {
		form := url.Values{"select": {group}, "csrf": {csrf}, "shown": {strings.Repeat("a1|fp-a1", 10000)}}
		if w := post(t, s, "/approvals/select", form, "http://localhost:9464", cookie); w.Code != http.StatusSeeOther || w.Header().Get("Location") != want {
			t.Errorf("select %q: %d %s, want %s", group, w.Code, w.Header().Get("Location"), want)
		}
	}
	sel := get(t, s, "/approvals?select=g1", cookie).Body.String()
	if strings.Count(sel, " checked>") != 2 || !strings.Contains(sel, ">Clear the selection</button>") {
		t.Errorf("select all ticked %d rows, want 2", strings.Count(sel, " checked>"))
	}
	// Keep one, approve the group's others, release the kept one.
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/approvals/keep", url.Values{"id": {"a1|fp-a1"}, "reason": {" not a leaver "}}},
		{"/approvals", url.Values{"all": {"1"}, "shown": {"a3|fp-a3"}}},
		{"/approvals/release", url.Values{"release": {"a2"}}},
	} {
		tc.form.Set("csrf", csrf)
		tc.form.Set("back", "/approvals#g1")
		if w := post(t, s, tc.path, tc.form, "http://localhost:9464", cookie); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/approvals#g1" {
			t.Errorf("POST %s: %d %s", tc.path, w.Code, w.Header().Get("Location"))
		}
	}
	want := []string{"keep alice a1 not a leaver", "approve alice@192.0.2.7 a3|fp-a3", "release alice a2"}
	if !slices.Equal(b.actions, want) {
		t.Errorf("actions %q, want %q", b.actions, want)
	}
	// Each action is refused without a session, without the CSRF token,
	// and from another origin; nothing is done.
	b.actions = nil
	for _, path := range []string{"/approvals/keep", "/approvals/release"} {
		form := url.Values{"id": {"a3|fp-a3"}, "release": {"a1"}, "csrf": {csrf}}
		for _, w := range []int{
			post(t, s, path, form, "http://localhost:9464").Code,
			post(t, s, path, url.Values{"id": {"a3|fp-a3"}, "release": {"a1"}, "csrf": {"forged"}}, "http://localhost:9464", cookie).Code,
			post(t, s, path, form, "http://evil.example", cookie).Code,
		} {
			if w != http.StatusUnauthorized && w != http.StatusForbidden {
				t.Errorf("POST %s refused with %d", path, w)
			}
		}
	}
	if len(b.actions) != 0 {
		t.Errorf("refused forms acted: %v", b.actions)
	}
	// A malformed row is refused with a clear message, not half-kept.
	post(t, s, "/approvals/keep", url.Values{"csrf": {csrf}, "id": {"a3|fp-a3", "no-fingerprint"}}, "http://localhost:9464", cookie)
	if len(b.actions) != 0 || !strings.Contains(get(t, s, "/approvals", cookie).Body.String(), "the form is malformed; reload the page") {
		t.Errorf("a malformed keep: actions %v", b.actions)
	}
	// A reader who is not signed in sees the groups, and no form to act.
	open := get(t, s, "/approvals").Body.String()
	if strings.Contains(open, "Approve all") || strings.Contains(open, "Keep selected") || !strings.Contains(open, "Sign in as an operator") {
		t.Errorf("a reader is offered actions")
	}
}

// A busy state file answers 503 with "try again", not a stale page.
func TestApprovalsBusy(t *testing.T) {
	s, b := newTestConsole(t, true)
	b.approvalsErr = ErrBusy
	w := get(t, s, "/approvals")
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "try again") || w.Header().Get("Retry-After") == "" {
		t.Errorf("busy: %d %v", w.Code, w.Header())
	}
}
