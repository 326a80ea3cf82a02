package app

import (
	"context"
	"errors"
	"maps"
	"sync"
	"time"

	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/state"
)

// ErrBusy: a page's read found the state file held by a cycle of another
// process; try again shortly. (A cycle of this process is read beside.)
var ErrBusy = errors.New("the state file is busy with a running cycle; try again in a moment")

// consoleReads bounds the reads of the console's pages and keeps the seats
// GoTo last reported.
type consoleReads struct {
	// readers bounds the pages reading the state file at once, so that
	// readers cannot keep a cycle from it.
	readers chan struct{}
	// wait is how long a page's read waits for the file.
	wait time.Duration

	mu       sync.Mutex
	seats    []LicenseView
	seatsAt  time.Time
	seatsErr error
	seatsTTL time.Duration
	// names are the licences' names by key, as GoTo last reported them to
	// a page's seats or to a cycle that read the licences.
	names map[string]string
	// namesTried is when LicenseNames last read the seats for want of
	// names: at most once per seatsTTL, so that pages do not each wait on
	// a state file another process's cycle holds.
	namesTried time.Time
}

func newConsoleReads() consoleReads {
	return consoleReads{readers: make(chan struct{}, 2), wait: 2 * time.Second, seatsTTL: 5 * time.Minute}
}

// SetPageWait sets how long a page's read waits for the state file before
// it answers ErrBusy (tests shorten it).
func (s *Service) SetPageWait(d time.Duration) {
	if s.rt != nil {
		s.rt.console.wait = d
	}
}

// pageRead runs fn for a page: on the running cycle's store, beside it,
// or on the state file opened read-only between cycles. It answers ErrBusy
// rather than make a page wait on another process's cycle.
func (s *Service) pageRead(fn func(st *state.Store) error) error {
	if s.rt == nil {
		return s.readState(s.wait(), fn) // an action-only Service: no pages to bound
	}
	c := &s.rt.console
	select {
	case c.readers <- struct{}{}:
		defer func() { <-c.readers }()
	case <-time.After(c.wait):
		return ErrBusy
	}
	err := s.readState(c.wait, fn)
	if errors.Is(err, state.ErrInUse) {
		return ErrBusy
	}
	return err
}

// Cycles returns the last cycles, newest first (all when limit is 0).
func (s *Service) Cycles(_ context.Context, limit int) ([]state.Cycle, error) {
	var out []state.Cycle
	err := s.pageRead(func(st *state.Store) (err error) { out, err = st.Cycles(limit); return err })
	return out, err
}

// Audit returns the provisioning log entries f selects.
func (s *Service) Audit(_ context.Context, f state.AuditFilter) ([]state.AuditEntry, error) {
	var out []state.AuditEntry
	err := s.pageRead(func(st *state.Store) (err error) { out, err = st.Audit(f); return err })
	return out, err
}

// Seats is the licences view for the console's overview (as `g2msync
// licenses` prints it), read from GoTo at most every few minutes: the
// overview refreshes itself, and seats change slowly.
func (s *Service) Seats(ctx context.Context) ([]LicenseView, error) {
	if s.rt == nil {
		return nil, errNoRuntime
	}
	c := &s.rt.console
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.seatsAt.IsZero() && s.now().Sub(c.seatsAt) < c.seatsTTL {
		return c.seats, c.seatsErr
	}
	// While a cycle runs, the last seats read stand; before the first
	// sync there are none to keep.
	lics, err := s.goToLicenses(ctx, c.wait)
	switch {
	case errors.Is(err, state.ErrInUse):
		return c.seats, c.seatsErr
	case errors.Is(err, state.ErrNoState):
		return nil, err
	}
	c.seatsAt, c.seatsErr, c.seats = s.now(), err, nil
	if err != nil {
		return nil, err
	}
	in, err := s.licenseInputs(lics, c.wait)
	if err != nil {
		// GoTo's figures alone, rather than none.
		in = LicenseInputs{Now: s.now(), Licenses: lics}
	}
	c.seats = ComputeLicenses(in).Licenses
	c.setNames(lics)
	return c.seats, nil
}

// setNames keeps the names of lics; c.mu is held.
func (c *consoleReads) setNames(lics []gotomeeting.License) {
	names := make(map[string]string, len(lics))
	for _, l := range lics {
		if l.Description != "" {
			names[l.Key] = l.Description
		}
	}
	c.names = names
}

// LicenseNames returns the GoTo licences' names by key, for the pages to
// show beside keys. It never calls GoTo while a cycle runs, nor more than
// the seats' cache allows: the names are those the overview's seats or
// the last cycle read; only when there are none yet, and no cycle runs,
// are the seats read for them. A key with no name is left out.
func (s *Service) LicenseNames(ctx context.Context) map[string]string {
	if s.rt == nil {
		return nil
	}
	c := &s.rt.console
	c.mu.Lock()
	try := c.names == nil && (c.namesTried.IsZero() || s.now().Sub(c.namesTried) >= c.seatsTTL)
	if try {
		c.namesTried = s.now()
	}
	c.mu.Unlock()
	if running, _ := s.Live.Use(func(*state.Store) error { return nil }); try && !running {
		_, _ = s.Seats(ctx) // an error leaves the keys without names
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.names)
}

// noteLicenses keeps the licence names a cycle read.
func (s *Service) noteLicenses(lics []gotomeeting.License) {
	if s.rt == nil || lics == nil {
		return
	}
	c := &s.rt.console
	c.mu.Lock()
	c.setNames(lics)
	c.mu.Unlock()
}
