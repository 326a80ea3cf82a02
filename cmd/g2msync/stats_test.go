package main

import (
	"strings"
	"testing"
)

// report --stats prints the statistics of the golden state file as text,
// one CSV row a day, or JSON; it takes --since for the period and refuses
// the flags that select entries.
func TestReportStats(t *testing.T) {
	path := goldenState(t)
	for _, tt := range []struct {
		file string
		args []string
	}{
		{"report-stats.txt", []string{"report", "--stats", "--since", "2026-11-20"}},
		{"report-stats.csv", []string{"report", "--stats", "--output", "csv"}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			code, out, errOut := runMain(t, nil, append(tt.args, "--state", path)...)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden(t, tt.file, out)
		})
	}
	code, out, _ := runMain(t, nil, "report", "--stats", "--output", "json", "--state", path)
	if code != ExitOK || !strings.Contains(out, `"create": 1,`) || !strings.Contains(out, `"managed_active": 1`) || strings.Count(out, `"date"`) != 30 {
		t.Errorf("json: exit %d\n%s", code, out)
	}
	if code, _, errOut := runMain(t, nil, "report", "--stats", "--user", "jane@contoso.com", "--state", path); code != ExitUsage || !strings.Contains(errOut, "--stats") {
		t.Errorf("--stats --user: exit %d %s", code, errOut)
	}
}
