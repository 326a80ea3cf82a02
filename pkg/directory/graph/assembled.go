package graph

import (
	"slices"
	"sync"
	"time"
	"weak"

	"github.com/g2msync/g2msync/pkg/directory"
)

// assembled is the last snapshot a read assembled with a picture, kept so
// that a delta read that finds nothing changed need not assemble the same
// snapshot again: at 100,000 people, Assemble was 0.2-0.27 s of a cycle
// that changed nothing, on its critical path (docs/benchmarks.md).
//
// It is keyed by the picture object the read returned. The engine hands
// that same object back to the next read when it kept it (a daemon's
// PictureCache), unchanged: a picture decoded from the state file, or any
// other, is another object and is assembled afresh. A delta read that
// applied no change, and listed the same app and assignments, then has
// exactly the Reading the kept snapshot was assembled from.
//
// The picture and the snapshot are held weakly: a process that keeps no
// picture for a next cycle (`run --once`) must not hold 100,000 people
// through its plan and its calls because of this (measured: 46 MiB more
// anonymous memory at the initial sync's peak); the daemon's engine keeps
// both (engine.PictureCache).
type assembled struct {
	mu          sync.Mutex
	pic         weak.Pointer[directory.Picture]
	snap        weak.Pointer[directory.Snapshot]
	app         directory.App
	assignments []directory.AppAssignment
}

// keep remembers snap as assembled from pic, app and assignments.
func (a *assembled) keep(pic *directory.Picture, app directory.App, assignments []directory.AppAssignment, snap *directory.Snapshot) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pic, a.snap, a.app, a.assignments = weak.Make(pic), weak.Make(snap), app, assignments
}

// reuse returns, for a delta read from prev that changed nothing and
// continues as next, the snapshot kept for prev when the app and the
// assignments are those it was assembled from, with this read's time and
// calls; nil otherwise. The kept snapshot then belongs to next. Its users
// are shared with the kept one: a snapshot is read, never changed.
func (a *assembled) reuse(prev, next *directory.Picture, app directory.App, assignments []directory.AppAssignment, readAt time.Time, calls int) *directory.Snapshot {
	a.mu.Lock()
	defer a.mu.Unlock()
	kept := a.snap.Value()
	if kept == nil || prev == nil || a.pic.Value() != prev || !sameApp(a.app, app) || !slices.Equal(a.assignments, assignments) {
		return nil
	}
	s := *kept
	s.ReadAt, s.Calls, s.Delta, s.Changes, s.FullReason = readAt, calls, true, 0, ""
	a.pic, a.snap = weak.Make(next), weak.Make(&s)
	return &s
}

func sameApp(a, b directory.App) bool {
	return a.ID == b.ID && a.AppID == b.AppID && a.DisplayName == b.DisplayName && slices.Equal(a.Roles, b.Roles)
}
