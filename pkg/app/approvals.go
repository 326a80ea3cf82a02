package app

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/g2msync/g2msync/pkg/logkey"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// ApprovalGroup is the staged changes one cause holds: the threshold a
// cycle exceeded, with its numbers, or an operator's keep. A person
// approves a group at once, or picks rows of it.
type ApprovalGroup struct {
	// Cause says what holds the group, e.g. "14 disables in one cycle, over
	// the limit of 10 (safety.max_disables)"; Note, when set, what to know
	// of a group no threshold holds.
	Cause, Note string
	// Gate is the threshold and its figures; nil for the changes staged
	// only because an operator kept them, or staged before the threshold
	// was recorded.
	Gate *plan.Gate
	Rows []ApprovalRow
	// Approvable counts the rows not kept: what "approve all" approves.
	Approvable int
}

// ApprovalRow is one staged change and, when an operator kept it staged,
// their keep.
type ApprovalRow struct {
	state.Staged
	Kept *state.Keep
}

// Causes of groups with no threshold recorded, and what to know of them.
const (
	causeKeptOnly = "Kept staged by an operator"
	noteKeptOnly  = "Within the thresholds now: once released, each goes with the next cycle unless a threshold stages it again."
	causeUnknown  = "Staged by an earlier g2msync"
	noteUnknown   = "It did not record the threshold exceeded; the next cycle records it."
)

// GroupStaged groups staged changes by the cause that holds them, the
// largest group first; rows keep their Entra id order, and kept rows are
// marked with their keep.
func GroupStaged(staged []state.Staged, kept map[string]state.Keep) []ApprovalGroup {
	var groups []ApprovalGroup
	index := map[string]int{}
	for _, st := range staged {
		row := ApprovalRow{Staged: st}
		if k, ok := kept[st.EntraID]; ok {
			row.Kept = &k
		}
		cause, note := causeUnknown, noteUnknown
		switch {
		case st.Gate != nil:
			cause, note = st.Gate.Text(), ""
		case row.Kept != nil:
			cause, note = causeKeptOnly, noteKeptOnly
		}
		i, ok := index[cause]
		if !ok {
			i = len(groups)
			index[cause] = i
			groups = append(groups, ApprovalGroup{Cause: cause, Note: note, Gate: st.Gate})
		}
		g := &groups[i]
		g.Rows = append(g.Rows, row)
		if row.Kept == nil {
			g.Approvable++
		}
	}
	slices.SortStableFunc(groups, func(a, b ApprovalGroup) int { return cmp.Compare(len(b.Rows), len(a.Rows)) })
	return groups
}

// Approvals is what the console's approvals page shows: the staged
// changes grouped by cause, read as a page reads (ErrBusy rather than
// wait on another process's cycle).
func (s *Service) Approvals(context.Context) ([]ApprovalGroup, error) {
	var staged []state.Staged
	var kept map[string]state.Keep
	err := s.pageRead(func(st *state.Store) (err error) {
		if staged, err = st.Staged(); err != nil {
			return err
		}
		kept, err = st.Kept()
		return err
	})
	if err != nil {
		return nil, err
	}
	return GroupStaged(staged, kept), nil
}

// Kept returns the operators' keeps of staged changes, by Entra id, read
// as Staged reads: `g2msync approve` leaves them out of what it approves.
func (s *Service) Kept(context.Context) (kept map[string]state.Keep, err error) {
	if ok, err := s.Live.Use(func(st *state.Store) (err error) { kept, err = st.Kept(); return err }); ok {
		return kept, err
	}
	st, err := state.Open(s.StatePath, state.Options{ReadOnly: true, MustExist: true, Binding: s.Binding, Timeout: s.wait()})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.Kept()
}

// maxKeepReason bounds a keep's reason: it is stored with the keep and in
// the provisioning log, and shown on every approvals page.
const maxKeepReason = 1024

// Keep records that the staged changes of the people in ids must not go:
// no approval, --allow-disables or fall under the thresholds releases them
// until Release. Their approvals are withdrawn. It returns what it kept,
// each with a log entry naming the actor and their reason; one not staged
// now, or already kept, is left out.
func (s *Service) Keep(_ context.Context, a Actor, ids []string) ([]state.Staged, error) {
	if len(a.Reason) > maxKeepReason {
		return nil, fmt.Errorf("the reason is %d bytes; say it in at most %d, nothing was kept", len(a.Reason), maxKeepReason)
	}
	var kept []state.Staged
	err := s.update(func(tx *state.Tx) (err error) {
		if kept, err = tx.Keep(a.approver(), a.Reason, ids); err != nil {
			return err
		}
		for _, st := range kept {
			why := a.because(fmt.Sprintf("kept the staged %s staged %s: no approval releases it until an operator does", st.Kind, a.where()))
			if err := tx.Log(s.personEntry(a, "keep", why, st.EntraID, st.UPN, st.Email, st.GoToKey)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, st := range kept {
		s.logged(a, "keep", logkey.EntraID, st.EntraID, logkey.UPN, st.UPN, logkey.GoToKey, st.GoToKey)
	}
	return kept, nil
}

// Release lifts the keeps of the people in ids: their staged changes may
// be approved again (each still needs its approval, unless the next cycle
// finds it within the thresholds). It returns the keeps it lifted, each
// with a log entry.
func (s *Service) Release(_ context.Context, a Actor, ids []string) ([]state.Keep, error) {
	var released []state.Keep
	var staged []state.Staged
	err := s.update(func(tx *state.Tx) (err error) {
		if released, err = tx.Release(ids); err != nil {
			return err
		}
		if staged, err = tx.Staged(); err != nil {
			return err
		}
		for _, k := range released {
			st := state.Staged{EntraID: k.EntraID}
			if i := slices.IndexFunc(staged, func(x state.Staged) bool { return x.EntraID == k.EntraID }); i >= 0 {
				st = staged[i]
			}
			why := a.because(fmt.Sprintf("released the staged %s kept by %s %s", cmp.Or(string(st.Kind), "change"), k.By, a.where()))
			if err := tx.Log(s.personEntry(a, "release", why, st.EntraID, st.UPN, st.Email, st.GoToKey)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, k := range released {
		s.logged(a, "release", logkey.EntraID, k.EntraID)
	}
	return released, nil
}
