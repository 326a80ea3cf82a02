package plan

import (
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestPropertyBegin checks the rules of how a cycle begins over every
// combination of what was asked.
func TestPropertyBegin(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		o := Opening{
			DryRun: rapid.Bool().Draw(rt, "dry"), AdoptOnly: rapid.Bool().Draw(rt, "adoptOnly"),
			InitialSync:    rapid.Bool().Draw(rt, "initialSync"),
			Paused:         rapid.SampledFrom([]string{"", "paused by alice"}).Draw(rt, "paused"),
			FullSyncAsked:  rapid.SampledFrom([]string{"", "bob"}).Draw(rt, "asked"),
			ReconcileEvery: time.Duration(rapid.SampledFrom([]int{0, 1, 24}).Draw(rt, "everyHours")) * time.Hour,
			Now:            time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		}
		if ago := rapid.IntRange(-1, 48).Draw(rt, "reconciledHoursAgo"); ago >= 0 {
			o.Reconciled = o.Now.Add(-time.Duration(ago) * time.Hour)
		}
		s := Begin(o)
		writes := !o.DryRun && !o.AdoptOnly
		if paused := o.Paused != "" && writes; s.Run == paused {
			rt.Fatalf("%+v: Run %v; a pause must stop exactly the cycles that write", o, s.Run)
		}
		if !s.Run && (s.Why == "" || s.Full || s.Settle) {
			rt.Fatalf("%+v: a cycle that does not run says why and settles nothing: %+v", o, s)
		}
		if s.Run && o.InitialSync && !s.Full {
			rt.Fatalf("%+v: an initial sync asked on the command line was dropped", o)
		}
		if s.Run && !o.AdoptOnly && o.FullSyncAsked != "" && !s.Full {
			rt.Fatalf("%+v: a requested full sync was not made (a dry run must show it too)", o)
		}
		if s.Settle != (s.Run && writes && o.FullSyncAsked != "") {
			rt.Fatalf("%+v: Settle %v; only a cycle that writes and makes the asked full sync settles it", o, s.Settle)
		}
		due := o.ReconcileEvery > 0 && (o.Reconciled.IsZero() || o.Now.Sub(o.Reconciled) >= o.ReconcileEvery)
		if s.Run && !s.Full && !o.AdoptOnly && s.Reconcile != due {
			rt.Fatalf("%+v: Reconcile %v; a reconcile is due once the interval has passed since the last, or none was recorded", o, s.Reconcile)
		}
		if s.Reconcile && (s.Full || !s.Run) {
			rt.Fatalf("%+v: a full sync, or a cycle that does not run, does not reconcile as well: %+v", o, s)
		}
		if o.AdoptOnly && (s.Full != o.InitialSync || !s.Run) {
			rt.Fatalf("%+v: a rebuild runs as asked, whatever the state file says: %+v", o, s)
		}
	})
}

// Literal cases, stated apart from the rule the code writes: at the
// interval exactly, a clock behind the last reconcile, and the askings
// that win over a pause.
func TestBeginCases(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, tc := range []struct {
		name string
		o    Opening
		want Start
	}{
		{"nothing asked", Opening{Now: t0}, Start{Run: true}},
		{"reconcile due at the interval exactly", Opening{Now: t0, ReconcileEvery: day, Reconciled: t0.Add(-day)}, Start{Run: true, Reconcile: true}},
		{"reconcile not yet due", Opening{Now: t0, ReconcileEvery: day, Reconciled: t0.Add(-day + time.Second)}, Start{Run: true}},
		{"clock behind the last reconcile", Opening{Now: t0, ReconcileEvery: day, Reconciled: t0.Add(time.Hour)}, Start{Run: true}},
		{"never reconciled", Opening{Now: t0, ReconcileEvery: day}, Start{Run: true, Reconcile: true}},
		{"reconcile off", Opening{Now: t0}, Start{Run: true}},
		{"a full sync needs no reconcile", Opening{Now: t0, InitialSync: true, ReconcileEvery: day}, Start{Run: true, Full: true}},
		{"paused", Opening{Now: t0, Paused: "paused by ann", FullSyncAsked: "bob", ReconcileEvery: day}, Start{Why: "paused by ann"}},
		{"paused, dry run", Opening{Now: t0, DryRun: true, Paused: "paused by ann", FullSyncAsked: "bob"}, Start{Run: true, Full: true}},
		{"asked, written", Opening{Now: t0, FullSyncAsked: "bob"}, Start{Run: true, Full: true, Settle: true}},
		{"rebuild while paused and asked", Opening{Now: t0, AdoptOnly: true, InitialSync: true, Paused: "p", FullSyncAsked: "bob"}, Start{Run: true, Full: true}},
	} {
		if got := Begin(tc.o); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
