package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	bolterrors "go.etcd.io/bbolt/errors"
)

// The page check below reads bbolt's file format, as far as bbolt itself
// trusts it. bbolt reads its pages through unchecked pointer arithmetic on
// the mapped file: an element's offset, a child's page id or a page's
// overflow count that a flipped bit made too large points outside the
// mapping, and the process dies with a fault (SIGSEGV) or runs out of
// memory, which no recover can catch; its own consistency check (tx.Check)
// walks the pages the same way. So before bbolt maps a file, checkPages
// walks it with ordinary bounds-checked reads and refuses every page bbolt
// could not read safely. What it lets through is safe to hand to bbolt,
// whose tx.Check then finds the damage that does not crash it (keys out of
// order, pages both used and free).
//
// The layout (internal/common in go.etcd.io/bbolt v1.5, little-endian on
// every platform g2msync ships for):
//
//	page:    id u64 | flags u16 | count u16 | overflow u32 | elements …
//	meta:    magic u32 | version u32 | pageSize u32 | flags u32 |
//	         root {pgid u64, sequence u64} | freelist u64 | pgid (high water) u64 |
//	         txid u64 | checksum u64 (FNV-64a of the 56 bytes before it)
//	branch:  pos u32 | ksize u32 | pgid u64          (pos counts from the element)
//	leaf:    flags u32 | pos u32 | ksize u32 | vsize u32
//	bucket:  a leaf value with flag 1: root u64 | sequence u64, and when root
//	         is 0 an inline leaf page follows in the same value
//	freelist: count, or 0xFFFF and the count in the first u64; then page ids
const (
	pageBranch     = 0x01
	pageLeaf       = 0x02
	pageFreelist   = 0x10
	leafBucketFlag = 0x01
	elementSize    = 16
	bucketHeader   = 16
	metaSize       = 64 // through the checksum
	metaSummed     = 56
	boltVersion    = 2
	noFreelist     = ^uint64(0)
)

// damage is what checkPages found wrong, in bbolt's terms.
type damage struct{ msg string }

func (d *damage) Error() string { return d.msg }

func damaged(format string, args ...any) error { return &damage{fmt.Sprintf(format, args...)} }

// meta is the part of a meta page the check needs.
type meta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	hwm      uint64 // pages in use: every page id is below it
	txid     uint64
}

// readMeta decodes and validates the meta in page buf (its header
// included), as bbolt's Meta.Validate does: magic, version, checksum.
func readMeta(buf []byte) (meta, bool) {
	if len(buf) < boltPageHeader+metaSize {
		return meta{}, false
	}
	m := buf[boltPageHeader : boltPageHeader+metaSize]
	le := binary.LittleEndian
	if le.Uint32(m[0:]) != boltMagic || le.Uint32(m[4:]) != boltVersion {
		return meta{}, false
	}
	h := fnv.New64a()
	h.Write(m[:metaSummed])
	if h.Sum64() != le.Uint64(m[metaSummed:]) {
		return meta{}, false
	}
	return meta{pageSize: le.Uint32(m[8:]), root: le.Uint64(m[16:]), freelist: le.Uint64(m[32:]),
		hwm: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}, true
}

// pageWalk holds one check of a file.
type pageWalk struct {
	r      io.ReaderAt
	freeID uint64   // the freelist's page, or noFreelist
	free   []uint64 // the pages it lists
	ps     uint64   // page size
	hwm    uint64
	used   []uint64 // a bit per page id: reached once already
	hdr    [boltPageHeader]byte
	buf    []byte
}

// checkPages checks that bbolt can read the file r of size bytes without
// reading outside it: the meta page bbolt will choose, the freelist, and
// every page of every bucket reachable from the root. It returns a *damage
// naming the first problem, or an I/O error.
func checkPages(r io.ReaderAt, size int64) error {
	_, err := walkPages(r, size)
	return err
}

// walkPages is checkPages, returning the walk (for its tests: which pages
// it reached).
func walkPages(r io.ReaderAt, size int64) (*pageWalk, error) {
	head := make([]byte, boltPageHeader+metaSize)
	if _, err := r.ReadAt(head, 0); err != nil {
		return nil, damaged("its first meta page cannot be read (%d bytes)", size)
	}
	// The page size comes from the first valid meta, as bbolt's
	// getPageSize takes it; the second meta is then one page further.
	m0, ok0 := readMeta(head)
	var m1 meta
	ok1 := false
	var ps uint64
	if ok0 {
		ps = uint64(m0.pageSize)
	}
	for _, try := range []uint64{ps, 1024, 2048, 4096, 8192, 16384, 32768, 65536} {
		if try < 512 || try > 65536 {
			continue
		}
		b := make([]byte, boltPageHeader+metaSize)
		if _, err := r.ReadAt(b, int64(try)); err != nil {
			continue
		}
		// Without a valid first meta, the second is where its own page
		// size says it is.
		if m, ok := readMeta(b); ok && uint64(m.pageSize) == try {
			m1, ok1 = m, true
			if !ok0 {
				ps = uint64(m.pageSize)
			}
			break
		}
		if ok0 {
			break // the page size is known: the second meta is there or nowhere
		}
	}
	// bbolt uses the meta with the higher transaction id when it is valid,
	// and the other one otherwise.
	var m meta
	switch {
	case ok0 && ok1:
		m = m0
		if m1.txid > m0.txid {
			m = m1
		}
	case ok0:
		m = m0
	case ok1:
		m = m1
	default:
		return nil, damaged("neither meta page is valid")
	}
	if ps < 512 || ps > 65536 {
		return nil, damaged("page size %d in its meta page", ps)
	}
	if m.hwm < 2 || m.hwm > uint64(size)/ps {
		return nil, damaged("its meta page counts %d pages of %d bytes, the file holds %d bytes", m.hwm, ps, size)
	}
	w := &pageWalk{r: r, ps: ps, hwm: m.hwm, used: make([]uint64, (m.hwm+63)/64), freeID: m.freelist}
	w.mark(0, 0)
	w.mark(1, 0)
	if m.freelist != noFreelist {
		if err := w.freelist(m.freelist); err != nil {
			return nil, err
		}
	}
	if err := w.tree(m.root); err != nil {
		return nil, err
	}
	return w, w.freeInUse()
}

// mark records pages id…id+overflow as reached, and reports whether one of
// them was reached before: a page that two parents share, or a loop.
func (w *pageWalk) mark(id, overflow uint64) bool {
	again := false
	for p := id; p <= id+overflow; p++ {
		if w.used[p/64]&(1<<(p%64)) != 0 {
			again = true
		}
		w.used[p/64] |= 1 << (p % 64)
	}
	return again
}

// page reads page id with its overflow pages after checking that its header
// names it, has flags in want, and that all of it lies below the high water
// mark.
func (w *pageWalk) page(id uint64, want uint16, what from) ([]byte, uint16, error) {
	if id < 2 || id >= w.hwm {
		return nil, 0, damaged("%s points at page %d, outside the file's %d pages", what, id, w.hwm)
	}
	hdr := w.hdr[:]
	if _, err := w.r.ReadAt(hdr, int64(id*w.ps)); err != nil {
		return nil, 0, fmt.Errorf("read page %d: %w", id, err)
	}
	le := binary.LittleEndian
	flags := le.Uint16(hdr[8:])
	overflow := uint64(le.Uint32(hdr[12:]))
	switch {
	case le.Uint64(hdr[0:]) != id:
		return nil, 0, damaged("page %d (%s) names itself page %d", id, what, le.Uint64(hdr[0:]))
	case flags&want == 0 || flags&(flags-1) != 0:
		return nil, 0, damaged("page %d (%s) has type flags %#x", id, what, flags)
	case id+overflow >= w.hwm:
		return nil, 0, damaged("page %d (%s) claims %d overflow pages, past the file's %d pages", id, what, overflow, w.hwm)
	case w.mark(id, overflow):
		return nil, 0, damaged("page %d (%s) is reached twice", id, what)
	}
	n := (overflow + 1) * w.ps
	if uint64(cap(w.buf)) < n {
		w.buf = make([]byte, n)
	}
	buf := w.buf[:n]
	if _, err := w.r.ReadAt(buf, int64(id*w.ps)); err != nil {
		return nil, 0, fmt.Errorf("read page %d: %w", id, err)
	}
	return buf, flags, nil
}

// freelist checks the freelist page: its ids fit in it and name pages of
// the file other than the metas.
func (w *pageWalk) freelist(id uint64) error {
	buf, _, err := w.page(id, pageFreelist, from{parent: fromMeta, freelist: true})
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	idx, count := uint64(0), uint64(le.Uint16(buf[10:]))
	if count == 0xFFFF {
		if len(buf) < boltPageHeader+8 {
			return damaged("freelist page %d is cut short", id)
		}
		idx, count = 1, le.Uint64(buf[boltPageHeader:])
	}
	room := uint64(len(buf)-boltPageHeader) / 8
	if count > room || idx+count > room {
		return damaged("freelist page %d lists %d pages, room for %d", id, count, room)
	}
	for i := idx; i < idx+count; i++ {
		f := le.Uint64(buf[boltPageHeader+8*i:])
		if f < 2 || f >= w.hwm {
			return damaged("freelist page %d lists page %d, outside the file's %d pages", id, f, w.hwm)
		}
		w.free = append(w.free, f)
	}
	return nil
}

// freeInUse refuses a page that the freelist lists and the tree uses: bbolt
// would hand it out again and overwrite it, or panic when it frees it a
// second time. bbolt's tx.Check sees this for the first page of a span
// only, not for its overflow pages.
func (w *pageWalk) freeInUse() error {
	for _, f := range w.free {
		if w.used[f/64]&(1<<(f%64)) != 0 {
			return damaged("page %d is both in use and listed as free", f)
		}
	}
	return nil
}

// from says how the walk reached a page, for the message if it is damaged;
// it is formatted only then, as most files have no damage to report.
type from struct {
	parent   uint64 // fromMeta: the meta page
	bucket   bool   // reached as a bucket's root, else as a branch's child
	freelist bool   // the meta's freelist, else its root bucket
}

// fromMeta is the parent of the pages the meta names (page 0 is a meta
// page, never a parent in the tree).
const fromMeta = 0

func (f from) String() string {
	switch {
	case f.parent == fromMeta && f.freelist:
		return "the freelist"
	case f.parent == fromMeta:
		return "the root bucket"
	case f.bucket:
		return fmt.Sprintf("a bucket in leaf page %d", f.parent)
	}
	return fmt.Sprintf("a child of branch page %d", f.parent)
}

// tree checks the bucket rooted at page root and every bucket within it.
// It walks with its own stack: a damaged file could nest deeper than is
// wise to recurse.
func (w *pageWalk) tree(root uint64) error {
	type todo struct {
		id  uint64
		how from
	}
	stack := []todo{{id: root}}
	var children, roots []uint64
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		buf, flags, err := w.page(t.id, pageBranch|pageLeaf, t.how)
		if err != nil {
			return err
		}
		if flags == pageBranch {
			if children, err = branchChildren(buf, t.id, children[:0]); err != nil {
				return err
			}
			for _, c := range children {
				stack = append(stack, todo{c, from{parent: t.id}})
			}
			continue
		}
		roots = roots[:0]
		if err := leafBuckets(buf, leafPlace{page: t.id}, &roots); err != nil {
			return err
		}
		for _, r := range roots {
			stack = append(stack, todo{r, from{parent: t.id, bucket: true}})
		}
	}
	return nil
}

// branchChildren checks a branch page's elements and returns its children.
func branchChildren(buf []byte, id uint64, out []uint64) ([]uint64, error) {
	le := binary.LittleEndian
	count := uint64(le.Uint16(buf[10:]))
	if count == 0 {
		return nil, damaged("branch page %d has no elements", id)
	}
	if boltPageHeader+count*elementSize > uint64(len(buf)) {
		return nil, damaged("branch page %d claims %d elements, more than it holds", id, count)
	}
	for i := uint64(0); i < count; i++ {
		off := boltPageHeader + i*elementSize
		e := buf[off : off+elementSize]
		pos, ksize := uint64(le.Uint32(e[0:])), uint64(le.Uint32(e[4:]))
		if off+pos+ksize > uint64(len(buf)) {
			return nil, damaged("branch page %d: element %d's key lies outside the page", id, i)
		}
		out = append(out, le.Uint64(e[8:]))
	}
	return out, nil
}

// maxInlineDepth bounds buckets held inline within inline buckets; bbolt
// writes a bucket inline only when it is small, so real files nest a level
// or two.
const maxInlineDepth = 32

// leafPlace names a leaf page, or an inline bucket's page within one (the
// elements of the buckets it is nested in), for messages.
type leafPlace struct {
	page   uint64
	inline []uint64
}

func (l leafPlace) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "leaf page %d", l.page)
	for _, i := range l.inline {
		fmt.Fprintf(&b, ", inline bucket %d", i)
	}
	return b.String()
}

// leafBuckets checks a leaf page (a page of the file, or an inline page in
// a bucket's value) and appends the root pages of the buckets it holds.
func leafBuckets(buf []byte, where leafPlace, roots *[]uint64) error {
	depth := len(where.inline)
	if depth > maxInlineDepth {
		return damaged("%s nests inline buckets %d deep", where, depth)
	}
	le := binary.LittleEndian
	if len(buf) < boltPageHeader {
		return damaged("%s is cut short", where)
	}
	if depth > 0 && le.Uint16(buf[8:]) != pageLeaf {
		return damaged("%s: an inline bucket's page has type flags %#x", where, le.Uint16(buf[8:]))
	}
	count := uint64(le.Uint16(buf[10:]))
	if boltPageHeader+count*elementSize > uint64(len(buf)) {
		return damaged("%s claims %d elements, more than it holds", where, count)
	}
	for i := uint64(0); i < count; i++ {
		off := boltPageHeader + i*elementSize
		e := buf[off : off+elementSize]
		flags := le.Uint32(e[0:])
		pos, ksize, vsize := uint64(le.Uint32(e[4:])), uint64(le.Uint32(e[8:])), uint64(le.Uint32(e[12:]))
		end := off + pos + ksize + vsize
		if end > uint64(len(buf)) {
			return damaged("%s: element %d lies outside the page", where, i)
		}
		if flags&^leafBucketFlag != 0 {
			return damaged("%s: element %d has flags %#x", where, i, flags)
		}
		if flags&leafBucketFlag == 0 {
			continue
		}
		v := buf[off+pos+ksize : end]
		if len(v) < bucketHeader {
			return damaged("%s: bucket %d's header is cut short", where, i)
		}
		if root := le.Uint64(v[0:]); root != 0 {
			*roots = append(*roots, root)
			continue
		}
		inner := leafPlace{page: where.page, inline: append(slices.Clip(where.inline), i)}
		if err := leafBuckets(v[bucketHeader:], inner, roots); err != nil {
			return err
		}
	}
	return nil
}

// openChecked is bbolt's OpenFile: it opens the file, takes the lock bbolt
// is about to take (exclusive to write, shared to read) and checks the
// pages under it, before bbolt maps the file and reads its freelist. bbolt's
// own flock on the same descriptor then succeeds at once. A damaged file
// comes back as a *damage, a lock not had in time as bbolt's ErrTimeout.
func openChecked(name string, flag int, perm os.FileMode, timeout time.Duration) (*os.File, error) {
	f, err := os.OpenFile(name, flag|syscall.O_NOFOLLOW, perm)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		how = syscall.LOCK_EX
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock: %w", err)
		}
		if timeout > 0 && time.Now().After(deadline) {
			f.Close()
			return nil, bolterrors.ErrTimeout
		}
		time.Sleep(50 * time.Millisecond)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.Size() == 0 {
		return f, nil // a new file: bbolt writes its first pages
	}
	if err := checkPages(f, fi.Size()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
