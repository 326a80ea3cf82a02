package console

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/state"
)

// Statistics sums the backend's cycles as the application layer does, as
// of the test console's clock; the state file busy, it is busy too.
func (b *memBackend) Statistics(_ context.Context, days int) (*app.Statistics, error) {
	if b.cyclesErr != nil {
		return nil, b.cyclesErr
	}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	t := app.NewTally(now, days)
	for i := range b.cycles {
		t.Add(&b.cycles[i])
	}
	s := &app.Statistics{At: now, Accounts: app.Accounts{ManagedActive: 40, Suspended: 2, Failing: 1, Quarantined: 1, Deferred: 1, Staged: 2},
		Oldest: now.Add(-time.Hour)}
	s.Days, s.Total = t.Days()
	return s, nil
}

// svgNode is an element of a drawn chart, for the tests to look into.
type svgNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Nodes   []svgNode  `xml:",any"`
}

func (n *svgNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// walk calls fn with n and every element under it, depth first.
func (n *svgNode) walk(fn func(*svgNode)) {
	fn(n)
	for i := range n.Nodes {
		n.Nodes[i].walk(fn)
	}
}

// parseChart parses a drawn chart as XML: it must be well formed, every
// text escaped.
func parseChart(t *testing.T, svg string) *svgNode {
	t.Helper()
	var n svgNode
	if err := xml.Unmarshal([]byte(svg), &n); err != nil {
		t.Fatalf("the chart is not well-formed SVG: %v\n%s", err, svg)
	}
	return &n
}

// The chart of the cycles: a time axis with labelled ticks (times, and the
// date where it changes), a square-root scale with labelled gridlines so
// that a cycle of 4 changes shows beside one of 288, a visible bar for one
// change, staged and failed cycles marked by shape (not colour alone), and
// every bar a link with its title.
func TestChartAxisScaleAndMarks(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 23, 20, 0, 0, time.UTC)
	var cycles []state.Cycle
	add := func(id string, c state.Cycle) {
		c.ID, c.Start = id, t0.Add(time.Duration(len(cycles))*20*time.Minute)
		cycles = append(cycles, c)
	}
	add("big", state.Cycle{Outcome: "success", Applied: map[string]int{"create": 288}})
	add("four", state.Cycle{Outcome: "success", Applied: map[string]int{"update": 4}})
	add("one", state.Cycle{Outcome: "success", Applied: map[string]int{"update": 1}})
	add("staged", state.Cycle{Outcome: "staged", Applied: map[string]int{"update": 2}, Staged: 60})
	add("failed", state.Cycle{Outcome: "failed"})
	add("partial", state.Cycle{Outcome: "partial", Applied: map[string]int{"create": 3}, Failed: map[string]int{"create": 2}})
	add(`<b>"x"</b>?#/`, state.Cycle{Outcome: "success"})
	svg := parseChart(t, string(chart(cycles)))

	heights := map[string]float64{} // each bar's drawn height, by its cycle
	var ticks, grid []string
	staged, failed, hatched := 0, 0, 0
	svg.walk(func(n *svgNode) {
		switch {
		case n.XMLName.Local == "a":
			var title string
			h := 0.0
			n.walk(func(c *svgNode) {
				switch {
				case c.XMLName.Local == "title":
					title = c.Text
				case c.XMLName.Local == "rect" && strings.HasPrefix(c.attr("class"), "k-"):
					v, _ := strconv.ParseFloat(c.attr("height"), 64)
					h += v
					if strings.Contains(c.attr("fill"), "hatch") {
						hatched++
					}
				case c.attr("class") == "mark-staged":
					staged++
				case c.attr("class") == "mark-failed":
					failed++
				}
			})
			id, _, ok := strings.Cut(title, ": ")
			if !ok || n.attr("href") != "/cycles/"+url.PathEscape(id) {
				t.Errorf("a bar without a title or its link: %q %q", title, n.attr("href"))
			}
			heights[id] = h
		case n.XMLName.Local == "text" && n.attr("text-anchor") == "middle", n.XMLName.Local == "tspan":
			ticks = append(ticks, n.Text)
		case n.XMLName.Local == "text" && n.attr("text-anchor") == "end" && !strings.HasPrefix(n.Text, "changes"):
			grid = append(grid, n.Text)
		}
	})
	if len(heights) != 7 {
		t.Fatalf("bars %v", heights)
	}
	if heights["four"] < heights["big"]/10 || heights["one"] < chartMinBar || heights["one"] >= heights["four"] || heights["big"] != chartPlot {
		t.Errorf("bar heights: 288 → %.1f, 4 → %.1f, 1 → %.1f", heights["big"], heights["four"], heights["one"])
	}
	if heights["failed"] != 0 || staged != 1 || failed != 1 || hatched != 1 {
		t.Errorf("marks: %d staged, %d failed, %d hatched failed changes; the failed cycle's bar is %.1f high", staged, failed, hatched, heights["failed"])
	}
	// Seven bars, a label every second one: 23:20 on Dec 1, then past
	// midnight the date again.
	if want := []string{"23:20", "Dec 1", "00:00", "Dec 2", "00:40", "01:20"}; strings.Join(ticks, " ") != strings.Join(want, " ") {
		t.Errorf("time axis %q, want %q", ticks, want)
	}
	if strings.Join(grid, " ") != "1 10 50 100 200 288" {
		t.Errorf("gridlines %q", grid)
	}
	if _, ok := heights[`<b>"x"</b>?#/`]; !ok {
		t.Errorf("the hostile cycle id did not come back whole from its escaped title: %v", heights)
	}
}

// The statistics page: the accounts by state, the days drawn and in a
// table (the chart's text alternative) with row headers, the period
// picked with ?days=; a bad period is refused, a busy state file says so.
func TestStatisticsPage(t *testing.T) {
	s, b := newTestConsole(t, true)
	rec := get(t, s, "/statistics")
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, body)
	}
	for _, want := range []string{`<svg class="chart" id="days-chart"`, `id="st-active">40<`, `id="st-suspended">2<`, `id="st-failing">1<`,
		`<th scope="row"><a href="/log?since=2026-12-01&amp;until=2026-12-01">2026-12-01</a></th><td>2</td><td>0</td><td class="o-staged">1</td>`,
		"In all: 43 changes applied (43 created,", `aria-current="page">Statistics`, "mark-staged", "failed cycle"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// The table holds the days with a cycle (the fixture's two cycles
	// are both on Dec 1), and counts the rest.
	if n := strings.Count(body, `<th scope="row">`); n != 1 || !strings.Contains(body, "29 days of the period had no cycle") {
		t.Errorf("%d days in the table, want 1", n)
	}
	if body := get(t, s, "/statistics?days=7").Body.String(); !strings.Contains(body, "6 days of the period had no cycle") || !strings.Contains(body, `<strong>7 days</strong>`) {
		t.Errorf("?days=7 shows another period")
	}
	for _, bad := range []string{"0", "367", "x", "-1"} {
		if rec := get(t, s, "/statistics?days="+bad); rec.Code != http.StatusBadRequest {
			t.Errorf("?days=%s: %d", bad, rec.Code)
		}
	}
	b.cyclesErr = fmt.Errorf("read: %w", ErrBusy)
	if rec := get(t, s, "/statistics"); rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("busy: %d", rec.Code)
	}
}
