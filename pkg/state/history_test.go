package state

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// EachCycleSince reads the cycles from a time on, oldest first, in small
// read transactions that together miss none and repeat none, whatever the
// batch; a damaged cycle is counted and left out.
func TestEachCycleSinceReadsInBatches(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "state.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 50 {
		at := t0.Add(time.Duration(i) * 6 * time.Hour)
		if err := st.SaveCycle(Cycle{ID: fmt.Sprintf("c%02d", i), Start: at, End: at}); err != nil {
			t.Fatal(err)
		}
	}
	// Two cycles at the same instant are both read.
	if err := st.SaveCycle(Cycle{ID: "c20b", Start: t0.Add(20 * 6 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// A damaged cycle (cycle 30's value overwritten).
	if err := st.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCycles).Put(append(u64(uint64(t0.Add(30*6*time.Hour).UnixNano())), "c30"...), []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{0, 1, 2, 3, 7, 50, 1000} {
		var ids []string
		damaged, err := st.EachCycleSince(t0.Add(10*6*time.Hour), batch, func(c *Cycle) error { ids = append(ids, c.ID); return nil })
		if err != nil {
			t.Fatal(err)
		}
		// Cycles 10 to 49, and c20b after c20; c30 is damaged.
		if len(ids) != 40 || ids[0] != "c10" || ids[11] != "c20b" || ids[len(ids)-1] != "c49" || damaged != 1 {
			t.Errorf("batch %d: %d cycles %v, %d damaged", batch, len(ids), ids, damaged)
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] == ids[i-1] {
				t.Errorf("batch %d: %s read twice", batch, ids[i])
			}
		}
	}
	// Before 1970 means from the first.
	n := 0
	if _, err := st.EachCycleSince(time.Time{}, 0, func(*Cycle) error { n++; return nil }); err != nil || n != 50 {
		t.Errorf("since the zero time: %d cycles, %v", n, err)
	}
}
