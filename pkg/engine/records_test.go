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
		t.Helper()
		res, err := h.runWith(func(st *state.Store) Store { return decodeCounter{st, &decoded} }, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	run() // creates everyone: a new generation
	if res := run(); decoded != 2 || len(res.Plan.Changes) != 0 {
		t.Fatalf("after the first sync: %d decodes, %d changes; want 2 and none", decoded, len(res.Plan.Changes))
	}
	if res := run(); decoded != 2 || len(res.Plan.Changes) != 0 || res.Cycle.Owned != 5 {
		t.Fatalf("nothing written since: %d decodes (want 2, the records kept), %d changes, %d owned", decoded, len(res.Plan.Changes), res.Cycle.Owned)
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
	if decoded != 3 || res.Cycle.Owned != 4 || len(res.Plan.Changes) != 1 || res.Plan.Changes[0].EntraID != "u0001" || res.Plan.Changes[0].Kind != plan.KindAdopt {
		t.Fatalf("after another process dropped a record: %d decodes (want 3), %d owned, plan %+v; want u0001 adopted again", decoded, res.Cycle.Owned, res.Plan.Changes)
	}

	// The copy taken before holds u0001's record and its generation then,
	// which no later write reuses.
	if err := os.WriteFile(h.path, backup, 0o600); err != nil {
		t.Fatal(err)
	}
	if res := run(); decoded != 4 || res.Cycle.Owned != 5 || len(res.Plan.Changes) != 0 {
		t.Fatalf("after a restore: %d decodes (want 4), %d owned, %d changes", decoded, res.Cycle.Owned, len(res.Plan.Changes))
	}
}
