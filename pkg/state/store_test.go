package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

// filled writes a state file with n owned records and returns its bytes.
func filled(t *testing.T, path string, n int) []byte {
	t.Helper()
	s := open(t, path, Options{Binding: binding})
	for i := range n {
		id := fmt.Sprintf("e%05d", i)
		rec := plan.Record{EntraID: id, GoToKey: fmt.Sprint(7000 + i), Profile: plan.Profile{Email: id + "@x.com"}, State: plan.StateActive}
		if err := s.Commit(Outcome{EntraID: id, Record: &rec, Audit: AuditEntry{Action: "create", Result: ResultSuccess, EntraID: id}}); err != nil {
			t.Fatal(err)
		}
	}
	return closeAndRead(t, s)
}

// A truncated file made run --once and state rebuild stop with bbolt's
// panic "Page expected to be: 114, but self identifies as 0". Every cut of
// a real file now opens cleanly or is refused as ErrCorrupt, and reading
// what opened does not panic either.
func TestTruncatedFileNeverPanics(t *testing.T) {
	dir := t.TempDir()
	whole := filled(t, filepath.Join(dir, "whole.db"), 300)
	for cut := 0; cut < len(whole); cut += 1024 {
		path := filepath.Join(dir, fmt.Sprintf("cut%d.db", cut))
		os.WriteFile(path, whole[:cut], 0o600)
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("cut at %d bytes: panic %v", cut, r)
				}
			}()
			s, err := Open(path, Options{MustExist: true, Binding: binding})
			if err != nil {
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "state rebuild") {
					t.Errorf("cut at %d: err %v, want ErrCorrupt with the recovery", cut, err)
				}
				return
			}
			defer s.Close()
			if _, err := s.Records(); err != nil {
				t.Logf("cut at %d: records: %v", cut, err)
			}
		}()
	}
}

// A zero-length file silently started afresh: 301 adoptions, success, and
// the records of departed people, the log and the stored token were gone.
func TestEmptyFileIsALostFileNotANewOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	os.WriteFile(path, nil, 0o600)
	for _, opts := range []Options{{MustExist: true}, {ReadOnly: true}} {
		if _, err := Open(path, opts); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "empty") {
			t.Errorf("%+v: err %v, want ErrCorrupt saying it is empty", opts, err)
		}
	}
	if fi, _ := os.Stat(path); fi.Size() != 0 {
		t.Errorf("the refused open wrote %d bytes", fi.Size())
	}
}

// Root running `g2msync-admin …` followed links planted by the service
// user: a state.db.lock link made it overwrite the link's target with a
// PID; a state.db link made it create a file elsewhere.
func TestLinksInTheStateDirectoryAreNotFollowed(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("precious\n"), 0o600)
	path := filepath.Join(dir, "state.db")
	if err := os.Symlink(victim, path+".lock"); err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(path); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("lock through a link: err %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the link's target was written: %q", b)
	}
	elsewhere := filepath.Join(dir, "elsewhere.db")
	if err := os.Symlink(elsewhere, path); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []Options{{}, {MustExist: true}, {ReadOnly: true}} {
		if _, err := Open(path, opts); err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("%+v: open through a link: err %v", opts, err)
		}
	}
	if _, err := os.Stat(elsewhere); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file was created through the link")
	}
}

// One changed digit in a stored GoTo key made an approved disable suspend a
// different, still-assigned person. A record changed outside g2msync now
// fails its checksum, and the file is refused.
func TestChangedRecordFailsItsChecksum(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	filled(t, path, 3)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("accounts"))
		v := b.Get([]byte("e00001"))
		return b.Put([]byte("e00001"), []byte(strings.Replace(string(v), "7001", "7002", 1)))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, path, Options{})
	_, err = s.Records()
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "entra id e00001 fails its checksum") {
		t.Fatalf("err = %v, want the changed record refused", err)
	}
}

// Records written before checksums existed are still read from a file of
// schema 1, and upgraded; in a file of schema 2 such a record was written
// outside g2msync and is refused, and so is one filed under another id.
func TestRecordsWithoutChecksumAreRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	filled(t, path, 1)
	put := func(key, v string, schema uint64) {
		t.Helper()
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Update(func(tx *bolt.Tx) error {
			if err := tx.Bucket([]byte("accounts")).Put([]byte(key), []byte(v)); err != nil {
				return err
			}
			return tx.Bucket(bucketMeta).Put(keySchema, u64(schema))
		}); err != nil {
			t.Fatal(err)
		}
	}
	put("old", `{"EntraID":"old","GoToKey":"9","State":"active"}`, 1)
	ro := open(t, path, Options{ReadOnly: true})
	if recs, err := ro.Records(); err != nil || len(recs) != 2 || recs[1].GoToKey != "9" {
		t.Fatalf("schema 1, read-only: records %+v, err %v", recs, err)
	}
	ro.Close()
	rw := open(t, path, Options{})
	if recs, err := rw.Records(); err != nil || len(recs) != 2 || recs[1].GoToKey != "9" || recs[1].EntraID != "old" {
		t.Fatalf("upgraded: records %+v, err %v", recs, err)
	}
	rw.Close()

	put("edited", `{"EntraID":"edited","GoToKey":"8","State":"active"}`, 2)
	rw = open(t, path, Options{})
	if _, err := rw.Records(); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "entra id edited is in the JSON of schema 1") {
		t.Fatalf("bare JSON in a schema-2 file: %v, want it refused", err)
	}
	rw.Close()
	put("edited", `{"EntraID":"e00000","GoToKey":"8","State":"active"}`, 1)
	ro = open(t, path, Options{ReadOnly: true})
	if _, err := ro.Records(); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "filed under entra id edited is of e00000") {
		t.Fatalf("a record under another id: %v, want it refused", err)
	}
}

// A file that check or plan created only to keep a rotated refresh token is
// no state file: a regular cycle refuses it, the first sync takes it over.
func TestTokensOnlyFileIsNotState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{TokensOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	s.SaveRefreshToken(context.Background(), "rt-2")
	s.Close()
	if _, err := Open(path, Options{MustExist: true, Binding: binding}); !errors.Is(err, ErrNoState) || !strings.Contains(err.Error(), "--initial-sync") {
		t.Fatalf("regular cycle on a token-only file: %v", err)
	}
	c := open(t, path, Options{CheckOnly: true, Binding: binding})
	if tok, _ := c.RefreshToken(context.Background()); tok != "rt-2" {
		t.Errorf("plan reads token %q", tok)
	}
	c.Close()
	first := open(t, path, Options{Binding: binding}) // the first sync
	if tok, _ := first.RefreshToken(context.Background()); tok != "rt-2" {
		t.Errorf("the first sync reads token %q", tok)
	}
	first.Close()
	open(t, path, Options{MustExist: true, Binding: binding}).Close()
	if _, err := Open(path, Options{MustExist: true, Binding: &Binding{TenantID: "other"}}); err == nil {
		t.Error("the first sync did not bind the file")
	}
}

// check or plan pointed by mistake at another tenant's state file (refused
// for its binding) wrote the token GoTo rotated for them into it.
func TestTokensOnlyNeverWritesARealStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path, Options{Binding: binding})
	s.SaveRefreshToken(context.Background(), "token-of-A")
	s.Close()
	if _, err := Open(path, Options{TokensOnly: true}); err == nil || !strings.Contains(err.Error(), "not this command's to write") {
		t.Fatalf("TokensOnly open of a real state file: %v", err)
	}
	r := open(t, path, Options{ReadOnly: true})
	if tok, _ := r.RefreshToken(context.Background()); tok != "token-of-A" {
		t.Errorf("token %q", tok)
	}
}

func TestPauseSurvivesAndLifts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path, Options{Binding: binding})
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	if err := s.SetPause(&Pause{Since: at, By: "ops", Reason: "merger"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	r := open(t, path, Options{ReadOnly: true})
	p, err := r.Paused()
	if err != nil || p == nil || p.Text() != "provisioning is paused since 2026-12-01 09:00 UTC by ops (merger); `g2msync resume` resumes" {
		t.Fatalf("pause %+v %v", p, err)
	}
	r.Close()
	w := open(t, path, Options{Binding: binding})
	w.SetPause(nil)
	if p, _ := w.Paused(); p != nil {
		t.Errorf("still paused: %+v", p)
	}
}

func TestReconcileTimeSurvives(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path, Options{Binding: binding})
	if r, err := s.LastReconciled(); r != nil || err != nil {
		t.Fatalf("a new file holds a reconcile: %+v %v", r, err)
	}
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	if err := s.SetReconciled(Reconciled{At: at, CycleID: "c1"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	r := open(t, path, Options{ReadOnly: true})
	if got, err := r.LastReconciled(); err != nil || got == nil || !got.At.Equal(at) || got.CycleID != "c1" {
		t.Fatalf("reconciled %+v %v", got, err)
	}
}

func TestClearEveryFailure(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.db"), Options{Binding: binding})
	for i, q := range []bool{true, false, false} {
		id := fmt.Sprintf("e%d", i)
		s.Commit(Outcome{EntraID: id, Failure: &Failure{EntraID: id, Count: 3, Quarantined: q}})
	}
	if c, _ := s.ClearFailures(""); len(c) != 1 {
		t.Errorf("--quarantined cleared %d, want 1", len(c))
	}
	if c, _ := s.ClearFailures(EveryFailure); len(c) != 2 {
		t.Errorf("--all cleared %d, want the 2 left", len(c))
	}
	if fs, _ := s.Failures(); len(fs) != 0 {
		t.Errorf("left %+v", fs)
	}
}

// TestOwnedCountsAgreeWithRecords: the counts by state are those of the
// records decoded whole, records written before checksums included, and a
// record that fails its checksum fails the count as it fails Records.
func TestOwnedCountsAgreeWithRecords(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "state.db"), Options{Binding: binding})
	for i, s := range []plan.State{plan.StateActive, plan.StateDisabled, plan.StateActive, plan.StateDisabled, plan.StateDisabled} {
		r := plan.Record{EntraID: fmt.Sprintf("e%d", i), GoToKey: fmt.Sprintf("k%d", i), State: s}
		if err := st.Commit(Outcome{EntraID: r.EntraID, Record: &r}); err != nil {
			t.Fatal(err)
		}
	}
	// Written before checksums, in a file of schema 1: the record's JSON alone.
	if err := st.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketMeta).Put(keySchema, u64(1)); err != nil {
			return err
		}
		return tx.Bucket(bucketAccounts).Put([]byte("e9"), []byte(`{"EntraID":"e9","GoToKey":"k9","State":"disabled"}`))
	}); err != nil {
		t.Fatal(err)
	}
	st.schema = 1
	recs, err := st.Records()
	if err != nil {
		t.Fatal(err)
	}
	wantActive, wantDisabled := 0, 0
	for _, r := range recs {
		if r.State == plan.StateDisabled {
			wantDisabled++
		} else {
			wantActive++
		}
	}
	active, disabled, err := st.OwnedCounts()
	if err != nil || active != wantActive || disabled != wantDisabled || active != 2 || disabled != 4 {
		t.Fatalf("counts %d active, %d disabled, %v; records say %d and %d", active, disabled, err, wantActive, wantDisabled)
	}
	if err := st.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		v := bytes.Replace(b.Get([]byte("e1")), []byte("k1"), []byte("k7"), 1)
		return b.Put([]byte("e1"), v)
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.OwnedCounts(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a record failing its checksum: %v, want ErrCorrupt", err)
	}
}

// TestAppendOnlyBucketsFillTheirPages: the provisioning log's pages are
// filled before they split, so an initial sync's log takes about the
// bytes it holds rather than twice as many.
func TestAppendOnlyBucketsFillTheirPages(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "state.db"), Options{Binding: binding})
	for batch := range 20 {
		var outs []Outcome
		for i := range 100 {
			id := fmt.Sprintf("e%05d", batch*100+i)
			outs = append(outs, Outcome{EntraID: id, Audit: AuditEntry{Action: "create", Result: "success", EntraID: id,
				UPN: id + "@contoso.example", Reason: "assigned to the app"}})
		}
		if err := st.Commit(outs...); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.db.View(func(tx *bolt.Tx) error {
		s := tx.Bucket(bucketAudit).Stats()
		if s.KeyN != 2000 || float64(s.LeafInuse) < 0.85*float64(s.LeafAlloc) {
			t.Errorf("provisioning log: %d entries, %d of %d leaf bytes in use", s.KeyN, s.LeafInuse, s.LeafAlloc)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestDirectoryPictureParts: links saved alone keep the body; nil links
// clear both; the picture survives closing the file.
func TestDirectoryPictureParts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st := open(t, path, Options{Binding: binding})
	view := func() (links, body []byte) {
		t.Helper()
		if err := st.ViewDirectoryPicture(func(l, b []byte) error {
			links, body = bytes.Clone(l), bytes.Clone(b)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return links, body
	}
	if l, b := view(); l != nil || b != nil {
		t.Fatalf("empty file: %q %q", l, b)
	}
	body := bytes.Repeat([]byte("people "), 100_000)
	if err := st.SaveDirectoryPicture([]byte("links 1"), body); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveDirectoryPicture([]byte("links 2"), nil); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = open(t, path, Options{Binding: binding})
	if l, b := view(); string(l) != "links 2" || !bytes.Equal(b, body) {
		t.Fatalf("after a links-only save: %q, %d bytes", l, len(b))
	}
	if err := st.SaveDirectoryPicture(nil, nil); err != nil {
		t.Fatal(err)
	}
	if l, b := view(); l != nil || b != nil {
		t.Fatalf("after clearing: %q, %d bytes", l, len(b))
	}
}

// closeAndRead closes s and returns its file's bytes.
func closeAndRead(t testing.TB, s *Store) []byte {
	t.Helper()
	s.Close()
	b, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// One damaged provisioning-log entry made Audit fail whole: report, the
// console's log and its downloads showed nothing. The others are read,
// the damaged one is named, and pruning goes past it.
func TestDamagedLogEntryIsSkippedAndNamed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s := open(t, path, Options{Binding: binding})
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 6 {
		at := old.Add(time.Duration(i) * time.Hour)
		if i >= 3 {
			at = old.AddDate(0, 6, i)
		}
		if err := s.Commit(Outcome{EntraID: fmt.Sprint("e", i), Audit: AuditEntry{Time: at, Action: "update", Result: ResultSuccess, EntraID: fmt.Sprint("e", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	var seqs []uint64
	all, err := s.Audit(AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		seqs = append(seqs, e.Seq)
	}
	// Damage the second (old) and the fifth (recent) entries.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		for _, i := range []int{1, 4} {
			if err := tx.Bucket(bucketAudit).Put(u64(seqs[i]), []byte(`{"time":`)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Audit(AuditFilter{})
	var dmg *DamagedEntries
	if !errors.As(err, &dmg) || len(got) != 4 || !slices.Equal(dmg.Seqs, []uint64{seqs[4], seqs[1]}) {
		t.Fatalf("Audit: %d entries, err %v; want the 4 others and entries %d and %d named", len(got), err, seqs[4], seqs[1])
	}
	if msg := err.Error(); !strings.Contains(msg, fmt.Sprint(seqs[1])) || !strings.Contains(msg, "audit_retention") {
		t.Errorf("the notice names neither the entry nor what becomes of it: %s", msg)
	}
	n, err := s.PruneAudit(old.AddDate(0, 1, 0))
	if err != nil || n != 3 {
		t.Fatalf("PruneAudit: %d, %v; want the 2 old entries and the damaged one between them", n, err)
	}
	got, err = s.Audit(AuditFilter{})
	if !errors.As(err, &dmg) || len(got) != 2 || len(dmg.Seqs) != 1 {
		t.Errorf("after pruning: %d entries, %v; want 2 and the recent damaged one", len(got), err)
	}
}

// The long bit-flip campaign found a flipped account key read as another
// GoTo account's file ("set state_path to another file"), and a bucket whose
// flag was flipped refused with bbolt's "incompatible value". Both are damage.
func TestDamagedBindingAndBucketFlagAreDamage(t *testing.T) {
	for _, c := range []struct {
		name   string
		damage func(tx *bolt.Tx) error
	}{
		{"another plausible account key", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keyBinding, []byte(`{"tenant_id":"t1","app":"sp1","goto_account":"43"}`))
		}},
		{"an account key that is no text, in a file without the checksum", func(tx *bolt.Tx) error {
			if err := tx.Bucket(bucketMeta).Delete(keyBindingSum); err != nil {
				return err
			}
			return tx.Bucket(bucketMeta).Put(keyBinding, []byte("{\"tenant_id\":\"t1\",\"app\":\"sp1\",\"goto_account\":\"\xc02\"}"))
		}},
		{"a bucket stored as a plain value", func(tx *bolt.Tx) error {
			if err := tx.DeleteBucket(bucketDeferred); err != nil {
				return err
			}
			return tx.Bucket(bucketMeta).Put([]byte("x"), []byte("y")) // keep a write in the tx
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.db")
			open(t, path, Options{Binding: binding}).Close()
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bolt.Tx) error {
				if err := c.damage(tx); err != nil {
					return err
				}
				if c.name == "a bucket stored as a plain value" {
					return tx.Cursor().Bucket().Put(bucketDeferred, []byte("plain"))
				}
				return nil
			})
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
			for _, opts := range []Options{{ReadOnly: true, Binding: binding}, {Binding: binding}} {
				if s, err := Open(path, opts); !errors.Is(err, ErrCorrupt) {
					if s != nil {
						s.Close()
					}
					t.Errorf("%+v: %v, want it refused as damaged", opts, err)
				}
			}
		})
	}
}
