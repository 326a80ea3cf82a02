package app

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/state"
)

var at = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// newService returns a Service on a new state file holding two staged
// disables and one quarantined account.
func newService(t *testing.T) *Service {
	t.Helper()
	b := &state.Binding{TenantID: "t", App: "a", GoToAccount: "g"}
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := state.Open(path, state.Options{Binding: b})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = errors.Join(
		st.SetStaged([]state.Staged{
			{EntraID: "e1", UPN: "ann@contoso.com", Email: "ann@contoso.com", GoToKey: "k1", Kind: "disable", Reason: "left the group", Fingerprint: "fp1"},
			{EntraID: "e2", UPN: "bob@contoso.com", GoToKey: "k2", Kind: "delete", Reason: "left the group", Fingerprint: "fp2"},
		}),
		st.Commit(state.Outcome{EntraID: "e3", Failure: &state.Failure{EntraID: "e3", UPN: "cy@contoso.com", GoToKey: "k3", Kind: "update", Count: 6, Quarantined: true}}))
	if err != nil {
		t.Fatal(err)
	}
	return &Service{StatePath: path, Binding: b, Now: func() time.Time { return at }}
}

func (s *Service) audit(t *testing.T) []state.AuditEntry {
	t.Helper()
	st, err := state.Open(s.StatePath, state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log, err := st.Audit(state.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return log
}

func TestSelectByAnyNameOfThePerson(t *testing.T) {
	s := newService(t)
	staged, err := s.Staged(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		who       []string
		want      Selection
		unmatched []string
	}{
		{[]string{"e1"}, Selection{"e1": "fp1"}, nil},
		{[]string{"ANN@Contoso.com"}, Selection{"e1": "fp1"}, nil},
		{[]string{"k2", "bob@contoso.com"}, Selection{"e2": "fp2"}, nil},
		{[]string{"K2"}, Selection{}, []string{"K2"}}, // GoTo keys are exact
		{[]string{"ann@contoso.com\u212a"}, Selection{}, []string{"ann@contoso.com\u212a"}},
		{[]string{"cy@contoso.com"}, Selection{}, []string{"cy@contoso.com"}}, // failing, not staged
	} {
		got, unmatched := Select(staged, tc.who)
		if len(got) != len(tc.want) || strings.Join(unmatched, ",") != strings.Join(tc.unmatched, ",") {
			t.Errorf("Select(%q) = %v, unmatched %q; want %v, %q", tc.who, got, unmatched, tc.want, tc.unmatched)
		}
		for id, fp := range tc.want {
			if got[id] != fp {
				t.Errorf("Select(%q)[%s] = %q, want %q", tc.who, id, got[id], fp)
			}
		}
	}
}

// Approve releases only what the person saw, and logs each release.
func TestApproveIsBoundToWhatWasShown(t *testing.T) {
	s := newService(t)
	a := Actor{Name: "jo", Address: "host1", Door: DoorCLI, Reason: "offboarding"}
	got, err := s.Approve(context.Background(), a, Selection{"e1": "fp1", "e2": "a delete shown as a disable"})
	if err != nil || len(got) != 1 || got[0].EntraID != "e1" {
		t.Fatalf("approved %+v %v", got, err)
	}
	log := s.audit(t)
	if len(log) != 1 {
		t.Fatalf("log %+v", log)
	}
	e := log[0]
	if e.Action != "approve" || e.Operator != "jo" || e.Address != "host1" || e.Door != "cli" || e.EntraID != "e1" || e.GoToKey != "k1" ||
		e.Reason != "approved the staged disable (left the group) from the command line: offboarding" {
		t.Errorf("entry %+v", e)
	}
}

func TestPauseResumeRetryAreLogged(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	a := Actor{Name: "alice", Address: "192.0.2.1", Door: DoorConsole}
	if was, err := s.Resume(ctx, a); was != nil || err != nil {
		t.Errorf("resume when not paused: %+v %v", was, err)
	}
	if _, err := s.Pause(ctx, a); err != nil {
		t.Fatal(err)
	}
	if was, err := s.Resume(ctx, a); was == nil || was.By != "alice" || err != nil {
		t.Errorf("resume: %+v %v", was, err)
	}
	if c, err := s.Retry(ctx, a, "CY@contoso.com"); len(c) != 1 || err != nil {
		t.Errorf("retry: %+v %v", c, err)
	}
	var got []string
	for _, e := range s.audit(t) {
		got = append(got, e.Action+"|"+e.Door+"|"+e.EntraID+"|"+e.Reason)
	}
	want := []string{
		"pause|console||paused in the console",
		"resume|console||resumed in the console",
		"retry|console|e3|released after 6 failed attempts of update, in the console",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	missing := &Service{StatePath: filepath.Join(t.TempDir(), "none.db")}
	if _, err := missing.Pause(ctx, a); !errors.Is(err, state.ErrNoState) {
		t.Errorf("pause without a state file: %v", err)
	}
}
