package daemon

import (
	"github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/engine"
)

// phaseStarting is a cycle's phase before the engine reports one: it is
// opening the state file, or waiting for it.
const phaseStarting = "starting"

// beginProgress starts keeping the progress of the cycle beginning now.
// The caller holds d.mu.
func (d *Daemon) beginProgress() {
	now := d.now()
	d.progress = &app.Progress{Started: now, Phase: phaseStarting, PhaseSince: now}
}

// onProgress keeps what the running cycle reports (engine.Options.
// OnProgress); the cycle calls it from its goroutines.
func (d *Daemon) onProgress(p engine.Progress) {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := d.progress
	if cur == nil {
		return
	}
	if string(p.Phase) != cur.Phase {
		cur.Phase, cur.PhaseSince = string(p.Phase), now
	}
	cur.Done, cur.Total, cur.GoToPace, cur.GoTo429s = p.Done, p.Total, p.Pace, p.Throttled
}

// runningProgress returns the running cycle's progress with its estimate
// as of now, or nil when no cycle runs. The caller holds d.mu.
func (d *Daemon) runningProgress() *app.Progress {
	if d.progress == nil {
		return nil
	}
	p := *d.progress
	if p.Phase == string(engine.PhaseApplying) {
		p.Estimate(d.now(), p.PhaseSince)
	}
	return &p
}
