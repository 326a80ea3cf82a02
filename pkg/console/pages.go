package console

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/state"
)

// logPageSize is how many provisioning log entries a page shows.
const logPageSize = 50

// chartCycles is how many cycles the overview's chart shows.
const chartCycles = 30

// runningRefresh is how often, in seconds, the overview reloads itself
// while a cycle runs for a person following it (?follow=1), to show its
// progress. Between cycles it does not: nothing moves, and a reload would
// only cost the state file a read.
const runningRefresh = 5

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		d := time.Since(t).Round(time.Second)
		if d < 0 {
			return "in " + (-d).String()
		}
		return d.String() + " ago"
	},
	"dur": func(a, b time.Time) string { return b.Sub(a).Round(time.Millisecond).String() },
	"counts": func(m map[string]int) string {
		if len(m) == 0 {
			return "none"
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s %d", k, m[k])
		}
		return strings.Join(parts, ", ")
	},
	"pct": func(used, total int) int {
		if total <= 0 {
			return 0
		}
		return min(100, used*100/total)
	},
	"add":         func(a, b int) int { return a + b },
	"secs":        func(s float64) string { return (time.Duration(s) * time.Second).String() },
	"chartLegend": func() template.HTML { return chartLegend },
	"list":        func(s ...string) []string { return s },
	"first": func(s ...string) string {
		for _, v := range s {
			if v != "" {
				return v
			}
		}
		return ""
	},
}

type overviewData struct {
	Status  daemon.StatusDoc
	State   string // running, paused, backing off
	Seats   []Seat
	SeatErr string
	Chart   template.HTML
	// Last is the newest cycle the daemon ran, nil before the first.
	Last *state.Cycle
	// LastNotes say what in Last needs a person (disables it staged,
	// changes it deferred); Pending, what is waiting now (staged
	// disables, failing and deferred changes). Either turns the card
	// amber, as do failed changes in Last.
	LastNotes, Pending []string
	// Follow: the person asked to follow the running cycle; the page then
	// reloads itself until it ends.
	Follow    bool
	Attention bool
}

// lastCycle fills the overview's "Last cycle" card from the daemon's
// status, whose cycles are newest first.
func (d *overviewData) lastCycle(st daemon.StatusDoc) {
	if len(st.Cycles) > 0 {
		c := &st.Cycles[0]
		d.Last = c
		if c.Staged > 0 {
			d.LastNotes = append(d.LastNotes, plural(c.Staged, "disable")+" staged")
		}
		if c.Deferred > 0 {
			d.LastNotes = append(d.LastNotes, fmt.Sprintf("%d deferred", c.Deferred))
		}
		for _, n := range c.Failed {
			d.Attention = d.Attention || n > 0
		}
	}
	if n := len(st.Staged); n > 0 {
		d.Pending = append(d.Pending, plural(n, "staged disable")+" waiting for approval")
	}
	if n := len(st.Failures); n > 0 {
		d.Pending = append(d.Pending, fmt.Sprintf("%d failing", n))
	}
	if n := len(st.Deferred); n > 0 {
		d.Pending = append(d.Pending, fmt.Sprintf("%d deferred", n))
	}
	d.Attention = d.Attention || len(d.LastNotes) > 0 || len(d.Pending) > 0
}

// plural says n things, adding an s when n is not 1.
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request, p *page) error {
	st := s.opts.Backend.Status()
	d := overviewData{Status: st, State: "running"}
	switch {
	case st.Paused != nil:
		d.State = "paused"
	case st.Quarantined:
		d.State = "backing off"
	}
	d.lastCycle(st)
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	seats, err := s.opts.Backend.Seats(ctx)
	if err != nil {
		d.SeatErr = err.Error()
	}
	d.Seats = seats
	cycles, err := s.opts.Backend.Cycles(ctx, chartCycles) // newest first
	if err != nil {
		// The file is busy with a cycle: the daemon's own memory, also
		// newest first.
		cycles = st.Cycles
	}
	cycles = slices.Clone(cycles)
	slices.Reverse(cycles) // the chart reads left to right, oldest first
	d.Chart = chart(cycles)
	p.Title, p.Nav, p.Data = "Overview", "overview", d
	d.Follow = r.URL.Query().Get("follow") == "1"
	if st.CycleRunning && d.Follow {
		p.Refresh = runningRefresh
	}
	s.render(w, "overview", p)
	return nil
}

func (s *Server) cycles(w http.ResponseWriter, r *http.Request, p *page) error {
	cs, err := s.opts.Backend.Cycles(r.Context(), 200)
	if err != nil {
		return err
	}
	p.Title, p.Nav, p.Data = "Cycles", "cycles", cs
	s.render(w, "cycles", p)
	return nil
}

type cycleData struct {
	Cycle   state.Cycle
	Entries []state.AuditEntry
}

func (s *Server) cycle(w http.ResponseWriter, r *http.Request, p *page) error {
	id := r.PathValue("id")
	cs, err := s.opts.Backend.Cycles(r.Context(), 0)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(cs, func(c state.Cycle) bool { return c.ID == id })
	if i < 0 {
		p.Title = "No such cycle"
		p.Error = "No cycle " + id + " in the state file (old cycles are pruned after audit_retention)."
		s.renderStatus(w, "error", p, http.StatusNotFound)
		return nil
	}
	entries, err := s.opts.Backend.Audit(r.Context(), state.AuditFilter{CycleID: id})
	if err = p.damaged(err); err != nil {
		return err
	}
	p.Title, p.Nav, p.Data = "Cycle "+id, "cycles", cycleData{Cycle: cs[i], Entries: entries}
	s.render(w, "cycle", p)
	return nil
}

type logData struct {
	Query logQuery
	// Capped says the search matched more than logPageEntries entries.
	Capped     bool
	Entries    []state.AuditEntry
	Total      int
	Page, Last int
	Prev, Next string
	CSV, JSON  string
}

type logQuery struct{ User, Action, Result, Cycle, Since, Until string }

func (q logQuery) values() map[string]string {
	return map[string]string{"user": q.User, "action": q.Action, "result": q.Result, "cycle": q.Cycle, "since": q.Since, "until": q.Until}
}

func (q logQuery) encode(extra ...string) string {
	v := make([]string, 0, 8)
	for k, val := range q.values() {
		if val != "" {
			v = append(v, k+"="+url.QueryEscape(val))
		}
	}
	v = append(v, extra...)
	slices.Sort(v)
	return strings.Join(v, "&")
}

// logPageEntries bounds the entries a search shows across its pages: the
// newest that match. A download takes them all.
const logPageEntries = 5000

// filter reads the search form: since and until are dates (2026-12-01),
// times (2026-12-01T10:00) or, for since, a duration back from now (24h).
// limit > 0 keeps the newest limit entries that match.
func (s *Server) filter(r *http.Request, p *page, limit int) (logQuery, state.AuditFilter, []state.AuditEntry, error) {
	q := r.URL.Query()
	lq := logQuery{User: strings.TrimSpace(q.Get("user")), Action: q.Get("action"), Result: q.Get("result"), Cycle: strings.TrimSpace(q.Get("cycle")),
		Since: strings.TrimSpace(q.Get("since")), Until: strings.TrimSpace(q.Get("until"))}
	// The person field searches: part of a name or an address finds the
	// people it names, each with their whole history (across a rename).
	f := state.AuditFilter{Search: lq.User, Action: lq.Action, Result: lq.Result, CycleID: lq.Cycle, Limit: limit}
	if lq.Since != "" {
		t, err := parseTime(lq.Since, s.opts.Now())
		if err != nil {
			return lq, f, nil, fmt.Errorf("since: %w", err)
		}
		f.Since = t
	}
	if lq.Until != "" {
		t, err := parseTime(lq.Until, s.opts.Now())
		if err != nil {
			return lq, f, nil, fmt.Errorf("until: %w", err)
		}
		if _, dateOnly := time.Parse("2006-01-02", lq.Until); dateOnly == nil {
			t = t.Add(24*time.Hour - time.Nanosecond) // a day runs to its end
		}
		f.Until = t
	}
	entries, err := s.opts.Backend.Audit(r.Context(), f)
	if err = p.damaged(err); err != nil {
		return lq, f, nil, err
	}
	slices.Reverse(entries) // newest first
	return lq, f, entries, nil
}

func parseTime(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date (2026-12-01), a time (2026-12-01T10:00) or a duration (24h)", s)
}

func (s *Server) log(w http.ResponseWriter, r *http.Request, p *page) error {
	lq, _, entries, err := s.filter(r, p, logPageEntries)
	d := logData{Query: lq, Capped: len(entries) == logPageEntries}
	p.Title, p.Nav = "Provisioning log", "log"
	if err != nil {
		p.Error = err.Error()
		p.Data = d
		s.renderStatus(w, "log", p, http.StatusBadRequest)
		return nil
	}
	d.Total = len(entries)
	d.Last = max(1, (d.Total+logPageSize-1)/logPageSize)
	d.Page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	d.Page = min(max(d.Page, 1), d.Last)
	start := (d.Page - 1) * logPageSize
	d.Entries = entries[start:min(start+logPageSize, d.Total)]
	if d.Page > 1 {
		d.Prev = "/log?" + lq.encode("page="+strconv.Itoa(d.Page-1))
	}
	if d.Page < d.Last {
		d.Next = "/log?" + lq.encode("page="+strconv.Itoa(d.Page+1))
	}
	d.CSV, d.JSON = "/log.csv?"+lq.encode(), "/log.json?"+lq.encode()
	p.Data = d
	s.render(w, "log", p)
	return nil
}

// download serves the current search, every page of it, as the CLI's
// report writes it (CSV cells a spreadsheet would run are neutralised).
func (s *Server) download(format string) readHandler {
	return func(w http.ResponseWriter, r *http.Request, p *page) error {
		_, _, entries, err := s.filter(r, p, 0)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return nil
		}
		slices.Reverse(entries) // oldest first, as report prints
		ctype := "text/csv; charset=utf-8"
		if format == "json" {
			ctype = "application/json"
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="g2msync-log-%s.%s"`, s.opts.Now().UTC().Format("20060102T150405Z"), format))
		return s.opts.Backend.WriteLog(w, entries, format)
	}
}

func (s *Server) attention(w http.ResponseWriter, r *http.Request, p *page) error {
	p.Title, p.Nav, p.Data = "Attention", "attention", s.opts.Backend.Status()
	s.render(w, "attention", p)
	return nil
}

func (s *Server) retry(ctx context.Context, r *http.Request, op Operator) (string, error) {
	who := strings.TrimSpace(r.PostFormValue("who"))
	n, err := s.opts.Backend.Retry(ctx, op, who)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("released %d failing accounts; the next cycle tries them again", n), nil
}

func (s *Server) pause(ctx context.Context, r *http.Request, op Operator) (string, error) {
	if err := s.opts.Backend.Pause(ctx, op, strings.TrimSpace(r.PostFormValue("reason"))); err != nil {
		return "", err
	}
	return "provisioning paused: cycles change nothing until resumed", nil
}

func (s *Server) resume(ctx context.Context, _ *http.Request, op Operator) (string, error) {
	if err := s.opts.Backend.Resume(ctx, op); err != nil {
		return "", err
	}
	return "provisioning resumed: the next cycle provisions", nil
}

// damaged takes a read of the provisioning log that left out damaged
// entries as a notice on the page (the rest is shown); other errors pass.
func (p *page) damaged(err error) error {
	var dmg *state.DamagedEntries
	if errors.As(err, &dmg) {
		p.Notice = dmg.Error()
		return nil
	}
	return err
}
