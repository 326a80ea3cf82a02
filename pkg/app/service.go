package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/g2msync/g2msync/pkg/address"
	"github.com/g2msync/g2msync/pkg/logkey"
	"github.com/g2msync/g2msync/pkg/state"
)

// Door is where an operator's action came in.
type Door string

// The doors.
const (
	DoorCLI     Door = "cli"
	DoorConsole Door = "console"
)

// Actor is who takes an action, through which door, and why; the
// provisioning log keeps all of it.
type Actor struct {
	// Name is the console operator (a person signed in with Entra by their
	// UPN), or the OS user who ran the command.
	Name string
	// EntraID is the Entra object id of a console operator signed in with
	// Entra; "" otherwise.
	EntraID string
	// Address is the operator's IP address, or the host the command ran on.
	Address string
	Door    Door
	// Reason is why, in the actor's words; "" when none was given.
	Reason string
}

// where says where the action was taken, for the log entry's reason.
func (a Actor) where() string {
	switch a.Door {
	case DoorConsole:
		return "in the console"
	case DoorCLI:
		return "from the command line"
	}
	return "by " + string(a.Door)
}

// because is the log entry's reason: what happened, then the actor's
// reason when they gave one.
func (a Actor) because(what string) string {
	if a.Reason == "" {
		return what
	}
	return what + ": " + a.Reason
}

// approver is how an approval records its actor.
func (a Actor) approver() string {
	return fmt.Sprintf("%s (%s, %s)", a.Name, a.Door, a.Address)
}

// Service is the application layer on one state file.
type Service struct {
	// StatePath is the state file.
	StatePath string
	// Binding, when set, is checked against the file's (tenant, app, GoTo
	// account); nil when the caller has only the state path (pause and
	// resume need no secrets).
	Binding *state.Binding
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log gets one line per action taken; nil logs nothing (the CLI prints
	// what it did instead).
	Log *slog.Logger
	// Wait is how long an action waits for a running cycle to let go of the
	// state file; zero means 30 s.
	Wait time.Duration
	// Live, when set, is the store of a cycle running in this process (the
	// daemon's): actions then write beside the cycle instead of waiting
	// for it to let the file go.
	Live *Live
	// Progress, if set, is told of each cycle's progress.
	Progress func(done, total int)

	// rt is what New builds from the configuration: the clients, the
	// mapper, the token hand-off. A Service without it takes operator
	// actions on the state file only.
	rt *runtime
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// open opens the existing state file for an action; an action never
// creates one (state.ErrNoState).
func (s *Service) open() (*state.Store, error) {
	return state.Open(s.StatePath, state.Options{MustExist: true, Binding: s.Binding, Timeout: s.wait(), Now: s.Now})
}

func (s *Service) wait() time.Duration {
	if s.Wait == 0 {
		return 30 * time.Second
	}
	return s.Wait
}

// update runs fn in one transaction on the state file.
func (s *Service) update(fn func(tx *state.Tx) error) error {
	if ok, err := s.Live.Use(func(st *state.Store) error { return st.Update(fn) }); ok {
		return err
	}
	st, err := s.open()
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Update(fn)
}

// entry is the provisioning-log entry of a's action.
func (s *Service) entry(a Actor, action, reason string) state.AuditEntry {
	return state.AuditEntry{Time: s.now(), Action: action, Result: state.ResultSuccess, Reason: reason,
		Operator: a.Name, OperatorID: a.EntraID, Address: a.Address, Door: string(a.Door)}
}

// personEntry is the log entry of a's action on one person.
func (s *Service) personEntry(a Actor, action, reason, entraID, upn, email, goToKey string) state.AuditEntry {
	e := s.entry(a, action, reason)
	e.EntraID, e.UPN, e.Email, e.GoToKey = entraID, upn, email, goToKey
	return e
}

func (s *Service) logged(a Actor, action string, attrs ...any) {
	s.log().Info("operator action", append([]any{logkey.Op, action, "operator", a.Name, "operator_entra_id", a.EntraID, "address", a.Address, "door", string(a.Door),
		logkey.Reason, a.Reason}, attrs...)...)
}

// Pause stops provisioning until Resume: cycles change nothing meanwhile.
// It returns the pause it recorded. Before the first sync there is nothing
// to pause (state.ErrNoState).
func (s *Service) Pause(_ context.Context, a Actor) (*state.Pause, error) {
	p := &state.Pause{Since: s.now(), By: a.Name, Reason: a.Reason}
	reason := a.Reason
	if reason == "" {
		reason = "paused " + a.where()
	}
	err := s.update(func(tx *state.Tx) error {
		if err := tx.SetPause(p); err != nil {
			return err
		}
		return tx.Log(s.entry(a, "pause", reason))
	})
	if errors.Is(err, state.ErrNoState) {
		return nil, fmt.Errorf("%w (nothing to pause before the first sync)", err)
	}
	if err != nil {
		return nil, err
	}
	s.logged(a, "pause")
	return p, nil
}

// RequestFullSync asks the daemon that holds the state file to make its
// next cycle a full sync (every GoTo account listed, owned records
// refreshed, everyone re-matched), as `run --once --initial-sync` would
// while it runs, and logs who asked.
func (s *Service) RequestFullSync(_ context.Context, a Actor) error {
	err := s.update(func(tx *state.Tx) error {
		if err := tx.RequestFullSync(state.FullSyncRequest{At: s.now(), By: a.Name}); err != nil {
			return err
		}
		return tx.Log(s.entry(a, "full-sync", a.because("asked for a full sync on the next cycle "+a.where())))
	})
	if err != nil {
		return err
	}
	s.logged(a, "full-sync")
	return nil
}

// Resume lifts the pause in force and returns it; nil, and nothing
// written, when provisioning was not paused.
func (s *Service) Resume(_ context.Context, a Actor) (*state.Pause, error) {
	var was *state.Pause
	err := s.update(func(tx *state.Tx) (err error) {
		if was, err = tx.Paused(); err != nil || was == nil {
			return err
		}
		if err := tx.SetPause(nil); err != nil {
			return err
		}
		return tx.Log(s.entry(a, "resume", a.because("resumed "+a.where())))
	})
	if errors.Is(err, state.ErrNoState) {
		return nil, fmt.Errorf("%w (nothing to resume before the first sync)", err)
	}
	if err != nil || was == nil {
		return nil, err
	}
	s.logged(a, "resume")
	return was, nil
}

// Retry releases failing people so the next cycle tries them at once: who
// is an Entra id, UPN or email (compared as pkg/address folds them) or a
// GoTo key; "" releases every quarantined account and state.EveryFailure
// everyone failing. It returns whom it released, each with a log entry.
func (s *Service) Retry(_ context.Context, a Actor, who string) ([]state.Failure, error) {
	var cleared []state.Failure
	err := s.update(func(tx *state.Tx) (err error) {
		if cleared, err = tx.ClearFailures(who); err != nil {
			return err
		}
		for _, f := range cleared {
			why := a.because(fmt.Sprintf("released after %d failed attempts of %s, %s", f.Count, f.Kind, a.where()))
			if err := tx.Log(s.personEntry(a, "retry", why, f.EntraID, f.UPN, f.Email, f.GoToKey)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, f := range cleared {
		s.logged(a, "retry", logkey.EntraID, f.EntraID, logkey.UPN, f.UPN, logkey.GoToKey, f.GoToKey)
	}
	return cleared, nil
}

// Staged returns the changes waiting for approval, sorted by Entra id: what
// a person looks at before choosing what to approve.
func (s *Service) Staged(context.Context) (staged []state.Staged, err error) {
	if ok, err := s.Live.Use(func(st *state.Store) (err error) { staged, err = st.Staged(); return err }); ok {
		return staged, err
	}
	st, err := state.Open(s.StatePath, state.Options{ReadOnly: true, MustExist: true, Binding: s.Binding, Timeout: s.wait()})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.Staged()
}

// Selection is what a person chose to approve, as they saw it: Entra id →
// the fingerprint of the staged change shown (its kind, account and
// fields; see plan).
type Selection map[string]string

// Shown selects every change in staged, as listed.
func Shown(staged []state.Staged) Selection {
	sel := Selection{}
	for _, st := range staged {
		sel[st.EntraID] = st.Fingerprint
	}
	return sel
}

// Select selects the changes in staged of the people named by who, each an
// Entra id, UPN or email (compared as pkg/address folds them) or a GoTo
// key. It returns the names that match no staged change.
func Select(staged []state.Staged, who []string) (Selection, []string) {
	sel := Selection{}
	var unmatched []string
	for _, w := range who {
		if w == "" {
			continue
		}
		f, found := address.Fold(w), false
		for _, st := range staged {
			if f == address.Fold(st.EntraID) || f == address.Fold(st.UPN) || (st.Email != "" && f == address.Fold(st.Email)) || (st.GoToKey != "" && w == st.GoToKey) {
				sel[st.EntraID], found = st.Fingerprint, true
			}
		}
		if !found {
			unmatched = append(unmatched, w)
		}
	}
	return sel, unmatched
}

// Approve approves the staged changes in sel, each bound to the
// fingerprint the person saw: one staged since, or changed since it was
// shown (another kind, account or fields), is not approved and waits. It
// returns what it approved, each with a log entry; the next cycle applies
// them.
func (s *Service) Approve(_ context.Context, a Actor, sel Selection) ([]state.Staged, error) {
	var approved []state.Staged
	err := s.update(func(tx *state.Tx) (err error) {
		if approved, err = tx.Approve(a.approver(), sel); err != nil {
			return err
		}
		for _, st := range approved {
			why := a.because(fmt.Sprintf("approved the staged %s (%s) %s", st.Kind, st.Reason, a.where()))
			if err := tx.Log(s.personEntry(a, "approve", why, st.EntraID, st.UPN, st.Email, st.GoToKey)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, st := range approved {
		s.logged(a, "approve", logkey.EntraID, st.EntraID, logkey.UPN, st.UPN, logkey.GoToKey, st.GoToKey, "fingerprint", st.Fingerprint)
	}
	return approved, nil
}

// ApproveAllShown approves every change staged now, each bound to its
// fingerprint as listed at this moment (`g2msync approve --all`, `run
// --once --allow-disables`); nothing and no error when none is staged.
func (s *Service) ApproveAllShown(ctx context.Context, a Actor) ([]state.Staged, error) {
	staged, err := s.Staged(ctx)
	if err != nil || len(staged) == 0 {
		return nil, err
	}
	return s.Approve(ctx, a, Shown(staged))
}
