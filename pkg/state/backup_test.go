package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/g2msync/g2msync/pkg/plan"
)

// A backup opens as a state file and holds every outcome committed before
// it began, including commits made by the same process while a read of the
// backup was under way; it is never left half-written under its name.
func TestBackupIsConsistentAndWhole(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(filepath.Join(dir, "state.db"), Options{Binding: &Binding{TenantID: "t", App: "a", GoToAccount: "g"}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	commit := func(id string) {
		t.Helper()
		r := plan.Record{EntraID: id, GoToKey: "k" + id, State: plan.StateActive, Origin: plan.OriginCreated}
		r.Profile.Email = id + "@contoso.example"
		if err := st.Commit(Outcome{EntraID: id, Record: &r}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"a", "b", "c"} {
		commit(id)
	}
	path := filepath.Join(dir, "backup.db")
	n, err := st.BackupTo(path, false)
	if err != nil || n == 0 {
		t.Fatalf("backup: %d bytes, %v", n, err)
	}
	commit("d") // after the backup: not in it
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	b, err := Open(path, Options{ReadOnly: true, Binding: &Binding{TenantID: "t", App: "a", GoToAccount: "g"}})
	if err != nil {
		t.Fatalf("the backup does not open as a state file: %v", err)
	}
	recs, err := b.Records()
	b.Close()
	if err != nil || len(recs) != 3 {
		t.Errorf("the backup holds %d records, want the 3 committed before it: %v", len(recs), err)
	}
	if _, err := st.BackupTo(path, false); !errors.Is(err, ErrBackupExists) {
		t.Errorf("a second backup over the first: %v", err)
	}
	if _, err := st.BackupTo(path, true); err != nil {
		t.Errorf("replace: %v", err)
	}
	if _, err := st.BackupTo(filepath.Join(dir, "state.db"), true); err == nil || !strings.Contains(err.Error(), "the state file itself") {
		t.Errorf("a backup over the state file itself, forced: %v", err)
	}
	if _, err := st.BackupTo(filepath.Join(dir, "missing", "backup.db"), false); err == nil {
		t.Error("a backup into a directory that does not exist succeeded")
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".backup.db.*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
