package state

import (
	"fmt"
	"io"
	"os"

	"github.com/g2msync/g2msync/pkg/atomicfile"
	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the state file to w: the file as of
// the last commit when Backup began, written from one read transaction,
// so a cycle committing meanwhile (in this process) neither waits for it
// nor tears it. It returns the bytes written.
func (s *Store) Backup(w io.Writer) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("back up %s: %w", s.path, err)
	}
	return n, nil
}

// ErrBackupExists: the backup's destination exists and was not to be
// replaced.
var ErrBackupExists = atomicfile.ErrExists

// BackupTo writes a consistent copy of the state file to path, mode 0600,
// whole or not at all (atomicfile.Write: never over a file unless
// replace), and never over the state file itself. It returns the bytes
// written.
func (s *Store) BackupTo(path string, replace bool) (int64, error) {
	if fi, err := os.Stat(path); err == nil {
		if live, lerr := os.Stat(s.path); lerr == nil && os.SameFile(fi, live) {
			return 0, fmt.Errorf("back up to %s: that is the state file itself", path)
		}
	}
	var n int64
	err := atomicfile.Write(path, replace, func(w io.Writer) (err error) {
		n, err = s.Backup(w)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("back up: %w", err)
	}
	return n, nil
}
