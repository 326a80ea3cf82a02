package state

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

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
var ErrBackupExists = errors.New("the file exists")

// BackupTo writes a consistent copy of the state file to path, mode 0600,
// whole or not at all: it is written beside path, synced, and renamed
// into place (replacing a file there only with replace), so a full disk
// or a crash leaves no half a backup under the name. It returns the bytes
// written.
func (s *Store) BackupTo(path string, replace bool) (int64, error) {
	if fi, err := os.Stat(path); err == nil {
		if live, lerr := os.Stat(s.path); lerr == nil && os.SameFile(fi, live) {
			return 0, fmt.Errorf("back up to %s: that is the state file itself", path)
		}
	}
	if _, err := os.Lstat(path); err == nil && !replace {
		return 0, fmt.Errorf("back up to %s: %w (choose another name, or replace it)", path, ErrBackupExists)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return 0, fmt.Errorf("back up to %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("back up to %s: %w", path, err)
	}
	n, err := s.Backup(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("back up to %s: %w; nothing was written there", path, err)
	}
	if !replace {
		// Link refuses a file that appeared meanwhile; rename would not,
		// so a file system without hard links refuses the backup rather
		// than risk replacing one.
		err := os.Link(tmp.Name(), path)
		if errors.Is(err, os.ErrExist) {
			return 0, fmt.Errorf("back up to %s: %w", path, ErrBackupExists)
		}
		if err != nil {
			return 0, fmt.Errorf("back up to %s: %w (replace it explicitly where hard links are not supported)", path, err)
		}
	} else if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, fmt.Errorf("back up to %s: %w", path, err)
	}
	syncDir(filepath.Dir(path)) // the new name survives a crash
	return n, nil
}

// syncDir flushes a directory's entries; a file system that cannot is no
// reason to fail a backup already written and synced.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
