package mapping

import (
	"cmp"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// typ is the static type of an expression or argument. Entra's language
// is loosely typed; g2msync checks what it can when the configuration
// loads, so that a mistake is an error naming the key and column, not a
// wrong account at 3 a.m.
type typ uint8

const (
	tString typ = iota
	tBool
	tList   // a multi-valued attribute, Split, RemoveDuplicates
	tNumber // a whole-number literal
	tEmpty  // an argument left out
)

func (t typ) String() string {
	return [...]string{"a string", "a boolean", "a list", "a number", "nothing"}[t]
}

type node interface{ position() int }

type constNode struct {
	pos int
	s   string
}

type numNode struct{ pos, n int }

// emptyNode is an argument left out by position: null.
type emptyNode struct{ pos int }

type boolNode struct {
	pos int
	b   bool
}

// attrNode reads an attribute. trim is set for the short form (a bare
// name), which has always trimmed spaces; list for multi-valued ones.
type attrNode struct {
	pos        int
	name       string
	trim, list bool
}

type callNode struct {
	pos  int
	fn   *function
	args []node
	// re is Replace's regexPattern, compiled once when the expression is
	// checked (the pattern must be a constant); nil otherwise.
	re *regexp.Regexp
}

// coalesceNode is the short form a ?? b: the first non-empty term.
type coalesceNode struct {
	pos   int
	terms []node
}

// compareNode is Entra's IIF condition: a = b, a <> b, or an ordering
// (<, <=, >, >=). = and <> compare strings exactly, as Entra's do; an
// ordering compares numbers when both sides are numbers, else strings.
type compareNode struct {
	pos         int
	op          string
	left, right node
}

func (n *constNode) position() int    { return n.pos }
func (n *numNode) position() int      { return n.pos }
func (n *emptyNode) position() int    { return n.pos }
func (n *boolNode) position() int     { return n.pos }
func (n *attrNode) position() int     { return n.pos }
func (n *callNode) position() int     { return n.pos }
func (n *coalesceNode) position() int { return n.pos }
func (n *compareNode) position() int  { return n.pos }

func walk(n node, fn func(node)) {
	if n == nil {
		return
	}
	fn(n)
	switch x := n.(type) {
	case *callNode:
		for _, a := range x.args {
			walk(a, fn)
		}
	case *coalesceNode:
		for _, t := range x.terms {
			walk(t, fn)
		}
	case *compareNode:
		walk(x.left, fn)
		walk(x.right, fn)
	}
}

type typeError struct {
	pos int
	msg string
}

func (e *typeError) Error() string { return e.msg }

func typeErrorf(n node, format string, args ...any) error {
	return &typeError{pos: n.position(), msg: fmt.Sprintf(format, args...)}
}

// check returns n's type, or the first type error. top is set for the
// whole expression, which must give a string (or a boolean, sent as
// "True"/"False"): a GoTo field holds one value.
func check(n node, top bool) (typ, error) {
	t, err := checkNode(n, top)
	if err != nil {
		return 0, err
	}
	if top && t == tList {
		return 0, typeErrorf(n, "the expression gives a list, and a GoTo field holds one value: pick one with Item(…, 1) or join them with Join(\",\", …)")
	}
	return t, nil
}

func checkNode(n node, top bool) (typ, error) {
	switch x := n.(type) {
	case *constNode:
		return tString, nil
	case *numNode:
		return tNumber, nil
	case *emptyNode:
		return tEmpty, nil
	case *boolNode:
		return tBool, nil
	case *attrNode:
		if x.list {
			return tList, nil
		}
		return tString, nil
	case *coalesceNode:
		for _, t := range x.terms {
			tt, err := checkNode(t, false)
			if err != nil {
				return 0, err
			}
			if tt == tList {
				return 0, typeErrorf(t, "?? takes single values, and this is a list: pick one with Item(…, 1)")
			}
		}
		return tString, nil
	case *compareNode:
		for _, side := range []node{x.left, x.right} {
			tt, err := checkNode(side, false)
			if err != nil {
				return 0, err
			}
			if tt == tList {
				return 0, typeErrorf(side, "a comparison takes single values, and this is a list")
			}
		}
		return tBool, nil
	case *callNode:
		return checkCall(x, top)
	}
	return 0, typeErrorf(n, "unknown expression")
}

func checkCall(c *callNode, top bool) (typ, error) {
	f := c.fn
	if f.name == "SelectUniqueValue" && !top {
		return 0, typeErrorf(c, "SelectUniqueValue must be the whole expression (of the email mapping): it picks the first value no other account uses")
	}
	if len(c.args) < f.min || (f.max >= 0 && len(c.args) > f.max) {
		return 0, typeErrorf(c, "%s takes %s, got %d: %s", f.name, f.arity(), len(c.args), f.syntax)
	}
	types := make([]typ, len(c.args))
	for i, a := range c.args {
		t, err := checkNode(a, false)
		if err != nil {
			return 0, err
		}
		types[i] = t
		want := f.param(i)
		if err := accepts(want, t, a); err != nil {
			return 0, typeErrorf(a, "argument %d of %s (%s): %v; %s", i+1, f.name, f.paramName(i), err, f.syntax)
		}
	}
	if f.extra != nil {
		if err := f.extra(c); err != nil {
			return 0, err
		}
	}
	return f.result, nil
}

// accepts says whether an argument of type got may stand where want is
// expected: strings and booleans convert to each other as Entra converts
// them ("True"/"False"), a single value is a one-item list, and a number
// must be written as one.
func accepts(want, got typ, n node) error {
	switch {
	case want == got:
		return nil
	case got == tEmpty:
		return nil // the function says whether it may be left out
	case want == tString && (got == tBool || got == tNumber):
		return nil
	case want == tBool && got == tString:
		return nil
	case want == tList && (got == tString || got == tBool):
		return nil
	case want == tNumber:
		return fmt.Errorf("want a whole number such as 3, got %s", got)
	case got == tList:
		return fmt.Errorf("want %s, got a list: pick one with Item(…, 1) or join them with Join", want)
	}
	return fmt.Errorf("want %s, got %s", want, got)
}

// value is a runtime value. A null value is an attribute that is absent or
// empty, or a function's null result; every function says what it does
// with one.
type value struct {
	null bool
	t    typ
	s    string
	b    bool
	n    int
	l    []string
}

var null = value{null: true}

// omitted is an argument left out by position: null, and known as not given
// (Replace's form depends on which arguments are given).
var omitted = value{null: true, t: tEmpty}

func (v value) given() bool { return v.t != tEmpty }

func str(s string) value {
	if s == "" {
		return null
	}
	return value{t: tString, s: s}
}

func boolean(b bool) value { return value{t: tBool, b: b} }

func list(l []string) value {
	if len(l) == 0 {
		return null
	}
	return value{t: tList, l: l}
}

// text is the value as a string: "" for null, True/False for booleans (as
// Entra writes them), items joined by "," for a list.
func (v value) text() string {
	if v.null {
		return ""
	}
	switch v.t {
	case tBool:
		if v.b {
			return "True"
		}
		return "False"
	case tNumber:
		return strconv.Itoa(v.n)
	case tList:
		return strings.Join(v.l, ",")
	}
	return v.s
}

// truth is the value as a condition: a boolean, or a string that reads
// "true" (any case) or a non-zero number, as CBool reads it.
func (v value) truth() bool {
	if v.null {
		return false
	}
	switch v.t {
	case tBool:
		return v.b
	case tNumber:
		return v.n != 0
	case tList:
		return len(v.l) > 0
	}
	if strings.EqualFold(v.s, "true") {
		return true
	}
	if n, err := strconv.ParseFloat(v.s, 64); err == nil {
		return n != 0
	}
	return false
}

// items is the value as a list: nothing for null, one item for a single value.
func (v value) items() []string {
	switch {
	case v.null:
		return nil
	case v.t == tList:
		return v.l
	}
	return []string{v.text()}
}

// itemSize is what holding one item of a list costs besides its bytes: a
// string header.
const itemSize = 16

// size is what holding the value costs, as the limits count it: a
// string's bytes; a list's items' bytes and itemSize for each item, so that
// a list of many empty items is not free.
func (v value) size() int {
	switch {
	case v.null:
		return 0
	case v.t == tString:
		return len(v.s)
	case v.t == tList:
		n := len(v.l) * itemSize
		for _, s := range v.l {
			n += len(s)
		}
		return n
	}
	return len(v.text())
}

// eval gives n's value, counting it against the evaluation's limits; after
// a failure it gives null without evaluating anything.
func (ev *evaluation) eval(n node) value {
	if ev.err != nil {
		return null
	}
	var v value
	switch x := n.(type) {
	case *constNode:
		v = str(x.s)
	case *numNode:
		v = value{t: tNumber, n: x.n}
	case *emptyNode:
		return omitted
	case *boolNode:
		v = boolean(x.b)
	case *attrNode:
		v = readAttr(x, ev.env)
	case *coalesceNode:
		v = null
		for _, t := range x.terms {
			tv := ev.eval(t)
			if s := strings.TrimSpace(tv.text()); s != "" {
				v = str(s)
				break
			}
		}
	case *compareNode:
		v = boolean(compare(x.op, ev.eval(x.left).text(), ev.eval(x.right).text()))
	case *callNode:
		args := make([]value, len(x.args))
		for i, a := range x.args {
			args[i] = ev.eval(a)
		}
		if ev.err != nil {
			return null
		}
		v = x.fn.eval(ev, x, args)
	}
	if ev.err != nil {
		return null
	}
	ev.account(n, v)
	if ev.err != nil {
		return null
	}
	return v
}

func readAttr(a *attrNode, env *Env) value {
	if env == nil || env.User == nil {
		return null
	}
	u := env.User
	if a.name == attrAppRoles {
		var out []string
		for _, as := range u.Assignments {
			if env.App != nil {
				out = append(out, roleLabel(env.App, as.AppRoleID))
			} else {
				out = append(out, as.AppRoleID)
			}
		}
		return list(out)
	}
	if a.list {
		if l, ok := u.Lists[a.name]; ok {
			return list(l)
		}
		if s := u.Attr(a.name); len(s) > maxValue {
			// Too long to split: as a string it is already over the
			// limit, and account refuses it; the list would be larger.
			return str(s)
		} else if s != "" {
			return list(strings.Split(s, ","))
		}
		return null
	}
	s := u.Attr(a.name)
	if a.trim {
		s = strings.TrimSpace(s)
	}
	return str(s)
}

func compare(op, a, b string) bool {
	switch op {
	case "=":
		return a == b
	case "<>":
		return a != b
	}
	c := strings.Compare(a, b)
	if x, err := strconv.ParseFloat(a, 64); err == nil {
		if y, err := strconv.ParseFloat(b, 64); err == nil {
			c = cmp.Compare(x, y)
		}
	}
	switch op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	}
	return c >= 0
}
