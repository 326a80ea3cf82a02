package app

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

var licNow = time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)

func owned(id string, st plan.State, lics ...string) plan.Record {
	return plan.Record{EntraID: id, GoToKey: "K" + id, State: st, Licenses: lics}
}

func created(at time.Time, lics string) state.AuditEntry {
	return state.AuditEntry{Time: at, Action: "create", Result: state.ResultSuccess,
		Changes: []state.PropertyChange{{Name: "email", New: "x@y"}, {Name: "licenseKeys", New: lics}}}
}

// daily is n creates a day of lic over the days before licNow.
func daily(days, n int, lic string) []state.AuditEntry {
	var out []state.AuditEntry
	for d := range days {
		for range n {
			out = append(out, created(licNow.Add(-time.Duration(d)*24*time.Hour-time.Hour), lic))
		}
	}
	return out
}

// backlog is n creates of lic at at, in the cycle id.
func backlog(n int, at time.Time, id, lic string) []state.AuditEntry {
	out := make([]state.AuditEntry, n)
	for i := range out {
		out[i] = created(at, lic)
		out[i].CycleID = id
	}
	return out
}

func TestLicenseCounts(t *testing.T) {
	user := gotomeeting.License{Key: "L-user", Description: "GoToMeeting Business", Seats: 10, UserCount: 6}
	for _, tc := range []struct {
		name     string
		lic      gotomeeting.License
		records  []plan.Record
		deferred []state.Deferred
		// want is managed_active, managed_suspended, unmanaged, free, waiting.
		want    [5]int
		problem string
	}{
		{name: "nothing managed: GoTo's holders are unmanaged", lic: user, want: [5]int{0, 0, 6, 4, 0}},
		{name: "managed and unmanaged holders",
			lic:     user,
			records: []plan.Record{owned("a", plan.StateActive, "L-user"), owned("b", plan.StateActive, "L-user", "L-other"), owned("c", plan.StateActive, "L-other")},
			want:    [5]int{2, 0, 4, 4, 0}},
		{name: "a suspended account holding a seat is flagged",
			lic:     user,
			records: []plan.Record{owned("a", plan.StateActive, "L-user"), owned("b", plan.StateDisabled, "L-user"), owned("c", plan.StateDisabled)},
			want:    [5]int{1, 1, 4, 4, 0}, problem: "1 account g2msync suspended holds a seat"},
		{name: "zero free seats, people waiting for this licence only",
			lic: gotomeeting.License{Key: "L-user", Seats: 6, UserCount: 6},
			deferred: []state.Deferred{{EntraID: "d1", Cause: "seats", License: "L-user"}, {EntraID: "d2", Cause: "seats", License: "L-user"},
				{EntraID: "d3", Cause: "seats", License: "L-other"}, {EntraID: "d4", Cause: "backoff"}},
			want: [5]int{0, 0, 6, 0, 2}},
		{name: "more used than seats",
			lic:  gotomeeting.License{Key: "L-user", Seats: 5, UserCount: 7},
			want: [5]int{0, 0, 7, 0, 0}, problem: "2 seats used beyond the licence's"},
		{name: "more managed than GoTo counts: drift, never negative",
			lic:     gotomeeting.License{Key: "L-user", Seats: 5, UserCount: 1},
			records: []plan.Record{owned("a", plan.StateActive, "L-user"), owned("b", plan.StateActive, "L-user")},
			want:    [5]int{2, 0, 0, 4, 0}, problem: "1 more managed holder than GoTo counts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			held := plan.Holders{}
			for _, r := range tc.records {
				held.Add(r.State, r.Licenses)
			}
			got := ComputeLicenses(LicenseInputs{Now: licNow, Licenses: []gotomeeting.License{tc.lic}, Holders: held, Deferred: tc.deferred})
			v := got.Licenses[0]
			if g := [5]int{v.ManagedActive, v.ManagedSuspended, v.Unmanaged, v.Free, v.Waiting}; g != tc.want {
				t.Errorf("active, suspended, unmanaged, free, waiting = %v, want %v", g, tc.want)
			}
			if v.Key != tc.lic.Key || v.Name != tc.lic.Description || v.Seats != tc.lic.Seats || v.Used != tc.lic.UserCount {
				t.Errorf("view %+v does not carry GoTo's licence %+v", v, tc.lic)
			}
			switch joined := strings.Join(v.Problems, "; "); {
			case tc.problem == "" && len(v.Problems) != 0:
				t.Errorf("problems %q, want none", joined)
			case !strings.Contains(joined, tc.problem):
				t.Errorf("problems %q, want one with %q", joined, tc.problem)
			}
		})
	}
}

func TestLicenseDeferralsWithoutALicenceAreSaid(t *testing.T) {
	got := ComputeLicenses(LicenseInputs{Now: licNow, Deferred: []state.Deferred{{EntraID: "d1", Cause: "seats"}}})
	if len(got.Licenses) != 0 || len(got.Problems) != 1 || !strings.Contains(got.Problems[0], "1 change deferred for want of a seat") {
		t.Errorf("got %+v, want one problem naming the deferral whose licence is unknown", got)
	}
}

// The forecast on a made-up 30-day history.
func TestLicenseForecast(t *testing.T) {
	lic := gotomeeting.License{Key: "L-user", Seats: 100, UserCount: 40} // 60 free
	month := licNow.Add(-90 * 24 * time.Hour)
	for _, tc := range []struct {
		name    string
		lic     gotomeeting.License
		creates []state.AuditEntry
		history time.Time
		count   int
		perDay  float64
		days    float64 // days left; -1: no forecast
		none    string
	}{
		{name: "two a day for 30 days: 30 days left", lic: lic, creates: daily(30, 2, "L-user"), history: month,
			count: 60, perDay: 2, days: 30},
		{name: "older creates and other licences are not counted", lic: lic,
			creates: append(daily(45, 1, "L-user"), daily(30, 5, "L-other")...), history: month, count: 30, perDay: 1, days: 60},
		{name: "a create giving two licences counts for each", lic: lic, creates: daily(30, 1, "L-other,L-user"), history: month,
			count: 30, perDay: 1, days: 60},
		{name: "failed creates and other actions are not counted", lic: lic, history: month, days: -1,
			creates: []state.AuditEntry{{Time: licNow.Add(-time.Hour), Action: "create", Result: state.ResultFailure,
				Changes: []state.PropertyChange{{Name: "licenseKeys", New: "L-user"}}},
				{Time: licNow.Add(-time.Hour), Action: "enable", Result: state.ResultSuccess, Changes: []state.PropertyChange{{Name: "licenseKeys", New: "L-user"}}}},
			none: "no create gave this licence in the last 30 days"},
		{name: "a burst on one day is spread over the window", lic: lic, history: month,
			creates: daily(1, 15, "L-user"), count: 15, perDay: 0.5, days: 120},
		{name: "history of ten days: the rate is over those ten", lic: lic, history: licNow.Add(-10 * 24 * time.Hour),
			creates: daily(10, 3, "L-user"), count: 30, perDay: 3, days: 20},
		{name: "less than a week of history: none", lic: lic, history: licNow.Add(-3 * 24 * time.Hour),
			creates: daily(3, 4, "L-user"), count: 12, days: -1, none: "only 3.0 days of provisioning history; a forecast needs 7"},
		{name: "the first sync's creates are a backlog, not a rate", lic: lic, history: licNow.Add(-10 * 24 * time.Hour),
			creates: append(backlog(100, licNow.Add(-10*24*time.Hour), "first", "L-user"), daily(10, 1, "L-user")...), count: 10, perDay: 1, days: 60},
		{name: "no history: none", lic: lic, days: -1, none: "no provisioning history yet"},
		{name: "zero free seats: run out now", lic: gotomeeting.License{Key: "L-user", Seats: 40, UserCount: 40},
			creates: daily(30, 1, "L-user"), history: month, count: 30, days: 0},
		{name: "more used than seats: run out now", lic: gotomeeting.License{Key: "L-user", Seats: 40, UserCount: 45},
			history: month, days: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ComputeLicenses(LicenseInputs{Now: licNow, Licenses: []gotomeeting.License{tc.lic}, Creates: tc.creates, HistoryStart: tc.history,
				InitialSyncs: map[string]bool{"first": true}})
			f := got.Licenses[0].Forecast
			if f.Creates != tc.count || math.Abs(f.PerDay-tc.perDay) > 1e-9 {
				t.Errorf("creates %d at %.3f a day, want %d at %.3f", f.Creates, f.PerDay, tc.count, tc.perDay)
			}
			if f.None != tc.none {
				t.Errorf("none = %q, want %q", f.None, tc.none)
			}
			switch {
			case tc.days < 0:
				if !f.RunsOut.IsZero() || f.DaysLeft != 0 {
					t.Errorf("forecast %+v, want none", f)
				}
			default:
				want := licNow.Add(time.Duration(tc.days * float64(24*time.Hour)))
				if math.Abs(f.DaysLeft-tc.days) > 1e-9 || !f.RunsOut.Equal(want) {
					t.Errorf("%.3f days left, runs out %s; want %.3f, %s", f.DaysLeft, f.RunsOut, tc.days, want)
				}
			}
		})
	}
}
