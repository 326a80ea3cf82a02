package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/mapping"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

type harness struct {
	t      *testing.T
	src    *fakeSource
	target *fakeTarget
	path   string
	policy plan.Policy
	now    time.Time
	// inFlight is the engine's InFlight.
	inFlight int
	// recordCache is the engine's Records: nil keeps nothing.
	recordCache *RecordCache
}

func newHarness(t *testing.T, people int) *harness {
	t.Helper()
	h := &harness{t: t, src: &fakeSource{}, target: newFakeTarget(), path: filepath.Join(t.TempDir(), "state.db"),
		now: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC), recordCache: &RecordCache{}}
	h.src.snap.App = directory.App{ID: "sp", Roles: []directory.AppRole{{ID: roleUser, Value: "User"}}}
	for i := range people {
		h.src.add(fmt.Sprintf("u%04d", i), fmt.Sprintf("user%04d@contoso.com", i))
	}
	h.policy = plan.DefaultPolicy()
	h.policy.ManagedLicenses = []string{"1001"}
	return h
}

func (h *harness) engine(st *state.Store, dry bool) *Engine {
	m, err := mapping.New(mapping.Config{Fields: mapping.DefaultFields(), Roles: map[string]mapping.Role{"User": {Licenses: []string{"1001"}}}})
	if err != nil {
		h.t.Fatal(err)
	}
	e := &Engine{Source: h.src, Mapper: m, Reader: h.target, Store: st, Policy: h.policy, BatchSize: 100, InFlight: h.inFlight,
		Now: func() time.Time { return h.now }, Records: h.recordCache}
	if !dry {
		e.Writer = h.target
	}
	return e
}

// run opens the real bbolt file, runs one cycle and closes it, as the daemon does.
func (h *harness) run(opts Options) (*Result, error) {
	h.t.Helper()
	st, err := state.Open(h.path, state.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	defer st.Close()
	res, err := h.engine(st, opts.DryRun).Run(context.Background(), opts)
	h.now = h.now.Add(20 * time.Minute) // the next cycle comes on schedule
	h.ownedAgree(st, res)
	return res, err
}

// ownedAgree checks, after every cycle the tests run, that the counts the
// cycle kept are those of the state file it wrote.
func (h *harness) ownedAgree(st *state.Store, res *Result) {
	h.t.Helper()
	h.cacheAgrees(st)
	if res == nil || res.Owned == nil {
		return
	}
	active, disabled, err := st.OwnedCounts()
	if err != nil {
		h.t.Fatal(err)
	}
	if res.Owned.Active != active || res.Owned.Disabled != disabled {
		h.t.Errorf("cycle %s (%s) counts %d active and %d disabled; the state file holds %d and %d",
			res.CycleID, res.Cycle.Outcome, res.Owned.Active, res.Owned.Disabled, active, disabled)
	}
	if (res.Licenses != nil) != (res.Owned.Licenses != nil) {
		h.t.Errorf("cycle %s read licences %v but counted their holders %v", res.CycleID, res.Licenses != nil, res.Owned.Licenses != nil)
	}
	if res.Owned.Licenses != nil {
		// The seats counted as the cycle went are those of the records it wrote.
		recs, err := st.Records()
		if err != nil {
			h.t.Fatal(err)
		}
		want := plan.Holders{}
		for _, r := range recs {
			want.Add(r.State, r.Licenses)
		}
		if d := cmp.Diff(want, res.Owned.Licenses, cmpopts.EquateEmpty()); d != "" {
			h.t.Errorf("cycle %s counts other licence holders than the state file (-file +cycle):\n%s", res.CycleID, d)
		}
	}
}

// cacheAgrees checks, after every cycle the tests run, that the records
// the daemon would keep for the next cycle are the state file's whenever
// their generation says they are current: a stale record would plan the
// wrong change.
func (h *harness) cacheAgrees(st *state.Store) {
	h.t.Helper()
	rc := h.recordCache
	if rc == nil {
		return
	}
	gen, err := st.RecordsGeneration()
	if err != nil {
		h.t.Fatal(err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.gen == "" || rc.gen != gen {
		return
	}
	recs, err := st.Records()
	if err != nil {
		h.t.Fatal(err)
	}
	if d := cmp.Diff(recs, rc.records, cmpopts.EquateEmpty()); d != "" {
		h.t.Errorf("the records kept for the next cycle are not the state file's (-file +kept):\n%s", d)
	}
}

func (h *harness) mustRun(opts Options) *Result {
	h.t.Helper()
	res, err := h.run(opts)
	if err != nil {
		h.t.Fatalf("cycle: %v", err)
	}
	return res
}

func (h *harness) records() []plan.Record {
	h.t.Helper()
	return readState(h, (*state.Store).Records)
}

func (h *harness) audit(f state.AuditFilter) []state.AuditEntry {
	h.t.Helper()
	st, err := state.Open(h.path, state.Options{ReadOnly: true})
	if err != nil {
		h.t.Fatal(err)
	}
	defer st.Close()
	es, err := st.Audit(f)
	if err != nil {
		h.t.Fatal(err)
	}
	return es
}

func TestInitialCycleCreatesEveryoneInBatches(t *testing.T) {
	h := newHarness(t, 250)
	res := h.mustRun(Options{InitialSync: true})
	if got := h.target.calls["create"]; got != 3 {
		t.Errorf("create calls = %d, want ceil(250/100) = 3", got)
	}
	if res.Outcome() != OutcomeSuccess || res.Cycle.Applied["create"] != 250 {
		t.Errorf("outcome %s, applied %v", res.Outcome(), res.Cycle.Applied)
	}
	if n := len(h.records()); n != 250 {
		t.Errorf("records = %d, want 250", n)
	}
	if es := h.audit(state.AuditFilter{Action: "create", Result: state.ResultSuccess}); len(es) != 250 {
		t.Errorf("audit entries = %d, want 250", len(es))
	} else if e := es[0]; e.CycleID != res.CycleID || e.GoToKey == "" || len(e.Changes) == 0 {
		t.Errorf("audit entry lacks cycle, key or properties: %+v", e)
	}
}

func TestSteadyCycleMakesNoCalls(t *testing.T) {
	h := newHarness(t, 50)
	h.mustRun(Options{InitialSync: true})
	h.target.reset()
	res := h.mustRun(Options{})
	if n := h.target.total(); n != 0 {
		t.Errorf("second cycle made %d target calls (%v), want 0", n, h.target.calls)
	}
	if !res.Plan.Empty() || res.Outcome() != OutcomeSuccess {
		t.Errorf("plan %+v outcome %s", res.Plan.Changes, res.Outcome())
	}
}

func TestOneAttributeChangeSendsOnlyThatField(t *testing.T) {
	h := newHarness(t, 5)
	h.mustRun(Options{})
	h.target.reset()
	h.src.edit("u0002", func(u *directory.User) { u.Attributes["surname"] = "Smith" })
	h.mustRun(Options{})
	key := h.target.byEmail("user0002@contoso.com").Key
	want := "Smith"
	if d := cmp.Diff([]gotomeeting.Update{{LastName: &want}}, h.target.updates[key]); d != "" {
		t.Errorf("updates (-want +got):\n%s", d)
	}
	if h.target.writes() != 1 {
		t.Errorf("writes = %v, want exactly one update", h.target.calls)
	}
	es := h.audit(state.AuditFilter{Action: "update"})
	if len(es) != 1 || !cmp.Equal(es[0].Changes, []state.PropertyChange{{Name: "lastName", Old: "S", New: "Smith"}}) {
		t.Errorf("audit = %+v, want lastName S → Smith", es)
	}
}

func TestUnassignDisablesAndReassignReenables(t *testing.T) {
	h := newHarness(t, 10)
	h.mustRun(Options{})
	saved := h.src.snap.Users[3]
	h.src.remove(saved.ID)
	h.target.reset()
	res := h.mustRun(Options{})
	u := h.target.byEmail("user0003@contoso.com")
	if res.Cycle.Applied["disable"] != 1 || len(u.Licenses) != 0 || len(u.AdminRoles) != 0 {
		t.Fatalf("disable: applied %v, GoTo user %+v", res.Cycle.Applied, u)
	}
	if d := cmp.Diff([]gotomeeting.Update{{LicenseKeys: []string{}, AdminRoles: []string{}}}, h.target.updates[u.Key]); d != "" {
		t.Errorf("disable call (-want +got):\n%s", d)
	}
	h.src.snap.Users = append(h.src.snap.Users, saved)
	h.target.reset()
	res = h.mustRun(Options{})
	if res.Cycle.Applied["enable"] != 1 || !cmp.Equal(u.Licenses, []string{"1001"}) || h.target.writes() != 1 {
		t.Errorf("re-enable: applied %v, licences %v, calls %v", res.Cycle.Applied, u.Licenses, h.target.calls)
	}
}

func TestEmptySourceAbortsWithNothingDisabled(t *testing.T) {
	h := newHarness(t, 10)
	h.mustRun(Options{})
	h.src.snap.Users = nil
	h.target.reset()
	res, err := h.run(Options{AllowDisables: true})
	if !errors.Is(err, ErrAborted) || res.Outcome() != OutcomeAborted {
		t.Fatalf("err %v outcome %s, want aborted", err, res.Outcome())
	}
	if h.target.writes() != 0 {
		t.Errorf("writes %v, want none", h.target.calls)
	}
	for _, r := range h.records() {
		if r.State != plan.StateActive {
			t.Errorf("record %s is %s", r.EntraID, r.State)
		}
	}
}

func TestMassUnassignIsStagedUntilAllowed(t *testing.T) {
	h := newHarness(t, 100)
	h.mustRun(Options{})
	h.src.snap.Users = h.src.snap.Users[30:] // 30% unassigned
	h.src.add("new1", "new1@contoso.com")
	h.target.reset()
	res := h.mustRun(Options{})
	if res.Outcome() != OutcomeStaged || len(res.Plan.Staged) != 30 || res.Cycle.Applied["create"] != 1 {
		t.Fatalf("outcome %s staged %d applied %v; want 30 staged and the new hire created", res.Outcome(), len(res.Plan.Staged), res.Cycle.Applied)
	}
	if h.target.calls["update"] != 0 {
		t.Errorf("staged cycle disabled %d accounts", h.target.calls["update"])
	}
	st, _ := state.Open(h.path, state.Options{ReadOnly: true})
	staged, _ := st.Staged()
	st.Close()
	if len(staged) != 30 {
		t.Errorf("state holds %d staged disables, want 30", len(staged))
	}
	if g := staged[0].Gate; g == nil || g.Disables != 30 || g.OwnedActive != 100 || !g.OverPercent {
		t.Errorf("staged change records the gate %+v; want 30 disables of 100, over the percentage", g)
	}
	// One row kept staged: --allow-disables releases the others, not it;
	// the cycle is a success, since the kept row waits for a release that
	// an operator decided against, not for an approval (exit 3, the
	// staged-disables alert and mail would otherwise ask every cycle).
	st, err := state.Open(h.path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Update(func(tx *state.Tx) error { _, err := tx.Keep("alice", "", []string{staged[0].EntraID}); return err }); err != nil {
		t.Fatal(err)
	}
	st.Close()
	h.target.reset()
	res = h.mustRun(Options{AllowDisables: true})
	if res.Outcome() != OutcomeSuccess || res.Cycle.Applied["disable"] != 29 || h.target.calls["update"] != 29 {
		t.Errorf("release: outcome %s applied %v calls %v; want 29 disables and the kept one staged", res.Outcome(), res.Cycle.Applied, h.target.calls)
	}
	if len(res.Plan.Staged) != 1 || res.Plan.Staged[0].EntraID != staged[0].EntraID {
		t.Errorf("staged %d, want only the kept %s", len(res.Plan.Staged), staged[0].EntraID)
	}
}

func TestSourceErrorLeavesStateUnchanged(t *testing.T) {
	h := newHarness(t, 20)
	h.mustRun(Options{})
	before, err := os.ReadFile(h.path)
	if err != nil {
		t.Fatal(err)
	}
	h.src.err = errors.New("list members of group \"Sales\": 503 after 4 attempts")
	h.target.reset()
	res, err := h.run(Options{})
	if err == nil || !strings.Contains(err.Error(), "read directory: list members") || res.Outcome() != OutcomeFailed {
		t.Fatalf("err %v outcome %s", err, res.Outcome())
	}
	after, _ := os.ReadFile(h.path)
	if !bytes.Equal(before, after) {
		t.Error("the state file changed after a failed read")
	}
	if h.target.total() != 0 {
		t.Errorf("target calls after a failed read: %v", h.target.calls)
	}
}

func TestFailingAccountIsRecordedAndRetried(t *testing.T) {
	h := newHarness(t, 5)
	h.mustRun(Options{})
	for _, id := range []string{"u0001", "u0003"} {
		h.src.edit(id, func(u *directory.User) { u.Attributes["givenName"] = "Changed" })
	}
	h.target.fail["user0001@contoso.com"] = fmt.Errorf("goto: 409 user.email.exists: %w", gotomeeting.ErrConflict)
	res := h.mustRun(Options{})
	if res.Outcome() != OutcomePartial || res.Cycle.Applied["update"] != 1 || res.Cycle.Failed["update"] != 1 {
		t.Fatalf("outcome %s applied %v failed %v", res.Outcome(), res.Cycle.Applied, res.Cycle.Failed)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "update goto user") ||
		!strings.Contains(res.Errors[0].Error(), "entra u0001") || !strings.Contains(res.Errors[0].Error(), "another GoTo account already uses this email") {
		t.Errorf("errors = %v", res.Errors)
	}
	st, _ := state.Open(h.path, state.Options{ReadOnly: true})
	fs, _ := st.Failures()
	st.Close()
	if len(fs) != 1 || fs[0].EntraID != "u0001" || fs[0].Count != 1 {
		t.Fatalf("failures = %+v", fs)
	}
	delete(h.target.fail, "user0001@contoso.com")
	h.target.reset()
	res = h.mustRun(Options{})
	if res.Outcome() != OutcomeSuccess || res.Cycle.Applied["update"] != 1 {
		t.Errorf("retry: outcome %s applied %v", res.Outcome(), res.Cycle.Applied)
	}
	st, _ = state.Open(h.path, state.Options{ReadOnly: true})
	fs, _ = st.Failures()
	st.Close()
	if len(fs) != 0 {
		t.Errorf("failure not cleared after success: %+v", fs)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	h := newHarness(t, 10)
	res := h.mustRun(Options{DryRun: true})
	if res.Outcome() != OutcomeDryRun || res.Plan.Count(plan.KindCreate) != 10 {
		t.Errorf("outcome %s, creates %d", res.Outcome(), res.Plan.Count(plan.KindCreate))
	}
	if h.target.writes() != 0 || len(h.records()) != 0 {
		t.Errorf("dry run wrote: calls %v", h.target.calls)
	}
	if cs := h.cycles(); len(cs) != 0 {
		t.Errorf("dry run recorded cycles: %v", cs)
	}
}

func (h *harness) cycles() []state.Cycle {
	st, _ := state.Open(h.path, state.Options{ReadOnly: true})
	defer st.Close()
	cs, _ := st.Cycles(0)
	return cs
}

func TestSeatsBeyondTheFreeOnesAreDeferredWithoutACall(t *testing.T) {
	h := newHarness(t, 10)
	h.target.seats["1001"] = 7
	res := h.mustRun(Options{})
	if res.Cycle.Applied["create"] != 7 || len(res.Errors) != 0 || res.Cycle.Deferred != 3 || res.Outcome() != OutcomePartial {
		t.Fatalf("applied %v errors %v deferred %d outcome %s; want 7 created, 3 deferred, partial",
			res.Cycle.Applied, res.Errors, res.Cycle.Deferred, res.Outcome())
	}
	want := "licence 1001 has no free seat (7 of 7 used); add seats in GoTo Admin or free some"
	if ps := res.Cycle.Problems; len(ps) != 1 || ps[0].Count != 3 || ps[0].Reason != want || ps[0].Result != state.ResultDeferred {
		t.Errorf("problems = %+v, want one group of 3: %q", ps, want)
	}
	if h.target.calls["create"] != 1 {
		t.Errorf("create calls %d: people beyond the seats must not be sent", h.target.calls["create"])
	}
	if fs := h.failures(); len(fs) != 0 {
		t.Errorf("a deferral is not a failure: %+v", fs)
	}
	for _, d := range h.deferred() {
		if d.Cause != string(plan.CauseSeats) || d.License != "1001" {
			t.Errorf("deferred %s: cause %q licence %q, want seats and 1001 (what `g2msync licenses` counts as waiting)", d.EntraID, d.Cause, d.License)
		}
	}
	// Seats are added: the very next cycle creates them, with no back-off.
	h.target.seats["1001"] = 10
	h.target.reset()
	res = h.mustRun(Options{})
	if res.Cycle.Applied["create"] != 3 || res.Cycle.Deferred != 0 || res.Outcome() != OutcomeSuccess {
		t.Errorf("after seats were added: applied %v deferred %d outcome %s", res.Cycle.Applied, res.Cycle.Deferred, res.Outcome())
	}
	// The cycle counted who holds the seats as it went (ownedAgree checks
	// them against the state file): the 7 made before and the 3 now.
	if got := res.Owned.Licenses["1001"]; got != (plan.Held{Active: 10}) {
		t.Errorf("seats of 1001 held by owned accounts: %+v, want 10 active", got)
	}
}

func TestAdoptsExistingAccountsCaseInsensitively(t *testing.T) {
	h := newHarness(t, 3)
	h.target.users["777"] = &gotomeeting.User{Key: "777", Email: "USER0001@Contoso.com", FirstName: "Gu0001", LastName: "S", Licenses: []string{"1001"}}
	res := h.mustRun(Options{InitialSync: true})
	if res.Cycle.Applied["adopt"] != 1 || res.Cycle.Applied["create"] != 2 {
		t.Fatalf("applied %v", res.Cycle.Applied)
	}
	if len(h.target.users) != 3 {
		t.Errorf("GoTo holds %d users, want 3 (no duplicate)", len(h.target.users))
	}
	if h.target.calls["update"] != 0 {
		t.Errorf("adopting an identical account made %d updates", h.target.calls["update"])
	}
	for _, r := range h.records() {
		if r.EntraID == "u0001" && (r.GoToKey != "777" || r.Origin != plan.OriginAdopted) {
			t.Errorf("record %+v", r)
		}
	}
}

func TestInterruptedCreateIsRecoveredNotRepeated(t *testing.T) {
	h := newHarness(t, 2)
	// A previous process wrote its intent and GoTo created the account, then it died.
	st, _ := state.Open(h.path, state.Options{})
	st.WriteIntents([]state.Intent{{EntraID: "u0000", Email: "user0000@contoso.com", Kind: plan.KindCreate, CycleID: "old"}})
	st.Close()
	h.target.CreateUsers(context.Background(), gotomeeting.CreateRequest{Users: []gotomeeting.NewUser{{Email: "user0000@contoso.com", FirstName: "Gu0000", LastName: "S"}}, LicenseKeys: []string{"1001"}})
	h.target.reset()
	// `plan` shows the recovery, as a change recorded without a call, and
	// writes nothing: the intent is still there for the run.
	dry := h.mustRun(Options{DryRun: true})
	if len(dry.Plan.Recovered) != 1 || dry.Plan.Recovered[0].EntraID != "u0000" || !strings.Contains(dry.Plan.Recovered[0].Reason, "cycle old") {
		t.Errorf("plan recovers %+v, want the create of u0000 of cycle old", dry.Plan.Recovered)
	}
	if st, _ := state.Open(h.path, state.Options{ReadOnly: true}); st != nil {
		if in, _ := st.Intents(); len(in) != 1 {
			t.Errorf("the dry run settled the intent: %d left", len(in))
		}
		st.Close()
	}
	res := h.mustRun(Options{})
	if d := cmp.Diff(dry.Plan.Recovered, res.Plan.Recovered); d != "" {
		t.Errorf("the run recovered other than the plan showed:\n%s", d)
	}
	if res.Cycle.Applied["create"] != 1 || len(h.target.users) != 2 {
		t.Errorf("applied %v, GoTo users %d", res.Cycle.Applied, len(h.target.users))
	}
	es := h.audit(state.AuditFilter{User: "u0000"})
	if len(es) != 1 || !strings.Contains(es[0].Reason, "recovered") {
		t.Errorf("audit = %+v", es)
	}
}

func TestRefusedCredentialsStopTheCycle(t *testing.T) {
	h := newHarness(t, 10)
	h.mustRun(Options{})
	for i := range 10 {
		h.src.edit(fmt.Sprintf("u%04d", i), func(u *directory.User) { u.Attributes["surname"] = "New" })
		h.target.fail[fmt.Sprintf("user%04d@contoso.com", i)] = gotomeeting.ErrRefreshTokenRejected
	}
	h.target.reset()
	res, err := h.run(Options{})
	if err == nil || !strings.Contains(err.Error(), "GoTo refused the credentials") || !strings.Contains(err.Error(), "run `g2msync login goto`") {
		t.Fatalf("err = %v", err)
	}
	if h.target.calls["update"] != 1 || res.Outcome() != OutcomeFailed {
		t.Errorf("calls %v outcome %s: want one call, then stop", h.target.calls, res.Outcome())
	}
}

func TestAccountDeletedInGoToIsMatchedAgain(t *testing.T) {
	h := newHarness(t, 3)
	h.mustRun(Options{})
	u := h.target.byEmail("user0001@contoso.com")
	delete(h.target.users, u.Key)
	h.src.edit("u0001", func(u *directory.User) { u.Attributes["surname"] = "X" })
	res := h.mustRun(Options{})
	if res.Cycle.Failed["update"] != 1 {
		t.Fatalf("failed %v", res.Cycle.Failed)
	}
	res = h.mustRun(Options{})
	if res.Cycle.Applied["create"] != 1 || h.target.byEmail("user0001@contoso.com") == nil {
		t.Errorf("applied %v: the person must be created again", res.Cycle.Applied)
	}
}

func (h *harness) deferred() []state.Deferred {
	st, _ := state.Open(h.path, state.Options{ReadOnly: true})
	defer st.Close()
	ds, _ := st.Deferred()
	return ds
}

func (h *harness) failures() []state.Failure {
	h.t.Helper()
	st, err := state.Open(h.path, state.Options{ReadOnly: true})
	if err != nil {
		h.t.Fatal(err)
	}
	defer st.Close()
	fs, _ := st.Failures()
	return fs
}

func TestFailedChangeBacksOffThenQuarantines(t *testing.T) {
	h := newHarness(t, 3)
	h.mustRun(Options{})
	h.src.edit("u0001", func(u *directory.User) { u.Attributes["surname"] = "Changed" })
	h.target.fail["user0001@contoso.com"] = errors.New("goto: 400 invalid.request: lastName") // this person's, not an outage
	// Attempts at t0, then the back-off doubles from 10 min: cycles come
	// every 20 min, so attempts are made at cycles 1, 2, 3, 5 and 9; the
	// fifth failure quarantines the account.
	var attempts []int
	for i := 1; i <= 12; i++ {
		h.target.reset()
		res := h.mustRun(Options{})
		if h.target.calls["update"] > 0 {
			attempts = append(attempts, i)
		} else if res.Cycle.Deferred != 1 {
			t.Errorf("cycle %d: deferred %d, want 1", i, res.Cycle.Deferred)
		}
	}
	if want := []int{1, 2, 3, 5, 9}; !cmp.Equal(attempts, want) {
		t.Errorf("attempts in cycles %v, want %v", attempts, want)
	}
	fs := h.failures()
	if len(fs) != 1 || !fs[0].Quarantined || fs[0].Count != 5 {
		t.Fatalf("failures = %+v, want one quarantined after 5", fs)
	}
	es := h.audit(state.AuditFilter{User: "u0001", Result: state.ResultFailure})
	if last := es[len(es)-1]; !strings.Contains(last.Reason, "quarantined after 5 failed attempts") {
		t.Errorf("last audit entry %+v", last)
	}
	// The directory moves on: a different change is tried at once.
	delete(h.target.fail, "user0001@contoso.com")
	h.src.edit("u0001", func(u *directory.User) { u.Attributes["surname"] = "Changed again" })
	h.target.reset()
	if res := h.mustRun(Options{}); res.Cycle.Applied["update"] != 1 || len(h.failures()) != 0 {
		t.Errorf("a new change for a quarantined person: applied %v, failures %+v", res.Cycle.Applied, h.failures())
	}
}

func TestRetryClearsQuarantine(t *testing.T) {
	h := newHarness(t, 3)
	h.mustRun(Options{})
	h.src.edit("u0002", func(u *directory.User) { u.Attributes["surname"] = "X" })
	h.target.fail["user0002@contoso.com"] = errors.New("goto: 400 invalid.request: lastName")
	h.policy.Retry = plan.RetryPolicy{QuarantineAfter: 1}
	h.mustRun(Options{})
	if fs := h.failures(); len(fs) != 1 || !fs[0].Quarantined {
		t.Fatalf("failures %+v", fs)
	}
	delete(h.target.fail, "user0002@contoso.com")
	h.target.reset()
	h.now = h.now.Add(48 * time.Hour)
	if res := h.mustRun(Options{}); res.Cycle.Applied["update"] != 0 || res.Cycle.Deferred != 1 {
		t.Fatalf("quarantined account was tried: %v", res.Cycle.Applied)
	}
	st, _ := state.Open(h.path, state.Options{})
	cleared, err := st.ClearFailures("USER0002@contoso.com")
	st.Close()
	if err != nil || len(cleared) != 1 {
		t.Fatalf("clear: %v %v", cleared, err)
	}
	if res := h.mustRun(Options{}); res.Cycle.Applied["update"] != 1 {
		t.Errorf("after retry: applied %v", res.Cycle.Applied)
	}
}

func TestMostCallsFailingFailsTheCycle(t *testing.T) {
	h := newHarness(t, 20)
	h.mustRun(Options{})
	for i := range 20 {
		h.src.edit(fmt.Sprintf("u%04d", i), func(u *directory.User) { u.Attributes["surname"] = "New" })
		if i%5 != 4 { // never five in a row, which would stop the cycle by itself
			h.target.fail[fmt.Sprintf("user%04d@contoso.com", i)] = fmt.Errorf("goto: 503: %w", gotomeeting.ErrUnavailable)
		}
	}
	res, err := h.run(Options{})
	if err == nil || !strings.Contains(err.Error(), "16 of 20 GoTo changes failed for reasons beyond the people concerned") || res.Outcome() != OutcomeFailed {
		t.Errorf("err %v outcome %s", err, res.Outcome())
	}
}

func TestPerPersonFailuresDoNotFailTheCycle(t *testing.T) {
	h := newHarness(t, 20)
	h.mustRun(Options{})
	for i := range 20 {
		h.src.edit(fmt.Sprintf("u%04d", i), func(u *directory.User) { u.Attributes["surname"] = "New" })
		if i < 15 {
			h.target.fail[fmt.Sprintf("user%04d@contoso.com", i)] = fmt.Errorf("goto: 409: %w", gotomeeting.ErrConflict)
		}
	}
	res, err := h.run(Options{})
	if err != nil || res.Outcome() != OutcomePartial || res.Cycle.Failed["update"] != 15 {
		t.Errorf("err %v outcome %s failed %v: conflicts fail their people, not the cycle", err, res.Outcome(), res.Cycle.Failed)
	}
}

func TestSuperUserGrantedInGoToIsNotDisabled(t *testing.T) {
	h := newHarness(t, 3)
	h.mustRun(Options{})
	u := h.target.byEmail("user0001@contoso.com")
	u.AdminRoles = []string{"SUPER_USER"} // made an admin in the GoTo portal; g2msync does not know
	h.src.remove("u0001")
	h.target.reset()
	res := h.mustRun(Options{AllowDisables: true})
	if h.target.calls["update"] != 0 || len(u.AdminRoles) != 1 || res.Cycle.Applied["disable"] != 0 {
		t.Fatalf("calls %v, roles %v: the live SUPER_USER must be protected", h.target.calls, u.AdminRoles)
	}
	if es := h.audit(state.AuditFilter{User: "u0001", Result: state.ResultSkipped}); len(es) != 1 || !strings.Contains(es[0].Reason, "SUPER_USER") {
		t.Errorf("audit %+v", es)
	}
	// The next cycle reads it again (one call: accounts a disable may touch
	// are read every cycle) and protects it again, saying nothing new.
	h.target.reset()
	res = h.mustRun(Options{AllowDisables: true})
	if h.target.calls["get"] != 1 || h.target.writes() != 0 || len(res.Plan.Skips) != 1 {
		t.Errorf("next cycle: calls %v, skips %d", h.target.calls, len(res.Plan.Skips))
	}
	if es := h.audit(state.AuditFilter{User: "u0001", Result: state.ResultSkipped}); len(es) != 1 {
		t.Errorf("the skip was logged %d times, want once", len(es))
	}
}

func TestDisableTakesWhatTheAccountReallyHolds(t *testing.T) {
	h := newHarness(t, 3)
	h.mustRun(Options{})
	u := h.target.byEmail("user0002@contoso.com")
	u.Licenses = []string{"1001", "2002"} // a licence added in GoTo by hand
	h.target.seats["2002"] = 10
	saved := h.src.snap.Users[2]
	h.src.remove("u0002")
	h.mustRun(Options{AllowDisables: true})
	if len(u.Licenses) != 0 {
		t.Fatalf("licences after disable: %v", u.Licenses)
	}
	h.src.snap.Users = append(h.src.snap.Users, saved)
	h.mustRun(Options{})
	if !cmp.Equal(u.Licenses, []string{"1001", "2002"}) {
		t.Errorf("licences after re-enable: %v, want both back", u.Licenses)
	}
}

// approveAll approves every change staged, as listed now: what `g2msync
// approve --all` does.
func approveAll(st *state.Store) ([]state.Staged, error) {
	staged, err := st.Staged()
	if err != nil {
		return nil, err
	}
	shown := map[string]string{}
	for _, s := range staged {
		shown[s.EntraID] = s.Fingerprint
	}
	return st.ApproveShown("ops", shown)
}

func TestApprovalReleasesExactlyTheStagedDisables(t *testing.T) {
	h := newHarness(t, 10)
	h.mustRun(Options{})
	h.src.snap.Users = h.src.snap.Users[3:] // 30%: staged
	if res := h.mustRun(Options{}); len(res.Plan.Staged) != 3 {
		t.Fatalf("staged %d", len(res.Plan.Staged))
	}
	st, _ := state.Open(h.path, state.Options{})
	approved, err := approveAll(st)
	st.Close()
	if err != nil || len(approved) != 3 {
		t.Fatalf("approve: %v %v", approved, err)
	}
	h.target.reset()
	res := h.mustRun(Options{})
	if res.Cycle.Applied["disable"] != 3 || res.Outcome() != OutcomeSuccess {
		t.Fatalf("after approval: applied %v outcome %s", res.Cycle.Applied, res.Outcome())
	}
	// The approval is used up: a new mass unassignment is staged again.
	h.src.snap.Users = h.src.snap.Users[3:]
	if res := h.mustRun(Options{}); len(res.Plan.Staged) != 3 || res.Cycle.Applied["disable"] != 0 {
		t.Errorf("second wave: staged %d applied %v", len(res.Plan.Staged), res.Cycle.Applied)
	}
}

func TestStoppedCycleIsRecordedAsStopped(t *testing.T) {
	h := newHarness(t, 5)
	h.mustRun(Options{})
	for i := range 5 {
		h.src.edit(fmt.Sprintf("u%04d", i), func(u *directory.User) { u.Attributes["surname"] = "New" })
	}
	stop := make(chan struct{})
	close(stop) // SIGTERM arrived: the change in flight finishes, no other starts
	res, err := h.run(Options{Stop: stop})
	if !errors.Is(err, ErrStopped) || res.Outcome() != OutcomeStopped || h.target.calls["update"] != 0 {
		t.Fatalf("err %v outcome %s updates %d, want stopped before any", err, res.Outcome(), h.target.calls["update"])
	}
	if cs := h.cycles(); cs[0].Outcome != OutcomeStopped {
		t.Errorf("recorded outcome %q, want stopped", cs[0].Outcome)
	}
}

func TestAFailedGoToReadStillReportsWhatWasRead(t *testing.T) {
	h := newHarness(t, 4)
	h.mustRun(Options{})
	h.src.add("new1", "new1@contoso.com")
	h.target.readErr = fmt.Errorf("goto: 401: %w", gotomeeting.ErrRefreshTokenRejected)
	res, err := h.run(Options{})
	if err == nil || res.Outcome() != OutcomeFailed {
		t.Fatalf("err %v outcome %s", err, res.Outcome())
	}
	if res.Cycle.InScope != 5 || res.Cycle.Owned != 4 {
		t.Errorf("in scope %d, owned %d; want 5 and 4 from the reads that succeeded", res.Cycle.InScope, res.Cycle.Owned)
	}
}

func TestEachLogLineNamesTheGoToKeyOnce(t *testing.T) {
	h := newHarness(t, 3)
	var buf bytes.Buffer
	st, err := state.Open(h.path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := h.engine(st, false)
	e.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	if _, err := e.Run(context.Background(), Options{}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	applied := 0
	for _, l := range lines {
		if n := strings.Count(l, `"goto_key"`); n > 1 {
			t.Errorf("goto_key %d times: %s", n, l)
		}
		if strings.Contains(l, `"msg":"applied"`) {
			applied++
			if strings.Contains(l, `"goto_key":""`) {
				t.Errorf("a create's line lacks the key GoTo returned: %s", l)
			}
		}
	}
	if applied != 3 {
		t.Errorf("%d applied lines, want 3:\n%s", applied, buf.String())
	}
}

func TestMassUnassignReadsOneListNotAnAccountEach(t *testing.T) {
	h := newHarness(t, 100)
	h.mustRun(Options{})
	h.src.snap.Users = h.src.snap.Users[60:]
	h.target.reset()
	res := h.mustRun(Options{})
	if len(res.Plan.Staged) != 60 || h.target.calls["get"] != 0 || h.target.calls["list"] != 1 {
		t.Errorf("staged %d, calls %v: 60 accounts a disable may touch cost one list of 100 accounts, not 60 reads",
			len(res.Plan.Staged), h.target.calls)
	}
	h.src.snap.Users = h.src.snap.Users[:39] // one more: 61
	h.target.reset()
	if res := h.mustRun(Options{}); len(res.Plan.Staged) != 61 || h.target.calls["list"] != 1 {
		t.Errorf("staged %d calls %v", len(res.Plan.Staged), h.target.calls)
	}
}

func TestOneRefusedEntrySplitsTheBulkCreate(t *testing.T) {
	h := newHarness(t, 10)
	h.target.fail["user0003@contoso.com"] = errors.New("goto: 400 invalid.request: firstName too long")
	res := h.mustRun(Options{})
	if res.Cycle.Applied["create"] != 9 || res.Cycle.Failed["create"] != 1 || len(res.Errors) != 1 || res.Errors[0].EntraID != "u0003" {
		t.Fatalf("applied %v failed %v errors %v: only the refused person may fail", res.Cycle.Applied, res.Cycle.Failed, res.Errors)
	}
	// ⌈log2 10⌉ levels of halves: 1 + 2·4 calls at most, not one per person.
	if n := h.target.calls["create"]; n > 9 {
		t.Errorf("%d create calls", n)
	}
	if fs := h.failures(); len(fs) != 1 || fs[0].EntraID != "u0003" {
		t.Errorf("failures %+v", fs)
	}
}

// diskFull is the state file filling up: commits whose outcome matches
// fail, as bbolt's would with ENOSPC; everything else goes through.
type diskFull struct {
	*state.Store
	full func(o state.Outcome) bool
}

func (d diskFull) Commit(os ...state.Outcome) error {
	for _, o := range os {
		if d.full(o) {
			return errors.New("commit to state file: write state.db: no space left on device")
		}
	}
	return d.Store.Commit(os...)
}

func (h *harness) runWith(wrap func(*state.Store) Store, opts Options) (*Result, error) {
	h.t.Helper()
	st, err := state.Open(h.path, state.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	defer st.Close()
	e := h.engine(st, false)
	e.Store = wrap(st)
	res, err := e.Run(context.Background(), opts)
	h.now = h.now.Add(20 * time.Minute)
	h.ownedAgree(st, res)
	return res, err
}

// A crash between a disable's call and its commit lost the unmanaged
// licences: nothing kept the old value, so the re-enable gave back only
// the managed one. And on a full disk the summary said applied disable:2
// while one was committed.
func TestDisableInterruptedBeforeItsCommitLosesNothing(t *testing.T) {
	h := newHarness(t, 10)
	h.mustRun(Options{})
	u1, u2 := h.target.byEmail("user0001@contoso.com"), h.target.byEmail("user0002@contoso.com")
	u1.Licenses = []string{"1001", "2002"} // a licence added by hand in GoTo
	h.target.seats["2002"] = 10
	saved := append([]directory.User(nil), h.src.snap.Users[1:3]...)
	h.src.remove("u0001")
	h.src.remove("u0002")
	res, err := h.runWith(func(st *state.Store) Store {
		return diskFull{st, func(o state.Outcome) bool { return o.EntraID == "u0001" && o.Record != nil }}
	}, Options{})
	// u0001's disable went out, its commit failed, and the cycle stopped
	// there: nothing was committed, so nothing may be reported applied.
	if err == nil || !strings.Contains(err.Error(), "no space left") || res.Cycle.Applied["disable"] != 0 || h.target.calls["update"] != 1 {
		t.Fatalf("err %v applied %v calls %v", err, res.Cycle.Applied, h.target.calls)
	}
	if len(u1.Licenses) != 0 {
		t.Fatalf("GoTo did not disable u0001: %v", u1.Licenses)
	}
	// The next cycle finds the interrupted disable and records what it took.
	h.mustRun(Options{})
	var rec plan.Record
	for _, r := range h.records() {
		if r.EntraID == "u0001" {
			rec = r
		}
	}
	if rec.State != plan.StateDisabled || !cmp.Equal(rec.RemovedLicenses, []string{"1001", "2002"}) {
		t.Fatalf("record after recovery: %+v", rec)
	}
	h.src.snap.Users = append(h.src.snap.Users, saved...)
	h.mustRun(Options{})
	if !cmp.Equal(u1.Licenses, []string{"1001", "2002"}) || !cmp.Equal(u2.Licenses, []string{"1001"}) {
		t.Errorf("licences after re-enable: %v and %v; the hand-added one must come back", u1.Licenses, u2.Licenses)
	}
}

// The live read before a disable also confirms the account still has the
// address the record says: a record pointing at another person's account
// (damaged, or the account renamed by hand) is not deprovisioned.
func TestDisableOfAnAccountWhoseAddressChangedIsRefused(t *testing.T) {
	h := newHarness(t, 4)
	h.mustRun(Options{})
	victim := h.target.byEmail("user0002@contoso.com")
	st, _ := state.Open(h.path, state.Options{})
	recs, _ := st.Records()
	rec := recs[1] // u0001, whose record now names the victim's account
	rec.GoToKey = victim.Key
	st.Commit(state.Outcome{EntraID: rec.EntraID, Record: &rec})
	st.Close()
	h.src.remove("u0001")
	h.target.reset()
	res := h.mustRun(Options{AllowDisables: true})
	if h.target.writes() != 0 || len(victim.Licenses) == 0 {
		t.Fatalf("calls %v: the victim's account was written", h.target.calls)
	}
	if len(res.Plan.Skips) != 1 || !strings.Contains(res.Plan.Skips[0].Reason, "now has the address user0002@contoso.com") {
		t.Errorf("skips %+v", res.Plan.Skips)
	}
}

// SIGTERM did not interrupt a directory read that was retrying (13 s here,
// up to entra.timeout): the reads write nothing, so a stop ends them at once.
func TestStopEndsARetryingRead(t *testing.T) {
	h := newHarness(t, 3)
	h.mustRun(Options{})
	h.src.hang = true
	stop := make(chan struct{})
	done := make(chan error, 1)
	var res *Result
	go func() {
		r, err := h.run(Options{Stop: stop})
		res = r
		done <- err
	}()
	close(stop)
	select {
	case err := <-done:
		if !errors.Is(err, ErrStopped) || res.Outcome() != OutcomeStopped {
			t.Fatalf("err %v outcome %s", err, res.Outcome())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stop did not end the read")
	}
}

// Logs printed counts as Go's map[create:3]; they are key=value in text
// logs and objects in JSON.
func TestCycleLogPrintsCountsAsKeysAndObjects(t *testing.T) {
	for _, tc := range []struct {
		handler func(io.Writer) slog.Handler
		want    string
	}{
		{func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) }, "planned.create=3"},
		{func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) }, `"planned":{"create":3}`},
	} {
		h := newHarness(t, 3)
		var buf bytes.Buffer
		st, _ := state.Open(h.path, state.Options{})
		e := h.engine(st, false)
		e.Logger = slog.New(tc.handler(&buf))
		e.Run(context.Background(), Options{})
		st.Close()
		if out := buf.String(); !strings.Contains(out, tc.want) || strings.Contains(out, "map[") {
			t.Errorf("want %s, got:\n%s", tc.want, out)
		}
	}
}

// An outage of a few hours failed whoever stood first in each cycle five
// times and quarantined them; so did seats and address conflicts, whose
// cause the next cycle observes itself. Only failures of the person's own
// change quarantine.
func TestOutagesSeatsAndConflictsNeverQuarantine(t *testing.T) {
	for _, err := range []error{fmt.Errorf("goto: 503: %w", gotomeeting.ErrUnavailable), fmt.Errorf("goto: 429: %w", gotomeeting.ErrThrottled),
		fmt.Errorf("goto: 400 seats.exceeded: %w", gotomeeting.ErrSeatsExhausted), fmt.Errorf("goto: 409: %w", gotomeeting.ErrConflict)} {
		h := newHarness(t, 3)
		h.policy.Retry = plan.RetryPolicy{QuarantineAfter: 2}
		h.mustRun(Options{})
		h.src.edit("u0001", func(u *directory.User) { u.Attributes["surname"] = "Changed" })
		h.target.fail["user0001@contoso.com"] = err
		for range 6 {
			h.now = h.now.Add(24 * time.Hour)
			h.run(Options{})
		}
		if fs := h.failures(); len(fs) != 1 || fs[0].Quarantined || fs[0].Count < 2 {
			t.Errorf("%v: failures %+v, want counted but not quarantined", err, fs)
		}
	}
}

// An account the listing skipped (offset paging while another account is
// deleted) was taken for deleted: its record was dropped instead of the
// account disabled, and the person kept the licence, unmanaged.
func TestAccountMissingFromTheListIsReadNotForgotten(t *testing.T) {
	h := newHarness(t, 100)
	h.mustRun(Options{})
	h.src.snap.Users = h.src.snap.Users[60:] // a mass unassignment: the cycle lists
	skipped := h.target.byEmail("user0005@contoso.com")
	h.target.unlisted = map[string]bool{skipped.Key: true}
	res := h.mustRun(Options{AllowDisables: true})
	if res.Plan.Count(plan.KindForget) != 0 || res.Cycle.Applied["disable"] != 60 || len(skipped.Licenses) != 0 {
		t.Errorf("forget %d, disables %v, skipped account's licences %v", res.Plan.Count(plan.KindForget), res.Cycle.Applied, skipped.Licenses)
	}
	if h.target.calls["get"] != 1 {
		t.Errorf("calls %v: the one account absent from the list is read", h.target.calls)
	}
}

// pacedTarget is the fake GoTo with the pacing figures a real client
// reports: each Stats call reads the next of stats.
type pacedTarget struct {
	*fakeTarget
	stats []gotomeeting.Stats
}

func (p *pacedTarget) Stats() gotomeeting.Stats {
	s := p.stats[0]
	if len(p.stats) > 1 {
		p.stats = p.stats[1:]
	}
	return s
}

func TestCycleReportsGoTo429sAndPace(t *testing.T) {
	h := newHarness(t, 3)
	st, err := state.Open(h.path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := h.engine(st, false)
	// 5 429s before the cycle (earlier cycles), 8 after: 3 were this cycle's.
	e.Reader = &pacedTarget{fakeTarget: h.target, stats: []gotomeeting.Stats{{Throttled: 5, Pace: 9.5}, {Throttled: 8, Pace: 4.75}}}
	res, err := e.Run(context.Background(), Options{InitialSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Cycle; c.GoToThrottled != 3 || c.GoToPace != 4.75 {
		t.Errorf("cycle GoTo 429s %d, pace %g; want 3 and 4.75", c.GoToThrottled, c.GoToPace)
	}
	cycles, err := st.Cycles(1)
	if err != nil || len(cycles) != 1 || cycles[0].GoToThrottled != 3 || cycles[0].GoToPace != 4.75 {
		t.Errorf("saved cycle %+v, %v: the figures are not kept", cycles, err)
	}
	st.Close()
	// A reader that does not pace (the fakes, older clients) reports nothing.
	h.now = h.now.Add(time.Hour)
	if res := h.mustRun(Options{}); res.Cycle.GoToPace != 0 || res.Cycle.GoToThrottled != 0 {
		t.Errorf("unpaced reader: cycle %+v", res.Cycle)
	}
}

// A reconcile lists GoTo on a regular cycle, repairs the owned accounts
// changed there by hand and leaves unmanaged accounts alone; the cycle
// counts what it found. Without it, the same cycle sees nothing.
func TestReconcileRepairsDriftAndCountsIt(t *testing.T) {
	for _, policy := range []plan.DriftPolicy{plan.DriftRepair, plan.DriftReport} {
		t.Run(string(policy), func(t *testing.T) {
			h := newHarness(t, 3)
			h.policy.Drift = policy
			h.mustRun(Options{InitialSync: true})
			byEmail := func(e string) *gotomeeting.User { return h.target.byEmail(e) }
			byEmail("user0000@contoso.com").LastName = "Edited"
			byEmail("user0001@contoso.com").Licenses = nil
			h.target.users["555"] = &gotomeeting.User{Key: "555", Email: "outsider@contoso.com", LastName: "Mine"}
			h.target.reset()
			if res := h.mustRun(Options{}); res.Cycle.Reconcile != nil || h.target.writes() != 0 {
				t.Fatalf("a regular cycle found drift: %+v, %d writes", res.Cycle.Reconcile, h.target.writes())
			}
			res := h.mustRun(Options{Reconcile: true})
			want := &state.Reconcile{Drifted: 2, Repaired: 2}
			if policy == plan.DriftReport {
				want = &state.Reconcile{Drifted: 2, Reported: 2}
			}
			if d := cmp.Diff(want, res.Cycle.Reconcile); d != "" {
				t.Errorf("reconcile (-want +got):\n%s", d)
			}
			if res.Cycle.Mode != "reconcile" {
				t.Errorf("mode %q", res.Cycle.Mode)
			}
			repaired := byEmail("user0000@contoso.com").LastName == "S" && len(byEmail("user0001@contoso.com").Licenses) == 1
			if repaired != (policy == plan.DriftRepair) {
				t.Errorf("repaired %v under %s: %+v %+v", repaired, policy, byEmail("user0000@contoso.com"), byEmail("user0001@contoso.com"))
			}
			if u := h.target.users["555"]; u.LastName != "Mine" {
				t.Errorf("an unmanaged account was touched: %+v", u)
			}
		})
	}
}
