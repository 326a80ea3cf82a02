package state

import (
	"path/filepath"
	"testing"
	"time"
)

// A search by part of a name finds the person's whole history, before and
// after a rename, and nobody else's; User keeps matching whole addresses.
func TestAuditSearchFindsAPersonAcrossARename(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "state.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, e := range []AuditEntry{
		{Time: t0, Action: "create", Result: ResultSuccess, EntraID: "m1", UPN: "maya.brown@contoso.com", Email: "maya.brown@contoso.com"},
		{Time: t0.Add(time.Hour), Action: "update", Result: ResultSuccess, EntraID: "m1", UPN: "maya.okafor@contoso.com", Email: "maya.okafor@contoso.com",
			Changes: []PropertyChange{{Name: "email", Old: "maya.brown@contoso.com", New: "maya.okafor@contoso.com"}}},
		{Time: t0.Add(2 * time.Hour), Action: "disable", Result: ResultSuccess, EntraID: "m1", UPN: "maya.okafor@contoso.com", Email: "maya.okafor@contoso.com"},
		{Time: t0, Action: "create", Result: ResultSuccess, EntraID: "b2", UPN: "bob@contoso.com", Email: "bob@contoso.com"},
	} {
		if err := st.Update(func(tx *Tx) error { return tx.Log(e) }); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		f    AuditFilter
		want int
	}{
		{AuditFilter{Search: "MAYA"}, 3},
		{AuditFilter{Search: "brown"}, 3}, // the old name finds the entries after the rename too
		{AuditFilter{Search: "okafor", Action: "disable"}, 1},
		{AuditFilter{Search: "bob"}, 1},
		{AuditFilter{Search: "nobody"}, 0},
		{AuditFilter{User: "maya"}, 0}, // User is a whole address
		{AuditFilter{User: "MAYA.BROWN@contoso.com"}, 1},
		{AuditFilter{Search: "maya", Limit: 2}, 2},
	} {
		got, err := st.Audit(tc.f)
		if err != nil || len(got) != tc.want {
			t.Errorf("%+v: %d entries, want %d (%v)", tc.f, len(got), tc.want, err)
		}
	}
}
