// Package intern keeps one copy of each value that the many records of one
// read repeat: the state and origin of an owned record, a locale, a time
// zone, a licence list. Decoding gives every record its own copy; at
// 100,000 people those copies were about a fifth of the records' memory,
// and as much again of a GoTo listing's (docs/benchmarks.md).
//
// Sharing is only safe for values nobody changes in place. Records and
// listings here are read, never edited: a change makes a new list.
package intern

import (
	"slices"
	"strings"
)

// Max is how many values of each kind a Table keeps. Beyond it, a value
// not yet kept is returned as it is: a read whose values are all different
// (hostile or just unusual) costs a lookup each, not a table as large as
// the read.
const Max = 4096

// Table holds the values kept for one read. A nil *Table shares nothing,
// so a caller can switch sharing off by passing nil. It is not safe for
// concurrent use.
type Table struct {
	strs  map[string]string
	lists map[string][]string
}

// New returns an empty Table.
func New() *Table {
	return &Table{strs: map[string]string{}, lists: map[string][]string{}}
}

// Bytes returns b as a string, the kept copy when there is one. Looking it
// up allocates nothing, so a value seen before costs no allocation at all.
func (t *Table) Bytes(b []byte) string {
	if t == nil {
		return string(b)
	}
	if s, ok := t.strs[string(b)]; ok {
		return s
	}
	return t.keep(string(b))
}

// String returns the kept copy of s, or keeps s.
func (t *Table) String(s string) string {
	if t == nil {
		return s
	}
	if k, ok := t.strs[s]; ok {
		return k
	}
	return t.keep(s)
}

func (t *Table) keep(s string) string {
	if len(t.strs) < Max {
		t.strs[s] = s
	}
	return s
}

// List returns the kept list equal to l, or keeps l. Lists are looked up by
// their items joined with NUL, and compared item by item, so ["a\x00b"]
// and ["a", "b"] never share.
func (t *Table) List(l []string) []string {
	if t == nil || len(l) == 0 {
		return l
	}
	k := strings.Join(l, "\x00")
	if s, ok := t.lists[k]; ok && slices.Equal(s, l) {
		return s
	}
	if len(t.lists) < Max {
		t.lists[k] = l
	}
	return l
}
