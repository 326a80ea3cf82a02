package engine

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"
	"weak"

	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
	"github.com/google/go-cmp/cmp"
)

// TestACycleWritesWithoutHoldingWhatItRead: a cycle that keeps nothing
// for a next one (`run --once`: no picture, record or mapping cache) needs
// the snapshot, the owned records and the GoTo listing only until its plan
// is computed; its calls then take minutes (a reconcile at 100,000 people,
// three and a half). Held through them, they were most of the process's
// peak memory (issue 30: 373-400 MiB). Checked at the cycle's first write,
// and for the snapshot when the records are read: the two together were
// the peak of a cycle that changed nothing.
func TestACycleWritesWithoutHoldingWhatItRead(t *testing.T) {
	h := newHarness(t, 40)
	h.recordCache = nil
	h.mustRun(Options{})
	h.src.edit("u0007", func(u *directory.User) { u.Attributes["surname"] = "Renamed" })
	h.target.byEmail("user0011@contoso.com").FirstName = "Drifted"

	w := &watched{fakeTarget: h.target}
	st, err := state.Open(h.path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e := h.engine(st, false)
	e.Source, e.Store, e.Reader, e.Writer = watchedSource{h.src, w}, watchedStore{st, w}, watchedReader{h.target, w}, w
	res, err := e.Run(context.Background(), Options{Reconcile: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Cycle.Applied[string(plan.KindUpdate)]; got != 2 {
		t.Fatalf("applied %d updates, want 2 (the renamed person and the drifted account)", got)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.checked {
		t.Fatal("no write was checked")
	}
	for _, what := range w.held {
		t.Errorf("the cycle still held %s", what)
	}
}

// watched notes weak pointers to what a cycle reads, and at its first
// write which of them are still held.
type watched struct {
	*fakeTarget
	mu       sync.Mutex
	snapshot weak.Pointer[directory.User]
	records  weak.Pointer[plan.Record]
	listing  []weak.Pointer[string] // a licence list of each listed account
	checked  bool
	held     []string
}

func (w *watched) UpdateUser(ctx context.Context, key string, up gotomeeting.Update) error {
	w.mu.Lock()
	if !w.checked {
		w.checked = true
		runtime.GC()
		if w.snapshot.Value() != nil {
			w.held = append(w.held, "(at its first write) the directory snapshot")
		}
		if w.records.Value() != nil {
			w.held = append(w.held, "(at its first write) the owned records")
		}
		// The changes keep what they start from (at most one account
		// each); the rest of the listing must be gone.
		live := 0
		for _, p := range w.listing {
			if p.Value() != nil {
				live++
			}
		}
		if len(w.listing) < 10 || live > 2 {
			w.held = append(w.held, fmt.Sprintf("(at its first write) %d of the %d accounts GoTo listed", live, len(w.listing)))
		}
	}
	w.mu.Unlock()
	return w.fakeTarget.UpdateUser(ctx, key, up)
}

type watchedSource struct {
	*fakeSource
	w *watched
}

func (s watchedSource) Read(ctx context.Context) (*directory.Snapshot, error) {
	snap, err := s.fakeSource.Read(ctx)
	if err == nil {
		s.w.snapshot = weak.Make(&snap.Users[0])
	}
	return snap, err
}

type watchedStore struct {
	*state.Store
	w *watched
}

func (s watchedStore) Records() ([]plan.Record, error) {
	runtime.GC()
	if s.w.snapshot.Value() != nil {
		s.w.mu.Lock()
		s.w.held = append(s.w.held, "(when the records were read) the directory snapshot")
		s.w.mu.Unlock()
	}
	rs, err := s.Store.Records()
	if err == nil {
		s.w.records = weak.Make(&rs[0])
	}
	return rs, err
}

type watchedReader struct {
	*fakeTarget
	w *watched
}

// ListUsers passes each account with a licence list of its own, and
// notes a weak pointer to each list: the plan's Remotes share them.
func (r watchedReader) ListUsers(ctx context.Context, each func(gotomeeting.User) error) error {
	return r.fakeTarget.ListUsers(ctx, func(u gotomeeting.User) error {
		if len(u.Licenses) > 0 {
			u.Licenses = slices.Clone(u.Licenses)
			r.w.mu.Lock()
			r.w.listing = append(r.w.listing, weak.Make(&u.Licenses[0]))
			r.w.mu.Unlock()
		}
		return each(u)
	})
}

// TestTheListingSharesWhatAccountsRepeat: GoTo's reply gives each account
// its own copy of its licence list, locale and time zone; the plan's
// Remotes keep one of each (7 MB of a reconcile at 100,000 accounts).
func TestTheListingSharesWhatAccountsRepeat(t *testing.T) {
	h := newHarness(t, 20)
	h.mustRun(Options{})
	for _, u := range h.target.users {
		u.Locale, u.TimeZone = "en_US", "Europe/Paris"
	}
	e := h.engine(nil, true)
	e.Reader = ownCopies{h.target}
	c := &cycle{e: e}
	listed, err := c.listUsers(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 20 {
		t.Fatalf("listed %d accounts, want 20", len(listed))
	}
	first := listed[0]
	for _, rm := range listed[1:] {
		if &rm.Licenses[0] != &first.Licenses[0] || unsafe.StringData(rm.Profile.TimeZone) != unsafe.StringData(first.Profile.TimeZone) ||
			unsafe.StringData(rm.Profile.Locale) != unsafe.StringData(first.Profile.Locale) {
			t.Fatalf("%s keeps its own licence list, locale or time zone", rm.Profile.Email)
		}
	}
}

// ownCopies passes each listed account with copies of its own, as
// decoding a reply makes them.
type ownCopies struct{ *fakeTarget }

func (r ownCopies) ListUsers(ctx context.Context, each func(gotomeeting.User) error) error {
	return r.fakeTarget.ListUsers(ctx, func(u gotomeeting.User) error {
		u.Licenses = slices.Clone(u.Licenses)
		u.Locale, u.TimeZone = strings.Clone(u.Locale), strings.Clone(u.TimeZone)
		return each(u)
	})
}

// TestOwnedCountsKeepNothingPerRecord: the counts of owned accounts
// (Result.Owned) cost the same whatever the number of records; only the
// people the plan changes are kept, and a change counts in place of the
// record it replaces.
func TestOwnedCountsKeepNothingPerRecord(t *testing.T) {
	records := make([]plan.Record, 5000)
	for i := range records {
		records[i] = plan.Record{EntraID: fmt.Sprintf("u%05d", i), State: plan.StateActive, Licenses: []string{"1001"}}
	}
	records[7].State = plan.StateDisabled
	if n := testing.AllocsPerRun(5, func() { newOwnedTally(records) }); n > 10 {
		t.Errorf("counting %d records made %v allocations, want a few whatever their number", len(records), n)
	}
	tally := newOwnedTally(records)
	p := &plan.Plan{Changes: []plan.Change{{EntraID: "u00007", Kind: plan.KindEnable}, {EntraID: "u00008", Kind: plan.KindDelete}, {EntraID: "new", Kind: plan.KindCreate}}}
	tally.expect(records, p)
	if len(tally.current) != 3 {
		t.Fatalf("kept %d people, want the 3 the plan changes", len(tally.current))
	}
	tally.replace("u00007", &plan.Record{State: plan.StateActive, Licenses: []string{"1001"}})
	tally.replace("u00008", nil)
	tally.replace("new", &plan.Record{State: plan.StateDisabled, Licenses: []string{"2002"}})
	want := OwnedCounts{Active: 4999, Disabled: 1, Licenses: plan.Holders{"1001": {Active: 4999}, "2002": {Suspended: 1}}}
	if diff := cmp.Diff(want, tally.counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

// TestRecordsShareTheirAccountsStrings: a cycle that keeps nothing holds
// its records and its mapped accounts together; a record's Entra id, UPN,
// address and names become its account's own strings where equal, in
// whatever order the accounts come, and nothing else changes.
func TestRecordsShareTheirAccountsStrings(t *testing.T) {
	own := func(s string) string { return strings.Clone(s) }
	var accounts []plan.Account
	var records []plan.Record
	for _, id := range []string{"c", "a", "d", "b"} { // the snapshot's order
		accounts = append(accounts, plan.Account{EntraID: id, UPN: id + "@x.com",
			Profile: plan.Profile{Email: id + "@x.com", FirstName: "F" + id, LastName: "L" + id}})
	}
	for _, id := range []string{"a", "b", "c", "e"} { // the state file's order
		records = append(records, plan.Record{EntraID: own(id), UPN: own(id + "@x.com"),
			Profile: plan.Profile{Email: own(id + "@x.com"), FirstName: own("F" + id), LastName: "renamed"}})
	}
	before := slices.Clone(records)
	shareStrings(records, accounts)
	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
	for i, r := range records {
		if diff := cmp.Diff(before[i], r); diff != "" {
			t.Errorf("record %s changed (-before +after):\n%s", r.EntraID, diff)
		}
		j := slices.IndexFunc(accounts, func(a plan.Account) bool { return a.EntraID == r.EntraID })
		if j < 0 {
			if !same(r.UPN, before[i].UPN) {
				t.Errorf("record %s has no account but its strings moved", r.EntraID)
			}
			continue
		}
		a := accounts[j]
		if !same(r.EntraID, a.EntraID) || !same(r.UPN, a.UPN) || !same(r.Profile.Email, a.Profile.Email) || !same(r.Profile.FirstName, a.Profile.FirstName) {
			t.Errorf("record %s keeps its own copies of what its account holds", r.EntraID)
		}
		if same(r.Profile.LastName, a.Profile.LastName) {
			t.Errorf("record %s took its account's different surname", r.EntraID)
		}
	}
	// Records out of Entra id order share nothing.
	rs := []plan.Record{{EntraID: own("b"), UPN: own("b@x.com")}, {EntraID: own("a"), UPN: own("a@x.com")}}
	shareStrings(rs, accounts)
	if same(rs[0].UPN, accounts[3].UPN) {
		t.Error("records out of order were shared")
	}
}
