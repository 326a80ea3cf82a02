package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/metrics"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/sim/gotosim"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
)

// These benchmarks run whole cycles of the real app (Graph SDK, GoTo client,
// planner, bbolt state file) against the simulators with realistic latency
// and GoTo's rate limit. They take minutes, so run them one at a time:
//
//	go test -run '^$' -bench InitialSync10k -benchtime 1x ./cmd/g2msync/
//	go test -run '^$' -bench Update1k -benchtime 1x ./cmd/g2msync/
//
// docs/benchmarks.md holds the figures and what bounds them.

const (
	benchGraphLatency = 20 * time.Millisecond
	benchGoToLatency  = 50 * time.Millisecond
	benchGroupSize    = 2450
	benchGroups       = 4
	benchAdmins       = 200
	benchPeople       = benchGroups*benchGroupSize + benchAdmins // 10,000
)

// benchTenant is 10,000 assigned people: four groups of 2,450 (role User)
// and 200 direct Admin assignments, none disabled, none with Default Access
// and none with a GoTo account yet. The scenario reads a zero count as "the
// default", so -1 is how it is told "none".
func benchTenant() scenario.Options {
	groups := make([]scenario.GroupSpec, benchGroups)
	for i := range groups {
		groups[i] = scenario.GroupSpec{Name: fmt.Sprintf("Group %d", i+1), Size: benchGroupSize}
	}
	return scenario.Options{Groups: groups, DirectAdmins: benchAdmins, DefaultAccess: -1, Disabled: -1, PreExisting: -1,
		GraphLatency: benchGraphLatency, GoToLatency: benchGoToLatency,
		GoToJitter: gotosim.DefaultJitter, GoToHandling: gotosim.DefaultHandling, GoToHandlingPerItem: gotosim.DefaultHandlingPerItem}
}

// benchApp is the app built on a scenario, as the demo builds it.
type benchApp struct {
	w   *scenario.World
	a   *app
	cfg *config.Config
}

// newBenchApp starts the simulators and builds the app on them; close stops
// the simulators (the state file lives in b.TempDir, removed by testing).
func newBenchApp(b *testing.B, opts scenario.Options) *benchApp {
	b.Helper()
	w, err := scenario.Start(opts)
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Parse([]byte(w.ConfigYAML(filepath.Join(b.TempDir(), "state.db"), "")), w.Environ())
	if err != nil {
		w.Close()
		b.Fatal(err)
	}
	m := &Main{Stdout: io.Discard, Stderr: io.Discard, Now: time.Now}
	a, err := m.newApp(cfg, m.newLogger(cfg, io.Discard), metrics.New("bench"), appOptions{roots: w.CA.Pool()})
	if err != nil {
		w.Close()
		b.Fatal(err)
	}
	return &benchApp{w: w, a: a, cfg: cfg}
}

func (e *benchApp) close() { e.w.Close() }

// cycleFigures are what one measured cycle cost.
type cycleFigures struct {
	res       *engine.Result
	wall      time.Duration
	calls     map[string]int64 // by API, as the app counted them (retries included)
	routes    map[string]int   // GoTo requests by route, as gotosim counted them
	throttled int              // GoTo 429s
	writes    int              // GoTo create, update and delete requests
	peakHeap  uint64           // HeapInuse, sampled every 5 ms; the simulators share the process
}

// measure runs one cycle with the simulators' counters zeroed and the heap
// sampled, and wants it to succeed. The caller owns the benchmark timer.
func (e *benchApp) measure(b *testing.B, opts engine.Options) cycleFigures {
	b.Helper()
	return e.measureOutcome(b, opts, engine.OutcomeSuccess)
}

// measureOutcome is measure for a cycle that ends with outcome want.
func (e *benchApp) measureOutcome(b *testing.B, opts engine.Options, want string) cycleFigures {
	b.Helper()
	e.w.GoTo.ResetCounters()
	e.w.Graph.ResetCounters()
	stop := sampleHeap()
	start := time.Now()
	rep, err := e.a.cycle(context.Background(), opts)
	wall := time.Since(start)
	f := cycleFigures{wall: wall, peakHeap: stop(), routes: e.w.GoTo.Calls(), throttled: e.w.GoTo.Throttled(), writes: e.w.GoTo.Writes()}
	if err != nil {
		b.Fatalf("cycle: %v", err)
	}
	f.res = rep.Result
	f.calls = rep.Result.Cycle.Calls
	if out := f.res.Outcome(); out != want {
		b.Fatalf("cycle outcome %q, want %q (errors: %v)", out, want, f.res.Errors)
	}
	return f
}

// sampleHeap samples HeapInuse until the returned stop is called, which
// returns the highest value seen.
func sampleHeap() (stop func() uint64) {
	runtime.GC()
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// report adds a cycle's figures to the benchmark's, averaged per op.
func (e *benchApp) report(b *testing.B, figs []cycleFigures) {
	var graph, gotoCalls, posts, puts, throttled, writes float64
	var wall time.Duration
	var peak uint64
	for _, f := range figs {
		graph += float64(f.calls["graph"])
		gotoCalls += float64(f.calls["goto"])
		posts += float64(f.routes[gotosim.RouteCreateUsers])
		puts += float64(f.routes[gotosim.RouteUpdateUser])
		throttled += float64(f.throttled)
		writes += float64(f.writes)
		wall += f.wall
		peak = max(peak, f.peakHeap)
	}
	n := float64(len(figs))
	rate := e.cfg.GoTo.RateLimitPerSecond
	lower := gotoCalls / n / rate
	b.ReportMetric(graph/n, "graph-calls/op")
	b.ReportMetric(gotoCalls/n, "goto-calls/op")
	b.ReportMetric(posts/n, "goto-POSTs/op")
	b.ReportMetric(puts/n, "goto-PUTs/op")
	b.ReportMetric(writes/n, "goto-writes/op")
	b.ReportMetric(throttled/n, "goto-429s/op")
	b.ReportMetric(wall.Seconds()/n, "wall-s/op")
	b.ReportMetric(lower, "lower-bound-s/op")
	b.ReportMetric(wall.Seconds()/n/lower, "wall/lower-bound")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	for i, f := range figs {
		b.Logf("cycle %d: wall %v, calls %v, GoTo routes %v, 429s %d, applied %v, planned %v, peak heap %.1f MiB",
			i+1, f.wall.Round(time.Millisecond), f.calls, f.routes, f.throttled, f.res.Cycle.Applied, f.res.Cycle.Planned,
			float64(f.peakHeap)/(1<<20))
	}
}

// BenchmarkInitialSync10k times one --initial-sync cycle that creates 10,000
// GoTo accounts (9,800 with the User licence, 200 also MANAGE_USERS) at
// GoTo's default 10 requests a second, with 50 ms of latency per GoTo call
// and 20 ms per Graph call. Each op starts from a fresh tenant and state
// file; building them is not timed.
func BenchmarkInitialSync10k(b *testing.B) {
	b.ReportAllocs()
	var figs []cycleFigures
	var last *benchApp
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if last != nil {
			last.close()
		}
		e := newBenchApp(b, benchTenant())
		last = e
		b.StartTimer()
		f := e.measure(b, engine.Options{InitialSync: true})
		b.StopTimer()
		if got := f.res.Cycle.Applied[string(plan.KindCreate)]; got != benchPeople {
			b.Fatalf("created %d accounts, want %d", got, benchPeople)
		}
		if got := len(e.w.GoTo.Users()); got != benchPeople+1 { // and the IT admin's
			b.Fatalf("GoTo holds %d accounts, want %d", got, benchPeople+1)
		}
		// One bulk create per 100 people of the same licences and roles.
		if want := ceilDiv(benchGroups*benchGroupSize, 100) + ceilDiv(benchAdmins, 100); f.throttled == 0 && f.routes[gotosim.RouteCreateUsers] != want {
			b.Fatalf("%d bulk creates, want %d", f.routes[gotosim.RouteCreateUsers], want)
		}
		figs = append(figs, f)
		b.StartTimer()
	}
	b.StopTimer()
	last.report(b, figs)
	last.close()
}

// BenchmarkUpdate1k times one incremental cycle after 1,000 people's surname
// changed in Entra: 1,000 PUTs at 10 requests a second with 50 ms of latency
// per GoTo call. The initial sync that comes first is not timed.
func BenchmarkUpdate1k(b *testing.B) {
	const changed = 1000
	e := newBenchApp(b, benchTenant())
	defer e.close()
	if _, err := e.a.cycle(context.Background(), engine.Options{InitialSync: true}); err != nil {
		b.Fatalf("initial sync: %v", err)
	}
	people := e.w.InScope(false)
	step := len(people) / changed
	b.ReportAllocs()
	b.ResetTimer()
	var figs []cycleFigures
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		surname := fmt.Sprintf("Renamed%d", i)
		var ids []string
		for j := 0; j < changed; j++ {
			id := people[j*step].ID
			if err := e.w.Graph.UpdateUser(id, map[string]any{"surname": surname}); err != nil {
				b.Fatal(err)
			}
			ids = append(ids, id)
		}
		b.StartTimer()
		f := e.measure(b, engine.Options{})
		b.StopTimer()
		if got := f.res.Cycle.Applied[string(plan.KindUpdate)]; got != changed || len(f.res.Cycle.Planned) != 1 {
			b.Fatalf("applied %d updates of planned %v, want %d updates only", got, f.res.Cycle.Planned, changed)
		}
		if f.throttled == 0 && f.routes[gotosim.RouteUpdateUser] != changed {
			b.Fatalf("%d PUTs, want %d", f.routes[gotosim.RouteUpdateUser], changed)
		}
		for _, id := range []string{ids[0], ids[changed-1]} {
			if u, ok := e.w.GoTo.UserByEmail(e.w.Person(id).Mail); !ok || u.LastName != surname {
				b.Fatalf("GoTo account of %s: lastName %q, want %q", id, u.LastName, surname)
			}
		}
		figs = append(figs, f)
		b.StartTimer()
	}
	b.StopTimer()
	e.report(b, figs)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// BenchmarkUnassign times one incremental cycle after people left the app's
// groups, at 10,000 people: 40 leavers (below the gates: each costs the read
// of its live roles before planning and the disable's PUT), and 1,000
// leavers (staged by the gate: the live roles are read with one list of
// every account, no write). The initial sync that comes first is not timed.
//
//	go test -run '^$' -bench Unassign -benchtime 1x ./cmd/g2msync/
func BenchmarkUnassign(b *testing.B) {
	for _, tc := range []struct {
		name    string
		leavers int
		outcome string
	}{{"40-applied", 40, engine.OutcomeSuccess}, {"1000-staged", 1000, engine.OutcomeStaged}} {
		b.Run(tc.name, func(b *testing.B) {
			var figs []cycleFigures
			var e *benchApp
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if e != nil {
					e.close()
				}
				e = newBenchApp(b, benchTenant())
				if _, err := e.a.cycle(context.Background(), engine.Options{InitialSync: true}); err != nil {
					b.Fatalf("initial sync: %v", err)
				}
				people := e.w.InScope(false)
				left := 0
				for _, p := range people {
					if left == tc.leavers {
						break
					}
					if e.w.RemoveFromGroup(p.ID) == nil {
						left++
					}
				}
				b.StartTimer()
				f := e.measureOutcome(b, engine.Options{}, tc.outcome)
				b.StopTimer()
				if tc.outcome == engine.OutcomeSuccess && f.res.Cycle.Applied[string(plan.KindDisable)] != tc.leavers {
					b.Fatalf("applied %v, want %d disables", f.res.Cycle.Applied, tc.leavers)
				}
				if tc.outcome == engine.OutcomeStaged && (f.res.Cycle.Staged != tc.leavers || f.writes != 0) {
					b.Fatalf("staged %d writes %d, want %d staged and no write", f.res.Cycle.Staged, f.writes, tc.leavers)
				}
				figs = append(figs, f)
			}
			e.report(b, figs)
			e.close()
		})
	}
}

// BenchmarkUpdateSlowGoTo: 300 updates with GoTo 200 ms away, one call at a
// time (goto.max_in_flight 1) and four at a time (the default). One at a
// time, latency bounds the cycle (5 calls a second); four at a time, the
// rate limit does (10 a second). The initial sync is not timed.
//
//	go test -run '^$' -bench UpdateSlowGoTo -benchtime 1x ./cmd/g2msync/
func BenchmarkUpdateSlowGoTo(b *testing.B) {
	const changed = 300
	for _, inFlight := range []int{1, 4} {
		b.Run(fmt.Sprintf("in-flight-%d", inFlight), func(b *testing.B) {
			opts := benchTenant()
			opts.Groups = opts.Groups[:1]
			opts.Groups[0].Size = 2000
			opts.DirectAdmins = -1
			opts.GoToLatency = 200 * time.Millisecond
			e := newBenchApp(b, opts)
			defer e.close()
			if _, err := e.a.cycle(context.Background(), engine.Options{InitialSync: true}); err != nil {
				b.Fatalf("initial sync: %v", err)
			}
			e.a.cfg.GoTo.MaxInFlight = inFlight
			people := e.w.InScope(false)
			var figs []cycleFigures
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				for j := 0; j < changed; j++ {
					if err := e.w.Graph.UpdateUser(people[j*len(people)/changed].ID, map[string]any{"surname": fmt.Sprintf("Slow%d", i)}); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				f := e.measure(b, engine.Options{})
				if got := f.res.Cycle.Applied[string(plan.KindUpdate)]; got != changed {
					b.Fatalf("applied %d updates, want %d", got, changed)
				}
				figs = append(figs, f)
			}
			e.report(b, figs)
		})
	}
}
