package app

import (
	"errors"
	"fmt"
	"time"

	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// ErrNoStateFile: a short read found no state file (before the first sync).
var ErrNoStateFile = errors.New("no state file yet")

// readState runs fn on the state file for a short read: the running
// cycle's, or the file opened read-only for fn alone (waiting at most
// wait for a cycle of another process). With no state file yet it returns
// ErrNoStateFile.
func (s *Service) readState(wait time.Duration, fn func(*state.Store) error) error {
	if ok, err := s.Live.Use(fn); ok {
		return err
	}
	st, err := state.Open(s.StatePath, state.Options{ReadOnly: true, Binding: s.Binding, Timeout: wait})
	if errors.Is(err, state.ErrNoState) {
		return fmt.Errorf("%w: %w", ErrNoStateFile, err) // the message says what to run
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
	kept      map[string]state.Keep
	paused    *state.Pause
	audit     func(state.AuditFilter) ([]state.AuditEntry, error)
}

var _ engine.Store = (*stateSnapshot)(nil)

// snapshot copies what a dry run of a few people needs, in one short read;
// nil when there is no state file yet.
func (s *Service) snapshot() (*stateSnapshot, error) {
	sn := &stateSnapshot{}
	err := s.readState(waitShort, func(st *state.Store) (err error) {
		if sn.records, err = st.Records(); err != nil {
			return err
		}
		if sn.intents, err = st.Intents(); err != nil {
			return err
		}
		if sn.failures, err = st.Failures(); err != nil {
			return err
		}
		if sn.skips, err = st.Skips(); err != nil {
			return err
		}
		if sn.staged, err = st.Staged(); err != nil {
			return err
		}
		if sn.deferred, err = st.Deferred(); err != nil {
			return err
		}
		if sn.approvals, err = st.Approvals(); err != nil {
			return err
		}
		if sn.kept, err = st.Kept(); err != nil {
			return err
		}
		sn.paused, err = st.Paused()
		return err
	})
	if errors.Is(err, ErrNoStateFile) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sn.audit = func(f state.AuditFilter) (out []state.AuditEntry, err error) {
		err = s.readState(waitShort, func(st *state.Store) error {
			out, err = st.Audit(f)
			return err
		})
		return out, err
	}
	return sn, nil
}

func (s *stateSnapshot) Records() ([]plan.Record, error)       { return s.records, nil }
func (s *stateSnapshot) Intents() ([]state.Intent, error)      { return s.intents, nil }
func (s *stateSnapshot) Failures() ([]state.Failure, error)    { return s.failures, nil }
func (s *stateSnapshot) Skips() (map[string]string, error)     { return s.skips, nil }
func (s *stateSnapshot) Staged() ([]state.Staged, error)       { return s.staged, nil }
func (s *stateSnapshot) Deferred() ([]state.Deferred, error)   { return s.deferred, nil }
func (s *stateSnapshot) Approvals() (map[string]string, error) { return s.approvals, nil }
func (s *stateSnapshot) Kept() (map[string]state.Keep, error)  { return s.kept, nil }
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

// readOnlyStore lets a dry run read the state file and refuses every write,
// so a mistake in the engine cannot turn a plan into a change.
type readOnlyStore struct{ st *state.Store }

var errReadOnly = errors.New("dry run: the state file is read-only")

func (r readOnlyStore) Records() ([]plan.Record, error)    { return r.st.Records() }
func (r readOnlyStore) Intents() ([]state.Intent, error)   { return r.st.Intents() }
func (r readOnlyStore) Failures() ([]state.Failure, error) { return r.st.Failures() }
func (r readOnlyStore) Skips() (map[string]string, error)  { return r.st.Skips() }
func (r readOnlyStore) Staged() ([]state.Staged, error)    { return r.st.Staged() }
func (readOnlyStore) WriteIntents([]state.Intent) error    { return errReadOnly }
func (readOnlyStore) Commit(...state.Outcome) error        { return errReadOnly }
func (readOnlyStore) SetSkips(map[string]string) error     { return errReadOnly }
func (readOnlyStore) SetStaged([]state.Staged) error       { return errReadOnly }
func (readOnlyStore) SaveCycle(state.Cycle) error          { return errReadOnly }
func (r readOnlyStore) ViewDirectoryPicture(fn func(links, body []byte) error) error {
	return r.st.ViewDirectoryPicture(fn)
}
func (readOnlyStore) SaveDirectoryPicture([]byte, []byte) error { return errReadOnly }

// emptyStore is the state of a dry run before the first sync: nothing
// owned, nothing failed, nothing to write.
type emptyStore struct{}

func (emptyStore) Records() ([]plan.Record, error)       { return nil, nil }
func (emptyStore) Intents() ([]state.Intent, error)      { return nil, nil }
func (emptyStore) Failures() ([]state.Failure, error)    { return nil, nil }
func (emptyStore) Skips() (map[string]string, error)     { return nil, nil }
func (emptyStore) Staged() ([]state.Staged, error)       { return nil, nil }
func (emptyStore) Deferred() ([]state.Deferred, error)   { return nil, nil }
func (emptyStore) Approvals() (map[string]string, error) { return nil, nil }
func (emptyStore) Kept() (map[string]state.Keep, error)  { return nil, nil }
func (emptyStore) WriteIntents([]state.Intent) error     { return errReadOnly }
func (emptyStore) Commit(...state.Outcome) error         { return errReadOnly }
func (emptyStore) SetSkips(map[string]string) error      { return errReadOnly }
func (emptyStore) SetStaged([]state.Staged) error        { return errReadOnly }
func (emptyStore) SetDeferred([]state.Deferred) error    { return errReadOnly }
func (emptyStore) ForgetApprovals([]string) error        { return errReadOnly }
func (emptyStore) SaveCycle(state.Cycle) error           { return errReadOnly }
func (emptyStore) ViewDirectoryPicture(fn func(links, body []byte) error) error {
	return fn(nil, nil)
}
func (emptyStore) SaveDirectoryPicture([]byte, []byte) error { return errReadOnly }

var _ engine.Store = emptyStore{}

// Approvals implements engine.Store.
func (r readOnlyStore) Approvals() (map[string]string, error) { return r.st.Approvals() }
func (r readOnlyStore) Kept() (map[string]state.Keep, error)  { return r.st.Kept() }

// Deferred implements engine.Store.
func (r readOnlyStore) Deferred() ([]state.Deferred, error) { return r.st.Deferred() }

// ForgetApprovals implements engine.Store; a dry run keeps every approval.
func (readOnlyStore) ForgetApprovals([]string) error { return errReadOnly }

// SetDeferred implements engine.Store.
func (readOnlyStore) SetDeferred([]state.Deferred) error { return errReadOnly }
