package mapping

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/g2msync/g2msync/pkg/directory"
)

// Op is a scoping clause operator, named as Entra's scoping filters name
// it ("Scoping users or groups to be provisioned with scoping filters").
type Op string

// Scoping operators, with Entra's semantics: string comparisons are
// case-sensitive, and a clause on an attribute that is null or empty is
// false, but for IS NULL (true) and IS NOT NULL (false).
const (
	OpEquals         Op = "EQUALS"
	OpNotEquals      Op = "NOT EQUALS"
	OpIsTrue         Op = "IS TRUE"
	OpIsFalse        Op = "IS FALSE"
	OpIsNull         Op = "IS NULL"
	OpIsNotNull      Op = "IS NOT NULL"
	OpRegex          Op = "REGEX MATCH"
	OpNotRegex       Op = "NOT REGEX MATCH"
	OpGreater        Op = "GREATER THAN"
	OpGreaterOrEqual Op = "GREATER THAN OR EQUALS"
	OpIncludes       Op = "INCLUDES"
	OpEndsWith       Op = "ENDS WITH"
	OpStartsWith     Op = "STARTS WITH"
	OpBitAnd         Op = "&"
	OpNotBitAnd      Op = "!&"
)

// Ops lists the operators, for messages.
func Ops() []Op {
	return []Op{OpEquals, OpNotEquals, OpIsTrue, OpIsFalse, OpIsNull, OpIsNotNull, OpRegex, OpNotRegex, OpGreater, OpGreaterOrEqual,
		OpIncludes, OpEndsWith, OpStartsWith, OpBitAnd, OpNotBitAnd}
}

// opAliases are g2msync's earlier operator names.
var opAliases = map[string]Op{"REGEX": OpRegex, "NOT REGEX": OpNotRegex, "IS EMPTY": OpIsNull, "IS NOT EMPTY": OpIsNotNull}

// ParseOp reads an operator as Entra writes it (EQUALS, Greater_Than,
// NOT REGEX MATCH) or as g2msync wrote it before (not_equals, is_empty,
// regex): case and underscores do not matter.
func ParseOp(s string) (Op, bool) {
	n := strings.Join(strings.Fields(strings.ReplaceAll(strings.ToUpper(s), "_", " ")), " ")
	if op, ok := opAliases[n]; ok {
		return op, true
	}
	if slices.Contains(Ops(), Op(n)) {
		return Op(n), true
	}
	return "", false
}

// Clause is one test of a user attribute.
type Clause struct {
	Attribute string
	Op        Op
	Value     string
	re        *regexp.Regexp
	n         int64
}

// NewClause validates and compiles a clause.
func NewClause(attr string, op Op, value string) (Clause, error) {
	c := Clause{Attribute: attr, Value: value}
	o, ok := ParseOp(string(op))
	if !ok {
		names := make([]string, 0, len(Ops()))
		for _, o := range Ops() {
			names = append(names, string(o))
		}
		return c, fmt.Errorf("unknown operator %q (want one of %s)", op, strings.Join(names, ", "))
	}
	c.Op = o
	name, known := canonicalAttribute(attr)
	if !known {
		return c, fmt.Errorf("unknown directory attribute %q", attr)
	}
	if slices.Contains(multiValued, name) {
		return c, fmt.Errorf("%s is multi-valued, and scoping filters do not test multi-valued attributes (as in Entra)", attr)
	}
	c.Attribute = name
	switch c.Op {
	case OpRegex, OpNotRegex:
		re, err := regexp.Compile(value)
		if err != nil {
			return c, fmt.Errorf("invalid regular expression: %w", err)
		}
		c.re = re
	case OpIsNull, OpIsNotNull, OpIsTrue, OpIsFalse:
		if value != "" {
			return c, fmt.Errorf("operator %s takes no value", c.Op)
		}
	case OpGreater, OpGreaterOrEqual, OpBitAnd, OpNotBitAnd:
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return c, fmt.Errorf("operator %s compares whole numbers; %q is not one", c.Op, value)
		}
		c.n = n
	}
	return c, nil
}

// Match reports whether u satisfies the clause.
func (c Clause) Match(u *directory.User) bool {
	v := u.Attr(c.Attribute)
	switch c.Op {
	case OpIsNull:
		return v == ""
	case OpIsNotNull:
		return v != ""
	}
	if v == "" {
		return false // Entra: a scoping clause on a null or empty value is false
	}
	switch c.Op {
	case OpEquals:
		return v == c.Value
	case OpNotEquals:
		return v != c.Value
	case OpStartsWith:
		return strings.HasPrefix(v, c.Value)
	case OpEndsWith:
		return strings.HasSuffix(v, c.Value)
	case OpIncludes:
		return strings.Contains(v, c.Value)
	case OpRegex:
		return c.re.MatchString(v)
	case OpNotRegex:
		return !c.re.MatchString(v)
	case OpIsTrue:
		return strings.EqualFold(v, "true")
	case OpIsFalse:
		return strings.EqualFold(v, "false")
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return false
	}
	switch c.Op {
	case OpGreater:
		return n > c.n
	case OpGreaterOrEqual:
		return n >= c.n
	case OpBitAnd:
		return n&c.n != 0
	case OpNotBitAnd:
		return n&c.n == 0
	}
	return false
}

// Filter is a named group of clauses that must all match.
type Filter struct {
	Name    string
	Clauses []Clause
}

// Match reports whether every clause matches u.
func (f Filter) Match(u *directory.User) bool {
	_, ok := f.Failing(u)
	return ok
}

// Failing reports whether every clause matches u, and if not describes the
// first that does not, with the value it saw: what `explain` tells a person.
func (f Filter) Failing(u *directory.User) (string, bool) {
	for _, c := range f.Clauses {
		if !c.Match(u) {
			return c.describe(u), false
		}
	}
	return "", true
}

func (c Clause) describe(u *directory.User) string {
	want := string(c.Op)
	if c.Value != "" {
		want += fmt.Sprintf(" %q", c.Value)
	}
	v := u.Attr(c.Attribute)
	if v == "" && c.Op != OpIsNull {
		return fmt.Sprintf("%s %s does not hold: it is empty, and a clause on an empty value is false, as in Entra", c.Attribute, want)
	}
	return fmt.Sprintf("%s %s does not hold: it is %q", c.Attribute, want, v)
}
