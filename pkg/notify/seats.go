package notify

import (
	"fmt"
	"strconv"
	"strings"
)

// SeatsThreshold is notify.seats_free_below: a licence whose free seats fall
// below it opens the "seats" incident. Count and Percent are exclusive; the
// zero value warns of nothing.
type SeatsThreshold struct {
	// Count: fewer free seats than this.
	Count int
	// Percent: fewer free seats than this share of the licence's seats.
	Percent float64
}

// ParseSeatsThreshold reads "10" (a count of free seats) or "5%" (a share
// of the licence's seats); "" is no threshold.
func ParseSeatsThreshold(s string) (SeatsThreshold, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return SeatsThreshold{}, nil
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || v <= 0 || v > 100 {
			return SeatsThreshold{}, fmt.Errorf("want a count of seats (10) or a percentage above 0 and at most 100 (5%%), got %q", s)
		}
		return SeatsThreshold{Percent: v}, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		return SeatsThreshold{}, fmt.Errorf("want a count of seats above 0 (10) or a percentage (5%%), got %q", s)
	}
	return SeatsThreshold{Count: v}, nil
}

// String returns the threshold as the configuration spells it.
func (t SeatsThreshold) String() string {
	if t.Percent > 0 {
		return strconv.FormatFloat(t.Percent, 'f', -1, 64) + "%"
	}
	return strconv.Itoa(t.Count)
}

// Low reports whether free seats of seats are below the threshold.
func (t SeatsThreshold) Low(seats, free int) bool {
	switch {
	case t.Count > 0:
		return free < t.Count
	case t.Percent > 0:
		return float64(free)*100 < t.Percent*float64(seats)
	}
	return false
}

// Seats is one GoTo licence's seats, as a cycle read them.
type Seats struct {
	// Licence names the licence: its description and key.
	Licence string
	Seats   int
	Free    int
}

// low returns the licences of o whose free seats are below t.
func (t SeatsThreshold) low(o Observation) []string {
	var out []string
	for _, s := range o.Seats {
		if t.Low(s.Seats, s.Free) {
			out = append(out, fmt.Sprintf("%s: %d of %d seats free", s.Licence, s.Free, s.Seats))
		}
	}
	return out
}
