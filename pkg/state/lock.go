package state

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Lock takes the long-lived lock of the state file at path: a daemon holds it
// for its whole life, so a second daemon or `run --once` on the same file is
// refused, while `report` and `status` can still read the file between cycles.
// Unlock by calling the returned function.
func Lock(path string) (func(), error) {
	lp := path + ".lock"
	_, statErr := os.Lstat(lp)
	// O_NOFOLLOW: a link planted in the service user's directory must not
	// make root truncate and write another file.
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("lock file %s is a symbolic link; g2msync does not follow links there: remove it", lp)
	}
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		giveToDirOwner(lp)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(lp)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := strings.TrimSpace(string(pid))
			if holder != "" {
				holder = " (pid " + holder + ")"
			}
			return nil, fmt.Errorf("state file %s is %w%s", path, ErrInUse, holder)
		}
		return nil, fmt.Errorf("lock %s: %w", lp, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
