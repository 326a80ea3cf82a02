package engine

import (
	"context"
	"fmt"

	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/logkey"
	"github.com/g2msync/g2msync/pkg/plan"
)

// seatLedger tracks free seats per licence through a cycle, so a change that
// needs a seat no licence has fails with a clear reason, without a call, and
// the rest go on. A nil ledger allows everything (GoTo then decides).
type seatLedger struct {
	free  map[string]int
	seats map[string]int
}

// loadSeats reads the licences once, if some change adds one.
func (c *cycle) loadSeats(ctx context.Context, p *plan.Plan) *seatLedger {
	need := false
	for i := range p.Changes {
		if ch := &p.Changes[i]; ch.Licenses != nil && len(added(ch.Licenses.Old, ch.Licenses.New)) > 0 && ch.Writes() {
			need = true
			break
		}
	}
	if !need {
		return nil
	}
	lics, err := c.e.Reader.Licenses(ctx)
	if err != nil {
		c.log.Warn("read GoTo licences; seats are not checked before calls", logkey.Error, err.Error())
		return nil
	}
	l := &seatLedger{free: map[string]int{}, seats: map[string]int{}}
	for _, lic := range lics {
		l.free[lic.Key] = lic.Free()
		l.seats[lic.Key] = lic.Seats
	}
	return l
}

func added(old, want []string) []string {
	var out []string
	for _, w := range want {
		found := false
		for _, o := range old {
			if o == w {
				found = true
				break
			}
		}
		if !found {
			out = append(out, w)
		}
	}
	return out
}

// reserve takes a seat of every licence want adds to old, and gives back the
// seats of those it removes. It fails, taking nothing, when a licence is
// unknown or full.
func (l *seatLedger) reserve(old, want []string) error {
	if l == nil {
		return nil
	}
	for _, k := range added(old, want) {
		free, ok := l.free[k]
		if !ok {
			return fmt.Errorf("licence %s does not exist in the GoTo account; fix roles in the configuration (g2msync check lists the licences): %w", k, gotomeeting.ErrSeatsExhausted)
		}
		if free <= 0 {
			return fmt.Errorf("licence %s has no free seat (%d of %d used): %w", k, l.seats[k]-free, l.seats[k], gotomeeting.ErrSeatsExhausted)
		}
	}
	for _, k := range added(old, want) {
		l.free[k]--
	}
	for _, k := range added(want, old) {
		if _, ok := l.free[k]; ok {
			l.free[k]++
		}
	}
	return nil
}

// release undoes reserve after a call that failed.
func (l *seatLedger) release(old, want []string) {
	if l == nil {
		return
	}
	for _, k := range added(old, want) {
		l.free[k]++
	}
	for _, k := range added(want, old) {
		if _, ok := l.free[k]; ok {
			l.free[k]--
		}
	}
}
