package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/plan"
)

// realistic writes a state file with every kind of page a daemon's file
// has: owned records over many leaf and branch pages, a directory picture
// large enough for overflow pages, cycles, the provisioning log, small
// buckets bbolt keeps inline, a refresh token, and a freelist with entries.
func realistic(t testing.TB, path string, people int) []byte {
	t.Helper()
	s, err := Open(path, Options{Binding: binding})
	if err != nil {
		t.Fatal(err)
	}
	var outs []Outcome
	for i := range people {
		id := fmt.Sprintf("e%05d", i)
		rec := plan.Record{EntraID: id, GoToKey: fmt.Sprint(7000 + i), Profile: plan.Profile{Email: id + "@x.com", FirstName: "F" + id, LastName: "L"},
			State: plan.StateActive, Licenses: []string{"5100000000000000000001"}}
		outs = append(outs, Outcome{EntraID: id, Record: &rec, Audit: AuditEntry{Action: "create", Result: ResultSuccess, EntraID: id, UPN: id + "@x.com"}})
		if len(outs) == 50 {
			if err := s.Commit(outs...); err != nil {
				t.Fatal(err)
			}
			outs = outs[:0]
		}
	}
	if err := s.Commit(outs...); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("picture body "), 3000) // ~39 KB: overflow pages
	if err := s.SaveDirectoryPicture([]byte("links"), body); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := s.SaveCycle(Cycle{ID: "c" + strconv.Itoa(i), Outcome: "success", Start: time.Unix(int64(i), 0)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveRefreshToken(t.Context(), "rt-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSkips(map[string]string{"e99999": "out of scope"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPause(&Pause{By: "test", Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	return closeAndRead(t, s)
}

// readAll reads everything a command can read from s; errors are fine (the
// file is damaged), a crash is not.
func readAll(t testing.TB, s *Store) {
	s.Records()
	s.OwnedCounts()
	s.Intents()
	s.Failures()
	s.Skips()
	s.Staged()
	s.Deferred()
	s.Approvals()
	s.Cycles(0)
	s.Audit(AuditFilter{})
	s.RefreshToken(t.Context())
	s.Paused()
	s.FullSyncRequested()
	s.ViewDirectoryPicture(func(links, body []byte) error { return nil })
}

// flip changes 1 to 3 bits of a copy of whole. Half the flips land in the
// parts bbolt follows blindly (page headers, element headers, metas), where
// a flip is most likely to send it outside the file; the rest anywhere.
func flip(r *rand.Rand, whole []byte, pageSize int) ([]byte, string) {
	b := bytes.Clone(whole)
	pages := len(b) / pageSize
	var what []string
	for range 1 + r.IntN(3) {
		var off int
		switch p := r.IntN(pages) * pageSize; r.IntN(4) {
		case 0:
			off = p + r.IntN(boltPageHeader)
		case 1:
			off = p + boltPageHeader + r.IntN(min(pageSize, 1024)-boltPageHeader)
		default:
			off = r.IntN(len(b))
		}
		bit := byte(1) << r.IntN(8)
		b[off] ^= bit
		what = append(what, fmt.Sprintf("byte %d ^%#x", off, bit))
	}
	return b, strings.Join(what, ", ")
}

// TestBitFlipsNeverCrash is the campaign of the hardening review: copies of
// a real state file with random bit flips are opened to read and to write,
// and each is refused as damaged or read; none may crash the process. Before
// pages.go a few in a hundred killed it with SIGSEGV inside bbolt's check,
// or grew it to an out-of-memory death: no test could catch that but this
// process dying. G2MSYNC_BITFLIPS sets the number of copies (a longer run by
// hand).
func TestBitFlipsNeverCrash(t *testing.T) {
	dir := t.TempDir()
	whole := realistic(t, filepath.Join(dir, "whole.db"), 400)
	ps := int(binary.LittleEndian.Uint32(whole[boltPageHeader+8:]))
	n := 1500
	if v, err := strconv.Atoi(os.Getenv("G2MSYNC_BITFLIPS")); err == nil {
		n = v
	}
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("G2MSYNC_BITFLIPS_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("seed %d (G2MSYNC_BITFLIPS_SEED repeats it), %d copies of a %d-byte file", seed, n, len(whole))
	r := rand.New(rand.NewPCG(seed, 0))
	path := filepath.Join(dir, "copy.db")
	refused, read := 0, 0
	for i := range n {
		b, what := flip(r, whole, ps)
		for _, opts := range []Options{{ReadOnly: true, Binding: binding}, {MustExist: true, Binding: binding}} {
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("copy %d (%s), %+v: panic %v\n%s", i, what, opts, p, debug.Stack())
					}
				}()
				s, err := Open(path, opts)
				if err != nil {
					if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNoState) && !strings.Contains(err.Error(), "binding") && !strings.Contains(err.Error(), "schema") {
						t.Errorf("copy %d (%s): %v, want it refused as damaged", i, what, err)
					}
					refused++
					return
				}
				read++
				readAll(t, s)
				if !opts.ReadOnly {
					rec := plan.Record{EntraID: "new", GoToKey: "1", State: plan.StateActive}
					s.Commit(Outcome{EntraID: "new", Record: &rec, Audit: AuditEntry{Action: "create", Result: ResultSuccess}})
				}
				s.Close()
			}()
		}
	}
	t.Logf("%d opens refused, %d read", refused, read)
	if refused == 0 || read == 0 {
		t.Errorf("%d refused, %d read: the campaign should meet both", refused, read)
	}
}

// Each damage a flip can do to the structure bbolt follows is refused with
// what is wrong, before bbolt reads the page.
func TestDamagedPagesAreRefusedBeforeBboltReadsThem(t *testing.T) {
	dir := t.TempDir()
	whole := realistic(t, filepath.Join(dir, "whole.db"), 400)
	le := binary.LittleEndian
	ps := int(le.Uint32(whole[boltPageHeader+8:]))
	// Find a branch page and a leaf page with elements that the tree
	// reaches (a freed page may look the same), and the freelist.
	w, err := walkPages(bytes.NewReader(whole), int64(len(whole)))
	if err != nil {
		t.Fatal(err)
	}
	var branch, leaf int
	free := int(w.freeID)
	for p := 2; p < len(whole)/ps; p++ {
		h := whole[p*ps:]
		if w.used[p/64]&(1<<(p%64)) == 0 || p == free || int(le.Uint64(h)) != p {
			continue
		}
		switch le.Uint16(h[8:]) {
		case pageBranch:
			branch = p
		case pageLeaf:
			if le.Uint16(h[10:]) > 3 && le.Uint32(h[12:]) == 0 {
				leaf = p
			}
		}
	}
	if branch == 0 || leaf == 0 || free == 0 {
		t.Fatalf("the file lacks a page kind: branch %d, leaf %d, freelist %d", branch, leaf, free)
	}
	for _, c := range []struct {
		name string
		at   int    // byte offset
		set  []byte // bytes written there
		want string
	}{
		{"a child past the file", branch*ps + boltPageHeader + 8, []byte{0, 0, 0, 0, 0, 0, 0, 0x40}, "outside the file"},
		{"a key past the page", branch*ps + boltPageHeader, []byte{0, 0, 0, 0x40}, "key lies outside the page"},
		{"a leaf element past the page", leaf*ps + boltPageHeader + 4, []byte{0, 0, 0, 0x40}, "lies outside the page"},
		{"an overflow past the file", leaf*ps + 12, []byte{0, 0, 0, 0x80}, "overflow pages, past the file"},
		{"a page that names another", leaf * ps, []byte{1}, "names itself"},
		{"a page of no known type", leaf*ps + 8, []byte{0x06}, "type flags"},
		{"more elements than fit", leaf*ps + 10, []byte{0xff, 0x7f}, "more than it holds"},
		{"a freelist longer than its page", free*ps + 10, []byte{0xfe, 0xff}, "room for"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(whole)
			if c.name == "a page that names another" {
				b[c.at] ^= c.set[0]
			} else {
				copy(b[c.at:], c.set)
			}
			path := filepath.Join(t.TempDir(), "s.db")
			os.WriteFile(path, b, 0o600)
			for _, opts := range []Options{{ReadOnly: true}, {MustExist: true}} {
				s, err := Open(path, opts)
				if err == nil {
					s.Close()
				}
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "state rebuild") {
					t.Errorf("%+v: %v, want ErrCorrupt saying %q with the recovery", opts, err, c.want)
				}
			}
		})
	}
}

// A sound file passes the page check whole: it must never refuse what
// bbolt wrote.
func TestSoundFilesPassThePageCheck(t *testing.T) {
	for _, n := range []int{0, 1, 400, 3000} {
		b := realistic(t, filepath.Join(t.TempDir(), "s.db"), n)
		if err := checkPages(bytes.NewReader(b), int64(len(b))); err != nil {
			t.Errorf("%d people: %v", n, err)
		}
	}
}

// FuzzStatePages flips bytes of a real file: the page check never panics,
// and whatever it passes, bbolt opens, checks and reads without crashing.
func FuzzStatePages(f *testing.F) {
	whole := realistic(f, filepath.Join(f.TempDir(), "whole.db"), 200)
	f.Add(uint32(462967), byte(0x40), uint32(0), byte(0))
	f.Add(uint32(242042), byte(0x20), uint32(8), byte(0xff))
	f.Add(uint32(466959), byte(0x80), uint32(20), byte(1))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, at1 uint32, x1 byte, at2 uint32, x2 byte) {
		b := bytes.Clone(whole)
		b[int(at1)%len(b)] ^= x1
		b[int(at2)%len(b)] ^= x2
		if checkPages(bytes.NewReader(b), int64(len(b))) != nil {
			return
		}
		path := filepath.Join(dir, fmt.Sprintf("f%d.db", at1))
		os.WriteFile(path, b, 0o600)
		defer os.Remove(path)
		s, err := Open(path, Options{ReadOnly: true})
		if err != nil {
			return
		}
		readAll(t, s)
		s.Close()
	})
}

// BenchmarkCheckPages measures the page check every open now makes, on a
// file of 20,000 owned records (go test -bench CheckPages ./pkg/state).
func BenchmarkCheckPages(b *testing.B) {
	path := filepath.Join(b.TempDir(), "s.db")
	whole := realistic(b, path, 20000)
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.SetBytes(int64(len(whole)))
	b.ReportAllocs()
	for b.Loop() {
		if err := checkPages(f, int64(len(whole))); err != nil {
			b.Fatal(err)
		}
	}
}
