package mapping

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/g2msync/g2msync/pkg/directory"
)

// FuzzParse: no input makes the parser or an evaluation panic or hang; an
// error names a column inside the expression; what parses evaluates for
// any person, with or without attributes.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`mail ?? userPrincipalName`, `Join(" ", [givenName], [surname])`, `Switch([preferredLanguage], "en_US", "de-DE", "de_DE")`,
		`Replace([mobilePhone], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", , "${phoneNumber}", , )`,
		`IIF([country]="USA",IIF([state]="CA","True","False"),"False")`, `FormatDateTime([employeeHireDate], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")`,
		`SelectUniqueValue(Join(".", [givenName], [surname]), [mail])`, `Item(Split([department], ","), 2)`, `Word("a b c", 2, " ")`,
		`PCase([surname]," '-")`, `DateFromNum(129699324000000000)`, `Mid([givenName], 1, 3) ?? "x"`, `"a\"b\\c"`, `Left("x", -3)`,
		`ToUpper([city], "tr-TR")`, `NormalizeDiacritics("Zoë")`, `[objectId]`, `SingleAppRoleAssignment([appRoleAssignments])`,
	} {
		f.Add(seed)
	}
	people := []*directory.User{
		{ID: "id"},
		{ID: "id", UserPrincipalName: "a@x.com", AccountEnabled: true, Attributes: map[string]string{
			"mail": "a@x.com", "givenName": "Zoë", "surname": "O'Brien-Smith", "department": "a,b,,c", "city": "İstanbul",
			"employeeHireDate": "20150123105347.1Z", "mobilePhone": "+91 9998887777", "preferredLanguage": "de-DE"},
			Lists:       map[string][]string{"proxyAddresses": {"SMTP:a@x.com", ""}},
			Assignments: []directory.Assignment{{AppRoleID: "r1"}, {AppRoleID: "r2", GroupID: "g"}}},
	}
	app := &directory.App{Roles: []directory.AppRole{{ID: "r1", Value: "User"}}}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			var pe *ParseError
			if errors.As(err, &pe) && (pe.Column < 1 || pe.Column > utf8.RuneCountInString(pe.Src)+1) {
				t.Fatalf("Parse(%q): column %d outside the expression", src, pe.Column)
			}
			return
		}
		_ = e.String()
		_ = e.Attributes()
		_ = e.Volatile()
		for _, u := range people {
			env := &Env{User: u, App: app}
			_, _ = e.EvalEnv(env)
			_, _ = e.Candidates(env)
		}
	})
}

// distinctItems returns n bytes or so of different two-byte items, each
// followed by a comma.
func distinctItems(n int) string {
	var b strings.Builder
	for r := rune(0x100); b.Len() < n; r++ {
		if utf8.ValidRune(r) {
			b.WriteRune(r)
			b.WriteByte(',')
		}
	}
	return b.String()
}

// FuzzEval: whatever the expression and the attributes (up to a little over
// maxValue long), evaluation does not panic, gives no value over maxValue,
// fails only with an *EvalError, and allocates at most maxEvalAlloc bytes,
// however much the expression multiplies what it reads. a is repeated n
// times as givenName and displayName; b is the surname and jobTitle, and
// ;-separated the proxyAddresses.
func FuzzEval(f *testing.F) {
	// maxEvalAlloc is what EvalEnv and Candidates may allocate together:
	// each may make maxTotal bytes of values, and a function's scratch
	// (a rune slice, a Split's headers, a set of items) is a small multiple
	// of values already counted.
	const maxEvalAlloc = 32 << 20
	nested := func(first, format string) string { return nest(first, format, 4) }
	for _, s := range []struct {
		src, a, b string
		n         uint16
	}{
		{nested(`Replace([givenName], "", , , [givenName])`, `Replace(%s, "", , , %s)`), "Jane", "", 1},
		{nested(`Replace([givenName], [jobTitle], , , [givenName])`, `Replace(%s, [jobTitle], , , %s)`), "Jane", "", 1},
		{nested(`Replace([givenName], "a", , , [givenName])`, `Replace(%s, "a", , , %s)`), "a", "", 8},
		{nested(`Replace([givenName], , ".", , [givenName])`, `Replace(%s, , ".", , %s)`), "x", "", 300},
		{nested(`Replace([givenName], , "", , "$0$0")`, `Replace(%s, , "", , %s)`), "x", "", 30},
		{`Replace([givenName], , ".+", , [surname])`, "x", strings.Repeat("$0", 200), 100},
		{`Replace([givenName], , "(?<g>a)", "g", [surname])`, "ab", "xyz", 2000},
		{`Replace([givenName], , "(?<g>a)", "g", , [surname], )`, "", "ab", 0},
		{`Replace([givenName], "a", , , , , [surname])`, "z", "a-a-a", 3},
		{`Join([givenName], Split([givenName], "x"))`, "x", "", 300},
		{`Join([surname], [proxyAddresses], [proxyAddresses])`, "x", "a;b;c", 1},
		{`Item(RemoveDuplicates(Split([givenName], ",")), 2)`, "a,b,", "", 5000},
		{`PCase([givenName], [surname])`, "ab ", "ba", 1000},
		{`Word([givenName], 3, [surname])`, "ab ", " ", 1000},
		{`Coalesce(` + strings.Repeat(`IsNull(Replace([givenName], "a", , , [givenName])), `, 30) + `"x")`, "a", "", 200},
		{`SelectUniqueValue(Append([givenName], [surname]), Join(".", [givenName], [surname]), [mail])`, "ann", "lee", 1},
		{`IIF([givenName] > [surname], Left([displayName], 3), Mid([displayName], 2, 5))`, "7", "10", 2},
		{`ToUpper(NormalizeDiacritics(StripSpaces(Trim([displayName]))), "tr-TR")`, "ıi é ", "", 500},
		{`FormatDateTime([givenName], , "yyyyMMddHHmmss.fZ", "dddd MMMM yyyy")`, "20150123105347.1Z", "", 1},
		{`Switch([surname], [givenName], "a", [displayName], "b", Guid())`, "q", "a", 100},
		{`givenName ?? surname ?? "-"`, "x ", "", 35000},
		// Found by hand after the first run, over 32 MiB each: a Word or a
		// Split over thousands of items kept them all, and a list of many
		// empty items counted as almost nothing.
		{`SelectUniqueValue(` + strings.Repeat(`Word([givenName], 2, ","), `, 20) + `"z")`, "ab,", "", 20000},
		{`SelectUniqueValue(` + strings.Repeat(`Item(RemoveDuplicates(Split([givenName], ",")), 1), `, 12) + `"z")`, distinctItems(60000), "", 1},
		{`SelectUniqueValue(` + strings.Repeat(`Join("", Item(Split([givenName], "x"), 1)), `, 12) + `"z")`, "x", "", 60000},
	} {
		f.Add(s.src, s.a, s.b, s.n)
	}
	app := &directory.App{Roles: []directory.AppRole{{ID: "r1", Value: "User", DisplayName: "User"}}}
	f.Fuzz(func(t *testing.T, src, a, b string, n uint16) {
		e, err := Parse(src)
		if err != nil {
			return
		}
		if len(a) > 0 && len(a)*int(n) > maxValue+4096 {
			n = uint16((maxValue + 4096) / len(a))
		}
		big := strings.Repeat(a, int(n))
		u := &directory.User{ID: "id", UserPrincipalName: "u@x.com", AccountEnabled: true,
			Attributes: map[string]string{"givenName": big, "displayName": big + b, "surname": b, "jobTitle": b,
				"mail": "u@x.com", "department": a + "," + b},
			Lists:       map[string][]string{"proxyAddresses": strings.Split(b, ";")},
			Assignments: []directory.Assignment{{AppRoleID: "r1"}, {AppRoleID: b}}}
		env := &Env{User: u, App: app, Now: func() time.Time { return time.Unix(0, 0) }, GUID: func() string { return "guid" }}
		var v string
		var cands []string
		var errV, errC error
		got := allocated(func() {
			v, errV = e.EvalEnv(env)
			cands, errC = e.Candidates(env)
		})
		for _, err := range []error{errV, errC} {
			var ee *EvalError
			if err != nil && !errors.As(err, &ee) {
				t.Fatalf("%q: error %T %v, want an *EvalError", src, err, err)
			}
		}
		for _, s := range append(cands, v) {
			if len(s) > maxValue {
				t.Fatalf("%q (a %q ×%d, b %q) gave a value of %d bytes, over %d", src, a, n, b, len(s), maxValue)
			}
		}
		if got > maxEvalAlloc {
			t.Fatalf("%q (a %q ×%d, b %q) allocated %d bytes, over %d", src, a, n, b, got, maxEvalAlloc)
		}
	})
}
