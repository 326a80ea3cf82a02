package main

import (
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// newProgress reports a cycle's progress through its changes: a bar
// (done/total, rate, time left) when w is a terminal, and otherwise a log
// line at every tenth of the work and at most every 30 s, so a long initial
// sync under systemd or in a container says how far it is. Never both.
func newProgress(w io.Writer, log *slog.Logger, what string, now func() time.Time) func(done, total int) {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		var bar *progressbar.ProgressBar
		return func(done, total int) {
			if total == 0 {
				return
			}
			if bar == nil {
				bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(f), progressbar.OptionSetDescription(what),
					progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("changes"),
					progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionOnCompletion(func() { io.WriteString(f, "\n") }))
			}
			_ = bar.Set(done)
		}
	}
	var start, last time.Time
	lastTenth := 0
	return func(done, total int) {
		t := now()
		if start.IsZero() {
			start, last = t, t
		}
		if total == 0 || done == 0 {
			return
		}
		tenth := done * 10 / total
		if done < total && tenth == lastTenth && t.Sub(last) < 30*time.Second {
			return
		}
		lastTenth, last = tenth, t
		elapsed := t.Sub(start)
		attrs := []any{"done", done, "total", total, "elapsed", elapsed.Round(time.Second).String()}
		if secs := elapsed.Seconds(); secs > 0 {
			rate := float64(done) / secs
			attrs = append(attrs, "per_second", float64(int(rate*10))/10)
			if done < total && rate > 0 {
				attrs = append(attrs, "left", (time.Duration(float64(total-done)/rate) * time.Second).Round(time.Second).String())
			}
		}
		log.Info(what, attrs...)
	}
}
