package view

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/g2msync/g2msync/pkg/app"
)

// Licenses writes the licences view as text (a table and its notes), csv
// or json: what `g2msync licenses` prints.
func Licenses(w io.Writer, l *app.Licenses, output string) error {
	switch output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(l)
	case "csv":
		return licensesCSV(w, l)
	}
	if len(l.Licenses) == 0 {
		fmt.Fprintln(w, "The GoTo account has no licences.")
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "LICENSE\tNAME\tSEATS\tUSED\tMANAGED\tSUSPENDED\tUNMANAGED\tFREE\tWAITING\tRUNS OUT")
		for _, v := range l.Licenses {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", Safe(v.Key), Dash(Safe(v.Name)), v.Seats, v.Used,
				v.ManagedActive, v.ManagedSuspended, v.Unmanaged, v.Free, v.Waiting, RunsOut(v.Forecast, l.At))
		}
		tw.Flush()
		fmt.Fprintln(w, "MANAGED and SUSPENDED are accounts g2msync manages, active and suspended; UNMANAGED is the rest of GoTo's USED.")
		fmt.Fprintln(w, "WAITING are people whose create is deferred for want of a seat. RUNS OUT is at the rate of the last 30 days' creates.")
	}
	for _, v := range l.Licenses {
		if f := v.Forecast; f.None != "" {
			fmt.Fprintf(w, "%s: no forecast: %s.\n", Safe(v.Key), f.None)
		} else if !f.RunsOut.IsZero() && f.DaysLeft > 0 {
			fmt.Fprintf(w, "%s: %s in %.0f days, %.1f a day: %d free seats last %.0f days.\n", Safe(v.Key),
				Plural(f.Creates, "create"), f.Days, f.PerDay, v.Free, f.DaysLeft)
		}
		for _, p := range v.Problems {
			fmt.Fprintf(w, "%s: %s.\n", Safe(v.Key), Safe(p))
		}
	}
	for _, p := range l.Problems {
		fmt.Fprintf(w, "%s.\n", Safe(p))
	}
	return nil
}

// RunsOut is when a licence's seats run out: the day, "now" when no seat
// is free, or a dash when there is no forecast.
func RunsOut(f app.Forecast, at time.Time) string {
	switch {
	case f.RunsOut.IsZero():
		return Dash("")
	case f.DaysLeft == 0:
		return "now"
	case f.RunsOut.Sub(at) > 10*365*24*time.Hour:
		return "in over 10 years"
	}
	return f.RunsOut.UTC().Format("2006-01-02")
}

func licensesCSV(w io.Writer, l *app.Licenses) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"key", "name", "seats", "used", "managed_active", "managed_suspended", "unmanaged", "free", "waiting",
		"creates_in_window", "window_days", "creates_per_day", "days_left", "runs_out", "no_forecast", "problems"})
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }
	for _, v := range l.Licenses {
		f := v.Forecast
		out := ""
		if !f.RunsOut.IsZero() {
			out = f.RunsOut.UTC().Format("2006-01-02")
		}
		row := []string{v.Key, v.Name, strconv.Itoa(v.Seats), strconv.Itoa(v.Used), strconv.Itoa(v.ManagedActive),
			strconv.Itoa(v.ManagedSuspended), strconv.Itoa(v.Unmanaged), strconv.Itoa(v.Free), strconv.Itoa(v.Waiting),
			strconv.Itoa(f.Creates), num(f.Days), num(f.PerDay), num(f.DaysLeft), out, f.None, strings.Join(v.Problems, "; ")}
		for i := range row {
			row[i] = SafeCell(row[i]) // no cell runs as a formula in a spreadsheet
		}
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}
