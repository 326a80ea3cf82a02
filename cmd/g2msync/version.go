package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
)

// VersionCommand prints the version.
type VersionCommand struct{ m *Main }

// Run implements command.
func (c *VersionCommand) Run(_ context.Context, args []string) error {
	fs := c.m.newFlagSet("version", "usage: g2msync version [flags] (or g2msync --version)\n\nPrints the version of g2msync, the commit and date it was built from, and the Go it was built with.")
	output := fs.String("output", "text", "text or json")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch *output {
	case "json":
		enc := json.NewEncoder(c.m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Version   string `json:"version"`
			Commit    string `json:"commit"`
			Date      string `json:"date"`
			GoVersion string `json:"go_version"`
			Platform  string `json:"platform"`
		}{version, commit, date, runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH})
	case "text":
	default:
		return usageError{fmt.Errorf("--output: want text or json, got %q", *output)}
	}
	fmt.Fprintf(c.m.Stdout, "g2msync %s (commit %s, built %s, %s, %s/%s)\n", version, orUnknown(commit), orUnknown(date),
		runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
