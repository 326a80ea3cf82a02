package mapping

import (
	"errors"
	"testing"
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
