package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

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

Examples:
  g2msync report --since 24h --result failure
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
	if err := parse(fs, args); err != nil {
		return err
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
