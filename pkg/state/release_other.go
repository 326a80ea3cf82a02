//go:build !linux

package state

import bolt "go.etcd.io/bbolt"

// releasePages does nothing where the process's mappings cannot be read
// (release_linux.go says why it exists).
func (s *Store) releasePages() {}

func (s *Store) releaseMapped(*bolt.Tx) {}
