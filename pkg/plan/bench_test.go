package plan

import (
	"fmt"
	"testing"
)

// BenchmarkPlan plans one million people. Report it per account with
// ns/op ÷ 1e6 and B/op ÷ 1e6; docs/benchmarks.md holds the figures.
func BenchmarkPlan(b *testing.B) {
	const n = 1_000_000
	accounts := make([]Account, n)
	records := make([]Record, n)
	lic := []string{"L-user"}
	for i := range accounts {
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		email := fmt.Sprintf("user%07d@contoso.com", i)
		accounts[i] = Account{EntraID: id, UPN: email, Profile: Profile{Email: email, FirstName: "First", LastName: fmt.Sprint("Last", i)},
			Licenses: lic, MatchEmails: []string{email}}
		records[i] = Record{EntraID: id, UPN: email, GoToKey: fmt.Sprint(1e12 + i), Profile: accounts[i].Profile,
			Licenses: lic, State: StateActive, Origin: OriginCreated}
	}
	pol := DefaultPolicy()
	pol.ManagedLicenses = lic

	b.Run("steady-1pct-changed", func(b *testing.B) {
		changed := make([]Account, n)
		copy(changed, accounts)
		for i := 0; i < n; i += 100 {
			changed[i].Profile.LastName = "Renamed"
		}
		b.ReportAllocs()
		for b.Loop() {
			p := Compute(Input{Accounts: changed, Records: records, Policy: pol})
			if len(p.Changes) != n/100 {
				b.Fatalf("changes %d, want %d", len(p.Changes), n/100)
			}
		}
	})
	b.Run("initial-all-create", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p := Compute(Input{Accounts: accounts, Policy: pol})
			if len(p.Changes) != n {
				b.Fatalf("changes %d, want %d", len(p.Changes), n)
			}
		}
	})
	b.Run("unassign-10pct-staged", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p := Compute(Input{Accounts: accounts[n/10:], Records: records, Policy: pol})
			if len(p.Staged) != n/10 {
				b.Fatalf("staged %d, want %d", len(p.Staged), n/10)
			}
		}
	})
}
