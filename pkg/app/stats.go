package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/state"
)

// StatsDays is how many days the statistics cover unless asked otherwise:
// a month, as the portal's provisioning blade shows.
const StatsDays = 30

// MaxStatsDays bounds the days asked for: a year of history at most.
const MaxStatsDays = 366

// Statistics are provisioning to date: the accounts by state now, and per
// day the changes applied by kind, the cycles run and how they ended, and
// GoTo's 429s. `g2msync report --stats` prints them and the console's
// statistics page shows them.
type Statistics struct {
	// At is when they were read.
	At time.Time `json:"at"`
	// Accounts are the accounts by state now.
	Accounts Accounts `json:"accounts"`
	// Days are the days covered, oldest first, every one of them (a day
	// without a cycle has zeros), the last one today (UTC).
	Days []Day `json:"days"`
	// Total sums the days.
	Total Day `json:"total"`
	// Oldest is when the oldest cycle the state file holds started: cycles
	// and their log are pruned after audit_retention, so the days before
	// it are unknown rather than idle. Zero when no cycle is kept.
	Oldest time.Time `json:"oldest_cycle,omitzero"`
	// Damaged counts the cycles in the period that could not be read and
	// are left out.
	Damaged int `json:"damaged_cycles,omitempty"`
}

// Accounts counts the accounts by state, as the state file holds them.
type Accounts struct {
	// ManagedActive and Suspended are the GoTo accounts g2msync manages:
	// active, and suspended by it (licences and roles taken away).
	ManagedActive int `json:"managed_active"`
	Suspended     int `json:"suspended"`
	// Failing are people whose last change failed, Quarantined of them
	// the ones no longer tried until a person acts.
	Failing     int `json:"failing"`
	Quarantined int `json:"quarantined"`
	// Deferred are changes waiting for a cause (a free seat, back-off);
	// Staged, disables waiting for approval.
	Deferred int `json:"deferred"`
	Staged   int `json:"staged"`
}

// Day is one day's provisioning (UTC).
type Day struct {
	// Date is the day, as 2026-12-06; "" in a total.
	Date    string  `json:"date,omitempty"`
	Changes Changes `json:"changes"`
	// Cycles are the cycles that started that day: Failed of them failed
	// or were aborted by a safety gate, Staged staged disables for
	// approval, OnDemand were a person's provision-on-demand.
	Cycles   int `json:"cycles"`
	Failed   int `json:"failed_cycles"`
	Staged   int `json:"staged_cycles"`
	OnDemand int `json:"on_demand_cycles"`
	// GoTo429s are the 429s GoTo answered those cycles.
	GoTo429s int64 `json:"goto_429s"`
}

// Changes counts changes applied by kind, and the changes that failed.
type Changes struct {
	Create  int `json:"create"`
	Adopt   int `json:"adopt"`
	Update  int `json:"update"`
	Enable  int `json:"enable"`
	Disable int `json:"disable"`
	Delete  int `json:"delete"`
	Failed  int `json:"failed"`
}

// Applied is the changes applied, of every kind.
func (c Changes) Applied() int {
	return c.Create + c.Adopt + c.Update + c.Enable + c.Disable + c.Delete
}

func (c *Changes) add(o Changes) {
	c.Create += o.Create
	c.Adopt += o.Adopt
	c.Update += o.Update
	c.Enable += o.Enable
	c.Disable += o.Disable
	c.Delete += o.Delete
	c.Failed += o.Failed
}

// CycleChanges counts a cycle's changes by kind: what it applied, and
// what failed.
func CycleChanges(c *state.Cycle) Changes {
	ch := Changes{Create: c.Applied["create"], Adopt: c.Applied["adopt"], Update: c.Applied["update"], Enable: c.Applied["enable"],
		Disable: c.Applied["disable"], Delete: c.Applied["delete"]}
	for _, n := range c.Failed {
		ch.Failed += n
	}
	return ch
}

// Tally sums cycles into days; the sums do not depend on the order the
// cycles come in. Build it with NewTally.
type Tally struct {
	from  time.Time // the first day's midnight, UTC
	days  []Day
	total Day
}

// NewTally covers the days days up to and including now's (UTC); days
// is bounded to 1..MaxStatsDays.
func NewTally(now time.Time, days int) *Tally {
	days = min(max(days, 1), MaxStatsDays)
	today := now.UTC().Truncate(24 * time.Hour)
	t := &Tally{from: today.AddDate(0, 0, -(days - 1)), days: make([]Day, days)}
	for i := range t.days {
		t.days[i].Date = t.from.AddDate(0, 0, i).Format(time.DateOnly)
	}
	return t
}

// From is the first day's midnight (UTC): the cycles that count started
// then or later.
func (t *Tally) From() time.Time { return t.from }

// Add counts a cycle on the day it started; one outside the days is not
// counted.
func (t *Tally) Add(c *state.Cycle) {
	if c.Start.Before(t.from) {
		return
	}
	i := int(c.Start.UTC().Sub(t.from) / (24 * time.Hour))
	if i >= len(t.days) {
		return
	}
	d := Day{Changes: CycleChanges(c), Cycles: 1, GoTo429s: c.GoToThrottled}
	switch c.Outcome {
	case engine.OutcomeFailed, engine.OutcomeAborted:
		d.Failed = 1
	case engine.OutcomeStaged:
		d.Staged = 1
	}
	if slices.Contains(strings.Split(c.Mode, ","), "on-demand") {
		d.OnDemand = 1
	}
	t.days[i].add(d)
	t.total.add(d)
}

func (d *Day) add(o Day) {
	d.Changes.add(o.Changes)
	d.Cycles += o.Cycles
	d.Failed += o.Failed
	d.Staged += o.Staged
	d.OnDemand += o.OnDemand
	d.GoTo429s += o.GoTo429s
}

// Days returns the days, oldest first, and their total.
func (t *Tally) Days() (days []Day, total Day) {
	return append([]Day(nil), t.days...), t.total
}

// ReadStatistics reads the statistics of the days days up to now from st:
// the accounts by state, and the cycles of the period, a batch at a time
// (state.EachCycleSince), summed as they come.
func ReadStatistics(st *state.Store, now time.Time, days int) (*Statistics, error) {
	s := &Statistics{At: now}
	var err error
	if s.Accounts, err = readAccounts(st); err != nil {
		return nil, err
	}
	t := NewTally(now, days)
	// The oldest cycle kept says where the history begins.
	if _, err := st.EachCycleSince(time.Time{}, 1, func(c *state.Cycle) error { s.Oldest = c.Start; return errFirst }); err != nil && !errors.Is(err, errFirst) {
		return nil, fmt.Errorf("read cycles: %w", err)
	}
	if s.Damaged, err = st.EachCycleSince(t.From(), 0, func(c *state.Cycle) error { t.Add(c); return nil }); err != nil {
		return nil, fmt.Errorf("read cycles: %w", err)
	}
	s.Days, s.Total = t.Days()
	return s, nil
}

// errFirst stops a read after its first cycle.
var errFirst = errors.New("first cycle read")

func readAccounts(st *state.Store) (Accounts, error) {
	var a Accounts
	var err error
	if a.ManagedActive, a.Suspended, err = st.OwnedCounts(); err != nil {
		return a, err
	}
	fs, err := st.Failures()
	if err != nil {
		return a, fmt.Errorf("read failures: %w", err)
	}
	a.Failing = len(fs)
	for _, f := range fs {
		if f.Quarantined {
			a.Quarantined++
		}
	}
	ds, err := st.Deferred()
	if err != nil {
		return a, fmt.Errorf("read deferred changes: %w", err)
	}
	a.Deferred = len(ds)
	staged, err := st.Staged()
	if err != nil {
		return a, fmt.Errorf("read staged disables: %w", err)
	}
	kept, err := st.Kept()
	if err != nil {
		return a, fmt.Errorf("read kept staged changes: %w", err)
	}
	a.Staged = len(Awaiting(staged, kept))
	return a, nil
}

// Statistics reads the statistics of the last days days for a page: beside
// this process's running cycle, or from the state file between cycles,
// bounded as every page's read is (ErrBusy while another process's cycle
// holds the file).
func (s *Service) Statistics(_ context.Context, days int) (*Statistics, error) {
	var out *Statistics
	err := s.pageRead(func(st *state.Store) (err error) { out, err = ReadStatistics(st, s.now(), days); return err })
	return out, err
}
