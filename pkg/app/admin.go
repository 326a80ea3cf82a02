package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/state"
)

// LoginGoTo signs g2msync in to GoTo as an administrator: login runs the
// sign-in (a browser's redirect, or a personal access token exchanged)
// with a client whose refresh token is kept in the state file, which it
// creates before the first sync. The provisioning log records who signed
// in, so that a later "GoTo refused the refresh token" can be traced to a
// person and a day.
func (s *Service) LoginGoTo(ctx context.Context, a Actor, login func(ctx context.Context, c *gotomeeting.Client, cfg gotomeeting.Config) error) error {
	if s.rt == nil {
		return errNoRuntime
	}
	open := func() (*state.Store, error) { return s.openCycle(false) }
	if s.rt.cfg.GoTo.AccountKey == "" {
		// A configuration still being set up (config.LoadSetup): with no
		// GoTo account to bind the state file to, the token goes to a file
		// of its own that the first sync, with the account set, takes over.
		open = func() (*state.Store, error) {
			return state.Open(s.StatePath, state.Options{TokensOnly: true, Timeout: 10 * time.Second})
		}
	}
	st, err := open()
	if err != nil {
		return err
	}
	defer st.Close()
	s.rt.tokens.set(st)
	defer s.rt.tokens.set(nil)
	cfg := s.rt.gotoCfg
	cfg.TokenStore = s.rt.tokens
	if err := login(ctx, s.rt.gotoc, cfg); err != nil {
		return err
	}
	err = st.Update(func(tx *state.Tx) error {
		return tx.Log(s.entry(a, "login", a.because("signed g2msync in to GoTo "+a.where())))
	})
	if err != nil {
		return fmt.Errorf("signed in, but the provisioning log entry failed: %w", err)
	}
	s.logged(a, "login")
	return nil
}

// ErrNothingToRebuild: the state file is readable and owns accounts, and
// the rebuild was not forced.
var ErrNothingToRebuild = errors.New("nothing to rebuild")

// Rebuilt is what a rebuild did.
type Rebuilt struct {
	Report *Report
	// Adopted is how many GoTo accounts of in-scope people were re-adopted;
	// Unprovisioned how many in-scope people have none or cannot have one.
	Adopted, Unprovisioned int
	// Aside is where the old file was moved, "" when there was none to
	// keep; Found says what was wrong with it.
	Aside, Found string
}

// Rebuild re-adopts the GoTo accounts of in-scope people into a state file
// that was lost, damaged or set aside (`g2msync state rebuild`): a full
// read that records ownership and changes nothing else.
//
// The rules of the old file: one that owns nothing is rebuilt into; a
// readable one that owns accounts only with force, and then it is kept
// aside; a damaged one is kept aside; one bound to another tenant, app or
// GoTo account is never moved, force or not, unless it owns nothing. A
// readable old file's refresh token is carried over (GoTo has rotated the
// configured one since). The provisioning log records who rebuilt it,
// beside the adoptions the cycle logs.
func (s *Service) Rebuild(ctx context.Context, a Actor, force bool) (*Rebuilt, error) {
	if s.rt == nil {
		return nil, errNoRuntime
	}
	unlock, err := state.Lock(s.StatePath)
	if err != nil {
		return nil, fmt.Errorf("%w; stop the daemon before rebuilding its state file", err)
	}
	defer unlock()
	out := &Rebuilt{}
	token := ""
	if _, err := os.Stat(s.StatePath); err == nil {
		st, err := state.Open(s.StatePath, state.Options{Binding: s.Binding, ReadOnly: true})
		switch {
		case err == nil:
			recs, _ := st.Records()
			token, _ = st.RefreshToken(ctx)
			st.Close()
			if len(recs) > 0 && !force {
				return nil, fmt.Errorf("state file %s is readable: %w (--force rebuilds it anyway, keeping the old one)", s.StatePath, ErrNothingToRebuild)
			}
			if len(recs) == 0 {
				// A file that owns nothing yet (say, a rebuild that stopped
				// for a login): rebuilding into it loses nothing.
				token = ""
				return s.rebuild(ctx, a, out)
			}
			out.Found = "readable, rebuilt as asked (--force)"
		case errors.Is(err, state.ErrCorrupt):
			out.Found = err.Error()
		case errors.As(err, new(*state.BindingError)) && force && ownsNothing(s.StatePath):
			// Bound by mistake (a check with a mistyped account key, before
			// check stopped binding files): it owns nothing, so moving it
			// aside loses nothing.
			out.Found = "bound to another setup but owns no account: " + err.Error()
		default:
			// In use, or another tenant's, app's or GoTo account's file:
			// not ours to move, force or not.
			return nil, err
		}
		out.Aside = fmt.Sprintf("%s.corrupt-%s", s.StatePath, s.now().UTC().Format("20060102T150405Z"))
		if err := os.Rename(s.StatePath, out.Aside); err != nil {
			return nil, fmt.Errorf("move the old state file aside: %w", err)
		}
	}
	if token != "" {
		st, err := s.openCycle(false)
		if err != nil {
			return out, err
		}
		err = st.SaveRefreshToken(ctx, token)
		st.Close()
		if err != nil {
			return out, err
		}
	}
	return s.rebuild(ctx, a, out)
}

// rebuild runs the adopt-only cycle into the state file and logs it.
func (s *Service) rebuild(ctx context.Context, a Actor, out *Rebuilt) (*Rebuilt, error) {
	rep, err := s.Cycle(ctx, engine.Options{InitialSync: true, AdoptOnly: true})
	out.Report = rep
	if err != nil {
		return out, err
	}
	res := rep.Result
	out.Adopted = res.Cycle.Applied["adopt"]
	for _, c := range res.Plan.Skips {
		if c.Prior == nil && c.GoToKey == "" {
			out.Unprovisioned++
		}
	}
	lerr := s.update(func(tx *state.Tx) error {
		e := s.entry(a, "rebuild", a.because(fmt.Sprintf("rebuilt the state file %s: re-adopted %d GoTo accounts", a.where(), out.Adopted)))
		e.CycleID = res.CycleID
		return tx.Log(e)
	})
	if lerr != nil {
		return out, fmt.Errorf("rebuilt, but the provisioning log entry failed: %w", lerr)
	}
	s.logged(a, "rebuild")
	return out, nil
}

// ownsNothing reports whether the state file at path owns no account.
func ownsNothing(path string) bool {
	st, err := state.Open(path, state.Options{ReadOnly: true})
	if err != nil {
		return false
	}
	defer st.Close()
	recs, err := st.Records()
	return err == nil && len(recs) == 0
}

// BackedUp is what a backup wrote.
type BackedUp struct {
	Bytes            int64
	Accounts, Cycles int
}

// Backup writes a consistent copy of the state file to path
// (`g2msync state backup`): beside a cycle of this process, from one read
// transaction; otherwise from the file opened read-only, which waits for a
// cycle of another process to end (Wait). It then opens the copy as a
// state file, so a backup that would not restore is an error now, not on
// the day it is needed. A backup needs no secrets and binds nothing.
func (s *Service) Backup(_ context.Context, path string, replace bool) (*BackedUp, error) {
	b := &BackedUp{}
	write := func(st *state.Store) (err error) {
		b.Bytes, err = st.BackupTo(path, replace)
		return err
	}
	if ok, err := s.Live.Use(write); !ok {
		st, oerr := state.Open(s.StatePath, state.Options{ReadOnly: true, MustExist: true, Binding: s.Binding, Timeout: s.wait()})
		if oerr != nil {
			return nil, oerr
		}
		err = write(st)
		st.Close()
		if err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	copied, err := state.Open(path, state.Options{ReadOnly: true, Binding: s.Binding})
	if err != nil {
		return nil, fmt.Errorf("the backup %s does not open as a state file: %w", path, err)
	}
	defer copied.Close()
	active, disabled, err := copied.OwnedCounts()
	if err != nil {
		return nil, fmt.Errorf("read the backup %s: %w", path, err)
	}
	cycles, err := copied.Cycles(0)
	if err != nil {
		return nil, fmt.Errorf("read the backup %s: %w", path, err)
	}
	b.Accounts, b.Cycles = active+disabled, len(cycles)
	return b, nil
}

// FirstSyncDone reports whether the state file records a cycle that
// applied its plan (a success, or one that left changes failing, deferred
// or staged for a person): `g2msync bootstrap` runs the first sync only
// when not. A missing file, or one holding only a GoTo token (a `login`
// or `check` before the first sync), has none.
func (s *Service) FirstSyncDone() (bool, error) {
	if _, err := os.Lstat(s.StatePath); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	st, err := state.Open(s.StatePath, state.Options{ReadOnly: true, Binding: s.Binding, Timeout: waitShort})
	if err != nil {
		return false, err
	}
	defer st.Close()
	cycles, err := st.Cycles(0)
	if err != nil {
		return false, err
	}
	for _, cy := range cycles {
		switch cy.Outcome {
		case engine.OutcomeSuccess, engine.OutcomePartial, engine.OutcomeStaged:
			return true, nil
		}
	}
	return false, nil
}
