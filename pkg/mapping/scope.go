package mapping

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/g2msync/g2msync/pkg/directory"
)

// Op is a scoping clause operator, named as in Entra's scoping filters.
type Op string

// Scoping operators. Comparisons ignore case, as Entra's do.
const (
	OpEquals     Op = "equals"
	OpNotEquals  Op = "not_equals"
	OpStartsWith Op = "starts_with"
	OpEndsWith   Op = "ends_with"
	OpRegex      Op = "regex"
	OpNotRegex   Op = "not_regex"
	OpIsEmpty    Op = "is_empty"
	OpIsNotEmpty Op = "is_not_empty"
	OpIsTrue     Op = "is_true"
	OpIsFalse    Op = "is_false"
)

// Ops lists the operators, for messages.
func Ops() []Op {
	return []Op{OpEquals, OpNotEquals, OpStartsWith, OpEndsWith, OpRegex, OpNotRegex, OpIsEmpty, OpIsNotEmpty, OpIsTrue, OpIsFalse}
}

// Clause is one test of a user attribute.
type Clause struct {
	Attribute string
	Op        Op
	Value     string
	re        *regexp.Regexp
}

// NewClause validates and compiles a clause.
func NewClause(attr string, op Op, value string) (Clause, error) {
	c := Clause{Attribute: attr, Op: op, Value: value}
	if !KnownAttribute(attr) {
		return c, fmt.Errorf("unknown directory attribute %q", attr)
	}
	switch op {
	case OpEquals, OpNotEquals, OpStartsWith, OpEndsWith:
	case OpRegex, OpNotRegex:
		re, err := regexp.Compile(value)
		if err != nil {
			return c, fmt.Errorf("invalid regular expression: %w", err)
		}
		c.re = re
	case OpIsEmpty, OpIsNotEmpty, OpIsTrue, OpIsFalse:
		if value != "" {
			return c, fmt.Errorf("operator %s takes no value", op)
		}
	default:
		return c, fmt.Errorf("unknown operator %q (want one of %v)", op, Ops())
	}
	return c, nil
}

// Match reports whether u satisfies the clause.
func (c Clause) Match(u *directory.User) bool {
	v := u.Attr(c.Attribute)
	switch c.Op {
	case OpEquals:
		return strings.EqualFold(v, c.Value)
	case OpNotEquals:
		return !strings.EqualFold(v, c.Value)
	case OpStartsWith:
		return strings.HasPrefix(strings.ToLower(v), strings.ToLower(c.Value))
	case OpEndsWith:
		return strings.HasSuffix(strings.ToLower(v), strings.ToLower(c.Value))
	case OpRegex:
		return c.re.MatchString(v)
	case OpNotRegex:
		return !c.re.MatchString(v)
	case OpIsEmpty:
		return v == ""
	case OpIsNotEmpty:
		return v != ""
	case OpIsTrue:
		return strings.EqualFold(v, "true")
	case OpIsFalse:
		return !strings.EqualFold(v, "true")
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
	return fmt.Sprintf("%s %s does not hold: it is %q", c.Attribute, want, u.Attr(c.Attribute))
}
