package view

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/plan"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it)\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

// The JSON of `plan --output json`: one change of each shape, as scripts
// read it. Fields are added, never renamed (docs/provision.md).
func TestPlanJSONGolden(t *testing.T) {
	create := plan.Change{Kind: plan.KindCreate, EntraID: "e1", UPN: "ann@contoso.com", Reason: "new in scope",
		Licenses: &plan.ListChange{New: []string{"5100000000000000000001"}}}
	create.Profile.Set(plan.FieldEmail, "ann@contoso.com")
	create.Profile.Set(plan.FieldFirstName, "Ann")
	p := &plan.Plan{InScope: 3, Owned: 2, OwnedActive: 2,
		Changes: []plan.Change{create,
			{Kind: plan.KindUpdate, EntraID: "e2", UPN: "bob@contoso.com", GoToKey: "7002", Reason: "profile changed",
				Fields:     []plan.FieldChange{{Field: plan.FieldLastName, Old: "Smith", New: "Jones"}},
				AdminRoles: &plan.ListChange{Old: []string{"MANAGE_USERS"}}}},
		Staged: []plan.Change{{Kind: plan.KindDisable, EntraID: "e3", UPN: "cy@contoso.com", GoToKey: "7003", Reason: "no longer assigned",
			Licenses: &plan.ListChange{Old: []string{"5100000000000000000001"}}}},
		Deferred: []plan.Change{{Kind: plan.KindCreate, EntraID: "e4", UPN: "dee@contoso.com", Reason: "new in scope",
			Deferral: &plan.Deferral{Cause: plan.CauseSeats, Reason: "licence 5100000000000000000001 has no free seat", Until: time.Time{}}}},
		Skips: []plan.Change{{Kind: plan.KindSkip, EntraID: "e5", UPN: "eve@contoso.com", Reason: "assigned only Default Access"}},
	}
	var out bytes.Buffer
	if err := PlanJSON(&out, p); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan.json", out.Bytes())
}

// The JSON of `g2msync licenses`.
func TestLicensesJSONGolden(t *testing.T) {
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	l := &app.Licenses{At: at, Problems: []string{}, Licenses: []app.LicenseView{
		{Key: "5100000000000000000001", Name: "GoToMeeting Business", Seats: 100, Used: 90, ManagedActive: 85, ManagedSuspended: 1, Unmanaged: 4,
			Free: 10, Waiting: 0, Problems: []string{"1 account g2msync suspended holds a seat"},
			Forecast: app.Forecast{Creates: 60, Days: 30, PerDay: 2, DaysLeft: 5, RunsOut: at.Add(5 * 24 * time.Hour)}},
		{Key: "5100000000000000000002", Name: "GoToWebinar", Seats: 10, Used: 10, Unmanaged: 10, Waiting: 2, Problems: []string{},
			Forecast: app.Forecast{None: "no create in the last 30 days"}},
	}}
	var out bytes.Buffer
	if err := Licenses(&out, l, "json"); err != nil {
		t.Fatal(err)
	}
	golden(t, "licenses.json", out.Bytes())
}
