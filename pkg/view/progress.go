package view

import (
	"fmt"
	"time"

	"github.com/g2msync/g2msync/pkg/app"
)

// ProgressText says where a running cycle is, in one line: "applying, 72
// of 288 changes (25%), 6.0 a second, about 36s left (until 10:00:52
// UTC); GoTo paced at 6.5 requests a second, 3 429s", or before any
// change the phase and since when.
func ProgressText(p *app.Progress) string {
	if p.Total == 0 {
		return fmt.Sprintf("%s since %s UTC (the cycle started %s UTC)", Safe(p.Phase), p.PhaseSince.UTC().Format("15:04:05"), p.Started.UTC().Format("15:04:05"))
	}
	var s string
	s = fmt.Sprintf("%s, %d of %d changes (%d%%)", Safe(p.Phase), p.Done, p.Total, p.Done*100/p.Total)
	if p.PerSecond > 0 {
		s += fmt.Sprintf(", %.1f a second", p.PerSecond)
	}
	if !p.ETA.IsZero() {
		s += fmt.Sprintf(", about %s left (until %s UTC)", (time.Duration(p.LeftSeconds) * time.Second).String(), p.ETA.UTC().Format("15:04:05"))
	}
	if p.GoToPace > 0 {
		s += fmt.Sprintf("; GoTo paced at %.1f requests a second", p.GoToPace)
	}
	if p.GoTo429s > 0 {
		s += fmt.Sprintf(", %d 429s", p.GoTo429s)
	}
	return s
}
