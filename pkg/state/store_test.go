package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/g2msync/g2msync/pkg/plan"
)

var binding = &Binding{TenantID: "t1", App: "sp1", GoToAccount: "42"}

func open(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestNewFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "state.db")
	open(t, path, Options{Binding: binding})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600: the file holds a refresh token", fi.Mode().Perm())
	}
}

func TestSecondOpenerIsToldTheFileIsInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	open(t, path, Options{})
	_, err := Open(path, Options{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "state file "+path+" is in use by another g2msync process") {
		t.Fatalf("err = %v, want in use naming the path", err)
	}
}

func TestDaemonLockIsExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	unlock, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(path); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "pid") {
		t.Fatalf("second lock: %v, want in use with the holder's pid", err)
	}
	unlock()
	unlock2, err := Lock(path)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}

func TestBindingMismatchIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	open(t, path, Options{Binding: binding}).Close()
	other := *binding
	other.GoToAccount = "43"
	_, err := Open(path, Options{Binding: &other})
	var be *BindingError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), `GoTo account "42" (this configuration: "43")`) {
		t.Fatalf("err = %v, want a binding error naming the GoTo account", err)
	}
	if _, err := Open(path, Options{Binding: &other, ReadOnly: true}); !errors.As(err, &be) {
		t.Fatalf("read-only open: %v, want a binding error", err)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	open(t, path, Options{}).Close()
	db, _ := bolt.Open(path, 0o600, nil)
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, u64(SchemaVersion+1)) })
	db.Close()
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "newer g2msync") {
		t.Fatalf("err = %v, want newer schema", err)
	}
}

func TestCorruptFileSaysHowToRecover(t *testing.T) {
	for name, content := range map[string][]byte{"garbage": []byte(strings.Repeat("not a database ", 600)), "truncated": []byte("x")} {
		path := filepath.Join(t.TempDir(), name+".db")
		os.WriteFile(path, content, 0o600)
		_, err := Open(path, Options{})
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "g2msync state rebuild") {
			t.Errorf("%s: err = %v, want ErrCorrupt with the recovery", name, err)
		}
	}
}

func TestCommitOutcomes(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.db"), Options{Now: func() time.Time { return time.Unix(1700000000, 0).UTC() }})
	rec := plan.Record{EntraID: "a", UPN: "a@x", GoToKey: "123456789012345678901234", State: plan.StateActive, Origin: plan.OriginCreated,
		Licenses: []string{"1"}, Profile: plan.Profile{Email: "a@x"}}
	if err := s.WriteIntents([]Intent{{EntraID: "a", Kind: plan.KindCreate, Email: "a@x"}}); err != nil {
		t.Fatal(err)
	}
	err := s.Commit(Outcome{EntraID: "a", Record: &rec, ClearIntent: true, ClearFailure: true,
		Audit: AuditEntry{CycleID: "c1", EntraID: "a", UPN: "a@x", Action: "create", Result: ResultSuccess}},
		Outcome{EntraID: "b", Failure: &Failure{EntraID: "b", Count: 1, LastError: "boom"},
			Audit: AuditEntry{CycleID: "c1", EntraID: "b", Action: "create", Result: ResultFailure, Error: "boom"}})
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := s.Records()
	if d := cmp.Diff([]plan.Record{rec}, recs); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
	if in, _ := s.Intents(); len(in) != 0 {
		t.Errorf("intents left: %v", in)
	}
	if f, _ := s.Failures(); len(f) != 1 || f[0].EntraID != "b" {
		t.Errorf("failures = %v", f)
	}
	all, _ := s.Audit(AuditFilter{})
	if len(all) != 2 || all[0].Seq != 1 || all[1].Seq != 2 || all[0].Time.IsZero() {
		t.Fatalf("audit = %+v", all)
	}
	if got, _ := s.Audit(AuditFilter{Result: ResultFailure}); len(got) != 1 || got[0].EntraID != "b" {
		t.Errorf("failures only: %+v", got)
	}
	if got, _ := s.Audit(AuditFilter{User: "A@X"}); len(got) != 1 || got[0].EntraID != "a" {
		t.Errorf("by user: %+v", got)
	}
	if err := s.Commit(Outcome{EntraID: "a", DeleteRecord: true}); err != nil {
		t.Fatal(err)
	}
	if recs, _ := s.Records(); len(recs) != 0 {
		t.Errorf("record not deleted: %v", recs)
	}
}

func TestCyclesNewestFirstAndPruned(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.db"), Options{})
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if err := s.SaveCycle(Cycle{ID: string(rune('a' + i)), Start: base.Add(time.Duration(i) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.Cycles(2)
	if len(got) != 2 || got[0].ID != "c" || got[1].ID != "b" {
		t.Fatalf("cycles = %+v", got)
	}
	s.Commit(Outcome{EntraID: "x", Audit: AuditEntry{Action: "create", Time: base}})
	s.Commit(Outcome{EntraID: "x", Audit: AuditEntry{Action: "update", Time: base.Add(2 * time.Hour)}})
	n, err := s.PruneAudit(base.Add(90 * time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	if got, _ := s.Cycles(0); len(got) != 1 || got[0].ID != "c" {
		t.Errorf("cycles after prune = %+v", got)
	}
}

func TestRefreshTokenSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path, Options{})
	if err := s.SaveRefreshToken(context.Background(), "rt-2"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, path, Options{ReadOnly: true})
	if tok, err := s.RefreshToken(context.Background()); err != nil || tok != "rt-2" {
		t.Errorf("token %q, %v", tok, err)
	}
}

func TestStagedAndSkipsAreReplaced(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.db"), Options{})
	s.SetStaged([]Staged{{EntraID: "a"}, {EntraID: "b"}})
	s.SetStaged([]Staged{{EntraID: "c"}})
	if got, _ := s.Staged(); len(got) != 1 || got[0].EntraID != "c" {
		t.Errorf("staged = %+v", got)
	}
	s.SetSkips(map[string]string{"a": "why"})
	s.SetSkips(map[string]string{"b": "because"})
	if got, _ := s.Skips(); !cmp.Equal(got, map[string]string{"b": "because"}) {
		t.Errorf("skips = %v", got)
	}
}

func TestMissingFileIsRefusedWhenItMustExist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	_, err := Open(path, Options{MustExist: true})
	if !errors.Is(err, ErrNoState) || !strings.Contains(err.Error(), "g2msync state rebuild") || !strings.Contains(err.Error(), "--initial-sync") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Error("the refused open created the file")
	}
	open(t, path, Options{}).Close()
	open(t, path, Options{MustExist: true})
}
