package view

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/g2msync/g2msync/pkg/state"
)

func changesText(cs []state.PropertyChange) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		if c.Old == "" {
			parts[i] = fmt.Sprintf("%s=%s", c.Name, c.New)
		} else {
			parts[i] = fmt.Sprintf("%s: %s → %s", c.Name, c.Old, Dash(c.New))
		}
	}
	return strings.Join(parts, "; ")
}

// Log writes provisioning log entries as text (a table), csv or json: what
// `report` prints and the console downloads.
func Log(w io.Writer, entries []state.AuditEntry, output string) error {
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
				row[i] = SafeCell(row[i]) // no cell runs as a formula in a spreadsheet
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format("2006-01-02 15:04:05"), Safe(e.Action), e.Result,
			Safe(FirstNonEmpty(e.Email, e.UPN, e.EntraID)), Dash(e.GoToKey), Safe(detail))
	}
	return tw.Flush()
}

// FirstNonEmpty returns the first of s that is not empty.
func FirstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
