//go:build linux

package state

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"

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
// the cycle, beside the cycle's heap (docs/benchmarks.md). Dropping the
// mapping's pages is safe while other reads run: MADV_DONTNEED on a shared
// file mapping only makes the next access fault the page in again. Errors
// are ignored: at worst the pages stay, as before.
func (s *Store) releasePages() {
	fi, err := os.Stat(s.path) // the file replaced since: no mapping matches, nothing is released
	if err != nil {
		return
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return
	}
	dev := fmt.Sprintf("%02x:%02x", unix.Major(st.Dev), unix.Minor(st.Dev))
	ino := strconv.FormatUint(st.Ino, 10)
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		// start-end perms offset dev inode path
		f := bytes.Fields(sc.Bytes())
		if len(f) < 5 || string(f[3]) != dev || string(f[4]) != ino {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte("-"))
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}
