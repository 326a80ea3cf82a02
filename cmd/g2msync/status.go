package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	application "github.com/g2msync/g2msync/pkg/app"

	"github.com/g2msync/g2msync/pkg/view"

	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/state"
)

// StatusCommand prints the last cycles, staged disables and failing accounts.
type StatusCommand struct{ m *Main }

const statusUsage = `usage: g2msync status [flags]

Prints the last cycles (outcome, counts, API calls, problems by cause), the
disables waiting for approval, the changes deferred (no free seat, back-off,
quarantine) with what they wait for, and the accounts whose last change failed. Reads the state file
only. A running daemon serves the same, live, at http://<listen>/status; while
a cycle holds the state file, status asks the daemon there instead (with
status_token when the listener needs one).`

// Run implements command.
func (c *StatusCommand) Run(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("status", statusUsage)
	cfgPath, statePath := c.m.statePathFlags(fs)
	n := fs.Int("cycles", 10, "how many recent cycles to show")
	output := fs.String("output", "text", "text or json")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *output != "text" && *output != "json" {
		return usageError{fmt.Errorf("--output: want text or json, got %q", *output)}
	}
	var s *application.Status
	st, err := c.m.openStateReadOnly(*cfgPath, *statePath)
	switch {
	case errors.Is(err, state.ErrInUse) && *statePath == "":
		// A cycle holds the file (a long initial sync): the daemon that
		// runs it knows the same, live.
		var from string
		if s, from, err = c.m.liveStatus(ctx, *cfgPath, *n); err != nil {
			return fmt.Errorf("the state file is in use by a running cycle, and the daemon did not answer at its listen address: %w", err)
		}
		fmt.Fprintf(c.m.Stderr, "A cycle holds the state file; this is the daemon's live status from %s.\n", from)
	case err != nil:
		return err
	default:
		defer st.Close()
		if s, err = application.ReadStatus(st, *n); err != nil {
			return err
		}
	}
	if *output == "json" {
		enc := json.NewEncoder(c.m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	return view.Status(c.m.Stdout, s)
}

// liveStatus reads /status from the daemon of the configuration at cfgPath
// (with status_token when the configuration loads and has one), keeping
// the newest n cycles.
func (m *Main) liveStatus(ctx context.Context, cfgPath string, n int) (*application.Status, string, error) {
	var doc daemon.StatusDoc
	token, err := m.statusToken(cfgPath)
	if err != nil {
		return nil, "", err
	}
	from, _, err := m.askDaemon(ctx, cfgPath, "/status", token, 10*time.Second, &doc)
	if err != nil {
		return nil, "", err
	}
	s := &application.Status{Cycles: doc.Cycles[:min(n, len(doc.Cycles))], Staged: doc.Staged, Kept: doc.Kept, Deferred: doc.Deferred, Failures: doc.Failures, Paused: doc.Paused,
		Running: doc.Running}
	return s, from, nil
}

// maxDaemonReply bounds what status and report read from the daemon.
const maxDaemonReply = 256 << 20

// askDaemon GETs path (with its query) from the daemon of the configuration
// at cfgPath, over its listener as healthcheck reaches it, and decodes the
// JSON reply into v. It returns the URL asked, without the query, and the
// reply's header.
func (m *Main) askDaemon(ctx context.Context, cfgPath, path, token string, wait time.Duration, v any) (string, http.Header, error) {
	base, client, err := m.daemonClient(cfgPath, "")
	if err != nil {
		return "", nil, err
	}
	from, _, _ := strings.Cut(base+path, "?")
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return "", nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("%s answered %d", from, resp.StatusCode)
	}
	// Whoever answers on the port is read within a bound: the whole
	// provisioning log of 100,000 people is some 60 MB of JSON.
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDaemonReply)).Decode(v); err != nil {
		return "", nil, fmt.Errorf("read %s: %w", from, err)
	}
	return from, resp.Header, nil
}
