package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
state file only; safe to run while the daemon is up (between its cycles).

Examples:
  g2msync report --since 24h --result failure
  g2msync report --user jane@contoso.com --output json
  g2msync report --cycle 20261126T001650Z-ab12 --output csv > cycle.csv`

// Run implements command.
func (c *ReportCommand) Run(_ context.Context, args []string) error {
	fs := c.m.newFlagSet("report", reportUsage)
	cfgPath, statePath := c.m.statePathFlags(fs)
	var f state.AuditFilter
	fs.StringVar(&f.CycleID, "cycle", "", "only this cycle id")
	fs.StringVar(&f.User, "user", "", "only this person: Entra object id, UPN, email or GoTo key")
	fs.StringVar(&f.Action, "action", "", "only this action: create, adopt, update, disable, enable, delete, forget, skip")
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
