package view

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/g2msync/g2msync/pkg/app"
)

// statsColumns are the per-day columns of the statistics, in the order the
// text table and the CSV print them.
var statsColumns = []string{"date", "cycles", "failed_cycles", "staged_cycles", "on_demand_cycles",
	"create", "adopt", "update", "enable", "disable", "delete", "failed_changes", "goto_429s"}

func dayRow(d app.Day) []string {
	c := d.Changes
	row := []string{d.Date}
	for _, n := range []int{d.Cycles, d.Failed, d.Staged, d.OnDemand, c.Create, c.Adopt, c.Update, c.Enable, c.Disable, c.Delete, c.Failed} {
		row = append(row, strconv.Itoa(n))
	}
	return append(row, strconv.FormatInt(d.GoTo429s, 10))
}

// Statistics writes the statistics as text, csv (one row a day) or json:
// what `report --stats` prints.
func Statistics(w io.Writer, s *app.Statistics, output string) error {
	switch output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(statsColumns)
		for _, d := range s.Days {
			cw.Write(dayRow(d))
		}
		cw.Flush()
		return cw.Error()
	}
	a := s.Accounts
	fmt.Fprintf(w, "Accounts now: %d managed and active, %d suspended by g2msync; %d failing (%d quarantined), %d deferred, %s waiting for approval.\n",
		a.ManagedActive, a.Suspended, a.Failing, a.Quarantined, a.Deferred, Plural(a.Staged, "disable"))
	if len(s.Days) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nThe last %d days (UTC), %s to %s, the days with a cycle:\n", len(s.Days), s.Days[0].Date, s.Days[len(s.Days)-1].Date)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "DATE\tCYCLES\tFAILED\tSTAGED\tON DEMAND\tCREATE\tADOPT\tUPDATE\tENABLE\tDISABLE\tDELETE\tFAILED CHANGES\tGOTO 429S\t")
	idle := 0
	for _, d := range append(s.Days, s.Total) {
		if d.Date != "" && d.Cycles == 0 {
			idle++
			continue
		}
		row := dayRow(d)
		if row[0] == "" {
			row[0] = "total"
		}
		for _, cell := range row {
			fmt.Fprint(tw, cell, "\t")
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	if idle > 0 {
		fmt.Fprintf(w, "%s without a cycle left out (--output csv lists every day).\n", Plural(idle, "day"))
	}
	switch {
	case s.Oldest.IsZero():
		fmt.Fprintln(w, "No cycle is recorded yet.")
	case s.Oldest.After(s.At.AddDate(0, 0, -len(s.Days))):
		fmt.Fprintf(w, "The state file holds cycles from %s on (older ones are pruned after audit_retention, or none ran).\n", s.Oldest.UTC().Format(time.DateOnly))
	}
	if s.Damaged > 0 {
		fmt.Fprintf(w, "warning: %s of the period cannot be read and are left out.\n", Plural(s.Damaged, "cycle"))
	}
	return nil
}
