// Package atomicfile writes a file whole or not at all: a backup of the
// state file, a configuration written by import. A full disk, a crash or
// a second writer leaves either what was there or the whole new file under
// the name, never half of one, and never replaces a file unless asked.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrExists: a file is at the path, and it was not to be replaced.
var ErrExists = errors.New("the file exists")

// Write writes path from fill: into a temporary file beside it (mode
// 0600), synced, then linked into place, which refuses a file that is
// there or appeared meanwhile (ErrExists), or with replace renamed over
// it; then the directory is synced so the name survives a crash. A file
// system without hard links refuses the write rather than risk a rename
// over a file that appeared meanwhile.
func Write(path string, replace bool, fill func(io.Writer) error) error {
	if _, err := os.Lstat(path); err == nil && !replace {
		return fmt.Errorf("write %s: %w", path, ErrExists)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after the link or rename, a no-op or the spare name
	err = tmp.Chmod(0o600)
	if err == nil {
		err = fill(tmp)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w; nothing was written there", path, err)
	}
	if replace {
		err = os.Rename(tmp.Name(), path)
	} else if err = os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		return fmt.Errorf("write %s: %w", path, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync() // a file system that cannot is no reason to fail a synced file
		d.Close()
	}
	return nil
}
