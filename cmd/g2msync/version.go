package main

import (
	"context"
	"fmt"
	"runtime"
)

// VersionCommand prints the version.
type VersionCommand struct{ m *Main }

// Run implements command.
func (c *VersionCommand) Run(_ context.Context, args []string) error {
	fs := c.m.newFlagSet("version", "usage: g2msync version (or g2msync --version)\n\nPrints the version of g2msync, the commit and date it was built from, and the Go it was built with.")
	if err := parse(fs, args); err != nil {
		return err
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
