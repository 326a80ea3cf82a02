package view

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// safe makes text that g2msync did not write (names and addresses from Entra
// and GoTo, GoTo's error messages, reasons that quote them) safe to print on
// a terminal: control characters (newline, CR, tab, ESC, BEL, C1) and the
// Unicode line separators and bidirectional controls become visible escapes,
// so a crafted givenName can neither forge a line of the plan, nor break a
// table's columns, nor move the cursor. JSON output is left exact; this is
// for text only (STYLE.md §9).
func Safe(s string) string {
	clean := true
	for _, r := range s {
		if escaped(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case escaped(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// escaped reports whether safe escapes r.
func escaped(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r == 0x2028, r == 0x2029,
		r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == utf8.RuneError:
		return true
	}
	return false
}

// safeCell is safe for a spreadsheet cell: a value that a spreadsheet would run
// as a formula (it starts with = + - @, a tab or a CR) is prefixed with a
// quote, as OWASP's CSV-injection guidance asks.
func SafeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		s = "'" + s
	}
	return Safe(s)
}
