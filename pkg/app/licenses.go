package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// The forecast reads the creates of the last forecastWindow, and gives
// none on less than forecastMinHistory of provisioning history: a few
// days' creates say little about a month.
const (
	forecastWindow     = 30 * 24 * time.Hour
	forecastMinHistory = 7 * 24 * time.Hour
)

// Licenses is what `g2msync licenses` prints: each GoTo licence's seats,
// who holds them, who waits for one, and when they run out.
type Licenses struct {
	At       time.Time     `json:"at"`
	Licenses []LicenseView `json:"licenses"`
	// Problems concern no one licence (deferrals recorded before the
	// state file named their licence); [] when none.
	Problems []string `json:"problems"`
}

// LicenseView is one GoTo licence's seats. Used is GoTo's count; the
// managed counts are the state file's owned records; Unmanaged is the
// rest of Used.
type LicenseView struct {
	Key              string `json:"key"`
	Name             string `json:"name"`
	Seats            int    `json:"seats"`
	Used             int    `json:"used"`
	ManagedActive    int    `json:"managed_active"`
	ManagedSuspended int    `json:"managed_suspended"`
	Unmanaged        int    `json:"unmanaged"`
	// Free is Seats less Used, never below zero (Problems says when more
	// are used than the licence has).
	Free int `json:"free"`
	// Waiting counts the people whose change is deferred for want of a
	// seat of this licence.
	Waiting  int      `json:"waiting"`
	Forecast Forecast `json:"forecast"`
	// Problems are what an administrator should look at; [] when none.
	Problems []string `json:"problems"`
}

// Forecast is when a licence's free seats run out at the rate of the last
// 30 days' creates.
type Forecast struct {
	// Creates counts the successful creates in the window that gave the
	// licence; Days is the window in days (30, or less when the history
	// is shorter).
	Creates int     `json:"creates"`
	Days    float64 `json:"days"`
	// PerDay is Creates over Days.
	PerDay float64 `json:"per_day"`
	// DaysLeft is Free over PerDay, and RunsOut the day it gives; both are
	// zero when there is no forecast, and DaysLeft is 0 with RunsOut At
	// when no seat is free now.
	DaysLeft float64   `json:"days_left"`
	RunsOut  time.Time `json:"runs_out,omitzero"`
	// None says why there is no forecast; "" when there is one.
	None string `json:"none,omitempty"`
}

// LicenseInputs is what the licences view is computed from.
type LicenseInputs struct {
	Now time.Time
	// Licenses are GoTo's licences as read now.
	Licenses []gotomeeting.License
	// Holders counts the seats the owned accounts hold (plan.Holders.Add
	// over the records, or the cycle's own count); Deferred are the
	// deferred changes.
	Holders  plan.Holders
	Deferred []state.Deferred
	// Creates are the provisioning log's create entries; those outside
	// the window or not successful are not counted.
	Creates []state.AuditEntry
	// HistoryStart is when the provisioning history begins (the oldest
	// cycle recorded); zero when there is none.
	HistoryStart time.Time
	// InitialSyncs are the ids of the cycles run as initial syncs. Their
	// creates are the backlog of everyone assigned before g2msync ran,
	// not a rate: counted, a first sync of 2,000 a week ago would forecast
	// the seats gone in days.
	InitialSyncs map[string]bool
}

// ComputeLicenses builds the licences view. It does no I/O.
func ComputeLicenses(in LicenseInputs) *Licenses {
	out := &Licenses{At: in.Now, Licenses: make([]LicenseView, 0, len(in.Licenses)), Problems: []string{}}
	waiting := map[string]int{}
	unnamed := 0
	for _, d := range in.Deferred {
		switch {
		case d.Cause != string(plan.CauseSeats):
		case d.License == "":
			unnamed++
		default:
			waiting[d.License]++
		}
	}
	if unnamed > 0 {
		out.Problems = append(out.Problems, fmt.Sprintf("%s deferred for want of a seat before g2msync recorded which licence; "+
			"the next cycle records it", count(unnamed, "change", "changes")))
	}
	from := in.Now.Add(-forecastWindow)
	created := map[string]int{}
	for _, e := range in.Creates {
		if e.Action != string(plan.KindCreate) || e.Result != state.ResultSuccess || e.Time.Before(from) || e.Time.After(in.Now) ||
			in.InitialSyncs[e.CycleID] {
			continue
		}
		for _, k := range createdLicenses(e) {
			created[k]++
		}
	}
	for _, l := range in.Licenses {
		v := LicenseView{Key: l.Key, Name: l.Description, Seats: l.Seats, Used: l.UserCount,
			ManagedActive: in.Holders[l.Key].Active, ManagedSuspended: in.Holders[l.Key].Suspended, Waiting: waiting[l.Key], Problems: []string{}}
		v.Free = max(0, l.Seats-l.UserCount)
		if over := l.UserCount - l.Seats; over > 0 {
			v.Problems = append(v.Problems, fmt.Sprintf("%s used beyond the licence's; add seats in GoTo Admin or free some", count(over, "seat", "seats")))
		}
		if n := v.ManagedSuspended; n > 0 {
			v.Problems = append(v.Problems, fmt.Sprintf("%s g2msync suspended %s a seat, which a suspended account should not; "+
				"a reconcile (goto.reconcile_interval) takes it back, or `g2msync run --once --initial-sync`", count(n, "account", "accounts"), pick(n, "holds", "hold")))
		}
		managed := v.ManagedActive + v.ManagedSuspended
		v.Unmanaged = max(0, l.UserCount-managed)
		if d := managed - l.UserCount; d > 0 {
			v.Problems = append(v.Problems, fmt.Sprintf("the state file records %s than GoTo counts; "+
				"the next reconcile finds the drift", count(d, "more managed holder", "more managed holders")))
		}
		v.Forecast = forecast(in.Now, in.HistoryStart, v.Free, created[l.Key])
		out.Licenses = append(out.Licenses, v)
	}
	slices.SortFunc(out.Licenses, func(a, b LicenseView) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// forecast is when free seats run out at the rate of creates over the
// window, or why it cannot say.
func forecast(now, historyStart time.Time, free, creates int) Forecast {
	f := Forecast{Creates: creates}
	if free <= 0 {
		f.RunsOut = now
		return f
	}
	if historyStart.IsZero() || !historyStart.Before(now) {
		f.None = "no provisioning history yet"
		return f
	}
	window := min(forecastWindow, now.Sub(historyStart))
	f.Days = window.Hours() / 24
	if window < forecastMinHistory {
		f.None = fmt.Sprintf("only %.1f days of provisioning history; a forecast needs %d", f.Days, int(forecastMinHistory.Hours()/24))
		return f
	}
	if creates == 0 {
		f.None = fmt.Sprintf("no create gave this licence in the last %.0f days", f.Days)
		return f
	}
	f.PerDay = float64(creates) / f.Days
	f.DaysLeft = float64(free) / f.PerDay
	f.RunsOut = now.Add(time.Duration(math.Round(f.DaysLeft * float64(24*time.Hour))))
	return f
}

// count is n and its noun.
func count(n int, one, many string) string { return fmt.Sprintf("%d %s", n, pick(n, one, many)) }

func pick(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// createdLicenses are the licences a create entry of the provisioning log
// gave.
func createdLicenses(e state.AuditEntry) []string {
	for _, c := range e.Changes {
		if c.Name == "licenseKeys" && c.New != "" {
			return strings.Split(c.New, ",")
		}
	}
	return nil
}

// Licenses reads GoTo's licences and the state file, and computes the
// licences view. It needs a state file: before the first sync no seat is
// managed.
func (s *Service) Licenses(ctx context.Context) (*Licenses, error) {
	if s.rt == nil {
		return nil, errNoRuntime
	}
	lics, err := s.goToLicenses(ctx, s.wait())
	if errors.Is(err, state.ErrNoState) {
		return nil, fmt.Errorf("%w: the licences view counts the accounts g2msync manages; run a first sync (g2msync run --once --initial-sync)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("read goto licences: %w", err)
	}
	in, err := s.licenseInputs(lics, waitShort)
	if err != nil {
		return nil, err
	}
	return ComputeLicenses(in), nil
}

// licenseInputs reads what the licences view needs of the state file, in
// one short read (waiting at most wait for a cycle of another process).
func (s *Service) licenseInputs(lics []gotomeeting.License, wait time.Duration) (LicenseInputs, error) {
	in := LicenseInputs{Now: s.now(), Licenses: lics}
	err := s.readState(wait, func(st *state.Store) (err error) {
		recs, err := st.Records()
		if err != nil {
			return err
		}
		in.Holders = plan.Holders{}
		for _, r := range recs {
			in.Holders.Add(r.State, r.Licenses)
		}
		if in.Deferred, err = st.Deferred(); err != nil {
			return err
		}
		cycles, err := st.Cycles(0)
		if err != nil {
			return err
		}
		if len(cycles) > 0 {
			in.HistoryStart = cycles[len(cycles)-1].Start
		}
		in.InitialSyncs = map[string]bool{}
		for _, c := range cycles {
			if slices.Contains(strings.Split(c.Mode, ","), "initial-sync") {
				in.InitialSyncs[c.ID] = true
			}
		}
		in.Creates, err = st.Audit(state.AuditFilter{Action: string(plan.KindCreate), Result: state.ResultSuccess, Since: in.Now.Add(-forecastWindow)})
		return err
	})
	return in, err
}

// goToLicenses reads GoTo's licences. The call may refresh GoTo's token,
// which rotates it: the state file is held as a cycle holds it, so that
// the rotated token is kept there and no cycle runs meanwhile; it waits at
// most wait for a running cycle (state.ErrInUse).
func (s *Service) goToLicenses(ctx context.Context, wait time.Duration) ([]gotomeeting.License, error) {
	st, err := state.Open(s.StatePath, state.Options{MustExist: true, Binding: s.Binding, Timeout: wait})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	s.rt.tokens.set(st)
	defer s.rt.tokens.set(nil)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second) // the file is held meanwhile
	defer cancel()
	return s.rt.gotoc.Licenses(ctx)
}
