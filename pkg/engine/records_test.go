package engine

import (
	"os"
	"testing"

	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// decodeCounter is the state file, counting the reads of the owned
// records that decoded them.
type decodeCounter struct {
	*state.Store
	decoded *int
}

func (d decodeCounter) RecordsSince(gen string) ([]plan.Record, string, bool, error) {
	recs, cur, same, err := d.Store.RecordsSince(gen)
	if !same {
		*d.decoded++
	}
	return recs, cur, same, err
}

// TestOwnedRecordsAreKeptUntilWritten: a daemon's cycle decodes the owned
// records only when something wrote them since it last did. A write by
// another process between two cycles (here a record dropped, as `state
// rebuild` or an import could) and a file restored from a copy are both
// seen: a stale record would plan nothing for a person who needs a change.
func TestOwnedRecordsAreKeptUntilWritten(t *testing.T) {
	h := newHarness(t, 5)
	h.recordCache = &RecordCache{}
	decoded := 0
	run := func() *Result {
		return h.mustRunWith(func(st *state.Store) Store { return decodeCounter{st, &decoded} })
	}
	// The first sync creates everyone: the records it read (none) with
	// those it committed are kept, at the generation its commits wrote.
	run()
	if res := run(); decoded != 1 || len(res.Plan.Changes) != 0 || res.Cycle.Owned != 5 {
		t.Fatalf("after the first sync: %d decodes (want 1, the records kept), %d changes, %d owned", decoded, len(res.Plan.Changes), res.Cycle.Owned)
	}
	h.src.add("u0100", "user0100@contoso.com")
	if res := run(); decoded != 1 || len(res.Plan.Changes) != 1 {
		t.Fatalf("one new person: %d decodes, %d changes; want 1 and 1", decoded, len(res.Plan.Changes))
	}
	if res := run(); decoded != 1 || len(res.Plan.Changes) != 0 || res.Cycle.Owned != 6 {
		t.Fatalf("nothing written since: %d decodes (want 1), %d changes, %d owned", decoded, len(res.Plan.Changes), res.Cycle.Owned)
	}
	backup, err := os.ReadFile(h.path)
	if err != nil {
		t.Fatal(err)
	}

	st, err := state.Open(h.path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(state.Outcome{EntraID: "u0001", DeleteRecord: true}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	res := run()
	if decoded != 2 || res.Cycle.Owned != 5 || len(res.Plan.Changes) != 1 || res.Plan.Changes[0].EntraID != "u0001" || res.Plan.Changes[0].Kind != plan.KindAdopt {
		t.Fatalf("after another process dropped a record: %d decodes (want 2), %d owned, plan %+v; want u0001 adopted again", decoded, res.Cycle.Owned, res.Plan.Changes)
	}

	// The copy taken before holds u0001's record and its generation then,
	// which no later write reuses.
	if err := os.WriteFile(h.path, backup, 0o600); err != nil {
		t.Fatal(err)
	}
	if res := run(); decoded != 3 || res.Cycle.Owned != 6 || len(res.Plan.Changes) != 0 {
		t.Fatalf("after a restore: %d decodes (want 3), %d owned, %d changes", decoded, res.Cycle.Owned, len(res.Plan.Changes))
	}
}

// listWrites is the state file, counting the transactions that replace
// the skipped, staged and deferred lists.
type listWrites struct {
	*state.Store
	n *int
}

func (l listWrites) SetSkips(m map[string]string) error   { *l.n++; return l.Store.SetSkips(m) }
func (l listWrites) SetStaged(s []state.Staged) error     { *l.n++; return l.Store.SetStaged(s) }
func (l listWrites) SetDeferred(d []state.Deferred) error { *l.n++; return l.Store.SetDeferred(d) }

// A cycle writes the skipped, staged and deferred lists only when they
// changed: a cycle that changed nothing writes none of them (each was a
// write transaction and its syncs, every cycle).
func TestUnchangedListsAreNotRewritten(t *testing.T) {
	h := newHarness(t, 4)
	writes := 0
	run := func() *Result { return h.mustRunWith(func(st *state.Store) Store { return listWrites{st, &writes} }) }
	run()
	writes = 0
	if run(); writes != 0 {
		t.Errorf("a cycle with nothing to do replaced %d lists, want none", writes)
	}
	h.src.add("u0100", "user0001@contoso.com") // two people, one address: both skipped
	if res := run(); writes != 1 || res.Cycle.Skipped != 2 {
		t.Errorf("two new skips: %d lists replaced (want the skips alone), %d skipped", writes, res.Cycle.Skipped)
	}
	writes = 0
	if res := run(); writes != 0 || res.Cycle.Skipped != 2 {
		t.Errorf("the same skips again: %d lists replaced, want none (%d skipped)", writes, res.Cycle.Skipped)
	}
	if skips := h.skips(); len(skips) != 2 {
		t.Errorf("stored skips %v, want the two", skips)
	}
	// A disable over the threshold, staged the same way two cycles
	// running: the second writes no list (the gate it records is the same
	// by value, though not the same object).
	h.policy.MaxDisables = 0
	h.src.remove(h.src.snap.Users[1].ID)
	if res := run(); res.Cycle.Staged != 1 {
		t.Fatalf("staged %d, want the one", res.Cycle.Staged)
	}
	writes = 0
	if res := run(); writes != 0 || res.Cycle.Staged != 1 {
		t.Errorf("the same staged disable again: %d lists replaced, want none (%d staged)", writes, res.Cycle.Staged)
	}
}

func (h *harness) skips() map[string]string {
	h.t.Helper()
	return readState(h, (*state.Store).Skips)
}

// readState reads one thing from the state file, opened read-only.
func readState[T any](h *harness, read func(*state.Store) (T, error)) T {
	h.t.Helper()
	st, err := state.Open(h.path, state.Options{ReadOnly: true})
	if err != nil {
		h.t.Fatal(err)
	}
	defer st.Close()
	v, err := read(st)
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}

// mustRunWith runs a cycle on the state file as wrap wraps it.
func (h *harness) mustRunWith(wrap func(*state.Store) Store) *Result {
	h.t.Helper()
	res, err := h.runWith(wrap, Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}
