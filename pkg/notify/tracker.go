package notify

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/g2msync/g2msync/pkg/logkey"
)

// Observation is what the daemon knows after each cycle.
type Observation struct {
	Time           time.Time
	CycleID        string
	Outcome        string // "success", "partial", "staged", "aborted", "failed"
	Error          string // the cycle's error, if any
	FailedInARow   int    // failed cycles in a row, this one included (0 after a success)
	JobQuarantined bool   // cycles are backing off after repeated failures
	HeldUntil      time.Time
	Staged         []string // users (emails/UPNs) whose disables are staged for approval
	StageReason    string
	AuthFailure    string   // non-empty when the cycle failed because Entra or GoTo refused g2msync's credentials: what to do
	Quarantined    []string // accounts quarantined after repeated failures
	StatusURL      string   // e.g. http://127.0.0.1:9464/status, to put in mails; may be empty
	// Seats are the GoTo licences' seats as the cycle read them; nil when
	// it did not read them, which leaves the seats incident as it was.
	Seats []Seats
}

// defaultFailedCycles is how many failed cycles in a row open the "failing"
// incident: one failure is often a blip (a Graph 5xx), three is a pattern.
const defaultFailedCycles = 3

// keyIncident is the log attribute naming the incident.
const keyIncident = logkey.Incident

// Tracker turns observations into mails: one when an incident opens, one when it clears.
//
// Each incident moves through three states:
//
//	closed ──condition true──► open, not notified ──mail sent──► open, notified
//	   ▲                            │        ▲ send failed:              │
//	   │   condition false:         │        └─ retry next observation   │
//	   ├────closed silently ◄───────┘                                    │
//	   │                                         condition false:        │
//	   └────────────── "resolved" mail sent ◄────────────────────────────┘
//	                   (send failed: stay open, retry next observation)
//
// While an incident is open and notified nothing more is sent, even when its
// details change, because an administrator who gets a mail per cycle learns
// to filter them. The exception is staged disables: a user newly staged is a
// new decision to make, so a growing set sends a fresh mail.
//
// An incident that clears before its opening mail got through is closed
// without a "resolved" mail: a recovery notice for a problem never announced
// only confuses. The warning logged for the failed send remains.
//
// Observe is safe for concurrent use; observations are handled one at a time.
type Tracker struct {
	send         func(ctx context.Context, subject, body string) error
	failedCycles int
	log          *slog.Logger
	// SeatsFreeBelow, when set, opens the "seats" incident while a
	// licence's free seats are below it (notify.seats_free_below).
	SeatsFreeBelow SeatsThreshold

	mu        sync.Mutex
	incidents [numKinds]incident
}

// incident is the tracker's memory of one condition.
type incident struct {
	open     bool
	notified bool      // the opening mail got through
	since    time.Time // Observation.Time when the condition first held
	// users holds the staged users named in mails already sent, so that
	// only a user not yet reported triggers another mail.
	users map[string]bool
}

// NewTracker returns a Tracker that mails through send, which must not be
// nil (Mailer.Send fits). failedCycles is the number of failed cycles in a
// row that opens the "failing" incident; 0 or less means 3. A nil log
// discards.
func NewTracker(send func(ctx context.Context, subject, body string) error, failedCycles int, log *slog.Logger) *Tracker {
	if failedCycles <= 0 {
		failedCycles = defaultFailedCycles
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Tracker{send: send, failedCycles: failedCycles, log: log}
}

// Observe compares o with the open incidents and sends the mails that
// follow: an opening mail for each condition that became true, a resolved
// mail for each that became false, and a retry for any mail that failed
// before. A failed send is logged at Warn, not returned, because the cycle
// itself went as it went; the tracker retries on the next observation.
func (t *Tracker) Observe(ctx context.Context, o Observation) {
	t.mu.Lock()
	defer t.mu.Unlock()
	log := t.log.With(logkey.CycleID, o.CycleID)
	for k := range numKinds {
		t.step(ctx, log, k, o)
	}
}

// step advances one incident by one observation.
func (t *Tracker) step(ctx context.Context, log *slog.Logger, k kind, o Observation) {
	in := &t.incidents[k]
	if k == kindSeats && o.Seats == nil {
		return // not read this cycle: nothing known either way
	}
	active := k.active(o, t.failedCycles) || (k == kindSeats && len(t.SeatsFreeBelow.low(o)) > 0)
	switch {
	case active && !in.open:
		*in = incident{open: true, since: o.Time}
		t.deliver(ctx, log, k, in, o, false)
	case active && !in.notified:
		t.deliver(ctx, log, k, in, o, false)
	case active && k == kindStaged && hasNew(o.Staged, in.users):
		t.deliver(ctx, log, k, in, o, true)
	case !active && in.open && !in.notified:
		log.Info("incident cleared before its mail was sent", keyIncident, k.String())
		*in = incident{}
	case !active && in.open:
		subject, body := k.resolved(o, in.since)
		if t.try(ctx, log, k, subject, body) {
			*in = incident{}
		}
	}
}

// deliver sends the opening (or, for staged disables, the follow-up) mail
// and marks the incident notified only when the send succeeded.
func (t *Tracker) deliver(ctx context.Context, log *slog.Logger, k kind, in *incident, o Observation, grown bool) {
	subject, body := k.opened(o, t.failedCycles, in.users, grown)
	if k == kindSeats {
		subject, body = seatsOpened(o, t.SeatsFreeBelow)
	}
	if !t.try(ctx, log, k, subject, body) {
		return
	}
	in.notified = true
	if k == kindStaged {
		if in.users == nil {
			in.users = make(map[string]bool, len(o.Staged))
		}
		for _, u := range o.Staged {
			in.users[u] = true
		}
	}
}

// try sends one mail and logs the result.
func (t *Tracker) try(ctx context.Context, log *slog.Logger, k kind, subject, body string) bool {
	if err := t.send(ctx, subject, body); err != nil {
		log.Warn("notification not sent; retrying after the next cycle", keyIncident, k.String(), "subject", subject, logkey.Error, err.Error())
		return false
	}
	log.Info("notification sent", keyIncident, k.String(), "subject", subject)
	return true
}

// hasNew reports whether users names someone not in seen.
func hasNew(users []string, seen map[string]bool) bool {
	for _, u := range users {
		if !seen[u] {
			return true
		}
	}
	return false
}
