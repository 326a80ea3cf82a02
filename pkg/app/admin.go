package app

import (
	"context"
	"fmt"

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
	st, err := s.openCycle(false)
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

// Rebuild re-adopts the GoTo accounts of in-scope people into a state file
// that was lost or set aside (`g2msync state rebuild`): a full read that
// records ownership and changes nothing else. The provisioning log records
// who rebuilt it, beside the adoptions the cycle logs.
func (s *Service) Rebuild(ctx context.Context, a Actor) (*Report, error) {
	rep, err := s.Cycle(ctx, engine.Options{InitialSync: true, AdoptOnly: true})
	if err != nil {
		return rep, err
	}
	adopted := 0
	if rep.Result != nil {
		adopted = rep.Result.Cycle.Applied["adopt"]
	}
	lerr := s.update(func(tx *state.Tx) error {
		e := s.entry(a, "rebuild", a.because(fmt.Sprintf("rebuilt the state file %s: re-adopted %d GoTo accounts", a.where(), adopted)))
		if rep.Result != nil {
			e.CycleID = rep.Result.CycleID
		}
		return tx.Log(e)
	})
	if lerr != nil {
		return rep, fmt.Errorf("rebuilt, but the provisioning log entry failed: %w", lerr)
	}
	s.logged(a, "rebuild")
	return rep, nil
}
