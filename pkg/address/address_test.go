package address

import (
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"
)

func TestFold(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"Kate.Victim@Contoso.example", "kate.victim@contoso.example"},
		{"  ann@x.com ", "ann@x.com"},
		{"JOSÉ@x.com", "josÉ@x.com"}, // only ASCII letters fold
	} {
		if got := Fold(tc.a); got != tc.b {
			t.Errorf("Fold(%q) = %q, want %q", tc.a, got, tc.b)
		}
	}
	for _, pair := range [][2]string{
		{"\u212Aate.victim@contoso.example", "kate.victim@contoso.example"}, // Kelvin sign
		{"\u017Fam@x.com", "sam@x.com"},                                     // long s
		{"\u0130van@x.com", "ivan@x.com"},                                   // I with dot above
		{"josÉ@x.com", "josé@x.com"},
	} {
		if pair[0][0] == 0xe2 && !strings.EqualFold(pair[0], pair[1]) {
			t.Fatalf("strings.EqualFold no longer folds the Kelvin sign; the hazard this package guards against changed")
		}
		if Equal(pair[0], pair[1]) {
			t.Errorf("Equal(%q, %q): two different addresses taken for one", pair[0], pair[1])
		}
	}
}

func TestAmbiguous(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want rune
	}{
		{"kate@contoso.example", 0},
		{"KATE@CONTOSO.EXAMPLE", 0},
		{"josé@x.com", 0},
		{"\u212Aate@contoso.example", '\u212A'},
		{"\u017Fam@x.com", '\u017F'},
		{"JOSÉ@x.com", 'É'},
		{"bad\xffbyte@x.com", utf8.RuneError},
	} {
		r, ok := Ambiguous(tc.s)
		if ok != (tc.want != 0) || (ok && r != tc.want) {
			t.Errorf("Ambiguous(%q) = %q, %v; want %q", tc.s, r, ok, tc.want)
		}
	}
}

// TestPropertyDistinctAddressesNeverMatch: two addresses Equal only when
// they differ in the case of ASCII letters and in surrounding spaces, the
// one difference GoTo is documented to ignore.
func TestPropertyDistinctAddressesNeverMatch(t *testing.T) {
	alphabet := []rune("aAkKsSiI@.\u212A\u017F\u0130\u0131éÉß\u1E9E ")
	gen := rapid.StringOfN(rapid.SampledFrom(alphabet), 1, 6, -1)
	rapid.Check(t, func(t *rapid.T) {
		a, b := gen.Draw(t, "a"), gen.Draw(t, "b")
		if !Equal(a, b) {
			return
		}
		x, y := []rune(strings.TrimSpace(a)), []rune(strings.TrimSpace(b))
		if len(x) != len(y) {
			t.Fatalf("%q and %q taken for one address", a, b)
		}
		for i := range x {
			if x[i] != y[i] && !(isASCIILetter(x[i]) && isASCIILetter(y[i]) && x[i]|0x20 == y[i]|0x20) {
				t.Fatalf("%q and %q taken for one address: %q vs %q", a, b, x[i], y[i])
			}
		}
	})
}

func FuzzFold(f *testing.F) {
	for _, s := range []string{"\u212Aate@x.com", "Kate@x.com", "\xff", " a@b "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fs := Fold(s)
		if Fold(fs) != fs {
			t.Fatalf("Fold not idempotent on %q", s)
		}
		if len(fs) != len(strings.TrimSpace(s)) {
			t.Fatalf("Fold changed the length of %q", s)
		}
		if _, amb := Ambiguous(s); !amb && utf8.ValidString(s) && strings.ToLower(strings.TrimSpace(s)) != fs {
			t.Fatalf("%q folds differently under Unicode but is not flagged", s)
		}
	})
}

func isASCIILetter(r rune) bool { return ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') }
