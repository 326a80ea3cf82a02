package app

import (
	"math"
	"time"
)

// Progress is where a running cycle is: what the daemon serves on /status
// while a cycle runs, and what `status` and the console's overview show.
type Progress struct {
	// Started is when the cycle began; Phase what it is doing (reading
	// Entra, reading GoTo, planning, applying), since PhaseSince.
	Started    time.Time `json:"started"`
	Phase      string    `json:"phase"`
	PhaseSince time.Time `json:"phase_since"`
	// Done and Total count the plan's changes; both are zero before the
	// cycle applies any.
	Done  int `json:"done"`
	Total int `json:"total"`
	// PerSecond is the changes applied per second since applying began;
	// 0 before the first is done.
	PerSecond float64 `json:"changes_per_second,omitempty"`
	// GoToPace is the requests per second the GoTo client paces at now,
	// and GoTo429s the 429s GoTo answered this cycle so far.
	GoToPace float64 `json:"goto_pace,omitempty"`
	GoTo429s int64   `json:"goto_429s,omitempty"`
	// LeftSeconds is how long the changes left should take, and ETA when
	// they should be done; both zero when there is no estimate yet.
	LeftSeconds float64   `json:"left_seconds,omitempty"`
	ETA         time.Time `json:"eta,omitzero"`
}

// maxLeft bounds an estimate: a cycle that would take longer is stalled,
// and "about 40 days" says so as well as any larger figure.
const maxLeft = 1000 * time.Hour

// EstimateLeft says how long the changes left of total take, done of them
// having taken applying. Once a change is done it goes at the pace seen so
// far, which counts GoTo's 429s, bulk creates and calls in flight
// together; before that, at the GoTo client's pace (requests per second),
// one call per change, which errs long for creates (up to 100 go in one
// call). ok is false when neither is known. perSecond is the pace seen.
func EstimateLeft(done, total int, applying time.Duration, pace float64) (left time.Duration, perSecond float64, ok bool) {
	rest := total - done
	if total <= 0 || rest <= 0 {
		return 0, rate(done, applying), total > 0
	}
	perSecond = rate(done, applying)
	per := perSecond
	if per <= 0 {
		per = pace
	}
	if per <= 0 || math.IsNaN(per) || math.IsInf(per, 0) {
		return 0, perSecond, false
	}
	secs := float64(rest) / per
	if secs >= maxLeft.Seconds() {
		return maxLeft, perSecond, true
	}
	return time.Duration(secs * float64(time.Second)), perSecond, true
}

// rate is done changes over applying, per second; 0 when either is none.
func rate(done int, applying time.Duration) float64 {
	if done <= 0 || applying <= 0 {
		return 0
	}
	return float64(done) / applying.Seconds()
}

// Estimate fills in the pace seen, the time left and the ETA as of now,
// the cycle having applied changes since applyingSince.
func (p *Progress) Estimate(now, applyingSince time.Time) {
	p.PerSecond, p.LeftSeconds, p.ETA = 0, 0, time.Time{}
	if p.Total == 0 {
		return
	}
	left, per, ok := EstimateLeft(p.Done, p.Total, now.Sub(applyingSince), p.GoToPace)
	p.PerSecond = math.Round(per*10) / 10
	if ok {
		p.LeftSeconds = math.Round(left.Seconds())
		p.ETA = now.Add(left).Truncate(time.Second)
	}
}
