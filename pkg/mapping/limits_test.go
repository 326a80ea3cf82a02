package mapping

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/plan"
)

// nest builds a mapping in the shape of issue 23's: each level puts the
// level below it in twice (format has two %s), so that a few levels make a
// value of about len(name)^(2^levels) bytes out of a short name.
func nest(first, format string, levels int) string {
	e := first
	for i := 1; i < levels; i++ {
		e = fmt.Sprintf(format, e, e)
	}
	return e
}

// allocated returns the bytes fn allocates, counted by the runtime.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A mapping that multiplies what it reads fails for the person it is
// evaluated for, with a reason naming the mapping and the limit, and
// allocates a bounded amount doing so; the next person maps as usual.
// Before the limits, the first two rows ended the test process with a
// fatal out-of-memory (as `plan` and the daemon did) and the others mapped
// values of hundreds of KB.
func TestAmplifyingMappingFailsOnlyThatPerson(t *testing.T) {
	const maxAlloc = 4 << 20 // four times what one evaluation may make
	many := strings.Repeat(`IsNull(Replace([givenName], "a", , , [givenName])), `, 30)
	tests := []struct {
		name  string
		expr  string
		attrs map[string]string
		want  []string // in the skip reason
	}{
		{"issue 23's mapping, the old value from an empty attribute",
			nest(`Replace([givenName], [jobTitle], , , [givenName])`, `Replace(%s, [jobTitle], , , %s)`, 4),
			map[string]string{"givenName": "Jane"}, []string{"mapping.firstName", "column 46", "oldValue ([jobTitle]) is empty"}},
		{"Replace nested in itself",
			nest(`Replace([givenName], "a", , , [givenName])`, `Replace(%s, "a", , , %s)`, 4),
			map[string]string{"givenName": "aaaaaaaa"}, []string{"mapping.firstName", "Replace", "65536 bytes"}},
		{"a regex Replace that puts a long value at every character",
			nest(`Replace([givenName], , ".", , [givenName])`, `Replace(%s, , ".", , %s)`, 3),
			map[string]string{"givenName": strings.Repeat("x", 300)}, []string{"mapping.firstName", "Replace", "65536 bytes"}},
		{"a replacement from an attribute that repeats the match",
			`Replace([givenName], , ".+", , [surname])`,
			map[string]string{"givenName": strings.Repeat("x", 100), "surname": strings.Repeat("$0", 2000)}, []string{"mapping.firstName", "Replace", "65536 bytes"}},
		{"Join with a long separator over a Split",
			`Join([givenName], Split([givenName], "x"))`,
			map[string]string{"givenName": strings.Repeat("x", 300)}, []string{"mapping.firstName", "Join", "65536 bytes"}},
		{"many values under the limit adding up",
			`Coalesce(` + many + `"x")`,
			map[string]string{"givenName": strings.Repeat("a", 200)}, []string{"mapping.firstName", "1048576 bytes"}},
		{"a Split into many empty items",
			`Item(Split([givenName], "x"), 1) ?? "-"`,
			map[string]string{"givenName": strings.Repeat("x", 60000)}, []string{"mapping.firstName", "Split", "65536 bytes"}},
		{"an attribute over the limit",
			`givenName`,
			map[string]string{"givenName": strings.Repeat("x", 70000)}, []string{"mapping.firstName", "[givenName]", "65536 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mapper(t, func(c *Config) { c.Fields[plan.FieldFirstName] = MustParse(tt.expr) })
			attrs := map[string]string{"mail": "big@contoso.com", "surname": "Big"}
			for k, v := range tt.attrs {
				attrs[k] = v
			}
			snap := &directory.Snapshot{App: app, Users: []directory.User{
				user("big", attrs, roleUser),
				user("ok", map[string]string{"mail": "ok@contoso.com", "givenName": "Bo", "surname": "Li", "jobTitle": "Staff"}, roleUser),
			}}
			var got []plan.Account
			n := allocated(func() { got = m.Map(snap) })
			for _, w := range tt.want {
				if !strings.Contains(got[0].Skip, w) {
					t.Errorf("skip reason = %.300q, want it to name %q", got[0].Skip, w)
				}
			}
			if len(got[0].Profile.FirstName) > 0 {
				t.Errorf("firstName of the skipped person is %d bytes, want none", len(got[0].Profile.FirstName))
			}
			if got[1].Skip != "" || got[1].Profile.FirstName == "" {
				t.Errorf("the next person: skip %q, firstName %q; want them mapped", got[1].Skip, got[1].Profile.FirstName)
			}
			if n > maxAlloc {
				t.Errorf("mapping two people allocated %d bytes, want at most %d", n, maxAlloc)
			}
		})
	}
}

// Issue 23's mapping as written: an empty literal oldValue, which would put
// the replacement between every two characters, is refused when the
// configuration loads, naming the column of the Replace.
func TestReplaceRefusesAnEmptyOldValue(t *testing.T) {
	issue := nest(`Replace([givenName], "", , , [givenName])`, `Replace(%s, "", , , %s)`, 4)
	if len(issue) != 461 {
		t.Fatalf("the issue's mapping is 461 bytes, built %d", len(issue))
	}
	for _, src := range []string{
		issue,
		`Replace([givenName], "", , , "x")`,
		`Replace([givenName], "", , , , , "template")`,
	} {
		_, err := Parse(src)
		if err == nil || !strings.Contains(err.Error(), "oldValue is empty") {
			t.Errorf("Parse(%.60s…) = %v, want an error about the empty oldValue", src, err)
		}
	}
}

// A regexPattern is at most maxPattern bytes long.
func TestReplacePatternLengthIsBounded(t *testing.T) {
	long := strings.Repeat("a", 1025)
	_, err := Parse(`Replace([givenName], , "` + long + `", , "x")`)
	if err == nil || !strings.Contains(err.Error(), "regexPattern is 1025 bytes long; at most 1024") {
		t.Errorf("a 1025-byte pattern: %v", err)
	}
	if _, err := Parse(`Replace([givenName], , "` + long[1:] + `", , "x")`); err != nil {
		t.Errorf("a 1024-byte pattern: %v", err)
	}
}

// longPattern is a 1 KiB alternation, the kind of pattern that took 16 ms a
// person to compile in issue 23.
func longPattern() string {
	var words []string
	for i := 0; len(strings.Join(words, "|")) < 1000; i++ {
		words = append(words, fmt.Sprintf("dept%04d", i))
	}
	return `\b(?:` + strings.Join(words, "|") + `)\b`
}

// quoted writes s as an expression's "constant".
func quoted(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// A literal regexPattern is compiled once, when the configuration loads,
// and kept in the parsed expression: mapping a person allocates a couple of
// dozen objects, not the hundreds a compilation takes (483 before).
func TestReplacePatternIsCompiledOnce(t *testing.T) {
	e := MustParse(`Replace([givenName], , ` + quoted(longPattern()) + `, , "x")`)
	if re := e.root.(*callNode).re; re == nil || re.String() != longPattern() {
		t.Fatalf("the parsed Replace holds %v, want the compiled pattern", re)
	}
	m := mapper(t, func(c *Config) { c.Fields[plan.FieldFirstName] = e })
	snap := &directory.Snapshot{App: app, Users: []directory.User{
		user("u", map[string]string{"mail": "u@contoso.com", "givenName": "dept0007 and dept0042"}, roleUser),
	}}
	if got := m.Map(snap)[0].Profile.FirstName; got != "x and x" {
		t.Fatalf("firstName = %q, want %q", got, "x and x")
	}
	if n := testing.AllocsPerRun(20, func() { m.Map(snap) }); n > 40 {
		t.Errorf("mapping one person allocates %.0f objects, want at most 40: is the pattern compiled per person?", n)
	}
}

func BenchmarkReplaceLongPattern(b *testing.B) {
	e := MustParse(`Replace([givenName], , ` + quoted(longPattern()) + `, , "x")`)
	cfg := Config{Fields: DefaultFields(), Roles: map[string]Role{"User": {Licenses: []string{"L"}}}}
	cfg.Fields[plan.FieldFirstName] = e
	m, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	snap := &directory.Snapshot{App: app, Users: []directory.User{
		user("u", map[string]string{"mail": "u@contoso.com", "givenName": "dept0007 and dept0042"}, roleUser),
	}}
	b.ReportAllocs()
	for b.Loop() {
		m.Map(snap)
	}
}
