package daemon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/logkey"
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

// serveStatistics serves the statistics of the last ?days= days (30 when
// absent) as JSON.
func (d *Daemon) serveStatistics(w http.ResponseWriter, r *http.Request) {
	if !d.statusAllowed(w, r) {
		return
	}
	days := app.StatsDays
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > app.MaxStatsDays {
			http.Error(w, fmt.Sprintf("days: want a count of days from 1 to %d", app.MaxStatsDays), http.StatusBadRequest)
			return
		}
		days = n
	}
	s, err := d.opts.Statistics(r.Context(), days)
	if err != nil {
		// The detail names the state file: for the log, not the caller.
		d.opts.Logger.Warn("serve /status/statistics", logkey.Error, err.Error())
		http.Error(w, "the statistics cannot be read now; try again in a moment", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(s)
}
