package view

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/app"
)

// status prints the running cycle first: its phase, or the changes done
// of the total with the pace and the time left.
func TestStatusShowsTheRunningCycle(t *testing.T) {
	start := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		p    app.Progress
		want string
	}{
		{app.Progress{Started: start, Phase: "reading Entra", PhaseSince: start.Add(time.Second)},
			"A cycle is running: reading Entra since 10:00:01 UTC (the cycle started 10:00:00 UTC)."},
		{app.Progress{Started: start, Phase: "applying", PhaseSince: start, Done: 72, Total: 288, PerSecond: 6, LeftSeconds: 36,
			ETA: start.Add(48 * time.Second), GoToPace: 6.5, GoTo429s: 3},
			"A cycle is running: applying, 72 of 288 changes (25%), 6.0 a second, about 36s left (until 10:00:48 UTC); GoTo paced at 6.5 requests a second, 3 429s."},
		{app.Progress{Started: start, Phase: "applying\x1b[2J", PhaseSince: start, Total: 5},
			"A cycle is running: applying\\x1b[2J, 0 of 5 changes (0%)."},
	} {
		var b bytes.Buffer
		if err := Status(&b, &app.Status{Running: &c.p}); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := strings.Cut(b.String(), "\n"); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}
