package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/state"
)

// deltaFake is a fakeSource that follows changes: it records the picture
// each read started from and hands out a new one, with Delta set when it
// had one to follow.
type deltaFake struct {
	*fakeSource
	prevs   []*directory.Picture
	pols    []directory.ReadPolicy
	reads   int
	changes int
}

func (d *deltaFake) ReadChanges(ctx context.Context, prev *directory.Picture, pol directory.ReadPolicy) (*directory.Snapshot, *directory.Picture, error) {
	d.prevs, d.pols = append(d.prevs, prev), append(d.pols, pol)
	snap, err := d.Read(ctx)
	if err != nil {
		return nil, nil, err
	}
	d.reads++
	next := &directory.Picture{Version: directory.PictureVersion, Key: "k", FullAt: pol.Now, AppID: "sp",
		Users: map[string]directory.User{}, Members: map[string][]string{}, Absent: map[string]bool{},
		UserLink: "https://graph/users/delta?$deltatoken=" + string(rune('a'+d.reads))}
	if prev != nil {
		next.FullAt = prev.FullAt
		snap.Delta, snap.Changes = true, d.changes
		next.Users, next.BodySum = prev.Users, prev.BodySum // as a reader's clone of prev
		if d.changes > 0 {
			next.Users = maps.Clone(prev.Users)
			next.Users[fmt.Sprintf("joined-%d", d.reads)] = directory.User{UserPrincipalName: "new@contoso.com"}
		}
	}
	for _, u := range snap.Users {
		if _, ok := next.Users[u.ID]; !ok && prev == nil {
			next.Users[u.ID] = u
		}
	}
	return snap, next, nil
}

func (h *harness) stored() (links, body []byte) {
	h.t.Helper()
	st, err := state.Open(h.path, state.Options{ReadOnly: true})
	if err != nil {
		h.t.Fatal(err)
	}
	defer st.Close()
	if err := st.ViewDirectoryPicture(func(l, b []byte) error {
		links, body = bytes.Clone(l), bytes.Clone(b)
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
	return links, body
}

// TestDirectoryPictureIsKeptBetweenCycles: a cycle follows from the
// picture the last one kept, decoded once per process; a delta read that
// changed nothing rewrites only the links; a dry run and a failed read keep
// nothing; a picture that cannot be decoded costs a full read.
func TestDirectoryPictureIsKeptBetweenCycles(t *testing.T) {
	h := newHarness(t, 3)
	src := &deltaFake{fakeSource: h.src}
	cache := &PictureCache{}
	run := func(opts Options, cache *PictureCache) *Result {
		t.Helper()
		st, err := state.Open(h.path, state.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		e := h.engine(st, opts.DryRun)
		e.Source, e.Pictures, e.FullReadInterval = src, cache, 24*time.Hour
		res, err := e.Run(context.Background(), opts)
		if err != nil && !errors.Is(err, src.err) {
			t.Fatalf("cycle: %v", err)
		}
		return res
	}

	res := run(Options{InitialSync: true}, cache)
	if src.prevs[0] != nil || !src.pols[0].Full || src.pols[0].MaxAge != 24*time.Hour || res.Cycle.Read != "full" {
		t.Fatalf("first cycle: prev %v, policy %+v, read %q", src.prevs[0], src.pols[0], res.Cycle.Read)
	}
	first := cache.pic
	links1, body1 := h.stored()
	if links1 == nil || body1 == nil {
		t.Fatal("the first cycle kept no picture")
	}

	res = run(Options{}, cache)
	if first == nil || src.prevs[1] != first {
		t.Fatalf("second cycle started from %p, want the picture the first kept in memory (%p), not a decoded copy", src.prevs[1], first)
	}
	if res.Cycle.Read != "delta: 0 changes" {
		t.Errorf("second cycle read %q", res.Cycle.Read)
	}
	if src.pols[1].Consume {
		t.Error("the read was given the cached picture to change: a failed read would leave the cache wrong")
	}
	links2, body2 := h.stored()
	if bytes.Equal(links1, links2) || !bytes.Equal(body1, body2) {
		t.Errorf("no change: links rewritten %v (want true), body rewritten %v (want false)", !bytes.Equal(links1, links2), !bytes.Equal(body1, body2))
	}

	// Another process (no cache) decodes what this one kept.
	run(Options{}, nil)
	want, err := directory.DecodePicture(links2, body2)
	if err != nil {
		t.Fatal(err)
	}
	if src.prevs[2] == cache.pic || !cmp.Equal(src.prevs[2], want) {
		t.Errorf("a new process started from %+v, want the stored picture", src.prevs[2])
	}
	if !src.pols[2].Consume {
		t.Error("a picture decoded for one read alone was not given to it: the read copies it for nothing")
	}

	// A delta read that changed something rewrites the body, and another
	// process follows the new one.
	src.changes = 1
	res = run(Options{}, cache)
	src.changes = 0
	linksC, bodyC := h.stored()
	if res.Cycle.Read != "delta: 1 changes" || bytes.Equal(bodyC, body2) {
		t.Errorf("a delta read with a change: read %q, body rewritten %v (want true)", res.Cycle.Read, !bytes.Equal(bodyC, body2))
	}
	if got, err := directory.DecodePicture(linksC, bodyC); err != nil || len(got.Users) != len(want.Users)+1 {
		t.Errorf("the rewritten picture: %v, %v", got, err)
	}

	links3, body3 := h.stored()
	run(Options{DryRun: true}, cache)
	src.err = errors.New("graph unavailable")
	run(Options{}, cache)
	src.err = nil
	if l, b := h.stored(); !bytes.Equal(l, links3) || !bytes.Equal(b, body3) {
		t.Error("a dry run or a failed read changed the stored picture")
	}

	st, err := state.Open(h.path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveDirectoryPicture(links3, []byte("not gob")); err != nil {
		t.Fatal(err)
	}
	st.Close()
	run(Options{}, nil)
	if last := src.prevs[len(src.prevs)-1]; last != nil {
		t.Errorf("an undecodable picture was followed: %+v", last)
	}
}
