package app

import (
	"sync"

	"github.com/g2msync/g2msync/pkg/state"
)

// Live is the state file of the cycle running in this process, shared with
// this process's readers and operator actions: bbolt lets read
// transactions run beside the cycle's writes, each on a consistent
// snapshot, and serialises an action's write transaction with the cycle's
// commits, so that neither waits for a ten-minute cycle nor, by holding the
// file, keeps a cycle out. The zero Live shares nothing.
type Live struct {
	mu sync.RWMutex
	st *state.Store
}

// Set shares st, or with nil stops sharing; it waits for those using the
// store before to finish, so the cycle closes the file after them.
func (l *Live) Set(st *state.Store) {
	l.mu.Lock()
	l.st = st
	l.mu.Unlock()
}

// Use runs fn on the running cycle's store and reports true, or reports
// false when no cycle runs (or l is nil).
func (l *Live) Use(fn func(*state.Store) error) (bool, error) {
	if l == nil {
		return false, nil
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.st == nil {
		return false, nil
	}
	return true, fn(l.st)
}
