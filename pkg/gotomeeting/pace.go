package gotomeeting

import (
	"context"
	"sync"
	"time"
)

// Pacing constants. GoTo documents 10 requests per second and nothing about
// how the second is measured, so the client assumes the strictest reading
// (any one-second window, counted when GoTo handles each request) and
// that arrivals jitter on the way (DESIGN §5.3).
const (
	// DefaultRateMargin is how far below the limit the client paces: 5 %
	// of a second is 50 ms, so that eleven requests sent one interval apart
	// still span more than a second after up to ~50 ms of jitter and
	// scheduling delay. Measured on gotosim with 0-30 ms of jitter: none
	// is too little (6 × 429 per 100 calls), 5 % meets none.
	DefaultRateMargin = 0.05
	// paceCut is the multiplicative decrease after a 429.
	paceCut = 0.5
	// paceFloorShare is the lowest pace, as a share of the ceiling, so that
	// a storm of 429s slows the client down without stopping it.
	paceFloorShare = 0.1
	// paceSteps is how many successful calls climb back from the floor to
	// the ceiling (from half of it, half as many): slow enough that a
	// server limiting below the ceiling sees a 429 only every few dozen
	// calls, fast enough that a lone 429 costs a few seconds.
	paceSteps = 100
)

// pacer is the one request budget shared by every Admin API call of a
// Client, in flight or waiting, reads and writes alike: calls leave one at a
// time, evenly spaced at the pace, which follows additive increase and
// multiplicative decrease (AIMD) between a floor and the ceiling.
//
// Each call is spaced from the moment the previous one actually left, not
// from when it was due. rate.Limiter (burst 1) spaces reservations, so a
// caller that wakes late leaves its successor's slot where it was and the
// two go out closer than one interval: on a loaded machine that alone gave
// 429s from a strict server, inside a 5 % margin. A late wake here costs a
// little pace, never a squeeze.
type pacer struct {
	unpaced bool
	ceiling float64 // requests per second: the configured limit less the margin
	floor   float64
	step    float64       // additive increase per successful call
	turn    chan struct{} // one caller at a time waits for its slot
	now     func() time.Time

	mu    sync.Mutex
	pace  float64   // requests per second now
	last  time.Time // when the last call left
	sent  uint64    // tickets handed out
	cutAt uint64    // sent at the last decrease: 429s of earlier tickets do not cut again
}

// newPacer paces at limit×(1−margin) requests per second; a negative limit
// means no pacing at all.
func newPacer(limit, margin float64) *pacer {
	if limit < 0 {
		return &pacer{unpaced: true}
	}
	ceiling := limit * (1 - margin)
	return &pacer{
		ceiling: ceiling,
		floor:   ceiling * paceFloorShare,
		step:    ceiling * (1 - paceFloorShare) / paceSteps,
		turn:    make(chan struct{}, 1),
		now:     time.Now,
		pace:    ceiling,
	}
}

// wait blocks until the next call may be sent, and returns the call's
// ticket for throttled.
func (p *pacer) wait(ctx context.Context) (uint64, error) {
	if p.unpaced {
		return p.take(), nil
	}
	select {
	case p.turn <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-p.turn }()
	p.mu.Lock()
	p.recoverIdle()
	p.mu.Unlock()
	for {
		p.mu.Lock()
		// Read again after every sleep: a 429 meanwhile lowers the pace.
		d := p.last.Add(time.Duration(float64(time.Second) / p.pace)).Sub(p.now())
		if d <= 0 {
			// The ticket is taken with the departure, in one critical
			// section: a cut in between would count this call, paced at
			// the old rate, as sent after it.
			p.last = p.now()
			p.sent++
			ticket := p.sent
			p.mu.Unlock()
			return ticket, nil
		}
		p.mu.Unlock()
		if err := sleep(ctx, d); err != nil {
			return 0, err
		}
	}
}

// recoverIdle climbs back for the time no call was sent, as if calls had
// gone out at the pace and succeeded: a server that saw nothing for a
// while has nothing to hold against the client. Without it a lone 429 in
// one cycle left the daemon's next cycle, twenty minutes later, at half
// the pace (1.6× its bound for a small change). Called with mu held.
func (p *pacer) recoverIdle() {
	if p.last.IsZero() || p.pace >= p.ceiling {
		return
	}
	idle := p.now().Sub(p.last) - time.Duration(float64(time.Second)/p.pace)
	if idle <= 0 {
		return
	}
	p.pace = min(p.ceiling, p.pace+p.step*idle.Seconds()*p.pace)
}

// take hands out the next ticket.
func (p *pacer) take() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent++
	return p.sent
}

// throttled halves the pace after a 429 to the call with this ticket, and
// reports whether it did. Calls sent before the last decrease were paced
// at the old rate: their 429s say nothing new, so one burst of 429s from
// the calls in flight halves the pace once, not once per call.
func (p *pacer) throttled(ticket uint64) bool {
	if p.unpaced {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ticket <= p.cutAt {
		return false
	}
	p.cutAt = p.sent
	p.pace = max(p.pace*paceCut, p.floor)
	return true
}

// succeeded climbs one step back towards the ceiling.
func (p *pacer) succeeded() {
	if p.unpaced {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pace = min(p.ceiling, p.pace+p.step)
}

// current is the pace in requests per second; 0 means unpaced.
func (p *pacer) current() float64 {
	if p.unpaced {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pace
}
