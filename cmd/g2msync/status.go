package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/plan"
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

// Status is what `status` prints and the daemon serves on /status.
type Status struct {
	Cycles   []state.Cycle    `json:"cycles"`
	Staged   []state.Staged   `json:"staged_disables"`
	Deferred []state.Deferred `json:"deferred_changes"`
	Failures []state.Failure  `json:"failing_accounts"`
	Paused   *state.Pause     `json:"paused,omitempty"`
}

// Run implements command.
func (c *StatusCommand) Run(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("status", statusUsage)
	cfgPath, statePath := c.m.statePathFlags(fs)
	n := fs.Int("cycles", 10, "how many recent cycles to show")
	output := fs.String("output", "text", "text or json")
	if err := parse(fs, args); err != nil {
		return err
	}
	var s *Status
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
		if s, err = readStatus(st, *n); err != nil {
			return err
		}
	}
	if *output == "json" {
		enc := json.NewEncoder(c.m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	return writeStatusText(c.m.Stdout, s)
}

// liveStatus reads /status from the daemon of the configuration at cfgPath
// (with status_token when the configuration loads and has one), keeping
// the newest n cycles.
func (m *Main) liveStatus(ctx context.Context, cfgPath string, n int) (*Status, string, error) {
	var doc daemon.StatusDoc
	token := ""
	if cfg, err := m.loadConfig(cfgPath); err == nil && cfg.StatusToken.IsSet() {
		token = cfg.StatusToken.Value()
	}
	from, err := m.askDaemon(ctx, cfgPath, "/status", token, 10*time.Second, &doc)
	if err != nil {
		return nil, "", err
	}
	s := &Status{Cycles: doc.Cycles[:min(n, len(doc.Cycles))], Staged: doc.Staged, Deferred: doc.Deferred, Failures: doc.Failures, Paused: doc.Paused}
	return s, from, nil
}

// askDaemon GETs path (with its query) from the daemon of the configuration
// at cfgPath, over its listener as healthcheck reaches it, and decodes the
// JSON reply into v. It returns the URL asked, without the query.
func (m *Main) askDaemon(ctx context.Context, cfgPath, path, token string, wait time.Duration, v any) (string, error) {
	base, client, err := m.daemonClient(cfgPath, "")
	if err != nil {
		return "", err
	}
	from, _, _ := strings.Cut(base+path, "?")
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s answered %d", from, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<30)).Decode(v); err != nil {
		return "", fmt.Errorf("read %s: %w", from, err)
	}
	return from, nil
}

func readStatus(st *state.Store, n int) (*Status, error) {
	var s Status
	var err error
	if s.Cycles, err = st.Cycles(n); err != nil {
		return nil, fmt.Errorf("read cycles: %w", err)
	}
	if s.Staged, err = st.Staged(); err != nil {
		return nil, fmt.Errorf("read staged disables: %w", err)
	}
	if s.Failures, err = st.Failures(); err != nil {
		return nil, fmt.Errorf("read failures: %w", err)
	}
	if s.Deferred, err = st.Deferred(); err != nil {
		return nil, fmt.Errorf("read deferred changes: %w", err)
	}
	if s.Deferred == nil {
		s.Deferred = []state.Deferred{}
	}
	if s.Paused, err = st.Paused(); err != nil {
		return nil, err
	}
	if s.Cycles == nil {
		s.Cycles = []state.Cycle{}
	}
	if s.Staged == nil {
		s.Staged = []state.Staged{}
	}
	if s.Failures == nil {
		s.Failures = []state.Failure{}
	}
	return &s, nil
}

func writeStatusText(w io.Writer, s *Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if s.Paused != nil {
		fmt.Fprintf(w, "PAUSED: %s.\n\n", safe(s.Paused.Text()))
	}
	if len(s.Cycles) == 0 {
		fmt.Fprintln(w, "No cycle has run yet.")
	} else {
		fmt.Fprintln(w, "Recent cycles:")
		fmt.Fprintln(tw, "STARTED\tDURATION\tMODE\tREAD\tOUTCOME\tIN SCOPE\tAPPLIED\tFAILED\tDEFERRED\tSKIPPED\tSTAGED\tCALLS")
		for _, c := range s.Cycles {
			read, _, _ := strings.Cut(c.Read, ":")
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%d\t%s\n", c.Start.UTC().Format("2006-01-02 15:04:05"),
				c.End.Sub(c.Start).Round(time.Millisecond), c.Mode, dash(read), c.Outcome, c.InScope, counts(c.Applied), counts(c.Failed),
				c.Deferred, c.Skipped, c.Staged, calls(c.Calls))
		}
		tw.Flush()
		last := s.Cycles[0]
		if last.Read != "" {
			fmt.Fprintf(w, "Last directory read: %s\n", safe(last.Read))
		}
		if last.Error != "" {
			fmt.Fprintf(w, "Last cycle error: %s\n", safe(last.Error))
		}
		if len(last.Problems) > 0 {
			fmt.Fprintln(w, "Last cycle's problems, by cause:")
			writeProblems(w, last.Problems, nil)
		}
	}
	fmt.Fprintf(w, "\nDisables waiting for approval: %d\n", len(s.Staged))
	if len(s.Staged) > 0 {
		fmt.Fprintln(tw, "USER\tGOTO KEY\tSINCE\tREASON")
		for _, st := range s.Staged {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", safe(firstNonEmpty(st.Email, st.UPN, st.EntraID)), dash(st.GoToKey), st.Since.UTC().Format("2006-01-02 15:04"), safe(st.Reason))
		}
		tw.Flush()
		fmt.Fprintln(w, "Release them with: g2msync run --once --allow-disables")
	}
	fmt.Fprintf(w, "\nChanges deferred: %d\n", len(s.Deferred))
	if len(s.Deferred) > 0 {
		fmt.Fprintln(tw, "USER\tACTION\tSINCE\tNEXT TRY\tWAITING FOR")
		for _, d := range s.Deferred {
			next := "when the cause is gone"
			switch {
			case d.Cause == string(plan.CauseQuarantine):
				next = "g2msync retry " + safe(firstNonEmpty(d.Email, d.UPN, d.EntraID))
			case !d.Until.IsZero():
				next = d.Until.UTC().Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", safe(firstNonEmpty(d.Email, d.UPN, d.EntraID)), d.Kind, d.Since.UTC().Format("2006-01-02 15:04"), next, safe(d.Reason))
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\nAccounts whose last change failed: %d\n", len(s.Failures))
	if len(s.Failures) > 0 {
		fmt.Fprintln(tw, "USER\tACTION\tATTEMPTS\tSINCE\tNEXT TRY\tLAST ERROR")
		quarantined := 0
		for _, f := range s.Failures {
			next := f.NextAttempt.UTC().Format("2006-01-02 15:04")
			if f.Quarantined {
				next, quarantined = "quarantined", quarantined+1
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", safe(firstNonEmpty(f.Email, f.UPN, f.EntraID)), f.Kind, f.Count,
				f.FirstAt.UTC().Format("2006-01-02 15:04"), next, safe(f.LastError))
		}
		tw.Flush()
		if quarantined > 0 {
			fmt.Fprintln(w, "Quarantined accounts are not tried again until the directory changes them; once the cause is fixed: g2msync retry <user> (or --quarantined)")
		}
	}
	return nil
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	out := ""
	for _, k := range []string{"create", "adopt", "update", "enable", "disable", "delete"} {
		if m[k] > 0 {
			if out != "" {
				out += " "
			}
			out += fmt.Sprintf("%s:%d", k, m[k])
		}
	}
	return out
}

func calls(m map[string]int64) string {
	if len(m) == 0 {
		return "-"
	}
	out := ""
	for _, k := range []string{"graph", "goto"} {
		if m[k] > 0 {
			if out != "" {
				out += " "
			}
			out += fmt.Sprintf("%s:%d", k, m[k])
		}
	}
	return out
}
