package mapping

import (
	"strings"
	"testing"
)

// Entra's scoping operators, with its semantics: case-sensitive strings, a
// null value false but for IS NULL, whole numbers for the comparisons and
// the bit tests; and g2msync's earlier names as aliases.
func TestScopingOperatorsAsEntra(t *testing.T) {
	cases := []struct {
		op, value, attr string
		want            bool
	}{
		{"EQUALS", "sales", "sales", true},
		{"EQUALS", "sales", "Sales", false},
		{"EQUALS", "sales", "", false},
		{"NOT EQUALS", "sales", "Sales", true},
		{"NOT EQUALS", "sales", "", false},
		{"not_equals", "sales", "marketing", true},
		{"IS TRUE", "", "true", true},
		{"IS TRUE", "", "false", false},
		{"IS FALSE", "", "false", true},
		{"IS FALSE", "", "", false},
		{"IS NULL", "", "", true},
		{"is_empty", "", "x", false},
		{"IS NOT NULL", "", "x", true},
		{"IS NOT NULL", "", "", false},
		{"REGEX MATCH", `.*\@domain.com`, "ann@domain.com", true},
		{"REGEX MATCH", `([1-9][0-9])`, "x42", true},
		{"regex", `^A`, "a", false},
		{"NOT REGEX MATCH", `.*\@domain.com`, "ann@other.com", true},
		{"NOT REGEX MATCH", `.*\@domain.com`, "", false},
		{"Greater_Than", "1000000", "1500000", true},
		{"Greater_Than", "1000000", "1000000", false},
		{"Greater_Than", "10", "ten", false},
		{"Greater_Than_OR_EQUALS", "1000000", "1000000", true},
		{"Includes", "Sales", "Inside Sales EMEA", true},
		{"Includes", "sales", "Inside Sales EMEA", false},
		{"ENDS_WITH", "@contoso.com", "a@contoso.com", true},
		{"ends_with", "@contoso.com", "a@Contoso.com", false},
		{"STARTS_WITH", "IT ", "IT Support", true},
		{"&", "2", "514", true},
		{"&", "2", "512", false},
		{"!&", "2", "512", true},
		{"!&", "2", "", false},
	}
	for _, tc := range cases {
		c, err := NewClause("employeeId", Op(tc.op), tc.value)
		if err != nil {
			t.Errorf("%s %q: %v", tc.op, tc.value, err)
			continue
		}
		u := user("u", map[string]string{"employeeId": tc.attr})
		if got := c.Match(&u); got != tc.want {
			t.Errorf("employeeId %q %s %q = %v, want %v", tc.attr, tc.op, tc.value, got, tc.want)
		}
	}
	for _, bad := range []struct{ attr, op, value, want string }{
		{"department", "LIKE", "x", `unknown operator "LIKE"`},
		{"department", "Greater_Than", "ten", "compares whole numbers"},
		{"department", "&", "", "compares whole numbers"},
		{"department", "IS NULL", "x", "takes no value"},
		{"proxyAddresses", "Includes", "smtp:", "multi-valued"},
		{"department", "REGEX MATCH", "(", "invalid regular expression"},
	} {
		if _, err := NewClause(bad.attr, Op(bad.op), bad.value); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s %s %q: %v, want %q", bad.attr, bad.op, bad.value, err, bad.want)
		}
	}
}
