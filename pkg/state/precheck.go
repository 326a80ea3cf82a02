package state

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// bbolt's file layout, as far as the size check needs it: two meta pages at
// the start of the file, each a 16-byte page header followed by the meta
// (magic, version, page size, flags, root bucket, freelist page, high water
// mark pgid, txid, checksum), in the machine's byte order (little-endian on
// every platform g2msync ships for).
const (
	boltMagic      = 0xED0CDAED
	boltPageHeader = 16
	boltMetaPgid   = boltPageHeader + 40
)

// checkSize refuses a file shorter than its own header says it is. bbolt
// maps the file into memory and reads the pages the header names; past the
// end of a truncated file that read is a SIGBUS, which kills the process
// before any recover can run. So the size is checked first.
func checkSize(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, 2*65536)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	// The size is taken after the header is read: a daemon writing the file
	// grows it before it writes a meta page naming the new size.
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	need := int64(0)
	pageSize := int64(0)
	for i, off := 0, int64(0); i < 2; i++ {
		if off+boltMetaPgid+8 > int64(len(head)) {
			break
		}
		m := head[off+boltPageHeader:]
		if binary.LittleEndian.Uint32(m[0:]) != boltMagic {
			if i == 0 {
				return nil // not a bbolt file at all: bolt.Open says ErrInvalid
			}
			break
		}
		ps := int64(binary.LittleEndian.Uint32(m[8:]))
		if ps < 512 || ps > 65536 {
			return fmt.Errorf("state file %s is %w (page size %d in its header); %s", path, ErrCorrupt, ps, recovery)
		}
		if pageSize == 0 {
			pageSize = ps
		}
		pgid := int64(binary.LittleEndian.Uint64(head[off+boltMetaPgid:]))
		need = max(need, pgid*ps)
		off = pageSize // the second meta page follows the first
	}
	if size < need {
		return fmt.Errorf("state file %s is %w: it holds %d bytes, its header says at least %d (a truncated copy?); %s",
			path, ErrCorrupt, size, need, recovery)
	}
	return nil
}
