package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/logkey"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// Report is what a cycle did, for the daemon, the CLI and the console.
type Report struct {
	// Result is the engine's result; nil if the cycle failed before it ran.
	Result *engine.Result
	// After the cycle, from the state file:
	Staged []state.Staged
	// Kept are the operators' keeps, by Entra id: the staged rows among
	// them wait for a release, not an approval.
	Kept          map[string]state.Keep
	Deferred      []state.Deferred
	Failures      []state.Failure
	OwnedActive   int
	OwnedDisabled int
	// Paused, when set, says a person paused provisioning: the cycle did
	// nothing, and that is no failure.
	Paused *state.Pause
	// AuthFailure, when the cycle failed because Entra or GoTo refused the
	// credentials, says what to do; StageReason says why disables were staged.
	AuthFailure string
	StageReason string
	// Licenses are GoTo's licences with who holds their seats (accounts
	// g2msync manages, active and suspended, and the others), when the
	// cycle read the licences; nil when it did not.
	Licenses []LicenseView
}

// Cycle runs one cycle: it opens the state file for its duration, shares
// it with this process's readers and actions, asks plan.Begin how to
// begin (a pause, a requested full sync), runs the engine, and prunes the
// provisioning log past its retention.
func (s *Service) Cycle(ctx context.Context, opts engine.Options) (*Report, error) {
	if s.rt == nil {
		return nil, errNoRuntime
	}
	if opts.DryRun {
		return s.dryRun(ctx, opts)
	}
	// Only a first or full sync may start a state file; a regular cycle that
	// finds none has lost it.
	st, err := s.openCycle(!opts.InitialSync && !opts.AdoptOnly)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	s.Live.Set(st) // readers and actions in this process use it beside the cycle
	defer s.Live.Set(nil)
	start, paused, err := s.begin(st, opts)
	if err != nil {
		return nil, err
	}
	if !start.Run {
		return &Report{Paused: paused}, nil
	}
	opts.InitialSync, opts.Reconcile = start.Full, start.Reconcile
	s.rt.tokens.set(st)
	defer s.rt.tokens.set(nil)
	began := s.now()
	res, err := s.engine(st, false).Run(ctx, opts)
	// What the cycle did stands even if recording the request or the
	// reconcile below fails: the report goes out with both errors.
	if start.Settle && err == nil {
		if cerr := st.RequestFullSync(nil); cerr != nil {
			err = fmt.Errorf("settle the full-sync request: %w", cerr)
		}
	}
	if (start.Full || start.Reconcile) && !opts.AdoptOnly && reconciled(res, err) {
		if cerr := st.SetReconciled(state.Reconciled{At: began, CycleID: res.CycleID}); cerr != nil {
			err = errors.Join(err, fmt.Errorf("record the reconcile: %w", cerr))
		}
	}
	if res != nil {
		s.noteLicenses(res.Licenses)
	}
	rep := &Report{Result: res, AuthFailure: AuthFailure(err)}
	if res != nil && res.Plan != nil {
		rep.StageReason = res.Plan.StageReason
	}
	s.fillReport(st, rep)
	if n, perr := st.PruneAudit(s.now().Add(-s.rt.cfg.AuditRetention.D())); perr != nil {
		s.log().Warn("prune the provisioning log", logkey.Error, perr.Error())
	} else if n > 0 {
		s.log().Info("pruned old provisioning log entries", logkey.Count, n)
	}
	return rep, err
}

// reconciled says whether a cycle that listed every GoTo account counts
// as the last reconcile: it ran to its end and no change failed, so every
// drift it found was repaired, reported, or waits for a cause status shows
// (seats, approval). A failed repair is not retried from the state file,
// which does not show the drift: the next cycle reconciles again.
func reconciled(res *engine.Result, err error) bool {
	return err == nil && res != nil && len(res.Errors) == 0 && len(res.Cycle.Failed) == 0
}

// pauseAndRequest is what plan.Begin reads of the state file.
type pauseAndRequest interface {
	Paused() (*state.Pause, error)
	FullSyncRequested() (*state.FullSyncRequest, error)
	LastReconciled() (*state.Reconciled, error)
}

// begin reads the pause and any full-sync request from st (nil: no state
// file) and asks plan.Begin how the cycle begins.
func (s *Service) begin(st pauseAndRequest, opts engine.Options) (plan.Start, *state.Pause, error) {
	o := plan.Opening{DryRun: opts.DryRun, AdoptOnly: opts.AdoptOnly, InitialSync: opts.InitialSync}
	if st == nil {
		return plan.Begin(o), nil, nil // nothing is owned yet: no drift to find
	}
	o.ReconcileEvery, o.Now = s.rt.cfg.GoTo.ReconcileInterval.D(), s.now()
	p, err := st.Paused()
	if err != nil {
		return plan.Start{}, nil, err
	}
	if p != nil {
		o.Paused = p.Text()
	}
	full, err := st.FullSyncRequested()
	if err != nil {
		return plan.Start{}, nil, err
	}
	if full != nil {
		o.FullSyncAsked = full.By
		if !opts.AdoptOnly {
			s.log().Info("full sync requested", "by", full.By, "at", full.At)
		}
	}
	last, err := st.LastReconciled()
	if err != nil {
		return plan.Start{}, nil, err
	}
	if last != nil {
		o.Reconciled = last.At
	}
	return plan.Begin(o), p, nil
}

// dryRun plans without changing GoTo. It never creates or binds the state
// file: before the first sync there is none, and the plan starts from
// nothing owned. An existing file is opened writable for one reason: GoTo
// may rotate the refresh token during the plan's reads, and the rotated
// token must be kept or the next cycle is locked out. The engine itself
// writes nothing in a dry run.
func (s *Service) dryRun(ctx context.Context, opts engine.Options) (*Report, error) {
	st, err := s.openExisting()
	if err != nil {
		return nil, err
	}
	var store engine.Store = emptyStore{}
	rep := &Report{}
	if st != nil {
		defer st.Close()
		start, paused, err := s.begin(st, opts)
		if err != nil {
			return nil, err
		}
		opts.InitialSync, opts.Reconcile, rep.Paused = start.Full, start.Reconcile, paused
		s.rt.tokens.set(st)
		defer s.rt.tokens.set(nil)
		store = readOnlyStore{st}
	}
	rep.Result, err = s.engine(store, true).Run(ctx, opts)
	return rep, err
}

func (s *Service) fillReport(st *state.Store, rep *Report) {
	if rep.Result != nil && rep.Result.Owned != nil {
		rep.OwnedActive, rep.OwnedDisabled = rep.Result.Owned.Active, rep.Result.Owned.Disabled
	} else if active, disabled, err := st.OwnedCounts(); err == nil {
		rep.OwnedActive, rep.OwnedDisabled = active, disabled
	}
	rep.Staged, _ = st.Staged()
	rep.Kept, _ = st.Kept()
	rep.Deferred, _ = st.Deferred()
	rep.Failures, _ = st.Failures()
	if res := rep.Result; res != nil && res.Licenses != nil && res.Owned != nil {
		// The engine counted the holders from the records it holds: the
		// state file is not read again for them.
		rep.Licenses = ComputeLicenses(LicenseInputs{Now: s.now(), Licenses: res.Licenses, Holders: res.Owned.Licenses, Deferred: rep.Deferred}).Licenses
	}
}

// Awaiting are the staged rows waiting for an approval: those no
// operator kept.
func (r *Report) Awaiting() []state.Staged { return Awaiting(r.Staged, r.Kept) }

// Awaiting are the rows of staged waiting for an approval: those no
// operator kept (kept, by Entra id), which wait for a release instead.
// The one rule behind exit 3, the staged-disables gauge and mail,
// `status` and the statistics.
func Awaiting(staged []state.Staged, kept map[string]state.Keep) []state.Staged {
	var out []state.Staged
	for _, s := range staged {
		if _, k := kept[s.EntraID]; !k {
			out = append(out, s)
		}
	}
	return out
}

// AuthFailure says what to do when a cycle failed because Entra or GoTo
// refused g2msync's credentials, or "" for any other failure.
func AuthFailure(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, directory.ErrCredentials):
		return "Entra refused g2msync's credentials: " + err.Error()
	case errors.Is(err, gotomeeting.ErrRefreshTokenRejected), errors.Is(err, gotomeeting.ErrNotLoggedIn):
		return "GoTo refused g2msync's refresh token; an administrator must run `g2msync login goto`. " + err.Error()
	case errors.Is(err, gotomeeting.ErrUnauthorized), errors.Is(err, gotomeeting.ErrForbidden):
		return "GoTo refused g2msync's credentials or the admin's role: " + err.Error() +
			"; check goto.client_id and its secret, the admin's SUPER_USER or MANAGE_USERS role, then `g2msync check`"
	}
	return ""
}

// waitShort is how long a short read waits for a cycle of another process.
const waitShort = 10 * time.Second
