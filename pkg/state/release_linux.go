//go:build linux

package state

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// releasePages takes the state file's pages out of this process's
// resident set; they stay in the kernel's page cache, and a later read
// maps them again. bbolt reads through a shared, read-only mapping of the
// whole file, and a read that walks many records maps far more than it
// reads: the kernel maps 64 KiB around each page faulted in (fault-around,
// which bbolt's MADV_RANDOM does not turn off on current kernels), and a
// bucket's leaves lie among the provisioning log's. At 100,000 people,
// opening the file (its consistency check walks every page) or reading
// every record left 92-95 MiB of a 143 MB file resident for the rest of
// the cycle, beside the cycle's heap (docs/benchmarks.md).
//
// MADV_DONTNEED on a shared file mapping only makes the next access fault
// the page in again, so reads running beside it are safe. What must never
// happen is advising a range that is no longer this mapping: bbolt remaps
// the file when it grows, and anonymous memory (the Go heap) could then
// lie there, which MADV_DONTNEED would zero. So the range is found and
// advised inside a read transaction, which holds off bbolt's remap, and it
// is the range holding one of this transaction's pages, never another
// mapping of the same file (another Store of this process). Errors are
// ignored: at worst the pages stay, as before.
func (s *Store) releasePages() {
	_ = s.db.View(func(tx *bolt.Tx) error {
		s.releaseMapped(tx)
		return nil
	})
}

// releaseMapped is releasePages within tx, a transaction the caller holds
// (bbolt cannot remap the file while it is open): a read of every record
// calls it as it goes, so that the pages it faulted in do not pile up
// beside the heap the cycle builds meanwhile.
func (s *Store) releaseMapped(tx *bolt.Tx) {
	k, _ := tx.Cursor().First() // a bucket's name, in the root page: in the mapping
	if len(k) == 0 {
		return
	}
	addr := uint64(uintptr(unsafe.Pointer(&k[0])))
	if start, end, ok := mappingOf(addr, s.path); ok {
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}

// mappingOf returns the range of this process's mapping of the file at
// path that holds addr, from /proc/self/maps.
func mappingOf(addr uint64, path string) (start, end uint64, ok bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, false
	}
	st, isUnix := fi.Sys().(*syscall.Stat_t)
	if !isUnix {
		return 0, 0, false
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, 0, false
	}
	ino := strconv.FormatUint(st.Ino, 10)
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		// start-end perms offset dev inode path
		f := bytes.Fields(sc.Bytes())
		if len(f) < 5 || string(f[4]) != ino {
			continue
		}
		lo, hi, found := bytes.Cut(f[0], []byte("-"))
		if !found {
			continue
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 == nil && err2 == nil && start <= addr && addr < end {
			return start, end, true
		}
	}
	return 0, 0, false
}
