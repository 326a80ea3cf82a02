package daemon

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock whose time moves only when a test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clock *fakeClock
	at    time.Time
	c     chan time.Time
	live  bool // neither fired nor stopped
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, at: c.now.Add(d), c: make(chan time.Time, 1), live: true}
	if d <= 0 {
		t.fire()
	}
	c.timers = append(c.timers, t)
	return t
}

// fire sends the time on the timer's channel; the caller holds the clock's lock.
func (t *fakeTimer) fire() {
	t.live = false
	t.c <- t.at
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := t.live
	t.live = false
	return was
}

// Advance moves the time on by d and fires the timers due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	live := c.timers[:0]
	for _, t := range c.timers {
		if t.live && !t.at.After(c.now) {
			t.fire()
		}
		if t.live {
			live = append(live, t)
		}
	}
	c.timers = live
}

// next returns the earliest time a live timer fires at.
func (c *fakeClock) next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first time.Time
	for _, t := range c.timers {
		if t.live && (first.IsZero() || t.at.Before(first)) {
			first = t.at
		}
	}
	return first, !first.IsZero()
}

// waitTimer waits until some code waits on a timer, and returns when it fires.
func (c *fakeClock) waitTimer(t *testing.T, what string) time.Time {
	t.Helper()
	var at time.Time
	waitFor(t, what, func() bool {
		var ok bool
		at, ok = c.next()
		return ok
	})
	return at
}

// tick moves the time to the daemon's next scheduled cycle and waits until
// the daemon has handled it (started the cycle, or skipped it) and waits
// for the one after.
func (c *fakeClock) tick(t *testing.T) {
	t.Helper()
	at := c.waitTimer(t, "the daemon to wait for its next cycle")
	c.Advance(at.Sub(c.Now()))
	waitFor(t, "the daemon to handle the tick", func() bool {
		next, ok := c.next()
		return ok && next.After(at)
	})
}
