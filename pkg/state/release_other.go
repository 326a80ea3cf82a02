//go:build !linux

package state

// releasePages does nothing where the process's mappings cannot be read
// (release_linux.go says why it exists).
func (s *Store) releasePages() {}
