package graph_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/directory/graph"
	"github.com/g2msync/g2msync/pkg/sim/graphsim"
)

// sameSnapshot compares what a reader gives the engine, not how it read.
func sameSnapshot(t testing.TB, what string, got, want *directory.Snapshot) {
	t.Helper()
	opts := []cmp.Option{
		cmpopts.IgnoreFields(directory.Snapshot{}, "ReadAt", "Calls", "Delta", "FullReason", "Changes"),
		cmpopts.EquateEmpty(),
	}
	if d := cmp.Diff(want, got, opts...); d != "" {
		t.Fatalf("%s: the delta read differs from a full read (-full +delta):\n%s", what, d)
	}
}

func newSource(t testing.TB, cfg graph.Config) *graph.Source {
	t.Helper()
	src, err := graph.New(cfg)
	if err != nil {
		t.Fatalf("graph.New: %v", err)
	}
	return src
}

func deltaPolicy() directory.ReadPolicy {
	return directory.ReadPolicy{MaxAge: 24 * time.Hour, Now: time.Now()}
}

// TestPropertyDeltaReadsEqualFullReads: over a random sequence of directory
// changes (renames, attribute edits and clears, group moves, assignments and
// unassignments of users and groups, soft and hard deletes, restores,
// disables, new users, and delta tokens that expire or are reset), a read
// that follows changes from the last one gives exactly the snapshot a full
// read gives at the same moment.
func TestPropertyDeltaReadsEqualFullReads(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		tn := newTenant(t, graphsim.Options{})
		ids := tn.users("u", 12)
		var groups []string
		for i := range 3 {
			groups = append(groups, tn.must1(tn.sim.AddGroup(graphsim.Group{DisplayName: fmt.Sprintf("G%d", i)})))
		}
		tn.must(tn.sim.AddMembers(groups[0], ids[0:5]...))
		tn.must(tn.sim.AddMembers(groups[1], ids[4:9]...))
		tn.must1(tn.sim.Assign(tn.spID, groups[0], tn.roleU))
		tn.must1(tn.sim.Assign(tn.spID, groups[1], tn.roleA))
		tn.must1(tn.sim.Assign(tn.spID, ids[10], tn.roleU))
		src := newSource(t, tn.config())
		ctx := context.Background()

		snap, pic, err := src.ReadChanges(ctx, nil, deltaPolicy())
		if err != nil || pic == nil || snap.Delta {
			t.Fatalf("first read: delta=%v picture=%v err=%v", snap != nil && snap.Delta, pic != nil, err)
		}
		deleted := map[string]bool{} // soft-deleted users
		gone := map[string]bool{}    // hard-deleted users
		live := func() []string {
			return slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return deleted[id] || gone[id] })
		}
		steps := rapid.IntRange(1, 12).Draw(rt, "steps")
		for step := range steps {
			kind := rapid.SampledFrom([]string{"rename", "edit", "clear", "disable", "enable", "join", "leave",
				"assign", "unassign", "assign-group", "unassign-group", "soft-delete", "restore", "hard-delete",
				"new", "expire", "reset", "none"}).Draw(rt, "change")
			pick := func(from []string) string {
				if len(from) == 0 {
					return ""
				}
				return rapid.SampledFrom(from).Draw(rt, "who")
			}
			u, g := pick(live()), pick(groups)
			var err error
			switch kind {
			case "rename":
				if u != "" {
					err = tn.sim.RenameUser(u, fmt.Sprintf("r%d.%s@contoso.com", step, u[:8]), fmt.Sprintf("r%d.%s@contoso.com", step, u[:8]))
				}
			case "edit":
				if u != "" {
					err = tn.sim.UpdateUser(u, map[string]any{"department": fmt.Sprintf("Dept %d", step)})
				}
			case "clear":
				if u != "" {
					err = tn.sim.UpdateUser(u, map[string]any{"department": nil, "givenName": nil})
				}
			case "disable":
				if u != "" {
					err = tn.sim.DisableUser(u)
				}
			case "enable":
				if u != "" {
					err = tn.sim.EnableUser(u)
				}
			case "join":
				if u != "" {
					_ = tn.sim.AddMember(g, u) // already a member: no change
				}
			case "leave":
				_ = tn.sim.RemoveMember(g, u) // not a member: no change
			case "assign":
				if u != "" {
					_, _ = tn.sim.Assign(tn.spID, u, tn.roleU)
				}
			case "unassign":
				_ = tn.sim.Unassign(tn.spID, u, tn.roleU)
			case "assign-group":
				_, _ = tn.sim.Assign(tn.spID, g, rapid.SampledFrom([]string{tn.roleU, tn.roleA}).Draw(rt, "role"))
			case "unassign-group":
				_ = tn.sim.Unassign(tn.spID, g, tn.roleU)
				_ = tn.sim.Unassign(tn.spID, g, tn.roleA)
			case "soft-delete":
				if u != "" {
					err = tn.sim.SoftDeleteUser(u)
					deleted[u] = true
				}
			case "restore":
				var soft []string
				for id := range deleted {
					soft = append(soft, id)
				}
				slices.Sort(soft)
				if r := pick(soft); r != "" {
					err = tn.sim.RestoreUser(r)
					delete(deleted, r)
				}
			case "hard-delete":
				if u != "" {
					err = tn.sim.HardDeleteUser(u)
					gone[u] = true
				}
			case "new":
				id := tn.must1(tn.sim.AddUser(graphsim.User{UserPrincipalName: fmt.Sprintf("new%d.%d@contoso.com", step, len(ids)),
					Mail: fmt.Sprintf("new%d@contoso.com", len(ids)), GivenName: "New", Department: "New"}))
				ids = append(ids, id)
				_ = tn.sim.AddMember(g, id)
			case "expire":
				tn.sim.ExpireDeltaTokens()
			case "reset":
				tn.sim.ForceDeltaReset()
			}
			if err != nil {
				t.Fatalf("step %d %s: %v", step, kind, err)
			}
			// The engine gives a picture it decoded for one read to that
			// read, and keeps its cached one intact: both ways read alike.
			pol := deltaPolicy()
			pol.Consume = rapid.Bool().Draw(rt, fmt.Sprintf("consume%d", step))
			var before *directory.Picture
			if !pol.Consume {
				before = pic.Clone()
			}
			var next *directory.Picture
			snap, next, err = src.ReadChanges(ctx, pic, pol)
			if err != nil {
				t.Fatalf("step %d (%s): delta read: %v", step, kind, err)
			}
			if before != nil && !cmp.Equal(pic, before, cmpopts.EquateEmpty()) {
				t.Fatalf("step %d (%s): the read changed the picture it was not given: %s", step, kind, cmp.Diff(before, pic, cmpopts.EquateEmpty()))
			}
			if pol.Consume && snap.Delta && next != pic {
				t.Fatalf("step %d (%s): the read copied the picture it was given", step, kind)
			}
			if next == nil {
				t.Fatalf("step %d (%s): no picture to follow from", step, kind)
			}
			expired := kind == "expire" || kind == "reset"
			if snap.Delta == expired {
				t.Fatalf("step %d (%s): Delta = %v (full reason %q)", step, kind, snap.Delta, snap.FullReason)
			}
			full, err := src.Read(ctx)
			if err != nil {
				t.Fatalf("step %d: full read: %v", step, err)
			}
			sameSnapshot(t, fmt.Sprintf("step %d (%s)", step, kind), snap, full)
			pic = next
		}
	})
}

// TestDeltaReadCosts: a delta read of a tenant where nothing changed makes
// the calls the issue allows, ceil(assignments/999) + ceil(groups/50) + 3,
// and reads no group's members and no user; a change costs only what it
// touches.
func TestDeltaReadCosts(t *testing.T) {
	sc := newScenario(t, graphsim.Options{})
	src := newSource(t, sc.config())
	ctx := context.Background()
	snap, pic, err := src.ReadChanges(ctx, nil, deltaPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Delta || snap.FullReason != "no earlier read is remembered" {
		t.Errorf("first read: delta=%v reason=%q", snap.Delta, snap.FullReason)
	}
	sc.sim.ResetCounters()
	snap, pic, err = src.ReadChanges(ctx, pic, deltaPolicy())
	if err != nil {
		t.Fatal(err)
	}
	assignments, groups := 3+400+5+1, 3
	bound := (assignments+998)/999 + (groups+49)/50 + 3
	if !snap.Delta || snap.Changes != 0 || sc.sim.GraphCalls() > bound {
		t.Errorf("no change: delta=%v changes=%d, %d Graph calls (bound %d): %v", snap.Delta, snap.Changes, sc.sim.GraphCalls(), bound, sc.sim.Counters())
	}
	for route, n := range sc.sim.Counters() {
		if n > 0 && (strings.Contains(route, "members") || strings.Contains(route, "getByIds")) {
			t.Errorf("no change read %s %d times", route, n)
		}
	}

	// One person joins Sales and is read whole, once; another is renamed:
	// three changes (a membership, a person read, a rename).
	tn := sc.tenant
	tn.must(tn.sim.AddMember(sc.sales, sc.N[0])) // reached for the first time
	tn.must(tn.sim.RenameUser(sc.U[0], "renamed@contoso.com", ""))
	sc.sim.ResetCounters()
	snap, _, err = src.ReadChanges(ctx, pic, deltaPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Changes != 3 || sc.sim.Calls("POST /directoryObjects/getByIds") != 1 {
		t.Errorf("a join and a rename: %d changes, counters %v", snap.Changes, sc.sim.Counters())
	}
	full, err := src.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameSnapshot(t, "a join and a rename", snap, full)
}

// TestPersonLeftOutOfAReplyIsReadAgain: a new hire whom one getByIds reply
// left out (Graph's replication lag) is read again by the next delta read,
// in one call, though nothing about them changed since: not a day later,
// at the next full read.
func TestPersonLeftOutOfAReplyIsReadAgain(t *testing.T) {
	sc := newScenario(t, graphsim.Options{})
	src := newSource(t, sc.config())
	ctx := context.Background()
	_, pic, err := src.ReadChanges(ctx, nil, deltaPolicy())
	if err != nil {
		t.Fatal(err)
	}
	hire := sc.users("hire", 1)[0]
	sc.must1(sc.sim.Assign(sc.spID, hire, sc.roleU))
	sc.sim.LagUser(hire, 1) // the first reply that asks for them leaves them out
	snap, pic, err := src.ReadChanges(ctx, pic, deltaPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := byID(snap)[hire]; ok {
		t.Fatal("the hire was read despite the lag: the test proves nothing")
	}

	// Nothing changes in Entra; the next delta read asks for them again.
	sc.sim.ResetCounters()
	snap, pic, err = src.ReadChanges(ctx, pic, deltaPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := byID(snap)[hire]; !ok || !snap.Delta {
		t.Fatalf("delta=%v: the hire left out of one getByIds reply is still missing from the next delta read", snap.Delta)
	}
	if n := sc.sim.Calls("POST /directoryObjects/getByIds"); n != 1 || snap.Changes != 1 {
		t.Errorf("read again in %d getByIds calls with %d changes, want 1 and 1 (the hire)", n, snap.Changes)
	}
	full, err := src.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameSnapshot(t, "after the lag", snap, full)

	// Read, they are absent no more: the next delta read asks for no one.
	if len(pic.Absent) != 0 {
		t.Errorf("absent after the lag: %v", pic.Absent)
	}
	sc.sim.ResetCounters()
	if snap, _, err = src.ReadChanges(ctx, pic, deltaPolicy()); err != nil {
		t.Fatal(err)
	}
	if n := sc.sim.Calls("POST /directoryObjects/getByIds"); n != 0 || snap.Changes != 0 {
		t.Errorf("no change: %d getByIds calls, %d changes; want none", n, snap.Changes)
	}

	// Someone who stays absent (a lag that outlasts a read, or an id that
	// is no user) is asked for on every delta read, one call, no change.
	other := sc.users("late", 1)[0]
	sc.must1(sc.sim.Assign(sc.spID, other, sc.roleU))
	sc.sim.LagUser(other, 3)
	for i, want := range []int{1, 0, 0} { // reached (a change), then still absent (none)
		sc.sim.ResetCounters()
		if snap, pic, err = src.ReadChanges(ctx, pic, deltaPolicy()); err != nil {
			t.Fatal(err)
		}
		if n := sc.sim.Calls("POST /directoryObjects/getByIds"); n != 1 || snap.Changes != want || !pic.Absent[other] {
			t.Errorf("read %d of a lagging user: %d getByIds calls, %d changes, absent %v; want 1, %d, true", i+1, n, snap.Changes, pic.Absent[other], want)
		}
	}
	sc.sim.ResetCounters()
	if snap, pic, err = src.ReadChanges(ctx, pic, deltaPolicy()); err != nil {
		t.Fatal(err)
	}
	if _, ok := byID(snap)[other]; !ok || snap.Changes != 1 || pic.Absent[other] {
		t.Errorf("after the lag: read=%v, %d changes, absent %v", ok, snap.Changes, pic.Absent[other])
	}
}

// TestDeltaFallsBackToFullRead: expired and reset links, a picture of
// another configuration, an old full read and a requested full sync each
// give a full read that says why; nested groups never follow deltas.
func TestDeltaFallsBackToFullRead(t *testing.T) {
	sc := newScenario(t, graphsim.Options{})
	ctx := context.Background()
	src := newSource(t, sc.config())
	_, pic, err := src.ReadChanges(ctx, nil, deltaPolicy())
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, src *graph.Source, prev *directory.Picture, pol directory.ReadPolicy, reason string) *directory.Picture {
		t.Helper()
		snap, next, err := src.ReadChanges(ctx, prev, pol)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if snap.Delta || !strings.Contains(snap.FullReason, reason) {
			t.Errorf("%s: delta=%v reason=%q, want a full read because %q", name, snap.Delta, snap.FullReason, reason)
		}
		return next
	}
	sc.sim.ExpireDeltaTokens()
	pic = check("expired", src, pic, deltaPolicy(), "syncStateNotFound")
	sc.sim.ForceDeltaReset()
	pic = check("reset", src, pic, deltaPolicy(), "410")
	old := deltaPolicy()
	old.Now = old.Now.Add(25 * time.Hour)
	check("a day later", src, pic, old, "entra.full_read_interval")
	req := deltaPolicy()
	req.Full = true
	check("requested", src, pic, req, "full sync was requested")
	cfg := sc.config()
	cfg.Attributes = append(cfg.Attributes, "jobTitle")
	check("new attribute", newSource(t, cfg), pic, deltaPolicy(), "configuration changed")
	cfg = sc.config()
	cfg.NestedGroups = true
	nested := newSource(t, cfg)
	if next := check("nested", nested, nil, deltaPolicy(), "no earlier read"); next != nil {
		t.Error("nested groups: a picture to follow from, although group delta lists direct members only")
	}
	off := deltaPolicy()
	off.MaxAge = 0
	if next := check("off", src, pic, off, "full_read_interval is 0"); next != nil {
		t.Error("delta reads off: a picture was made")
	}
}

// A deltaLink to another origin would send the next read's token there and
// let that server say what changed: the read fails and nothing is kept. A
// user change that is not certain (accountEnabled null) is no reason to
// guess: the read is made in full.
func TestHostileDeltaReplies(t *testing.T) {
	tn, gid := salesTenant(t, 3)
	h := newHostile(t, tn)
	src := newSource(t, tn.viaHostile(h, false))
	ctx := context.Background()
	_, pic, err := src.ReadChanges(ctx, nil, deltaPolicy())
	if err != nil {
		t.Fatal(err)
	}
	other := newSink(t, tn, `{"value":[]}`)
	isDelta := func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/delta") }
	h.onReply(func(r *http.Request, body []byte) []byte {
		if isDelta(r) {
			return bytes.ReplaceAll(body, []byte(h.srv.URL), []byte(other.srv.URL))
		}
		return body
	})
	if _, _, err := src.ReadChanges(ctx, pic, deltaPolicy()); err == nil || !strings.Contains(err.Error(), "refusing @odata.deltaLink to another origin") {
		t.Fatalf("foreign deltaLink: err = %v", err)
	}

	var someone string
	for id := range pic.Users {
		someone = id
	}
	tn.must(tn.sim.UpdateUser(someone, map[string]any{"department": "Renamed"}))
	tn.must(tn.sim.AddMember(gid, tn.users("late", 1)[0]))
	h.onReply(func(r *http.Request, body []byte) []byte {
		if strings.Contains(r.URL.Path, "/users/delta") {
			return bytes.Replace(body, []byte(`"department":"Renamed"`), []byte(`"department":"Renamed","accountEnabled":null`), 1)
		}
		return body
	})
	snap, _, err := src.ReadChanges(ctx, pic, deltaPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Delta || !strings.Contains(snap.FullReason, "accountEnabled") || len(snap.Users) != 4 {
		t.Errorf("uncertain change: delta=%v reason=%q users=%d, want a full read of 4 users", snap.Delta, snap.FullReason, len(snap.Users))
	}
	if other.hits.Load() != 0 {
		t.Errorf("the foreign host got %d requests", other.hits.Load())
	}
}

// A delta read that finds nothing changed, from the picture the last read
// returned (as a daemon keeps it), gives the snapshot that read assembled
// rather than assembling it again; a changed assignment (which no delta
// reports), a changed user, or a picture that is another object (decoded
// from the state file) are assembled afresh, and every snapshot is what a
// full read gives.
func TestUnchangedDeltaReadReusesTheSnapshot(t *testing.T) {
	tn := newTenant(t, graphsim.Options{})
	ids := tn.users("u", 6)
	gid := tn.must1(tn.sim.AddGroup(graphsim.Group{DisplayName: "G"}))
	tn.must(tn.sim.AddMembers(gid, ids[:4]...))
	tn.must1(tn.sim.Assign(tn.spID, gid, tn.roleU))
	tn.must1(tn.sim.Assign(tn.spID, ids[5], tn.roleU))
	src := newSource(t, tn.config())
	ctx := context.Background()
	shared := func(a, b *directory.Snapshot) bool { return len(a.Users) > 0 && &a.Users[0] == &b.Users[0] }
	read := func(what string, prev *directory.Picture, consume bool) (*directory.Snapshot, *directory.Picture) {
		t.Helper()
		pol := deltaPolicy()
		pol.Consume = consume
		snap, next, err := src.ReadChanges(ctx, prev, pol)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		full, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sameSnapshot(t, what, snap, full)
		return snap, next
	}
	s1, p1 := read("first read", nil, false)
	s2, p2 := read("nothing changed", p1, false)
	if !shared(s1, s2) || !s2.Delta || s2.Changes != 0 || s2.ReadAt.Equal(s1.ReadAt) {
		t.Errorf("nothing changed: snapshot reused %v, delta %v, changes %d", shared(s1, s2), s2.Delta, s2.Changes)
	}
	s3, p3 := read("nothing changed again", p2, true)
	if !shared(s1, s3) {
		t.Error("nothing changed again: the snapshot was assembled anew")
	}
	// Graph has no delta for assignments: only the list tells.
	tn.must(tn.sim.Unassign(tn.spID, ids[5], tn.roleU))
	tn.must1(tn.sim.Assign(tn.spID, ids[5], tn.roleA))
	s4, p4 := read("a role changed", p3, false)
	if shared(s3, s4) {
		t.Error("a role changed: the old snapshot was given")
	}
	tn.must(tn.sim.UpdateUser(ids[0], map[string]any{"department": "Moved"}))
	s5, p5 := read("a user changed", p4, false)
	if shared(s4, s5) {
		t.Error("a user changed: the old snapshot was given")
	}
	s6, _ := read("a picture decoded from the file", p5.Clone(), true)
	if shared(s5, s6) {
		t.Error("another picture object: the snapshot kept for the last one was given")
	}
}
