package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// The statistics of a real state file with cycles over several days: the
// accounts by state now, and per day the changes by kind, the cycles and
// how they ended, and GoTo's 429s; cycles before the period count in no
// day, and the oldest one kept says where the history starts.
func TestStatisticsFromAStateFile(t *testing.T) {
	b := &state.Binding{TenantID: "t", App: "a", GoToAccount: "g"}
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := state.Open(path, state.Options{Binding: b})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC)
	day := func(back int, hour int) time.Time { return time.Date(2026, 12, 6-back, hour, 0, 0, 0, time.UTC) }
	cycles := []state.Cycle{
		// 40 days back: before the period.
		{ID: "old", Start: now.AddDate(0, 0, -40), Outcome: "success", Mode: "initial-sync", Applied: map[string]int{"create": 500}},
		// The first sync, 29 days back: the period's first day.
		{ID: "first", Start: day(29, 0), Outcome: "partial", Mode: "initial-sync", Applied: map[string]int{"create": 288, "adopt": 12}, Failed: map[string]int{"create": 2}, GoToThrottled: 7},
		{ID: "small", Start: day(29, 23), Outcome: "success", Mode: "incremental", Applied: map[string]int{"update": 4}},
		{ID: "staged", Start: day(3, 10), Outcome: "staged", Mode: "incremental", Applied: map[string]int{"update": 1}, Staged: 60},
		{ID: "failed", Start: day(3, 11), Outcome: "failed", Mode: "incremental", Error: "read directory: 503"},
		{ID: "aborted", Start: day(3, 12), Outcome: "aborted", Mode: "incremental"},
		{ID: "ondemand", Start: day(0, 8), Outcome: "success", Mode: "on-demand", Applied: map[string]int{"create": 1}},
		{ID: "today", Start: day(0, 9), Outcome: "success", Mode: "incremental", Applied: map[string]int{"disable": 3, "enable": 1, "delete": 1}, GoToThrottled: 2},
	}
	for _, c := range cycles {
		if err := st.SaveCycle(c); err != nil {
			t.Fatal(err)
		}
	}
	var outcomes []state.Outcome
	for i := range 7 {
		s := plan.StateActive
		if i >= 5 {
			s = plan.StateDisabled
		}
		id := fmt.Sprintf("e%d", i)
		outcomes = append(outcomes, state.Outcome{EntraID: id, Record: &plan.Record{EntraID: id, UPN: id + "@contoso.com", GoToKey: "k" + id, State: s}})
	}
	outcomes = append(outcomes,
		state.Outcome{EntraID: "f1", Failure: &state.Failure{EntraID: "f1", Kind: "create", Count: 6, Quarantined: true}},
		state.Outcome{EntraID: "f2", Failure: &state.Failure{EntraID: "f2", Kind: "update", Count: 1}})
	err = errors.Join(st.Commit(outcomes...),
		st.SetStaged([]state.Staged{{EntraID: "e0", Kind: "disable"}, {EntraID: "e1", Kind: "disable"}, {EntraID: "e2", Kind: "disable"}}),
		st.SetDeferred([]state.Deferred{{EntraID: "d1", Kind: "create", Cause: "seats"}}))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	svc := &Service{StatePath: path, Binding: b, Now: func() time.Time { return now }}
	got, err := svc.Statistics(context.Background(), StatsDays)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Accounts{ManagedActive: 5, Suspended: 2, Failing: 2, Quarantined: 1, Deferred: 1, Staged: 3}); got.Accounts != want {
		t.Errorf("accounts %+v, want %+v", got.Accounts, want)
	}
	if len(got.Days) != 30 || got.Days[0].Date != "2026-11-07" || got.Days[29].Date != "2026-12-06" {
		t.Fatalf("%d days, %s to %s", len(got.Days), got.Days[0].Date, got.Days[len(got.Days)-1].Date)
	}
	want := map[string]Day{
		"2026-11-07": {Date: "2026-11-07", Changes: Changes{Create: 288, Adopt: 12, Update: 4, Failed: 2}, Cycles: 2, GoTo429s: 7},
		"2026-12-03": {Date: "2026-12-03", Changes: Changes{Update: 1}, Cycles: 3, Failed: 2, Staged: 1},
		"2026-12-06": {Date: "2026-12-06", Changes: Changes{Create: 1, Disable: 3, Enable: 1, Delete: 1}, Cycles: 2, OnDemand: 1, GoTo429s: 2},
	}
	for _, d := range got.Days {
		w, ok := want[d.Date]
		if !ok {
			w = Day{Date: d.Date}
		}
		if diff := cmp.Diff(w, d); diff != "" {
			t.Errorf("%s (-want +got):\n%s", d.Date, diff)
		}
	}
	wantTotal := Day{Changes: Changes{Create: 289, Adopt: 12, Update: 5, Enable: 1, Disable: 3, Delete: 1, Failed: 2}, Cycles: 7, Failed: 2, Staged: 1, OnDemand: 1, GoTo429s: 9}
	if diff := cmp.Diff(wantTotal, got.Total); diff != "" {
		t.Errorf("total (-want +got):\n%s", diff)
	}
	if !got.Oldest.Equal(now.AddDate(0, 0, -40)) {
		t.Errorf("oldest cycle %v", got.Oldest)
	}
}

// The tally of any cycles: the total is the sum of the days, each applied
// change of a cycle in the period counted once on its day, none from
// outside it, whatever the order the cycles come in.
func TestTallyProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC).Add(time.Duration(rapid.Int64Range(0, int64(24*time.Hour)-1).Draw(t, "time of day")))
		days := rapid.IntRange(-3, 400).Draw(t, "days")
		kinds := []string{"create", "adopt", "update", "enable", "disable", "delete"}
		cycles := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) state.Cycle {
			c := state.Cycle{Start: now.Add(-time.Duration(rapid.Int64Range(-int64(48*time.Hour), int64(420*24*time.Hour)).Draw(t, "ago"))),
				Outcome: rapid.SampledFrom([]string{"success", "partial", "staged", "failed", "aborted", "stopped"}).Draw(t, "outcome"),
				Applied: map[string]int{}, Failed: map[string]int{}, GoToThrottled: rapid.Int64Range(0, 50).Draw(t, "429s")}
			for _, k := range kinds {
				c.Applied[k] = rapid.IntRange(0, 300).Draw(t, k)
			}
			c.Failed["update"] = rapid.IntRange(0, 5).Draw(t, "failed")
			return c
		}), 0, 40).Draw(t, "cycles")
		tally := NewTally(now, days)
		for i := range cycles {
			tally.Add(&cycles[i])
		}
		got, total := tally.Days()
		if n := min(max(days, 1), MaxStatsDays); len(got) != n || got[n-1].Date != now.Format(time.DateOnly) {
			t.Fatalf("%d days ending %s for %d asked", len(got), got[len(got)-1].Date, days)
		}
		var sum Day
		for _, d := range got {
			sum.add(d)
		}
		if sum != total {
			t.Fatalf("the days sum to %+v, the total is %+v", sum, total)
		}
		var want Changes
		inPeriod := 0
		for i := range cycles {
			if c := &cycles[i]; !c.Start.Before(tally.From()) && c.Start.Before(tally.From().AddDate(0, 0, len(got))) {
				want.add(CycleChanges(c))
				inPeriod++
			}
		}
		if total.Changes != want || total.Cycles != inPeriod {
			t.Fatalf("total %+v of %d cycles, want %+v of %d", total.Changes, total.Cycles, want, inPeriod)
		}
		rev := NewTally(now, days)
		for i := len(cycles) - 1; i >= 0; i-- {
			rev.Add(&cycles[i])
		}
		if again, _ := rev.Days(); !cmp.Equal(again, got) {
			t.Fatalf("the days depend on the order of the cycles")
		}
	})
}
