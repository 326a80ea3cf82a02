package mapping

import (
	"strings"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/directory"
)

// person is the user of the documented examples: each attribute the
// reference's examples read, by the name the examples give it.
func person(attrs map[string]string, lists map[string][]string) *directory.User {
	return &directory.User{ID: "00aa00aa-bb11-cc22-dd33-44ee44ee44ee", UserPrincipalName: attrs["userPrincipalName"], AccountEnabled: true,
		Attributes: attrs, Lists: lists}
}

// Each function with the examples Microsoft Learn gives ("Reference for
// writing expressions for attribute mappings in Microsoft Entra ID"),
// input → output, then the null cases. Where the reference names an
// attribute g2msync does not read from Graph (BusinessTitle, UserID,
// telephoneNumber…), the example reads a property g2msync does.
func TestFunctionsAsDocumented(t *testing.T) {
	at := func(kv ...string) *directory.User {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return person(m, nil)
	}
	none := at()
	proxies := person(map[string]string{}, map[string][]string{"proxyAddresses": {"SMTP:a@x.com", "smtp:b@x.com", "SMTP:a@x.com"}})
	cases := []struct {
		src  string
		u    *directory.User
		want string
	}{
		// Append
		{`Append([userPrincipalName], ".test")`, at("userPrincipalName", "John.Doe@contoso.com"), "John.Doe@contoso.com.test"},
		{`Append(Mid([givenName], 1, 3), Mid([surname], 1, 5))`, at("givenName", "John", "surname", "Doe"), "JohDoe"},
		{`Append([jobTitle], "x")`, none, "x"},
		// Coalesce
		{`Coalesce([mail],[userPrincipalName])`, at("userPrincipalName", "John.Doe@contoso.com"), "John.Doe@contoso.com"},
		{`Coalesce([mail], [jobTitle], "default@contoso.com")`, none, "default@contoso.com"},
		{`Coalesce([mail], [jobTitle])`, none, ""},
		// IIF, with nesting for AND and OR as the reference shows
		{`IIF([country]="USA",[country],[department])`, at("country", "USA", "department", "Sales"), "USA"},
		{`IIF([country]="USA",[country],[department])`, at("country", "FR", "department", "Sales"), "Sales"},
		{`IIF([country]="USA",IIF([state]="CA","True","False"),"False")`, at("country", "USA", "state", "CA"), "True"},
		{`IIF([country]="USA","True",IIF([state]="CA","True","False"))`, at("country", "FR", "state", "CA"), "True"},
		{`IIF([companyName] = "Company A", "A", IIF([companyName] = "Company B", "B", "External"))`, at("companyName", "Company B"), "B"},
		{`IIF([employeeId] > "5", "big", "small")`, at("employeeId", "12"), "big"},
		{`IIF([employeeId] <= 5, "small", "big")`, at("employeeId", "5"), "small"},
		// IsNull, IsNullOrEmpty, IsPresent, IsString
		{`IsNull([displayName])`, none, "True"},
		{`IsNull([displayName])`, at("displayName", "Ann"), "False"},
		{`IsNullOrEmpty([displayName])`, none, "True"},
		{`IsPresent([displayName])`, at("displayName", "Ann"), "True"},
		{`IsPresent([displayName])`, none, "False"},
		{`IsString([displayName])`, at("displayName", "Ann"), "True"},
		{`IsString(IsNull([displayName]))`, none, "False"},
		// Item: counts from 1; outside the list, null
		{`Item([proxyAddresses], 1)`, proxies, "SMTP:a@x.com"},
		{`Item([proxyAddresses], 2)`, proxies, "smtp:b@x.com"},
		{`Item([proxyAddresses], 9)`, proxies, ""},
		{`Item([proxyAddresses], 1)`, none, ""},
		// Join: empty sources are left out; lists give every item
		{`Join(", ", "", [surname], [givenName])`, at("givenName", "John", "surname", "Doe"), "Doe, John"},
		{`Join("@", NormalizeDiacritics(StripSpaces([givenName])), "contoso.com")`, at("givenName", "Zoë Ann"), "ZoeAnn@contoso.com"},
		{`Join(";", [proxyAddresses])`, proxies, "SMTP:a@x.com;smtp:b@x.com;SMTP:a@x.com"},
		{`Join(" ", [givenName], [surname])`, none, ""},
		// Left
		{`Left("John Doe", 3)`, none, "Joh"},
		{`Left("John Doe", 0)`, none, ""},
		{`Left("John Doe", -1)`, none, "John Doe"},
		{`Left("Jo", 5)`, none, "Jo"},
		{`Left([givenName], 2)`, none, ""},
		// Mid
		{`Mid([givenName], 1, 3)`, at("givenName", "John"), "Joh"},
		{`Mid([surname], 1, 5)`, at("surname", "Doe"), "Doe"},
		{`Mid("John", 2, 2)`, none, "oh"},
		{`Mid("John", 9, 2)`, none, ""},
		// NormalizeDiacritics, with letters of the reference's table
		{`NormalizeDiacritics([givenName])`, at("givenName", "Zoë"), "Zoe"},
		{`NormalizeDiacritics("Ångström Øre Łódź Straße Æsir ı")`, none, "Angstrom OEre Lodz Strasse AEsir i"},
		// Not
		{`Not([accountEnabled])`, at(), "False"},
		{`Not(IsPresent([mail]))`, none, "True"},
		{`Not("anything")`, none, "True"},
		// PCase
		{`PCase([givenName])`, at("givenName", "PABLO GONSALVES (SECOND)"), "Pablo Gonsalves (Second)"},
		{`PCase([surname]," '-")`, at("surname", "PINTO-DE'SILVA"), "Pinto-De'Silva"},
		{`PCase(Join(" ",[givenName],[surname]))`, at("givenName", "GREGORY", "surname", "JAMES"), "Gregory James"},
		// RemoveDuplicates
		{`Join(",", RemoveDuplicates([proxyAddresses]))`, proxies, "SMTP:a@x.com,smtp:b@x.com"},
		// Replace, each documented form
		{`Replace([jobTitle],"Product Developer", , , "Software Engineer", , )`, at("jobTitle", "Product Developer"), "Software Engineer"},
		{`Replace([mailNickname],"<username>", , , , , "<username>@contoso.com")`, at("mailNickname", "jsmith"), "jsmith@contoso.com"},
		{`Replace([mobilePhone], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", , "${phoneNumber}", , )`, at("mobilePhone", "+91 9998887777"), "9998887777"},
		{`Replace([mobilePhone], , "[()\\s-]+", , "", , )`, at("mobilePhone", "+1 (999) 888-7777"), "+19998887777"},
		{`Replace([streetAddress], ,"(?<streetNumber>^\\d*)","streetNumber", "888", , )`, at("streetAddress", "545 Tremont Street"), "888 Tremont Street"},
		{`Replace([userPrincipalName], , "(?<Suffix>@(.)*)", "Suffix", "", , )`, at("userPrincipalName", "jsmith@contoso.com"), "jsmith"},
		{`Replace([faxNumber], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", "phoneNumber" , , [mobilePhone], )`, at("mobilePhone", "+91 8887779999"), "8887779999"},
		{`Replace([faxNumber], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", "phoneNumber" , , [mobilePhone], )`, at("faxNumber", "+1 5550100", "mobilePhone", "+91 8887779999"), "+1 5550100"},
		{`Replace([mailNickname], , "[a-zA-Z_]*", , "", , )`, at("mailNickname", "john_doe72"), "72"},
		{`Replace([mail], "@contoso.com", , ,"", ,)`, at("mail", "john.doe@contoso.com"), "john.doe"},
		{`Replace([mail], "@contoso.com", , ,"", ,)`, none, ""},
		// SelectUniqueValue gives its first rule's value; the planner picks
		{`SelectUniqueValue(Join("@", NormalizeDiacritics(StripSpaces(Join(".",  [givenName], [surname]))), "contoso.com"), Join("@", NormalizeDiacritics(StripSpaces(Join(".",  Mid([givenName], 1, 1), [surname]))), "contoso.com"))`,
			at("givenName", "John", "surname", "Smith"), "John.Smith@contoso.com"},
		// Split
		{`Item(Split([department], ","), 2)`, at("department", "PermissionSetOne,PermissionSetTwo"), "PermissionSetTwo"},
		{`Item(Split([department], ","), 1)`, none, ""},
		// StripSpaces
		{`StripSpaces(" a b  c ")`, none, "abc"},
		// Switch: exact keys; no match gives the default; "" matches null
		{`Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney","QLD", "Australia/Brisbane", "SA", "Australia/Adelaide")`, at("state", "QLD"), "Australia/Brisbane"},
		{`Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney","QLD", "Australia/Brisbane", "SA", "Australia/Adelaide")`, at("state", "WA"), "Australia/Sydney"},
		{`Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney","QLD", "Australia/Brisbane")`, at("state", "qld"), "Australia/Sydney"},
		{`Switch(ToLower([employeeType]), "0", "true", "1", "false", "0")`, at("employeeType", "TRUE"), "1"},
		{`Switch([employeeType], "Default Value", "true", "1", "", "0")`, none, "0"},
		{`Switch([country],[country],"","Other")`, none, "Other"},
		{`Switch([country],[country],"","Other")`, at("country", "NZ"), "NZ"},
		{`Switch([jobTitle], , "a", "b")`, at("jobTitle", "z"), ""},
		// ToLower, ToUpper, with culture
		{`ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".",  [givenName], [surname]))), "contoso.com"))`, at("givenName", "John", "surname", "Smith"), "john.smith@contoso.com"},
		{`ToUpper([city])`, at("city", "istanbul"), "ISTANBUL"},
		{`ToUpper([city], "tr-TR")`, at("city", "istanbul"), "İSTANBUL"},
		{`ToLower([city], "tr-TR")`, at("city", "ISPARTA"), "ısparta"},
		{`ToLower([city])`, none, ""},
		// Trim
		{`Trim(" Test ")`, none, "Test"},
		// Word
		{`Word("The quick brown fox",3," ")`, none, "brown"},
		{`Word("This,string!has&many separators",3,",!&#")`, none, "has"},
		{`Word("one two",0," ")`, none, ""},
		{`Word("one two",3," ")`, none, ""},
		{`Word([displayName],1," ")`, none, ""},
		// CStr, CBool
		{`CStr([department])`, at("department", "cn=Joe,dc=contoso,dc=com"), "cn=Joe,dc=contoso,dc=com"},
		{`CBool([givenName] = [surname])`, at("givenName", "Lee", "surname", "Lee"), "True"},
		{`CBool([givenName] = [surname])`, at("givenName", "Ann", "surname", "Lee"), "False"},
		{`CBool("1")`, none, "True"},
		{`CBool("0")`, none, "False"},
		// FormatDateTime
		{`FormatDateTime([extensionAttribute1], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")`,
			at("onPremisesExtensionAttributes.extensionAttribute1", "20150123105347.1Z"), "2015-01-23"},
		{`FormatDateTime([employeeHireDate], , "yyyy-MM-ddTHH:mm:ssK", "M/d/yyyy")`, at("employeeHireDate", "2024-03-05T08:00:00Z"), "3/5/2024"},
		{`FormatDateTime([employeeHireDate], , "yyyy-MM-dd", "dd.MM.yyyy")`, at("employeeHireDate", "not a date"), ""},
		{`FormatDateTime([employeeHireDate], , "yyyy-MM-dd", "dd.MM.yyyy")`, none, ""},
		// DateFromNum: January 1, 2012 at 11:00 PM
		{`DateFromNum(129699324000000000)`, none, "1/1/2012 11:00:00 PM"},
		{`DateFromNum([employeeId])`, none, ""},
		// the short form, unchanged
		{`mail ?? userPrincipalName`, at("userPrincipalName", "u@x.com"), "u@x.com"},
		{`jobTitle ?? "Staff"`, at("jobTitle", "  "), "Staff"},
		{`Trim([mail]) ?? "none"`, at("mail", " a@x.com "), "a@x.com"},
		// the example configuration's three
		{`PCase(Coalesce([givenName], Word([displayName], 1, " ")))`, at("displayName", "JANE DOE"), "Jane"},
		{`Switch([preferredLanguage], "en_US", "de-DE", "de_DE", "fr-FR", "fr_FR", "es-ES", "es_ES")`, at("preferredLanguage", "de-DE"), "de_DE"},
		{`Switch([preferredLanguage], "en_US", "de-DE", "de_DE", "fr-FR", "fr_FR", "es-ES", "es_ES")`, none, "en_US"},
		{`Coalesce([mail], ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".", [givenName], [surname]))), "contoso.com")))`,
			at("givenName", "Zoë", "surname", "Van Dyk"), "zoe.vandyk@contoso.com"},
		{`Coalesce([mail], ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".", [givenName], [surname]))), "contoso.com")))`,
			at("mail", "Zoe@Contoso.com", "givenName", "Zoë"), "Zoe@Contoso.com"},
		// Entra's attribute names
		{`[objectId]`, none, "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"},
	}
	for _, tc := range cases {
		e, err := Parse(tc.src)
		if err != nil {
			t.Errorf("Parse(%s): %v", tc.src, err)
			continue
		}
		if got, err := e.Eval(tc.u); got != tc.want || err != nil {
			t.Errorf("%s = %q, %v; want %q", tc.src, got, err, tc.want)
		}
	}
}

func TestNowGuidAndRoles(t *testing.T) {
	clock := func() time.Time { return time.Date(2021, 7, 2, 15, 33, 38, 0, time.UTC) }
	env := &Env{User: person(nil, nil), Now: clock}
	if got, _ := MustParse(`Now()`).EvalEnv(env); got != "7/2/2021 3:33:38 PM" {
		t.Errorf("Now() = %q", got)
	}
	g1, _ := MustParse(`Guid()`).Eval(env.User)
	g2, _ := MustParse(`Guid()`).Eval(env.User)
	if len(g1) != 36 || strings.Count(g1, "-") != 4 || g1 == g2 || strings.ToLower(g1) != g1 {
		t.Errorf("Guid() = %q, %q", g1, g2)
	}
	if !MustParse(`Now()`).Volatile() || !MustParse(`Join("-", Guid())`).Volatile() || MustParse(`[mail]`).Volatile() {
		t.Error("Volatile: Now and Guid give a new value every time, attributes do not")
	}
	u := person(nil, nil)
	u.Assignments = []directory.Assignment{{AppRoleID: roleAdmin}}
	env = &Env{User: u, App: &app}
	if got, _ := MustParse(`SingleAppRoleAssignment([appRoleAssignments])`).EvalEnv(env); got != "Admin" {
		t.Errorf("SingleAppRoleAssignment = %q, want Admin", got)
	}
	sel := MustParse(`SelectUniqueValue(Join(".", [givenName], [surname]), Join(".", Left([givenName], 1), [surname]), [surname])`)
	u = person(map[string]string{"givenName": "John", "surname": "Smith"}, nil)
	if got, err := sel.Candidates(&Env{User: u}); strings.Join(got, " ") != "John.Smith J.Smith Smith" || err != nil {
		t.Errorf("candidates = %v, %v", got, err)
	}
}

// Malformed expressions are refused when the configuration loads, each with
// the column and what was expected.
func TestExpressionErrorsNameTheColumn(t *testing.T) {
	for src, want := range map[string]string{
		`Join(" ", [givenName], [surname]`:         `at column 33 of "Join(\" \", [givenName], [surname]": expected "," or ")" in the arguments of Join, found the end`,
		`Left([givenName], "3")`:                   `at column 19 of "Left([givenName], \"3\")": argument 2 of Left (NumChars): want a whole number such as 3, got a string`,
		`join(" ", [givenName])`:                   `unknown function "join"; names are case-sensitive: did you mean Join?`,
		`Switch([department], "x", "Sales")`:       `Switch takes at least 4 arguments, got 3`,
		`Switch([department], "x", "a", "b", "c")`: `key 2 has no value`,
		`[givenName`:             `at column 1 of "[givenName": attribute not closed`,
		`[givenname]`:            `at column 1 of "[givenname]": unknown directory attribute "givenname"`,
		`"abc`:                   `string not closed`,
		`"a\b"`:                  `at column 3 of "\"a\\b\"": in a string, \ escapes only " and \`,
		`Item([proxyAddresses])`: `Item takes 2 arguments, got 1`,
		`[proxyAddresses]`:       `the expression gives a list`,
		`Join(" ", SelectUniqueValue([mail], [userPrincipalName]))`: `SelectUniqueValue must be the whole expression`,
		`Replace([mail], , "(unclosed", , "x", , )`:                 `regexPattern does not compile`,
		`Replace([mail], "a")`:                                      `Replace takes 3 to 7 arguments, got 2`,
		`Replace([mail], , , , "x", , )`:                            `Replace needs oldValue with replacementValue or template`,
		`FormatDateTime([employeeHireDate], , "yyyy-QQ", "yyyy")`:   `"Q" is not a .NET date and time specifier`,
		`ToLower([city], "xx-not-a-culture-at-all")`:                `is not a culture name`,
		`Not([mail], [city])`:                                       `Not takes 1 argument, got 2`,
		`[mail] ??`:                                                 `at column 10 of "[mail] ??": expected an attribute, a "string" or a function, found the end`,
		`SingleAppRoleAssignment([mail])`:                           `SingleAppRoleAssignment reads [appRoleAssignments] only`,
		`Mid([givenName], 1, 2) Left([surname], 1)`:                 `at column 24 of "Mid([givenName], 1, 2) Left([surname], 1)": expected the end of the expression, found "Left"`,
		`Trim`: `unknown directory attribute "Trim"`,
		`Left([givenName], 99999999999999999999)`: `out of range`,
	} {
		_, err := Parse(src)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%s)\n  = %v\n  want %q", src, err, want)
		}
	}
	if _, err := Parse(strings.Repeat("Trim(", 40) + `"x"` + strings.Repeat(")", 40)); err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Errorf("deep nesting: %v", err)
	}
}

// word finds the words strings.FieldsFunc would, without keeping them.
func TestWordSplitsAsFieldsFunc(t *testing.T) {
	delim := func(r rune) bool { return r == ' ' || r == '-' || r == '\uFFFD' }
	for _, s := range []string{"", " ", "a", " a", "a ", "a b", "  a  b-c ", "a\xffb", "\xff", "é-ü  ö", "a--b"} {
		words := strings.FieldsFunc(s, delim)
		for n := -1; n <= len(words)+1; n++ {
			want := ""
			if n >= 1 && n <= len(words) {
				want = words[n-1]
			}
			if got := word(s, n, delim); got != want {
				t.Errorf("word(%q, %d) = %q, want %q", s, n, got, want)
			}
		}
	}
}
