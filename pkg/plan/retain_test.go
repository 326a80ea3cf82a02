package plan

import (
	"fmt"
	"runtime"
	"testing"
	"weak"
)

// TestPlanDoesNotHoldItsInput: a cycle executes its plan for minutes (a
// reconcile at 100,000 people, three and a half) while the input it was
// computed from (every owned record, every mapped account, on a reconcile
// every GoTo account listed) is no longer needed. A change that pointed
// into the input's slices kept the whole of each alive: one update's
// Prior held all 100,000 records (docs/benchmarks.md, issue 30).
func TestPlanDoesNotHoldItsInput(t *testing.T) {
	const n = 50
	accounts := make([]Account, 0, n+1)
	records := make([]Record, 0, n+1)
	for i := range n {
		a := person(fmt.Sprintf("p%03d", i), fmt.Sprintf("person%03d@x.com", i))
		records = append(records, owned(a, fmt.Sprintf("k%03d", i)))
		if i == 7 {
			a.Profile.LastName = "Renamed" // an update, whose Prior is p007's record
		}
		if i != 9 {
			accounts = append(accounts, a) // p009 left: a disable, whose Prior is its record
		}
	}
	// Someone new whose address GoTo already holds: an adoption, whose
	// Remote is one of the listed accounts.
	accounts = append(accounts, person("q001", "quinn@x.com"))
	remotes := make([]Remote, 0, 2)
	remotes = append(remotes, Remote{Key: "r1", Profile: Profile{Email: "quinn@x.com"}}, Remote{Key: "r2", Profile: Profile{Email: "other@x.com"}})

	p := Compute(Input{Accounts: accounts, Records: records, Remotes: remotes, Policy: testPolicy()})
	for _, k := range []Kind{KindUpdate, KindDisable, KindAdopt} {
		if p.Count(k) != 1 {
			t.Fatalf("plan = %v, want one update, one disable and one adoption", kinds(p))
		}
	}
	rec, acc, rem := weak.Make(&records[0]), weak.Make(&accounts[0]), weak.Make(&remotes[0])
	accounts, records, remotes = nil, nil, nil
	runtime.GC()
	if rec.Value() != nil {
		t.Error("the plan holds the input's records")
	}
	if acc.Value() != nil {
		t.Error("the plan holds the input's accounts")
	}
	if rem.Value() != nil {
		t.Error("the plan holds the input's GoTo accounts")
	}
	for _, ch := range p.Changes {
		if ch.Kind == KindUpdate && (ch.Prior == nil || ch.Prior.GoToKey != "k007") {
			t.Errorf("update's Prior = %+v, want p007's record", ch.Prior)
		}
		if ch.Kind == KindAdopt && (ch.Remote == nil || ch.Remote.Key != "r1") {
			t.Errorf("adoption's Remote = %+v, want r1", ch.Remote)
		}
	}
	runtime.KeepAlive(p)
}

// TestReconcileWithoutDriftCopiesNoRecord: a reconcile observes every
// owned account; where GoTo holds what was recorded (nearly everyone) the
// planner works from the record, not a copy of it (25 MB at 100,000
// people, at the reconcile's peak). Counted in allocations.
func TestReconcileWithoutDriftCopiesNoRecord(t *testing.T) {
	const n = 2000
	in := Input{Policy: testPolicy(), Reconcile: true, Observed: map[string]*Remote{}}
	for i := range n {
		a := person(fmt.Sprintf("p%04d", i), fmt.Sprintf("person%04d@x.com", i))
		r := owned(a, fmt.Sprintf("k%04d", i))
		in.Accounts, in.Records = append(in.Accounts, a), append(in.Records, r)
		in.Observed[r.GoToKey] = &Remote{Key: r.GoToKey, Profile: r.Profile, Licenses: r.Licenses, AdminRoles: r.AdminRoles}
	}
	drifted := in.Observed["k0007"]
	drifted.Profile.LastName = "Changed in GoTo"
	var p *Plan
	allocs := testing.AllocsPerRun(3, func() { p = Compute(in) })
	if p.Count(KindUpdate) != 1 || len(p.Drift) != 1 {
		t.Fatalf("plan = %v, drift %d; want one repair", kinds(p), len(p.Drift))
	}
	if allocs > n/2 {
		t.Errorf("a reconcile of %d accounts, one drifted, made %.0f allocations; want fewer than one per account", n, allocs)
	}
}

// The drift a reconcile reports holds its repair, a change like any other:
// a forget's Prior (an account deleted in GoTo) pointed into the records.
func TestDriftDoesNotHoldTheInput(t *testing.T) {
	const n = 50
	accounts := make([]Account, 0, n)
	records := make([]Record, 0, n)
	observed := map[string]*Remote{}
	for i := range n {
		a := person(fmt.Sprintf("p%03d", i), fmt.Sprintf("person%03d@x.com", i))
		r := owned(a, fmt.Sprintf("k%03d", i))
		records = append(records, r)
		if i != 3 {
			accounts = append(accounts, a) // p003 left, and its account was deleted in GoTo: forgotten
		}
		observed[r.GoToKey] = &Remote{Key: r.GoToKey, Profile: r.Profile, Licenses: r.Licenses}
	}
	observed["k003"] = nil
	p := Compute(Input{Accounts: accounts, Records: records, Observed: observed, Reconcile: true, Policy: testPolicy()})
	if len(p.Drift) != 1 || p.Drift[0].Repair.Prior == nil || p.Drift[0].Repair.Prior.GoToKey != "k003" {
		t.Fatalf("drift = %+v, want p003's deleted account with its record", p.Drift)
	}
	rec := weak.Make(&records[0])
	records, accounts, observed = nil, nil, nil
	runtime.GC()
	if rec.Value() != nil {
		t.Error("the plan's drift holds the input's records")
	}
	runtime.KeepAlive(p)
}
