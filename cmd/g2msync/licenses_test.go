package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	application "github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
)

// `g2msync licenses` against the simulators, as a process: GoTo's seats,
// who holds them, who waits, in text (also spelt licences), JSON and CSV.
func TestLicensesCommand(t *testing.T) {
	pw := newProcWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 4}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1, Seats: 7}, "@every 20m")
	if code, out := pw.exitCode("run", "--once", "--initial-sync"); code != ExitOK {
		t.Fatalf("initial sync: exit %d\n%s", code, out)
	}
	// 4 people and GoTo's admin hold 5 of 7 seats: of 3 hires, 2 are
	// created and 1 waits for a seat.
	for range 3 {
		if _, err := pw.w.NewHire("Sales"); err != nil {
			t.Fatal(err)
		}
	}
	if code, out := pw.exitCode("run", "--once"); code != ExitPartial {
		t.Fatalf("cycle with a hire beyond the seats: exit %d, want %d\n%s", code, ExitPartial, out)
	}

	cmd, stdout, stderr := pw.command("licenses", "-o", "json")
	if err := cmd.Run(); err != nil {
		t.Fatalf("licenses -o json: %v\n%s", err, stderr)
	}
	var got application.Licenses
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || len(got.Licenses) != 1 {
		t.Fatalf("licenses -o json: %v, %d licences\n%s", err, len(got.Licenses), stdout)
	}
	v := got.Licenses[0]
	if v.Key != pw.w.LicenseKey || v.Seats != 7 || v.Used != 7 || v.ManagedActive != 6 || v.ManagedSuspended != 0 ||
		v.Unmanaged != 1 || v.Free != 0 || v.Waiting != 1 {
		t.Errorf("licence = %+v; want key %s, 7 seats all used: 6 managed, 1 unmanaged (the admin), 0 free, 1 waiting", v, pw.w.LicenseKey)
	}
	// The first sync's 4 creates are a backlog, not a rate: the 2 since count.
	if f := v.Forecast; f.DaysLeft != 0 || !f.RunsOut.Equal(got.At) || f.Creates != 2 {
		t.Errorf("forecast = %+v; want run out now, after the 2 creates since the first sync", f)
	}

	code, out := pw.exitCode("licences")
	if code != ExitOK {
		t.Fatalf("licences: exit %d\n%s", code, out)
	}
	for _, want := range []string{"LICENSE", "MANAGED", "UNMANAGED", "WAITING", "RUNS OUT", pw.w.LicenseKey, "now"} {
		if !strings.Contains(out, want) {
			t.Errorf("licences lacks %q:\n%s", want, out)
		}
	}

	cmd, stdout, stderr = pw.command("licenses", "-o", "csv")
	if err := cmd.Run(); err != nil {
		t.Fatalf("licenses -o csv: %v\n%s", err, stderr)
	}
	rows, err := csv.NewReader(stdout).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("licenses -o csv: %v, %d rows\n%s", err, len(rows), stdout)
	}
	if h, r := rows[0], rows[1]; h[0] != "key" || h[6] != "unmanaged" || r[0] != pw.w.LicenseKey || r[6] != "1" || r[8] != "1" {
		t.Errorf("csv = %q; want the key, 1 unmanaged and 1 waiting", rows)
	}

	if code, out := pw.exitCode("licenses", "-o", "yaml"); code != ExitUsage {
		t.Errorf("licenses -o yaml: exit %d, want %d\n%s", code, ExitUsage, out)
	}
}

// The forecast from a real provisioning log: the creates since the first
// sync over the days since (the first sync's own are the backlog of those
// assigned before, not a rate), and none while the history is shorter than
// a week.
func TestLicensesForecastFromTheProvisioningLog(t *testing.T) {
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 4}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1, Seats: 8}, "")
	a := tw.app()
	tw.mustCycle(a, engine.Options{InitialSync: true})
	// 4 created by the first sync, the admin: 5 of 8 seats. A hire since.
	if _, err := tw.w.NewHire("Sales"); err != nil {
		t.Fatal(err)
	}
	tw.mustCycle(a, engine.Options{})
	start := time.Now()
	for _, tc := range []struct {
		after    time.Duration
		none     string
		daysLeft float64
	}{
		{after: time.Hour, none: "only 0.0 days of provisioning history; a forecast needs 7"},
		// 1 create in 10 days: 0.1 a day; 2 free seats last 20 days.
		{after: 10 * 24 * time.Hour, daysLeft: 20},
		// The creates are now older than the window.
		{after: 40 * 24 * time.Hour, none: "no create gave this licence in the last 30 days"},
	} {
		a.svc.Now = func() time.Time { return start.Add(tc.after) }
		l, err := a.svc.Licenses(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		f := l.Licenses[0].Forecast
		if f.None != tc.none || (tc.none == "" && (f.DaysLeft < tc.daysLeft-0.01 || f.DaysLeft > tc.daysLeft+0.01)) {
			t.Errorf("after %s: forecast %+v, want %.1f days left or none because %q", tc.after, f, tc.daysLeft, tc.none)
		}
	}
}
