package console

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/g2msync/g2msync/pkg/state"
)

// chartKinds are the change kinds the chart stacks, bottom up; failures go
// on top in their own colour.
var chartKinds = []string{"create", "adopt", "update", "enable", "disable", "delete"}

// chart draws the changes of each cycle, stacked by kind, and its failures,
// as inline SVG: no script, no image request. Every text in it is escaped.
func chart(cycles []state.Cycle) template.HTML {
	if len(cycles) == 0 {
		return template.HTML(`<p class="muted">No cycle yet.</p>`)
	}
	const h, barW, gap, top = 140, 14, 4, 10
	most := 1
	for _, c := range cycles {
		n := 0
		for _, k := range chartKinds {
			n += c.Applied[k]
		}
		for _, v := range c.Failed {
			n += v
		}
		most = max(most, n)
	}
	width := len(cycles)*(barW+gap) + gap
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="chart-title"><title id="chart-title">Changes applied per cycle, by kind, and failures, for the last %d cycles (most %d)</title>`,
		width, h+top, len(cycles), most)
	for i, c := range cycles {
		x := gap + i*(barW+gap)
		y := h + top
		var tip []string
		segment := func(n int, class string) {
			if n <= 0 {
				return
			}
			sh := max(1, n*h/most)
			y -= sh
			fmt.Fprintf(&b, `<rect class="%s" x="%d" y="%d" width="%d" height="%d"/>`, class, x, y, barW, sh)
		}
		for _, k := range chartKinds {
			segment(c.Applied[k], "k-"+k)
			if c.Applied[k] > 0 {
				tip = append(tip, fmt.Sprintf("%s %d", k, c.Applied[k]))
			}
		}
		failed := 0
		for _, v := range c.Failed {
			failed += v
		}
		segment(failed, "k-failed")
		if failed > 0 {
			tip = append(tip, fmt.Sprintf("failed %d", failed))
		}
		if len(tip) == 0 {
			tip = []string{"no change"}
		}
		fmt.Fprintf(&b, `<a href="/cycles/%s"><rect class="hit" x="%d" y="%d" width="%d" height="%d"><title>%s: %s (%s)</title></rect></a>`,
			template.URLQueryEscaper(c.ID), x, top, barW, h, template.HTMLEscapeString(c.ID), template.HTMLEscapeString(strings.Join(tip, ", ")),
			template.HTMLEscapeString(c.Outcome))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
