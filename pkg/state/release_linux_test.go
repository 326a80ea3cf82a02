//go:build linux

package state

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/g2msync/g2msync/pkg/plan"
)

// residentKB is how much of the file at path this process has resident
// through its mappings, from /proc/self/smaps.
func residentKB(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	kb, in := 0, false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && len(f[1]) == 4: // a mapping's first line
			in = len(f) >= 6 && f[len(f)-1] == path
		case in && len(f) == 3 && f[0] == "Rss:":
			n, _ := strconv.Atoi(f[1])
			kb += n
		}
	}
	return kb
}

// Opening the state file (its check walks every page) and reading every
// record used to leave the whole file mapped for the rest of the cycle:
// at 100,000 people, 92-95 MiB of RSS beside the cycle's heap. Both now
// give the pages back.
func TestWholeFileReadsDoNotStayResident(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var outs []Outcome
	for i := range 20000 {
		id := fmt.Sprintf("entra-%06d", i)
		rec := plan.Record{EntraID: id, GoToKey: fmt.Sprint(7000000 + i), Profile: plan.Profile{Email: id + "@x.com"}, State: plan.StateActive}
		outs = append(outs, Outcome{EntraID: id, Record: &rec, Audit: AuditEntry{EntraID: id, Action: "create", Result: ResultSuccess}})
	}
	if err := s.Commit(outs...); err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	limit := int(fi.Size()/1024) / 10 // a tenth of the file
	if kb := residentKB(t, real); kb > limit {
		t.Errorf("after opening a %d KiB file, %d KiB of it are resident; want at most %d", fi.Size()/1024, kb, limit)
	}
	recs, err := s.Records()
	if err != nil || len(recs) != 20000 {
		t.Fatalf("records: %d, %v", len(recs), err)
	}
	if kb := residentKB(t, real); kb > limit {
		t.Errorf("after reading every record, %d KiB of the %d KiB file are resident; want at most %d", kb, fi.Size()/1024, limit)
	}
	if _, _, err := s.OwnedCounts(); err != nil {
		t.Fatal(err)
	}
	if kb := residentKB(t, real); kb > limit {
		t.Errorf("after counting every record, %d KiB of the %d KiB file are resident; want at most %d", kb, fi.Size()/1024, limit)
	}
}

// Giving pages back while commits grow the file (bbolt then maps it
// anew) and other reads run must never touch memory that is no longer the
// file's: every read decodes every record, every time.
func TestReleaseBesideGrowingCommits(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	done := make(chan error, 1)
	go func() {
		for i := range 200 {
			var outs []Outcome
			for j := range 100 {
				id := fmt.Sprintf("entra-%03d-%03d", i, j)
				rec := plan.Record{EntraID: id, GoToKey: fmt.Sprint(i*1000 + j), Profile: plan.Profile{Email: id + "@x.com"}, State: plan.StateActive}
				outs = append(outs, Outcome{EntraID: id, Record: &rec, Audit: AuditEntry{EntraID: id, Action: "create", Result: ResultSuccess}})
			}
			if err := s.Commit(outs...); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	last := 0
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if recs, err := s.Records(); err != nil || len(recs) != 20000 {
				t.Fatalf("at the end: %d records, %v", len(recs), err)
			}
			return
		default:
		}
		recs, err := s.Records()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) < last || len(recs)%100 != 0 {
			t.Fatalf("read %d records after %d", len(recs), last)
		}
		for i := range recs {
			if want := recs[i].EntraID + "@x.com"; recs[i].Profile.Email != want {
				t.Fatalf("record %s reads %q", recs[i].EntraID, recs[i].Profile.Email)
			}
		}
		last = len(recs)
		if _, _, err := s.OwnedCounts(); err != nil {
			t.Fatal(err)
		}
	}
}

// The records' slice is sized from the last cycle's summary, which has no
// checksum: an edited one claiming a billion accounts sizes it by what the
// file could hold, and the records read are what the file holds.
func TestRecordsSizeHintIsBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := plan.Record{EntraID: "a", GoToKey: "1", Profile: plan.Profile{Email: "a@x.com"}, State: plan.StateActive}
	if err := s.Commit(Outcome{EntraID: "a", Record: &rec}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCycle(Cycle{ID: "c", Owned: 1_000_000_000}); err != nil {
		t.Fatal(err)
	}
	recs, err := s.Records()
	if err != nil || len(recs) != 1 || cap(recs) > 1_000_000 {
		t.Fatalf("records: %d (capacity %d), %v", len(recs), cap(recs), err)
	}
}

// The first cycle after an initial sync reads every record the initial
// sync created, though its summary says it started with none: the slice
// is sized for them from the start, not grown to them (growing held the
// last two copies at once, the no-change cycle's peak at 100,000 people).
func TestRecordsAfterAnInitialSyncAreSizedForIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const people = 3000
	var outs []Outcome
	for i := range people {
		id := fmt.Sprintf("entra-%06d", i)
		rec := plan.Record{EntraID: id, GoToKey: fmt.Sprint(7000000 + i), Profile: plan.Profile{Email: id + "@x.com"}, State: plan.StateActive}
		outs = append(outs, Outcome{EntraID: id, Record: &rec})
	}
	if err := s.Commit(outs...); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCycle(Cycle{ID: "c", Mode: "initial-sync", Owned: 0, Applied: map[string]int{"create": people - 10, "adopt": 10}}); err != nil {
		t.Fatal(err)
	}
	recs, err := s.Records()
	if err != nil || len(recs) != people {
		t.Fatalf("records: %d, %v", len(recs), err)
	}
	if want := people + people/16; cap(recs) != want {
		t.Errorf("the records' slice has room for %d, want %d: sized from the summary, not grown", cap(recs), want)
	}
}

// A cycle commits each change as it is made: at 100,000 people an initial
// sync's 1,000 commits left the whole file resident by its end (137 MiB
// of file-backed memory, with the binary, beside the heap); bbolt reads
// the branch and leaf pages each commit changes through its mapping.
// Commits now give the pages back as they go.
func TestCommitsDoNotStayResident(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	const people, batch = 20000, 100
	for start := 0; start < people; start += batch {
		var outs []Outcome
		for i := start; i < start+batch; i++ {
			// A batch of creates is in Entra id order, as the plan sends them.
			id := fmt.Sprintf("entra-%06d", i)
			rec := plan.Record{EntraID: id, GoToKey: fmt.Sprint(7000000 + i), Profile: plan.Profile{Email: id + "@x.com"}, State: plan.StateActive}
			outs = append(outs, Outcome{EntraID: id, Record: &rec, Audit: AuditEntry{EntraID: id, Action: "create", Result: ResultSuccess}})
		}
		if err := s.Commit(outs...); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if limit, kb := int(fi.Size()/1024)/10, residentKB(t, real); kb > limit {
		t.Errorf("after %d commits, %d KiB of the %d KiB file are resident; want at most %d", people/batch, kb, fi.Size()/1024, limit)
	}
}
