package view

import (
	"strings"
	"testing"
)

func TestSafeEscapesWhatCouldForgeOutput(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Jane Doe", "Jane Doe"},
		{"José Müller", "José Müller"},
		{"Eve\ncreate  boss@contoso.com", `Eve\ncreate  boss@contoso.com`},
		{"a\rb\tc", `a\rb\tc`},
		{"\x1b[2J\x07", `\x1b[2J\x07`},
		{"x\u202egpj.exe", `x\u202egpj.exe`},
		{"c1\u0085", `c1\u0085`},
		{"bad\xffbyte", `bad\xffbyte`},
	} {
		if got := Safe(tc.in); got != tc.want {
			t.Errorf("Safe(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.ContainsAny(Safe(tc.in), "\n\r\t\x1b\x07") {
			t.Errorf("Safe(%q) still holds a control character", tc.in)
		}
	}
}

func TestSafeCellNeutralisesFormulas(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`=HYPERLINK("http://evil","click")`, `'=HYPERLINK("http://evil","click")`},
		{"+1", "'+1"}, {"-1", "'-1"}, {"@SUM(A1)", "'@SUM(A1)"}, {"\tx", `'\tx`}, {"plain", "plain"}, {"", ""},
	} {
		if got := SafeCell(tc.in); got != tc.want {
			t.Errorf("SafeCell(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzSafe(f *testing.F) {
	for _, s := range []string{"Eve\nforged", "\x1b]0;x\x07", "\u202e", "\xff\xfe", "ok"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Safe(s)
		for _, r := range out {
			if escaped(r) {
				t.Fatalf("Safe(%q) = %q holds %U", s, out, r)
			}
		}
	})
}
