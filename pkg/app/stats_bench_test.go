package app

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// BenchmarkReadStatistics reads the statistics of a month from a state
// file holding a year of cycles (one every 20 minutes: 26,280) and 20,000
// owned accounts, as the console's statistics page does.
func BenchmarkReadStatistics(b *testing.B) {
	path := filepath.Join(b.TempDir(), "state.db")
	st, err := state.Open(path, state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	var outs []state.Outcome
	for i := range 20_000 {
		id := fmt.Sprintf("e%05d", i)
		outs = append(outs, state.Outcome{EntraID: id, Record: &plan.Record{EntraID: id, UPN: id + "@contoso.com", GoToKey: "k" + id, State: plan.StateActive}})
	}
	if err := st.Commit(outs...); err != nil {
		b.Fatal(err)
	}
	for i := range 26_280 {
		at := now.Add(-time.Duration(i) * 20 * time.Minute)
		if err := st.SaveCycle(state.Cycle{ID: fmt.Sprintf("c%05d", i), Start: at, End: at.Add(time.Second), Outcome: "success", Mode: "incremental",
			Applied: map[string]int{"update": i % 7}, GoToThrottled: int64(i % 3)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		s, err := ReadStatistics(st, now, StatsDays)
		if err != nil || s.Total.Cycles != 29*72+37 {
			b.Fatalf("%v, %d cycles", err, s.Total.Cycles)
		}
	}
}
