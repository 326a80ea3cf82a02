package plan

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// driftWorld is four owned accounts a reconcile observes: a leaver g2msync
// suspended who was given a licence back in GoTo, an account renamed in
// GoTo, one whose licence was removed in GoTo, one deleted in GoTo; and
// an account that did not drift.
func driftWorld() Input {
	leaver, renamed, unlicensed, deleted, steady := person("a", "ann@x.com"), person("b", "bob@x.com"),
		person("c", "cy@x.com"), person("d", "di@x.com"), person("e", "ed@x.com")
	suspended := owned(leaver, "1")
	suspended.State, suspended.Licenses, suspended.RemovedLicenses = StateDisabled, nil, []string{"L-user"}
	records := []Record{suspended, owned(renamed, "2"), owned(unlicensed, "3"), owned(deleted, "4"), owned(steady, "5")}
	observed := map[string]*Remote{"4": nil}
	for _, r := range records[:3] {
		observed[r.GoToKey] = &Remote{Key: r.GoToKey, Profile: r.Profile, Licenses: r.Licenses, AdminRoles: r.AdminRoles}
	}
	observed["1"].Licenses = []string{"L-user"}
	observed["2"].Profile.LastName = "Edited"
	observed["3"].Licenses = nil
	observed["5"] = &Remote{Key: "5", Profile: steady.Profile, Licenses: steady.Licenses}
	return Input{Accounts: []Account{renamed, unlicensed, deleted, steady}, Records: records, Observed: observed,
		Policy: testPolicy(), Reconcile: true, AllowDisables: true}
}

func describeDrift(ds []Drift) []string {
	var out []string
	for _, d := range ds {
		s := fmt.Sprintf("%s:%s", d.EntraID, d.Repair.Kind)
		if d.Deleted {
			s += " deleted"
		}
		if d.Suspended {
			s += " suspended"
		}
		for _, f := range d.Fields {
			s += fmt.Sprintf(" %s=%s", f.Field, f.New)
		}
		if d.Licenses != nil {
			s += fmt.Sprintf(" licences=%v", d.Licenses.New)
		}
		if d.Held {
			s += " held"
		}
		out = append(out, s)
	}
	return out
}

func TestReconcileRepairsDrift(t *testing.T) {
	for _, tc := range []struct {
		name      string
		drift     DriftPolicy
		reconcile bool
		wantDrift []string
		want      []string // the changes applied
	}{
		{"repair", DriftRepair, true,
			[]string{"a:disable suspended licences=[L-user]", "b:update lastName=Edited", "c:update licences=[]", "d:create deleted"},
			[]string{"disable:a", "update:b", "update:c", "create:d"}},
		{"report holds every repair", DriftReport, true,
			[]string{"a:disable suspended licences=[L-user] held", "b:update lastName=Edited held", "c:update licences=[] held", "d:create deleted held"},
			nil},
		// A full sync observes every account too, and repairs as it always did.
		{"not a reconcile", DriftReport, false, nil, []string{"disable:a", "update:b", "update:c", "create:d"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := driftWorld()
			in.Policy.Drift, in.Reconcile = tc.drift, tc.reconcile
			p := Compute(in)
			if got := describeDrift(p.Drift); !cmp.Equal(got, tc.wantDrift) {
				t.Errorf("drift = %q, want %q", got, tc.wantDrift)
			}
			if got := kinds(p); !cmp.Equal(got, tc.want) {
				t.Errorf("changes = %v, want %v", got, tc.want)
			}
			if p.Reconciled != tc.reconcile {
				t.Errorf("Reconciled = %v", p.Reconciled)
			}
		})
	}
}

// A person who left is disabled on a reconcile as on any cycle: the
// directory asked for it, and a licence granted in GoTo since is no drift
// to report or hold.
func TestReconcileDoesNotHoldTheDirectorysDisables(t *testing.T) {
	a := person("a", "ann@x.com")
	r := owned(a, "1")
	in := Input{Records: []Record{r}, Accounts: []Account{person("z", "zed@x.com")}, Policy: testPolicy(), Reconcile: true, AllowDisables: true,
		Observed: map[string]*Remote{"1": {Key: "1", Profile: r.Profile, Licenses: []string{"L-admin", "L-user"}}}}
	in.Policy.Drift = DriftReport
	p := Compute(in)
	if got, want := kinds(p), []string{"disable:a", "create:z"}; !cmp.Equal(got, want) || len(p.Drift) != 0 {
		t.Fatalf("changes = %v, drift %v; want %v and no drift", got, describeDrift(p.Drift), want)
	}
}
