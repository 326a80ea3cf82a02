package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	application "github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/view"

	"github.com/g2msync/g2msync/pkg/state"
)

// ReportCommand prints the provisioning log.
type ReportCommand struct{ m *Main }

const reportUsage = `usage: g2msync report [flags]

Prints the provisioning log: one entry per change g2msync applied, failed,
staged or skipped, with the properties it modified (old → new). Reads the
state file only; safe to run while the daemon is up. While a cycle holds
the file, report asks the daemon at its listen address for the same
entries (/status/log, with status_token when the listener needs one).

With --stats it prints statistics to date instead: the accounts by state
now, and for each of the last 30 days (or since --since) the changes
applied by kind, the changes that failed, the cycles run, failed and
staged, and GoTo's 429s (--output csv: one row a day).

Examples:
  g2msync report --since 24h --result failure
  g2msync report --stats --output csv > days.csv
  g2msync report --user jane@contoso.com --output json
  g2msync report --cycle 20261126T001650Z-ab12 --output csv > cycle.csv`

// Run implements command.
func (c *ReportCommand) Run(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("report", reportUsage)
	cfgPath, statePath := c.m.statePathFlags(fs)
	var f state.AuditFilter
	fs.StringVar(&f.CycleID, "cycle", "", "only this cycle id")
	fs.StringVar(&f.User, "user", "", "only this person: Entra object id, UPN, email or GoTo key")
	fs.StringVar(&f.Action, "action", "", "only this action: create, adopt, update, disable, enable, delete, forget, skip; or an operator's: pause, resume, retry, approve, full-sync, login, rebuild")
	fs.StringVar(&f.Result, "result", "", "only this result: success, failure, staged, skipped, deferred")
	since := fs.String("since", "", "only entries newer than a duration (24h) or a date (2026-11-01)")
	fs.IntVar(&f.Limit, "limit", 0, "only the newest N matching entries (0: all)")
	output := fs.String("output", "text", "text, json or csv")
	stats := fs.Bool("stats", false, "statistics to date instead of entries: accounts by state, and per day the changes by kind, cycles and GoTo 429s")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *stats {
		if f.CycleID != "" || f.User != "" || f.Action != "" || f.Result != "" || f.Limit != 0 {
			return usageError{errors.New("--stats: counts everything; of the other flags it takes only --since and --output")}
		}
	}
	if *since != "" {
		t, err := parseSince(*since, c.m.Now())
		if err != nil {
			return usageError{err}
		}
		f.Since = t
	}
	if *output != "text" && *output != "json" && *output != "csv" {
		return usageError{fmt.Errorf("--output: want text, json or csv, got %q", *output)}
	}
	if *stats {
		return c.statistics(ctx, *cfgPath, *statePath, statsDays(f.Since, c.m.Now()), *output)
	}
	st, err := c.m.openStateReadOnly(*cfgPath, *statePath)
	if errors.Is(err, state.ErrInUse) && *statePath == "" {
		// A cycle holds the file: the daemon serves the same log on /status/log.
		entries, from, damaged, lerr := c.m.liveLog(ctx, *cfgPath, f)
		if lerr != nil {
			return fmt.Errorf("the state file is in use by a running cycle, and the daemon did not answer at its listen address: %w", lerr)
		}
		fmt.Fprintf(c.m.Stderr, "A cycle holds the state file; these entries come from the daemon at %s.\n", from)
		if damaged > 0 {
			// As the local read says it: the rest of the log is good.
			fmt.Fprintf(c.m.Stderr, "warning: damaged provisioning log entries left out: %d; `g2msync report` after the cycle names them\n", damaged)
		}
		return view.Log(c.m.Stdout, entries, *output)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	entries, err := st.Audit(f)
	var dmg *state.DamagedEntries
	if errors.As(err, &dmg) {
		// The rest of the log is good: print it, and say what is left out.
		fmt.Fprintf(c.m.Stderr, "warning: %v\n", err)
	} else if err != nil {
		return fmt.Errorf("read provisioning log: %w", err)
	}
	return view.Log(c.m.Stdout, entries, *output)
}

// liveLog reads the provisioning log entries f selects from the daemon of
// the configuration at cfgPath (/status/log, behind /status's guard: the
// status token off loopback), oldest first, keeping the newest f.Limit.
func (m *Main) liveLog(ctx context.Context, cfgPath string, f state.AuditFilter) (_ []state.AuditEntry, from string, damaged int, _ error) {
	q := url.Values{}
	for k, v := range map[string]string{"user": f.User, "action": f.Action, "result": f.Result, "cycle": f.CycleID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	token, err := m.statusToken(cfgPath)
	if err != nil {
		return nil, "", 0, err
	}
	var entries []state.AuditEntry
	from, header, err := m.askDaemon(ctx, cfgPath, "/status/log?"+q.Encode(), token, time.Minute, &entries)
	if err != nil {
		return nil, "", 0, err
	}
	damaged, _ = strconv.Atoi(header.Get("X-G2msync-Damaged-Entries"))
	return entries, from, damaged, nil
}

func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--since: want a duration such as 24h or a date such as 2026-11-01, got %q", s)
}

// statsDays is how many days the statistics cover: application.StatsDays,
// or the days from since to now, today included.
func statsDays(since, now time.Time) int {
	if since.IsZero() {
		return application.StatsDays
	}
	days := int(now.UTC().Truncate(24*time.Hour).Sub(since.UTC().Truncate(24*time.Hour))/(24*time.Hour)) + 1
	return min(max(days, 1), application.MaxStatsDays)
}

// statistics prints the statistics of the last days days: read from the
// state file, or while a cycle holds it, from the daemon that runs it
// (/status/statistics, behind /status's guard).
func (c *ReportCommand) statistics(ctx context.Context, cfgPath, statePath string, days int, output string) error {
	st, err := c.m.openStateReadOnly(cfgPath, statePath)
	if errors.Is(err, state.ErrInUse) && statePath == "" {
		token, terr := c.m.statusToken(cfgPath)
		if terr != nil {
			return terr
		}
		var s application.Statistics
		from, _, lerr := c.m.askDaemon(ctx, cfgPath, "/status/statistics?days="+strconv.Itoa(days), token, time.Minute, &s)
		if lerr != nil {
			return fmt.Errorf("the state file is in use by a running cycle, and the daemon did not answer at its listen address: %w", lerr)
		}
		fmt.Fprintf(c.m.Stderr, "A cycle holds the state file; these statistics come from the daemon at %s.\n", from)
		return view.Statistics(c.m.Stdout, &s, output)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := application.ReadStatistics(st, c.m.Now(), days)
	if err != nil {
		return err
	}
	return view.Statistics(c.m.Stdout, s, output)
}
