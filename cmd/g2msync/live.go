package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// errNoStateFile: readState found no state file (before the first sync).
var errNoStateFile = errors.New("no state file yet")

// readState runs fn on the state file for a short read: the running
// cycle's, or the file opened read-only for fn alone (waiting at most
// wait for a cycle of another process). With no state file yet it returns
// errNoStateFile.
func (a *app) readState(wait time.Duration, fn func(*state.Store) error) error {
	if ok, err := a.live.Use(fn); ok {
		return err
	}
	st, err := state.Open(a.cfg.StatePath, state.Options{ReadOnly: true, Binding: binding(a.cfg), Timeout: wait})
	if errors.Is(err, state.ErrNoState) {
		return fmt.Errorf("%w: %w", errNoStateFile, err) // the message says what to run
	}
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(st)
}

// stateSnapshot is what a dry run of a few people (explain, provision
// --dry-run) reads of the state file, copied before the run so that the
// file is let go before the Graph and GoTo reads. It reads like the state
// file and refuses every write; the provisioning log is read afresh, in a
// short read of its own, when the report asks for it.
type stateSnapshot struct {
	records   []plan.Record
	intents   []state.Intent
	failures  []state.Failure
	skips     map[string]string
	staged    []state.Staged
	deferred  []state.Deferred
	approvals map[string]string
	paused    *state.Pause
	audit     func(state.AuditFilter) ([]state.AuditEntry, error)
}

var _ engine.Store = (*stateSnapshot)(nil)

// snapshot copies what a dry run of a few people needs, in one short read;
// nil when there is no state file yet.
func (a *app) snapshot() (*stateSnapshot, error) {
	s := &stateSnapshot{}
	err := a.readState(10*time.Second, func(st *state.Store) (err error) {
		if s.records, err = st.Records(); err != nil {
			return err
		}
		if s.intents, err = st.Intents(); err != nil {
			return err
		}
		if s.failures, err = st.Failures(); err != nil {
			return err
		}
		if s.skips, err = st.Skips(); err != nil {
			return err
		}
		if s.staged, err = st.Staged(); err != nil {
			return err
		}
		if s.deferred, err = st.Deferred(); err != nil {
			return err
		}
		if s.approvals, err = st.Approvals(); err != nil {
			return err
		}
		s.paused, err = st.Paused()
		return err
	})
	if errors.Is(err, errNoStateFile) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.audit = func(f state.AuditFilter) (out []state.AuditEntry, err error) {
		err = a.readState(10*time.Second, func(st *state.Store) error {
			out, err = st.Audit(f)
			return err
		})
		return out, err
	}
	return s, nil
}

func (s *stateSnapshot) Records() ([]plan.Record, error)       { return s.records, nil }
func (s *stateSnapshot) Intents() ([]state.Intent, error)      { return s.intents, nil }
func (s *stateSnapshot) Failures() ([]state.Failure, error)    { return s.failures, nil }
func (s *stateSnapshot) Skips() (map[string]string, error)     { return s.skips, nil }
func (s *stateSnapshot) Staged() ([]state.Staged, error)       { return s.staged, nil }
func (s *stateSnapshot) Deferred() ([]state.Deferred, error)   { return s.deferred, nil }
func (s *stateSnapshot) Approvals() (map[string]string, error) { return s.approvals, nil }
func (s *stateSnapshot) Audit(f state.AuditFilter) ([]state.AuditEntry, error) {
	return s.audit(f)
}
func (*stateSnapshot) WriteIntents([]state.Intent) error  { return errReadOnly }
func (*stateSnapshot) Commit(...state.Outcome) error      { return errReadOnly }
func (*stateSnapshot) SetSkips(map[string]string) error   { return errReadOnly }
func (*stateSnapshot) SetStaged([]state.Staged) error     { return errReadOnly }
func (*stateSnapshot) SetDeferred([]state.Deferred) error { return errReadOnly }
func (*stateSnapshot) ForgetApprovals([]string) error     { return errReadOnly }
func (*stateSnapshot) SaveCycle(state.Cycle) error        { return errReadOnly }

// ViewDirectoryPicture gives no picture: a run of named people reads them
// from Graph, never from the picture of the whole directory.
func (*stateSnapshot) ViewDirectoryPicture(fn func(links, body []byte) error) error {
	return fn(nil, nil)
}
func (*stateSnapshot) SaveDirectoryPicture([]byte, []byte) error { return errReadOnly }
