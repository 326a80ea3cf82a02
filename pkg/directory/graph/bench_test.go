package graph_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/directory/graph"
	"github.com/g2msync/g2msync/pkg/sim/graphsim"
)

// BenchmarkRead10k reads 10,000 assigned users (4 groups of 2,000 and 2,000
// direct assignments) through the real SDK with 20 ms of simulated latency
// per call, and reports the Graph calls, wall time and peak heap of a read.
// The simulator runs in the same process, so the heap figure includes the
// responses it builds.
//
//	go test -run '^$' -bench Read10k -benchtime 3x ./pkg/directory/graph/
func BenchmarkRead10k(b *testing.B) {
	tn := newTenant(b, graphsim.Options{Latency: 20 * time.Millisecond})
	for g := range 4 {
		gid := tn.must1(tn.sim.AddGroup(graphsim.Group{DisplayName: fmt.Sprintf("Group %d", g)}))
		tn.must(tn.sim.AddMembers(gid, tn.users(fmt.Sprintf("g%d-", g), 2000)...))
		tn.must1(tn.sim.Assign(tn.spID, gid, tn.roleU))
	}
	for _, id := range tn.users("direct-", 2000) {
		tn.must1(tn.sim.Assign(tn.spID, id, tn.roleA))
	}
	src, err := graph.New(tn.config())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var peak, base uint64
	var total time.Duration
	for i := 0; b.Loop(); i++ {
		tn.sim.ResetCounters()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base = ms.HeapInuse
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var max uint64
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(2 * time.Millisecond)
			defer t.Stop()
			for {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				max = maxU(max, ms.HeapInuse)
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
		start := time.Now()
		snap, err := src.Read(ctx)
		elapsed := time.Since(start)
		close(stop)
		wg.Wait()
		if err != nil {
			b.Fatal(err)
		}
		if len(snap.Users) != 10000 {
			b.Fatalf("users = %d, want 10000", len(snap.Users))
		}
		peak = maxU(peak, max)
		total += elapsed
		b.Logf("read %d: %d users, %d Graph calls, %d HTTP requests in all %v, wall %v, heap in use %.1f MiB before, peak %.1f MiB",
			i+1, len(snap.Users), tn.sim.GraphCalls(), snap.Calls, tn.sim.Counters(), elapsed.Round(time.Millisecond),
			float64(base)/(1<<20), float64(max)/(1<<20))
	}
	b.ReportMetric(float64(tn.sim.GraphCalls()), "graph-calls/op")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}
