package main

import (
	"context"
	"runtime/metrics"
	"time"
)

// When GOGC is not set, g2msync sets the collector's target from the live
// heap: Go's default (the heap may grow to twice what is live) while the
// heap is small, and 50 (one and a half times) once it is large. Most of a
// large tenant's live heap is what a cycle read and holds to its end (the
// records, the mapped people, GoTo's listing), so collecting more often
// marks the same data more often and costs a tenth or a fifth more CPU,
// for 50-70 MiB less at 100,000 people (a reconcile peaked at 284 MiB
// under Go's default). Prometheus made the same change for the same reason
// (prometheus/prometheus#14176). A small heap is another matter: at 10,000
// people GOGC=50 saved 4 MiB and cost more than twice the CPU, enough to
// slow the paced calls (docs/benchmarks.md). A GOGC that is set, "off"
// included, decides; GOMEMLIMIT applies on top either way.
const (
	// largeHeap is the live heap from which the tighter target applies,
	// smallHeap the one below which Go's returns: apart, so that a heap
	// near one of them does not switch back and forth.
	largeHeap, smallHeap = 64 << 20, 48 << 20
	// gcPercentLarge is the target for a large heap, gcPercentSmall Go's
	// own default.
	gcPercentLarge, gcPercentSmall = 50, 100
)

// gcPercentFor is the target for a live heap of live bytes, given the one
// in force.
func gcPercentFor(live uint64, current int) int {
	switch {
	case live >= largeHeap:
		return gcPercentLarge
	case live < smallHeap:
		return gcPercentSmall
	}
	return current
}

// tuneGC sets the collector's target every period from the live heap, as
// the last collection measured it, until ctx ends. A cycle's heap grows
// over seconds (at 100,000 people its peak comes minutes in), so a
// quarter of a second is soon enough.
func tuneGC(ctx context.Context, period time.Duration, live func() uint64, set func(int) int) {
	current := gcPercentSmall
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if p := gcPercentFor(live(), current); p != current {
			set(p)
			current = p
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// liveHeap is the heap the last collection found live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
