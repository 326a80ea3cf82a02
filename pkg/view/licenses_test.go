package view

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/app"
)

func TestLicensesText(t *testing.T) {
	at := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	l := &app.Licenses{At: at, Problems: []string{"1 change deferred for want of a seat before g2msync recorded which licence; the next cycle records it"},
		Licenses: []app.LicenseView{
			{Key: "L-full", Name: "Business\x1b[2J", Seats: 5, Used: 5, ManagedActive: 4, Unmanaged: 1, Waiting: 2,
				Forecast: app.Forecast{Creates: 3, Days: 30, PerDay: 0.1, RunsOut: at}, Problems: []string{}},
			{Key: "L-user", Name: "Pro", Seats: 100, Used: 40, ManagedActive: 30, ManagedSuspended: 1, Unmanaged: 9, Free: 60,
				Forecast: app.Forecast{Creates: 60, Days: 30, PerDay: 2, DaysLeft: 30, RunsOut: at.Add(30 * 24 * time.Hour)},
				Problems: []string{"1 account g2msync suspended holds a seat"}},
			{Key: "L-new", Seats: 10, Free: 10, Forecast: app.Forecast{None: "no provisioning history yet"}, Problems: []string{}},
		}}
	var b bytes.Buffer
	if err := Licenses(&b, l, "text"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"L-full   Business\\x1b[2J  5      5     4        0          1          0     2        now",
		"L-user   Pro              100    40    30       1          9          60    0        2025-07-30",
		"L-new    -                10     0     0        0          0          10    0        -",
		"L-user: 60 creates in 30 days, 2.0 a day: 60 free seats last 30 days.",
		"L-user: 1 account g2msync suspended holds a seat.",
		"L-new: no forecast: no provisioning history yet.",
		"1 change deferred for want of a seat",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	if err := Licenses(&b, &app.Licenses{Licenses: []app.LicenseView{}, Problems: []string{}}, "json"); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b.Bytes(), &v); err != nil || v["licenses"] == nil || v["problems"] == nil {
		t.Errorf("empty lists must be [] in JSON: %v\n%s", err, b.String())
	}
}
