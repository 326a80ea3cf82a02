package mapping

import (
	"fmt"
	"unicode/utf8"
)

// What one evaluation may make. A mapping's value goes into a GoTo field
// of at most 128 characters, and the directory attributes it reads are at
// most a few KB, so real mappings stay hundreds of times below these
// limits. They exist because the language multiplies: Replace nested in
// itself squares its value at each level (issue 23's 461-byte mapping asked
// for 152 GB), Join repeats its separator between every two items, and a
// regex replacement repeats the replacement, and the $ references in it,
// at every match. Past a limit the evaluation fails for the person it is
// for, with an *EvalError naming the limit; nothing else is affected.
//
// Every value an evaluation reads or makes is counted in one place,
// account; a function whose result could be much larger than its arguments
// (Replace, Join, Split) computes the result's size and asks room before it
// builds it.
const (
	// maxValue bounds each value: a string's bytes, a list's items' bytes
	// and 16 for each item (see value.size). 64 KiB is 512 times GoTo's
	// longest field and more than ten times the longest Entra attribute,
	// so no real value comes near it.
	maxValue = 64 << 10
	// maxTotal bounds what the values of one evaluation add up to: every
	// attribute read, constant and function result (a function that passes
	// an argument on counts it again). It keeps many values under maxValue
	// from adding up to what one over it would have been, and bounds the
	// work: a function reads only values already counted. 1 MiB is sixteen
	// values at maxValue.
	maxTotal = 1 << 20
	// maxPattern bounds a Replace regexPattern, which is compiled once,
	// when the configuration loads. Matching costs time in proportion to
	// the pattern times the value; the patterns of Microsoft Learn's
	// examples are under 50 bytes, and a list of alternatives longer than
	// this is better written with Switch.
	maxPattern = 1 << 10
)

// EvalError is an expression that cannot be evaluated for one person: a
// value over a limit above, or an argument a function refuses (an empty
// oldValue for Replace). The mapping fails for that person only.
type EvalError struct {
	Column int // 1-based, in characters, of the part that failed
	Msg    string
}

func (e *EvalError) Error() string { return fmt.Sprintf("at column %d, %s", e.Column, e.Msg) }

// evaluation is one evaluation of an expression: what it reads, and the
// account of what it has made so far. It stops at the first failure.
type evaluation struct {
	env  *Env
	src  string // the expression, for columns
	made int64  // bytes of the values counted so far
	err  *EvalError
}

// fail records the first failure, at node n, and returns null.
func (ev *evaluation) fail(n node, format string, args ...any) value {
	if ev.err == nil {
		pos := min(n.position(), len(ev.src))
		ev.err = &EvalError{Column: utf8.RuneCountInString(ev.src[:pos]) + 1, Msg: fmt.Sprintf(format, args...)}
	}
	return null
}

// account counts v, the value of n, and fails the evaluation if v or the
// sum so far is over its limit.
func (ev *evaluation) account(n node, v value) {
	size := int64(v.size())
	if size > maxValue {
		ev.fail(n, "%s gives a value of %d bytes; a value may have at most %d bytes (64 KiB)", describe(n), size, maxValue)
		return
	}
	ev.made += size
	if ev.made > maxTotal {
		ev.fail(n, "%s brings the values of this evaluation to %d bytes; an evaluation may make at most %d bytes (1 MiB)", describe(n), ev.made, maxTotal)
	}
}

// room reports whether n may make a value of size bytes, and fails the
// evaluation if not. Functions ask before they build a value that could be
// much larger than their arguments; exact is false when size is an upper
// bound.
func (ev *evaluation) room(n node, size int64, exact bool) bool {
	verb := "would give"
	if !exact {
		verb = "could give"
	}
	switch {
	case size > maxValue:
		ev.fail(n, "%s %s a value of %d bytes; a value may have at most %d bytes (64 KiB)", describe(n), verb, size, maxValue)
		return false
	case ev.made+size > maxTotal:
		ev.fail(n, "%s %s a value of %d bytes, bringing the values of this evaluation to %d bytes; an evaluation may make at most %d bytes (1 MiB)",
			describe(n), verb, size, ev.made+size, maxTotal)
		return false
	}
	return true
}

// spend counts bytes a function needs besides its value (the positions of
// a Replace's matches), and fails the evaluation if they do not fit.
func (ev *evaluation) spend(n node, bytes int64, what string) bool {
	if ev.made+bytes > maxTotal {
		ev.fail(n, "%s needs %d bytes for %s, bringing this evaluation to %d bytes; an evaluation may make at most %d bytes (1 MiB)",
			describe(n), bytes, what, ev.made+bytes, maxTotal)
		return false
	}
	ev.made += bytes
	return true
}

// describe names a part of an expression in an error.
func describe(n node) string {
	switch x := n.(type) {
	case *callNode:
		return x.fn.name
	case *attrNode:
		return "[" + x.name + "]"
	case *coalesceNode:
		return "??"
	case *compareNode:
		return "the comparison " + x.op
	}
	return "the constant"
}
