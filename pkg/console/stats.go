package console

import (
	"context"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/g2msync/g2msync/pkg/app"
)

// statsPeriods are the periods the statistics page offers, in days.
var statsPeriods = []int{7, app.StatsDays, 90}

type statsData struct {
	Stats *app.Statistics
	// Days is the period shown; Periods the others offered.
	Days    int
	Periods []int
	Chart   template.HTML
	// Newest are the days with a cycle, newest first, for the table; Idle
	// counts the others.
	Newest []app.Day
	Idle   int
	// Pruned says the state file holds no cycle from before Oldest.
	Pruned bool
}

// statistics shows provisioning to date: the accounts by state now, and
// per day the changes by kind, the cycles and GoTo's 429s, drawn and in a
// table (the chart's text alternative). ?days= picks the period.
func (s *Server) statistics(w http.ResponseWriter, r *http.Request, p *page) error {
	days := app.StatsDays
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > app.MaxStatsDays {
			p.Title, p.Nav = "Statistics", "statistics"
			p.Error = "days: want a count of days from 1 to " + strconv.Itoa(app.MaxStatsDays)
			s.renderStatus(w, "error", p, http.StatusBadRequest)
			return nil
		}
		days = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	st, err := s.opts.Backend.Statistics(ctx, days)
	if err != nil {
		return err
	}
	d := statsData{Stats: st, Days: days, Periods: statsPeriods, Chart: dayChart(st.Days)}
	for i := len(st.Days) - 1; i >= 0; i-- {
		if st.Days[i].Cycles == 0 {
			d.Idle++
			continue
		}
		d.Newest = append(d.Newest, st.Days[i])
	}
	d.Pruned = !st.Oldest.IsZero() && len(st.Days) > 0 && st.Oldest.UTC().Format(time.DateOnly) > st.Days[0].Date
	p.Title, p.Nav, p.Data = "Statistics", "statistics", d
	s.render(w, "statistics", p)
	return nil
}
