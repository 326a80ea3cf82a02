package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeMail is one mail the tracker asked to send.
type fakeMail struct{ subject, body string }

// outbox records mails and fails sends while down is set.
type outbox struct {
	sent []fakeMail
	down bool
	// tries counts calls, failed ones included.
	tries int
}

func (b *outbox) send(_ context.Context, subject, body string) error {
	b.tries++
	if b.down {
		return errors.New("dial tcp 192.0.2.1:587: connection refused")
	}
	b.sent = append(b.sent, fakeMail{subject, body})
	return nil
}

// take returns the mails sent since the last take.
func (b *outbox) take() []fakeMail {
	m := b.sent
	b.sent = nil
	return m
}

func subjects(ms []fakeMail) []string {
	var s []string
	for _, m := range ms {
		s = append(s, m.subject)
	}
	return s
}

// clock hands out cycle observations one minute apart from a fixed start,
// so mails carry stable times without reading the wall clock.
type clock struct {
	n int
}

var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

func (c *clock) obs(edit func(*Observation)) Observation {
	c.n++
	o := Observation{
		Time:      t0.Add(time.Duration(c.n) * time.Minute),
		CycleID:   fmt.Sprintf("c%03d", c.n),
		Outcome:   "success",
		StatusURL: "http://127.0.0.1:9464/status",
	}
	if edit != nil {
		edit(&o)
	}
	return o
}

func newTestTracker(t *testing.T, failedCycles int) (*Tracker, *outbox, *bytes.Buffer) {
	t.Helper()
	box := &outbox{}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	return NewTracker(box.send, failedCycles, log), box, &logs
}

func failed(n int) func(*Observation) {
	return func(o *Observation) {
		o.Outcome = "failed"
		o.Error = "read directory: graph: 503 service unavailable"
		o.FailedInARow = n
	}
}

func wantSubjects(t *testing.T, step string, got []fakeMail, want ...string) {
	t.Helper()
	if g := subjects(got); !slices.Equal(g, want) {
		t.Errorf("%s: sent %q, want %q", step, g, want)
	}
}

// wantBody checks that each part appears in the body, either verbatim (for
// lists and layout) or with line wrapping ignored (for prose).
func wantBody(t *testing.T, m fakeMail, parts ...string) {
	t.Helper()
	flat := strings.Join(strings.Fields(m.body), " ")
	for _, p := range parts {
		if !strings.Contains(m.body, p) && !strings.Contains(flat, strings.Join(strings.Fields(p), " ")) {
			t.Errorf("mail %q: body lacks %q:\n%s", m.subject, p, m.body)
		}
	}
}

// Each incident mails once when it opens, stays quiet while it lasts, and
// mails once when it clears.
func TestTrackerOncePerIncident(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name         string
		on           func(*Observation)
		change       func(*Observation) // different details, same incident
		opened       string
		openedBody   []string
		resolved     string
		resolvedBody []string
	}{
		{
			name: "auth",
			on: func(o *Observation) {
				o.Outcome, o.AuthFailure = "aborted", "GoTo refused the refresh token (invalid_grant); run `g2msync login goto` as a GoTo admin"
			},
			change: func(o *Observation) {
				o.Outcome, o.AuthFailure = "aborted", "Entra ID: AADSTS7000215 invalid client secret; renew the secret"
			},
			opened:     "GoTo/Entra refused g2msync's credentials",
			openedBody: []string{"g2msync login goto", "What to do", "What it means", "http://127.0.0.1:9464/status"},
			resolved:   "Resolved: Entra ID and GoTo accept g2msync's credentials again",
		},
		{
			name: "quarantine",
			on: func(o *Observation) {
				o.Outcome, o.Error, o.JobQuarantined, o.HeldUntil = "failed", "goto: 503", true, t0.Add(6*time.Hour)
			},
			change:     func(o *Observation) { o.Outcome, o.JobQuarantined, o.HeldUntil = "failed", true, t0.Add(30*time.Hour) },
			opened:     "g2msync paused: cycles back off until 2026-03-02 14:00 UTC",
			openedBody: []string{"goto: 503", "2026-03-02 14:00 UTC", "normal schedule by itself"},
			resolved:   "Resolved: g2msync runs on its normal schedule again",
		},
		{
			name: "accounts",
			on: func(o *Observation) {
				o.Outcome, o.Quarantined = "partial", []string{"jane@contoso.com", "li@contoso.com"}
			},
			change: func(o *Observation) {
				o.Quarantined = []string{"jane@contoso.com", "li@contoso.com", "omar@contoso.com"}
			},
			opened:     "2 accounts quarantined after repeated failures",
			openedBody: []string{"  jane@contoso.com\n  li@contoso.com\n", "g2msync retry <user>", "g2msync status"},
			resolved:   "Resolved: no accounts are quarantined",
		},
		{
			name: "staged",
			on: func(o *Observation) {
				o.Outcome, o.Staged, o.StageReason = "staged", []string{"a@contoso.com", "b@contoso.com"}, "60 disables exceed max_disables 50"
			},
			change: func(o *Observation) {
				o.Outcome, o.Staged, o.StageReason = "staged", []string{"b@contoso.com"}, "other reason"
			},
			opened:     "2 disables wait for approval",
			openedBody: []string{"  a@contoso.com\n  b@contoso.com\n", "60 disables exceed max_disables 50", "g2msync plan", "g2msync run --once --allow-disables"},
			resolved:   "Resolved: no disables wait for approval",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, box, _ := newTestTracker(t, 0)
			var c clock
			tr.Observe(ctx, c.obs(nil))
			wantSubjects(t, "healthy", box.take())

			tr.Observe(ctx, c.obs(tc.on))
			got := box.take()
			wantSubjects(t, "opened", got, tc.opened)
			if len(got) == 1 {
				wantBody(t, got[0], tc.openedBody...)
				wantBody(t, got[0], "c002")
			}
			tr.Observe(ctx, c.obs(tc.on))
			tr.Observe(ctx, c.obs(tc.change))
			tr.Observe(ctx, c.obs(tc.on))
			wantSubjects(t, "still open", box.take())

			tr.Observe(ctx, c.obs(nil))
			got = box.take()
			wantSubjects(t, "cleared", got, tc.resolved)
			if len(got) == 1 {
				wantBody(t, got[0], "c006", "2026-03-02 08:02 UTC", "Nothing more to do")
			}
			tr.Observe(ctx, c.obs(nil))
			wantSubjects(t, "healthy again", box.take())

			// A second incident of the same kind is a new incident.
			tr.Observe(ctx, c.obs(tc.on))
			wantSubjects(t, "reopened", box.take(), tc.opened)
		})
	}
}

func TestTrackerFailingThreshold(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		threshold int // passed to NewTracker
		opensAt   int // FailedInARow that first mails
	}{
		{0, 3}, {-1, 3}, {1, 1}, {3, 3}, {5, 5},
	} {
		tr, box, _ := newTestTracker(t, tc.threshold)
		var c clock
		for n := 1; n < tc.opensAt; n++ {
			tr.Observe(ctx, c.obs(failed(n)))
		}
		wantSubjects(t, fmt.Sprintf("threshold %d, below", tc.threshold), box.take())

		tr.Observe(ctx, c.obs(failed(tc.opensAt)))
		want := fmt.Sprintf("%d provisioning cycles failed in a row", tc.opensAt)
		if tc.opensAt == 1 {
			want = "1 provisioning cycle failed in a row"
		}
		got := box.take()
		wantSubjects(t, fmt.Sprintf("threshold %d, reached", tc.threshold), got, want)
		if len(got) == 1 {
			wantBody(t, got[0], "read directory: graph: 503 service unavailable", "http://127.0.0.1:9464/status", "g2msync check")
		}

		tr.Observe(ctx, c.obs(failed(tc.opensAt+1)))
		tr.Observe(ctx, c.obs(failed(tc.opensAt+2)))
		wantSubjects(t, fmt.Sprintf("threshold %d, still failing", tc.threshold), box.take())

		tr.Observe(ctx, c.obs(nil))
		wantSubjects(t, fmt.Sprintf("threshold %d, success", tc.threshold), box.take(), "Resolved: provisioning cycles succeed again")
	}
}

func TestTrackerStagedGrowthResends(t *testing.T) {
	ctx := context.Background()
	tr, box, _ := newTestTracker(t, 0)
	var c clock
	staged := func(users ...string) func(*Observation) {
		return func(o *Observation) {
			o.Outcome, o.Staged, o.StageReason = "staged", users, "disables exceed max_disables_percent 20%"
		}
	}

	tr.Observe(ctx, c.obs(staged("a@contoso.com", "b@contoso.com")))
	wantSubjects(t, "opened", box.take(), "2 disables wait for approval")

	tr.Observe(ctx, c.obs(staged("b@contoso.com", "a@contoso.com")))
	tr.Observe(ctx, c.obs(staged("a@contoso.com")))
	wantSubjects(t, "same or fewer", box.take())

	tr.Observe(ctx, c.obs(staged("a@contoso.com", "b@contoso.com", "c@contoso.com")))
	got := box.take()
	wantSubjects(t, "grown", got, "3 disables wait for approval")
	if len(got) == 1 {
		wantBody(t, got[0], "3 in all now, 1 of them new", "New:\n  c@contoso.com\n", "All staged:\n  a@contoso.com\n  b@contoso.com\n  c@contoso.com\n", "g2msync run --once --allow-disables")
	}

	// b was already reported; its coming back is no news.
	tr.Observe(ctx, c.obs(staged("c@contoso.com")))
	tr.Observe(ctx, c.obs(staged("b@contoso.com", "c@contoso.com")))
	wantSubjects(t, "already reported", box.take())

	tr.Observe(ctx, c.obs(nil))
	wantSubjects(t, "released", box.take(), "Resolved: no disables wait for approval")
}

func TestTrackerStagedListCapped(t *testing.T) {
	tr, box, _ := newTestTracker(t, 0)
	var users []string
	for i := range 120 {
		users = append(users, fmt.Sprintf("user%03d@contoso.com", i))
	}
	var c clock
	tr.Observe(context.Background(), c.obs(func(o *Observation) { o.Staged = users }))
	got := box.take()
	wantSubjects(t, "opened", got, "120 disables wait for approval")
	if len(got) != 1 {
		return
	}
	wantBody(t, got[0], "user049@contoso.com\n  and 70 more\n")
	if strings.Contains(got[0].body, "user050@contoso.com") {
		t.Errorf("body lists more than 50 users:\n%s", got[0].body)
	}
}

func TestTrackerRetriesFailedSend(t *testing.T) {
	ctx := context.Background()
	tr, box, logs := newTestTracker(t, 0)
	var c clock
	auth := func(o *Observation) { o.Outcome, o.AuthFailure = "aborted", "run `g2msync login goto`" }

	box.down = true
	tr.Observe(ctx, c.obs(auth))
	if box.tries != 1 {
		t.Fatalf("tries = %d, want 1", box.tries)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "connection refused") || !strings.Contains(logs.String(), "incident=auth") {
		t.Errorf("failed send not logged at Warn with its error:\n%s", logs)
	}
	tr.Observe(ctx, c.obs(auth))
	if box.tries != 2 {
		t.Errorf("tries = %d, want 2: the mail is retried on the next observation", box.tries)
	}

	box.down = false
	tr.Observe(ctx, c.obs(auth))
	got := box.take()
	wantSubjects(t, "server back", got, "GoTo/Entra refused g2msync's credentials")
	tr.Observe(ctx, c.obs(auth))
	wantSubjects(t, "delivered once", box.take())

	// The resolved mail is retried the same way.
	box.down = true
	tr.Observe(ctx, c.obs(nil))
	tr.Observe(ctx, c.obs(nil))
	box.down = false
	tr.Observe(ctx, c.obs(nil))
	got = box.take()
	wantSubjects(t, "resolved after retry", got, "Resolved: Entra ID and GoTo accept g2msync's credentials again")
	if len(got) == 1 {
		// The incident opened at the first observation, not the first delivered mail.
		wantBody(t, got[0], "2026-03-02 08:01 UTC")
	}
	tr.Observe(ctx, c.obs(nil))
	wantSubjects(t, "closed", box.take())
}

// An incident that clears before anyone heard of it closes without a
// "resolved" mail for a problem never announced.
func TestTrackerClearedBeforeNotified(t *testing.T) {
	ctx := context.Background()
	tr, box, _ := newTestTracker(t, 0)
	var c clock
	box.down = true
	tr.Observe(ctx, c.obs(func(o *Observation) { o.JobQuarantined = true }))
	box.down = false
	tr.Observe(ctx, c.obs(nil))
	tr.Observe(ctx, c.obs(nil))
	wantSubjects(t, "cleared unannounced", box.take())
}

// A staged mail that failed must, once it gets through, say everything
// the first attempt would have.
func TestTrackerStagedRetryAfterFailure(t *testing.T) {
	ctx := context.Background()
	tr, box, _ := newTestTracker(t, 0)
	var c clock
	box.down = true
	tr.Observe(ctx, c.obs(func(o *Observation) { o.Staged = []string{"a@contoso.com"} }))
	box.down = false
	tr.Observe(ctx, c.obs(func(o *Observation) { o.Staged = []string{"a@contoso.com", "b@contoso.com"} }))
	got := box.take()
	wantSubjects(t, "retried", got, "2 disables wait for approval")
	tr.Observe(ctx, c.obs(func(o *Observation) { o.Staged = []string{"a@contoso.com", "b@contoso.com"} }))
	wantSubjects(t, "no repeat", box.take())
}

// Incidents are independent: several open in one cycle, each mails once,
// and each clears on its own.
func TestTrackerIndependentIncidents(t *testing.T) {
	ctx := context.Background()
	tr, box, _ := newTestTracker(t, 2)
	var c clock
	all := func(o *Observation) {
		failed(2)(o)
		o.AuthFailure = "run `g2msync login goto`"
		o.JobQuarantined, o.HeldUntil = true, t0.Add(time.Hour)
		o.Staged = []string{"a@contoso.com"}
		o.Quarantined = []string{"b@contoso.com"}
	}
	tr.Observe(ctx, c.obs(all))
	wantSubjects(t, "all open", box.take(),
		"GoTo/Entra refused g2msync's credentials",
		"2 provisioning cycles failed in a row",
		"g2msync paused: cycles back off until 2026-03-02 09:00 UTC",
		"1 disable waits for approval",
		"1 account quarantined after repeated failures",
	)
	tr.Observe(ctx, c.obs(all))
	wantSubjects(t, "all still open", box.take())

	// Credentials fixed; cycles succeed again but the rest remain.
	tr.Observe(ctx, c.obs(func(o *Observation) {
		o.Outcome = "staged"
		o.Staged = []string{"a@contoso.com"}
		o.Quarantined = []string{"b@contoso.com"}
	}))
	wantSubjects(t, "some cleared", box.take(),
		"Resolved: Entra ID and GoTo accept g2msync's credentials again",
		"Resolved: provisioning cycles succeed again",
		"Resolved: g2msync runs on its normal schedule again",
	)

	// A new failure streak while others stay open mails only for it.
	tr.Observe(ctx, c.obs(func(o *Observation) {
		failed(2)(o)
		o.Staged = []string{"a@contoso.com"}
		o.Quarantined = []string{"b@contoso.com"}
	}))
	wantSubjects(t, "failing again", box.take(), "2 provisioning cycles failed in a row")

	tr.Observe(ctx, c.obs(nil))
	wantSubjects(t, "all cleared", box.take(),
		"Resolved: provisioning cycles succeed again",
		"Resolved: no disables wait for approval",
		"Resolved: no accounts are quarantined",
	)
}

// Mails are read by an identity administrator, so every body says what
// happened, what it means and what to do, and ends with where to look.
func TestTrackerBodiesAreComplete(t *testing.T) {
	tr, box, _ := newTestTracker(t, 1)
	var c clock
	tr.Observe(context.Background(), c.obs(func(o *Observation) {
		failed(1)(o)
		o.AuthFailure = "run `g2msync login goto`"
		o.JobQuarantined = true
		o.Staged = []string{"a@contoso.com"}
		o.Quarantined = []string{"b@contoso.com"}
	}))
	got := box.take()
	if len(got) != 5 {
		t.Fatalf("sent %d mails, want 5", len(got))
	}
	for _, m := range got {
		wantBody(t, m, "What it means", "What to do", "Cycle:  c001 at 2026-03-02 08:01 UTC, outcome failed", "Status: http://127.0.0.1:9464/status")
		if strings.Contains(m.subject, "\n") {
			t.Errorf("subject %q spans lines", m.subject)
		}
		for l := range strings.Lines(m.body) {
			if len(strings.TrimRight(l, "\n")) > wrapAt && !strings.HasPrefix(l, "  ") {
				t.Errorf("mail %q: line longer than %d: %q", m.subject, wrapAt, l)
			}
		}
	}
}

// The seats incident opens when a licence's free seats fall below
// notify.seats_free_below, stays quiet while they stay low, is left as it
// is by a cycle that did not read the seats, and clears when they recover.
func TestTrackerSeatsFreeBelow(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ threshold string }{{"5"}, {"10%"}} {
		t.Run(tc.threshold, func(t *testing.T) {
			tr, box, _ := newTestTracker(t, 3)
			th, err := ParseSeatsThreshold(tc.threshold)
			if err != nil {
				t.Fatal(err)
			}
			tr.SeatsFreeBelow = th
			var c clock
			seats := func(free int) func(*Observation) {
				return func(o *Observation) {
					o.Seats = []Seats{{Licence: "G2M Business (1001)", Seats: 50, Free: free}, {Licence: "G2M Pro (2002)", Seats: 10, Free: 10}}
				}
			}
			tr.Observe(ctx, c.obs(seats(5)))
			wantSubjects(t, "5 of 50 free", box.take())
			tr.Observe(ctx, c.obs(seats(4)))
			m := box.take()
			wantSubjects(t, "4 of 50 free", m, "GoTo seats running low: 1 licence below "+tc.threshold+" free")
			if len(m) == 1 {
				wantBody(t, m[0], "G2M Business (1001): 4 of 50 seats free", "add seats in GoTo Admin")
			}
			tr.Observe(ctx, c.obs(seats(0)))
			tr.Observe(ctx, c.obs(nil)) // a cycle that failed before reading seats
			wantSubjects(t, "still low, then unknown", box.take())
			tr.Observe(ctx, c.obs(seats(20)))
			wantSubjects(t, "recovered", box.take(), "Resolved: GoTo licences have free seats again")
		})
	}
}

func TestParseSeatsThreshold(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want SeatsThreshold
		err  bool
	}{
		{"", SeatsThreshold{}, false}, {"10", SeatsThreshold{Count: 10}, false}, {"5%", SeatsThreshold{Percent: 5}, false},
		{" 2.5 % ", SeatsThreshold{Percent: 2.5}, false}, {"0", SeatsThreshold{}, true}, {"-1", SeatsThreshold{}, true},
		{"150%", SeatsThreshold{}, true}, {"ten", SeatsThreshold{}, true},
	} {
		got, err := ParseSeatsThreshold(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseSeatsThreshold(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}
