package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/g2msync/g2msync/pkg/state"
)

// ReportCommand prints the provisioning log.
type ReportCommand struct{ m *Main }

const reportUsage = `usage: g2msync report [flags]

Prints the provisioning log: one entry per change g2msync applied, failed,
staged or skipped, with the properties it modified (old → new). Reads the
state file only; safe to run while the daemon is up. While a cycle holds
the file, report asks the daemon's console at its listen address for the
same entries (the console must be on, and open to reads there: loopback).

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
	fs.StringVar(&f.Action, "action", "", "only this action: create, adopt, update, disable, enable, delete, forget, skip; or an operator's: pause, resume, retry, approve, full-sync")
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
		// A cycle holds the file: the daemon's console serves the same log.
		entries, from, lerr := c.m.liveLog(ctx, *cfgPath, f)
		if lerr != nil {
			return fmt.Errorf("the state file is in use by a running cycle, and the daemon's console did not answer at its listen address: %w", lerr)
		}
		fmt.Fprintf(c.m.Stderr, "A cycle holds the state file; these entries come from the daemon at %s.\n", from)
		return writeReport(c.m.Stdout, entries, *output)
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
	return writeReport(c.m.Stdout, entries, *output)
}

// liveLog reads the provisioning log entries f selects from the console of
// the daemon of the configuration at cfgPath (its JSON download), oldest
// first, keeping the newest f.Limit.
func (m *Main) liveLog(ctx context.Context, cfgPath string, f state.AuditFilter) ([]state.AuditEntry, string, error) {
	q := url.Values{}
	for k, v := range map[string]string{"user": f.User, "action": f.Action, "result": f.Result, "cycle": f.CycleID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format("2006-01-02T15:04")) // the console's finest: minutes
	}
	var entries []state.AuditEntry
	from, err := m.askDaemon(ctx, cfgPath, "/log.json?"+q.Encode(), "", time.Minute, &entries)
	if err != nil {
		return nil, "", fmt.Errorf("%w (the console must be on, and open to reads on its listener)", err)
	}
	// The console takes since to the minute: drop what lies before it.
	entries = slices.DeleteFunc(entries, func(e state.AuditEntry) bool { return e.Time.Before(f.Since) })
	if f.Limit > 0 && len(entries) > f.Limit {
		entries = entries[len(entries)-f.Limit:]
	}
	return entries, from, nil
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

func changesText(cs []state.PropertyChange) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		if c.Old == "" {
			parts[i] = fmt.Sprintf("%s=%s", c.Name, c.New)
		} else {
			parts[i] = fmt.Sprintf("%s: %s → %s", c.Name, c.Old, dash(c.New))
		}
	}
	return strings.Join(parts, "; ")
}

func writeReport(w io.Writer, entries []state.AuditEntry, output string) error {
	switch output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if entries == nil {
			entries = []state.AuditEntry{}
		}
		return enc.Encode(entries)
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write([]string{"time", "cycle_id", "action", "result", "entra_id", "upn", "email", "goto_key", "changes", "reason", "error"})
		for _, e := range entries {
			row := []string{e.Time.UTC().Format(time.RFC3339), e.CycleID, e.Action, e.Result, e.EntraID, e.UPN, e.Email, e.GoToKey,
				changesText(e.Changes), e.Reason, e.Error}
			for i := range row {
				row[i] = safeCell(row[i]) // no cell runs as a formula in a spreadsheet
			}
			cw.Write(row)
		}
		cw.Flush()
		return cw.Error()
	}
	if len(entries) == 0 {
		fmt.Fprintln(w, "No entries.")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTION\tRESULT\tUSER\tGOTO KEY\tDETAILS")
	for _, e := range entries {
		detail := changesText(e.Changes)
		switch {
		case e.Error != "":
			detail = e.Error
		case e.Result == state.ResultSkipped || e.Result == state.ResultStaged || detail == "":
			detail = e.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format("2006-01-02 15:04:05"), safe(e.Action), e.Result,
			safe(firstNonEmpty(e.Email, e.UPN, e.EntraID)), dash(e.GoToKey), safe(detail))
	}
	return tw.Flush()
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
