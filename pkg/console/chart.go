package console

import (
	"fmt"
	"html/template"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/state"
)

// chartKinds are the change kinds the chart stacks, bottom up; failed
// changes go on top, hatched.
var chartKinds = []string{"create", "adopt", "update", "enable", "disable", "delete"}

// chartBar is one bar of a chart: a cycle, or a day.
type chartBar struct {
	// Tick is the bar's time on the axis ("10:20", or a day "12-06"), and
	// Date the date shown under it when it changes ("" for a day chart).
	Tick, Date string
	// Title says in words what the bar shows: its accessible name.
	Title string
	Href  string
	// Counts are the changes by chartKinds, then the failed ones.
	Counts []int
	// Staged and Failed mark a cycle (or a day with one) that staged
	// disables, or failed: drawn as a triangle and a cross under the bar,
	// not by colour alone.
	Staged, Failed bool
}

// The chart's drawing, in the SVG's own units: it scales to the page's
// width, and its text grows on a narrow screen (style.css) so that it
// reads at 390 px.
const (
	chartW      = 600
	chartLeft   = 46  // room for the gridlines' labels
	chartRight  = 8   // room for the last bar
	chartTop    = 16  // room for the scale's label
	chartPlot   = 150 // the bars' height at the most
	chartMarks  = 30  // the strip under the bars for the staged and failed marks
	chartTicks  = 52  // the time labels, two lines of text that grows on a narrow screen
	chartH      = chartTop + chartPlot + chartMarks + chartTicks
	chartMinBar = 3 // a bar of one change is still seen and hit
	chartLabels = 6 // time labels at most
)

// chartScale maps a count to a height: by its square root, so that a cycle
// of 4 changes (a sixth of the height of 288's) shows beside one of 288
// (linear, it would be 2 px of 150), and no bar of one change is lower
// than chartMinBar.
func chartScale(n, most int) float64 {
	if n <= 0 {
		return 0
	}
	return max(chartMinBar, chartPlot*math.Sqrt(float64(n))/math.Sqrt(float64(max(most, 1))))
}

// gridlines picks the counts to label on the scale: 1, 2, 5, 10, 20, 50 …
// up to most, each at least 14 units above the one below, and most itself.
func gridlines(most int) []int {
	var out []int
	last := -100.0
	for base := 1; base <= most; base *= 10 {
		for _, m := range []int{1, 2, 5} {
			v := base * m
			if v > most {
				break
			}
			if y := chartScale(v, most); y-last >= 14 && chartScale(most, most)-y >= 14 {
				out, last = append(out, v), y
			}
		}
		if base > math.MaxInt/10 {
			break
		}
	}
	return append(out, most)
}

// drawChart draws bars as inline SVG: no script, no image request. Every
// text in it is escaped. A bar is a link with its title, and the
// caller gives the same figures as a table or a link to one.
func drawChart(id, title string, bars []chartBar) template.HTML {
	if len(bars) == 0 {
		return template.HTML(`<p class="muted">No cycle yet.</p>`)
	}
	most := 1
	for _, b := range bars {
		most = max(most, sum(b.Counts))
	}
	esc := template.HTMLEscapeString
	base := float64(chartTop + chartPlot)
	slot := float64(chartW-chartLeft-chartRight) / float64(len(bars))
	barW := min(slot*0.72, 28)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" id="%s" viewBox="0 0 %d %d" role="group" aria-labelledby="%[1]s-title %[1]s-desc">`, esc(id), chartW, chartH)
	fmt.Fprintf(&b, `<title id="%s-title">%s</title>`, esc(id), esc(title))
	fmt.Fprintf(&b, `<desc id="%s-desc">Bar heights follow the square root of the count, so that small cycles show beside large ones; the most is %d. A triangle under a bar marks staged disables, a cross a failed cycle.</desc>`, esc(id), most)
	b.WriteString(`<defs><pattern id="` + esc(id) + `-hatch" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect class="k-failed" width="5" height="5"/><line class="hatch" x1="0" y1="0" x2="0" y2="5"/></pattern></defs>`)
	// The scale: labelled gridlines, and the axis.
	fmt.Fprintf(&b, `<text class="axis" x="%d" y="11" text-anchor="end">changes (√ scale)</text>`, chartW-chartRight)
	for _, v := range gridlines(most) {
		y := base - chartScale(v, most)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/><text class="axis" x="%d" y="%.1f" text-anchor="end">%d</text>`,
			chartLeft, chartW-chartRight, y, y, chartLeft-4, y+4, v)
	}
	fmt.Fprintf(&b, `<line class="base" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, chartLeft, chartW-chartRight, base, base)
	every := (len(bars) + chartLabels - 1) / chartLabels
	lastDate := ""
	for i, bar := range bars {
		x := chartLeft + float64(i)*slot + (slot-barW)/2
		mid := x + barW/2
		total := sum(bar.Counts)
		h := chartScale(total, most)
		fmt.Fprintf(&b, `<a href="%s"><title>%s</title><rect class="hit" x="%.1f" y="%d" width="%.1f" height="%d"/>`,
			esc(bar.Href), esc(bar.Title), chartLeft+float64(i)*slot, chartTop, slot, chartPlot+chartMarks)
		// The kinds stacked bottom up, each its share of the bar's height.
		y, done := base, 0
		for k, n := range bar.Counts {
			if n <= 0 {
				continue
			}
			done += n
			top := base - h*float64(done)/float64(total)
			class := "k-failed"
			fill := ` fill="url(#` + esc(id) + `-hatch)"`
			if k < len(chartKinds) {
				class, fill = "k-"+chartKinds[k], ""
			}
			fmt.Fprintf(&b, `<rect class="%s"%s x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, class, fill, x, top, barW, y-top)
			y = top
		}
		my := base + 9
		if bar.Staged {
			fmt.Fprintf(&b, `<path class="mark-staged" d="M%.1f %.1fl6 10h-12z"/>`, mid, my-4)
			my += 13
		}
		if bar.Failed {
			fmt.Fprintf(&b, `<path class="mark-failed" d="M%.1f %.1fl9 9m0 -9l-9 9"/>`, mid-4.5, my-4)
		}
		b.WriteString(`</a>`)
		if i%every == 0 && bar.Tick != "" {
			ty := base + chartMarks + 12
			fmt.Fprintf(&b, `<line class="tick" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/><text class="axis" x="%.1f" y="%.1f" text-anchor="middle">%s`,
				mid, mid, base, base+4, mid, ty, esc(bar.Tick))
			if bar.Date != "" && bar.Date != lastDate {
				// The date goes a line lower, in the text's own size: it grows
				// on a narrow screen.
				fmt.Fprintf(&b, `<tspan x="%.1f" dy="1.2em">%s</tspan>`, mid, esc(bar.Date))
				lastDate = bar.Date
			}
			b.WriteString(`</text>`)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func sum(ns []int) int {
	t := 0
	for _, n := range ns {
		t += n
	}
	return t
}

// chart draws the changes of each cycle, oldest first, stacked by kind,
// on a time axis of their start (UTC).
func chart(cycles []state.Cycle) template.HTML {
	bars := make([]chartBar, len(cycles))
	for i, c := range cycles {
		at := c.Start
		if at.IsZero() {
			at = c.End
		}
		at = at.UTC()
		ch := app.CycleChanges(&c)
		bar := chartBar{Tick: at.Format("15:04"), Date: at.Format("Jan 2"), Href: "/cycles/" + url.PathEscape(c.ID),
			Counts: []int{ch.Create, ch.Adopt, ch.Update, ch.Enable, ch.Disable, ch.Delete, ch.Failed},
			Staged: c.Outcome == engine.OutcomeStaged || c.Staged > 0,
			Failed: c.Outcome == engine.OutcomeFailed || c.Outcome == engine.OutcomeAborted}
		bar.Title = fmt.Sprintf("%s: %s, %s: %s", c.ID, at.Format("2006-01-02 15:04 UTC"), c.Outcome, changesText(ch))
		if c.Staged > 0 {
			bar.Title += fmt.Sprintf("; %d disables staged", c.Staged)
		}
		bars[i] = bar
	}
	return drawChart("cycles-chart", fmt.Sprintf("Changes applied per cycle, by kind, and failed changes, for the last %d cycles", len(cycles)), bars)
}

// dayChart draws the changes of each day, stacked by kind, with the days
// that had staged or failed cycles marked.
func dayChart(days []app.Day) template.HTML {
	bars := make([]chartBar, len(days))
	for i, d := range days {
		ch := d.Changes
		tick := d.Date
		if t, err := time.Parse(time.DateOnly, d.Date); err == nil {
			tick = t.Format("Jan 2")
		}
		bar := chartBar{Tick: tick, Href: "/log?since=" + d.Date + "&until=" + d.Date,
			Counts: []int{ch.Create, ch.Adopt, ch.Update, ch.Enable, ch.Disable, ch.Delete, ch.Failed},
			Staged: d.Staged > 0, Failed: d.Failed > 0}
		bar.Title = fmt.Sprintf("%s: %d cycles (%d failed, %d staged): %s", d.Date, d.Cycles, d.Failed, d.Staged, changesText(ch))
		bars[i] = bar
	}
	return drawChart("days-chart", fmt.Sprintf("Changes applied per day, by kind, and failed changes, for the last %d days (UTC)", len(days)), bars)
}

// changesText says a bar's changes in words: "create 3, update 1, failed
// 1", or "no change".
func changesText(ch app.Changes) string {
	var parts []string
	for i, n := range []int{ch.Create, ch.Adopt, ch.Update, ch.Enable, ch.Disable, ch.Delete} {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", chartKinds[i], n))
		}
	}
	if ch.Failed > 0 {
		parts = append(parts, fmt.Sprintf("failed %d", ch.Failed))
	}
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, ", ")
}

// chartLegend is the legend under a chart: the kinds' colours, the
// hatching of failed changes and the marks, each drawn as in the chart.
const chartLegend = template.HTML(`<p class="legend"><span><span class="sw k-create"></span>create</span> <span><span class="sw k-adopt"></span>adopt</span>
<span><span class="sw k-update"></span>update</span> <span><span class="sw k-enable"></span>re-enable</span> <span><span class="sw k-disable"></span>disable</span>
<span><span class="sw k-delete"></span>delete</span>
<span><svg class="sw" viewBox="0 0 12 12" aria-hidden="true"><rect class="k-failed" width="12" height="12"/><path class="hatch" d="M0 12L12 0M-3 3L3 -3M9 15L15 9"/></svg>failed changes</span>
<span><svg class="sw" viewBox="0 0 12 12" aria-hidden="true"><path class="mark-staged" d="M6 1l6 10h-12z"/></svg>staged disables</span>
<span><svg class="sw" viewBox="0 0 12 12" aria-hidden="true"><path class="mark-failed" d="M1.5 1.5l9 9m0 -9l-9 9"/></svg>failed cycle</span></p>`)
