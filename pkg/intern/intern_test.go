package intern

import (
	"fmt"
	"testing"
	"unsafe"
)

func sameString(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

func sameList(a, b []string) bool { return len(a) > 0 && len(b) > 0 && &a[0] == &b[0] }

func TestEqualValuesShareOneCopy(t *testing.T) {
	tb := New()
	a := tb.Bytes([]byte("Europe/Paris"))
	if b := tb.String(string([]byte("Europe/Paris"))); !sameString(a, b) {
		t.Error("two equal strings were not shared")
	}
	if c := tb.Bytes([]byte("Europe/Berlin")); c != "Europe/Berlin" || sameString(a, c) {
		t.Errorf("a different string came back as %q", c)
	}
	l1 := tb.List([]string{"5100", "5200"})
	if l2 := tb.List([]string{"5100", "5200"}); !sameList(l1, l2) {
		t.Error("two equal lists were not shared")
	}
	// Joined, these are the same key; they must not share.
	x := tb.List([]string{"a\x00b"})
	if y := tb.List([]string{"a", "b"}); len(y) != 2 || sameList(x, y) {
		t.Errorf("[\"a\\x00b\"] and [\"a\", \"b\"] shared: %q", y)
	}
}

func TestAllocationsOfAValueSeenBefore(t *testing.T) {
	tb := New()
	tb.Bytes([]byte("en_US"))
	b := []byte("en_US")
	if n := testing.AllocsPerRun(100, func() { tb.Bytes(b) }); n != 0 {
		t.Errorf("a string seen before cost %v allocations, want 0", n)
	}
}

func TestTableStopsGrowing(t *testing.T) {
	tb := New()
	for i := range 3 * Max {
		tb.String(fmt.Sprint("v", i))
		tb.List([]string{fmt.Sprint("l", i)})
	}
	if len(tb.strs) != Max || len(tb.lists) != Max {
		t.Errorf("table holds %d strings and %d lists, want %d each", len(tb.strs), len(tb.lists), Max)
	}
	// Values past the cap still come back whole, unshared.
	if s := tb.String("late"); s != "late" {
		t.Errorf("got %q", s)
	}
}

func TestNilTableSharesNothing(t *testing.T) {
	var tb *Table
	l := []string{"x"}
	if s := tb.Bytes([]byte("x")); s != "x" || !sameList(tb.List(l), l) || tb.String("y") != "y" {
		t.Error("a nil table changed a value")
	}
}
