package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Off a terminal, progress is a log line per tenth of the work (or every
// 30 s), with rate and time left; never a bar's control characters.
func TestProgressLinesOffATerminal(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	p := newProgress(&buf, slog.New(slog.NewTextHandler(&buf, nil)), "initial sync", func() time.Time { return now })
	for done := 0; done <= 1000; done += 5 {
		p(done, 1000)
		now = now.Add(100 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 10 || strings.ContainsAny(buf.String(), "\r\x1b") {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[0], "done=100 total=1000") || !strings.Contains(lines[0], "per_second=50") || !strings.Contains(lines[0], "left=18s") {
		t.Errorf("first line: %s", lines[0])
	}
	if !strings.Contains(lines[9], "done=1000") || strings.Contains(lines[9], "left=") {
		t.Errorf("last line: %s", lines[9])
	}
}
