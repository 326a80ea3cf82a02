// Package address compares email addresses the one way g2msync compares
// them everywhere: matching, adoption, collisions, intent recovery, lookups
// and the planner's address resolution all call it, so that two different
// addresses can never be taken for one.
//
// strings.ToLower and Unicode case folding map look-alikes together: the
// Kelvin sign (U+212A) folds to "k" and the long s (U+017F) to "s", so an
// attacker who can set their own mail attribute could be matched to, and
// then rename or suspend, someone else's account. Fold therefore folds
// ASCII letters only, and Ambiguous flags the addresses that another system
// (GoTo among them) might fold differently, so callers can refuse them
// rather than guess.
//
// It imports nothing of g2msync.
package address

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Fold returns the form in which two addresses compare equal: surrounding
// white space trimmed and the ASCII letters A–Z lowercased. Nothing else
// changes, so two addresses with the same Fold differ only in the case of
// ASCII letters.
func Fold(s string) string {
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// Equal reports whether a and b are one address.
func Equal(a, b string) bool { return Fold(a) == Fold(b) }

// Ambiguous returns the first character of s that Unicode case folding
// would change or map onto an ASCII letter (an uppercase non-ASCII letter
// such as "É", or a look-alike such as the Kelvin sign), and whether there is
// one. Such an address may be one account to a system that folds Unicode and
// two to one that does not, so g2msync neither matches nor creates by it.
// Invalid UTF-8 is ambiguous too.
func Ambiguous(s string) (rune, bool) {
	for i, r := range s {
		if r < utf8.RuneSelf {
			continue
		}
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return r, true
			}
		}
		if unicode.ToLower(r) != r {
			return r, true
		}
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < utf8.RuneSelf {
				return r, true
			}
		}
	}
	return 0, false
}
