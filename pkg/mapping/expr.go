package mapping

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/g2msync/g2msync/pkg/directory"
)

// Expr is a parsed and type-checked mapping expression, in either of two
// forms:
//
//   - Entra's expression language, as an administrator copies it from the
//     provisioning service's attribute mappings: functions, [attributes]
//     in square brackets, "constants" in double quotes (\" and \\ escape),
//     whole numbers, and a = b or a <> b as IIF conditions, e.g.
//     Join(" ", [givenName], [surname]);
//   - g2msync's short form: attribute names and "constants" separated by
//     ??, taking the first non-empty value, trimmed: mail ?? userPrincipalName.
//
// Both parse to the same tree, so a ?? b is Coalesce over trimmed values
// and the two forms mix: Trim([mail]) ?? userPrincipalName.
type Expr struct {
	src  string
	root node
	typ  typ
	// unique is set when the root is SelectUniqueValue: Candidates gives
	// the values, and the planner picks the first no one else uses.
	unique bool
}

// Env is what an expression may read beyond the user's attributes.
type Env struct {
	User *directory.User
	// App is the enterprise app, whose role values SingleAppRoleAssignment
	// returns; nil when unknown.
	App *directory.App
	// Now is the clock of Now(); nil means time.Now.
	Now func() time.Time
	// GUID returns a new GUID for Guid(); nil means a random one.
	GUID func() string
}

// ParseError is a malformed expression: where, and what was expected.
type ParseError struct {
	Src    string
	Column int // 1-based, in characters
	Msg    string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("at column %d of %q: %s", e.Column, e.Src, e.Msg)
}

// maxExprLen and maxDepth bound what a configuration may ask for: a
// mapping is a line or two, and a deeper nesting is a mistake, not a need.
const (
	maxExprLen = 4096
	maxDepth   = 32
)

// Parse parses and type-checks src.
func Parse(src string) (Expr, error) {
	e := Expr{src: strings.TrimSpace(src)}
	if e.src == "" {
		return Expr{}, fmt.Errorf("empty expression")
	}
	if len(e.src) > maxExprLen {
		return Expr{}, fmt.Errorf("expression is %d bytes long; at most %d", len(e.src), maxExprLen)
	}
	p := &parser{src: e.src}
	if err := p.lex(); err != nil {
		return Expr{}, err
	}
	root, err := p.coalesce(0)
	if err != nil {
		return Expr{}, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return Expr{}, p.errAt(t, "expected the end of the expression, found %s", t.describe())
	}
	t, err := check(root, true)
	if err != nil {
		return Expr{}, p.wrap(err)
	}
	e.root, e.typ = root, t
	if c, ok := root.(*callNode); ok && c.fn.name == "SelectUniqueValue" {
		e.unique = true
	}
	return e, nil
}

// MustParse is Parse for expressions known to be valid, such as defaults.
func MustParse(src string) Expr {
	e, err := Parse(src)
	if err != nil {
		panic(fmt.Sprintf("mapping: %v", err))
	}
	return e
}

// String returns the expression as written.
func (e Expr) String() string { return e.src }

// IsZero reports whether e is the zero Expr (no mapping).
func (e Expr) IsZero() bool { return e.root == nil }

// Unique reports whether the expression is a SelectUniqueValue.
func (e Expr) Unique() bool { return e.unique }

// Volatile reports whether the expression gives a new value at every
// evaluation (Now, Guid): such a mapping must apply on create only, or
// every cycle would update every account.
func (e Expr) Volatile() bool {
	v := false
	walk(e.root, func(n node) {
		if c, ok := n.(*callNode); ok && (c.fn.name == "Now" || c.fn.name == "Guid") {
			v = true
		}
	})
	return v
}

// Eval returns the expression's value for u: "" when it is null. An
// *EvalError says why it cannot be evaluated for u.
func (e Expr) Eval(u *directory.User) (string, error) { return e.EvalEnv(&Env{User: u}) }

// EvalEnv returns the expression's value in env: "" when it is null. A
// SelectUniqueValue gives its first candidate (see Candidates). An
// *EvalError says why it cannot be evaluated in env: a value over a limit
// (see maxValue), or an argument a function refuses.
func (e Expr) EvalEnv(env *Env) (string, error) {
	if e.root == nil {
		return "", nil
	}
	ev := &evaluation{env: env, src: e.src}
	v := ev.eval(e.root)
	if ev.err != nil {
		return "", ev.err
	}
	return v.text(), nil
}

// Candidates returns, for a SelectUniqueValue, the non-empty values of its
// rules in order, each once; nil otherwise. The rules share one
// evaluation's limits, as they do in EvalEnv.
func (e Expr) Candidates(env *Env) ([]string, error) {
	if !e.unique {
		return nil, nil
	}
	ev := &evaluation{env: env, src: e.src}
	var out []string
	for _, a := range e.root.(*callNode).args {
		v := ev.eval(a)
		if ev.err != nil {
			return nil, ev.err
		}
		if s := v.text(); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// Attributes returns the directory attributes the expression reads.
func (e Expr) Attributes() []string {
	var out []string
	walk(e.root, func(n node) {
		if a, ok := n.(*attrNode); ok && a.name != attrAppRoles && !slices.Contains(out, a.name) {
			out = append(out, a.name)
		}
	})
	return out
}

// knownAttributes are the Graph user properties a mapping may name; Graph
// returns most of them only when selected, which the reader does.
var knownAttributes = []string{
	"accountEnabled", "businessPhones", "city", "companyName", "country", "department", "displayName",
	"employeeHireDate", "employeeId", "employeeType", "faxNumber", "givenName", "id", "jobTitle", "mail",
	"mailNickname", "mobilePhone", "officeLocation", "onPremisesDomainName", "onPremisesImmutableId",
	"onPremisesSamAccountName", "onPremisesUserPrincipalName", "otherMails", "postalCode", "preferredLanguage",
	"proxyAddresses", "state", "streetAddress", "surname", "usageLocation", "userPrincipalName", "userType",
}

// multiValued are the known attributes Graph returns as collections.
var multiValued = []string{"businessPhones", "otherMails", "proxyAddresses"}

// entraAliases are the names Entra's attribute list gives properties that
// Graph names otherwise, so that a pasted expression reads the same data.
var entraAliases = map[string]string{"objectId": "id"}

// attrAppRoles is Entra's [appRoleAssignments]: the user's app roles.
const attrAppRoles = "appRoleAssignments"

var extensionAttr = regexp.MustCompile(`^(extension_[0-9a-fA-F]{32}_[A-Za-z0-9_]+|onPremisesExtensionAttributes\.extensionAttribute([1-9]|1[0-5]))$`)

var entraExtension = regexp.MustCompile(`^extensionAttribute([1-9]|1[0-5])$`)

// KnownAttribute reports whether name is a directory attribute mappings may read.
func KnownAttribute(name string) bool {
	return slices.Contains(knownAttributes, name) || extensionAttr.MatchString(name)
}

// canonicalAttribute returns the Graph name of an attribute as written in
// an expression, or false if g2msync cannot read it.
func canonicalAttribute(name string) (string, bool) {
	if to, ok := entraAliases[name]; ok {
		return to, true
	}
	if entraExtension.MatchString(name) {
		return "onPremisesExtensionAttributes." + name, true
	}
	return name, KnownAttribute(name)
}

// --- lexing ---

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokAttr
	tokString
	tokNumber
	tokLParen
	tokRParen
	tokComma
	tokCoalesce
	tokCompare // =, <>, <, <=, >, >=
)

type token struct {
	kind tokKind
	text string // identifier, attribute name, unescaped string, digits
	pos  int    // byte offset
}

func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "the end"
	case tokIdent:
		return strconv.Quote(t.text)
	case tokAttr:
		return "[" + t.text + "]"
	case tokString:
		return "the string " + strconv.Quote(t.text)
	case tokNumber:
		return "the number " + t.text
	case tokLParen:
		return `"("`
	case tokRParen:
		return `")"`
	case tokComma:
		return `","`
	case tokCoalesce:
		return `"??"`
	}
	return strconv.Quote(t.text)
}

type parser struct {
	src  string
	toks []token
	i    int
}

func (p *parser) column(pos int) int { return utf8.RuneCountInString(p.src[:min(pos, len(p.src))]) + 1 }

func (p *parser) errAt(t token, format string, args ...any) error {
	return &ParseError{Src: p.src, Column: p.column(t.pos), Msg: fmt.Sprintf(format, args...)}
}

// wrap gives a type error the column of the node it concerns.
func (p *parser) wrap(err error) error {
	if te, ok := err.(*typeError); ok {
		return &ParseError{Src: p.src, Column: p.column(te.pos), Msg: te.msg}
	}
	return err
}

func (p *parser) lex() error {
	s := p.src
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
			i += size
		case r == '(':
			p.toks = append(p.toks, token{kind: tokLParen, pos: i})
			i++
		case r == ')':
			p.toks = append(p.toks, token{kind: tokRParen, pos: i})
			i++
		case r == ',':
			p.toks = append(p.toks, token{kind: tokComma, pos: i})
			i++
		case r == '=':
			p.toks = append(p.toks, token{kind: tokCompare, text: "=", pos: i})
			i++
		case strings.HasPrefix(s[i:], "<>"), strings.HasPrefix(s[i:], ">="), strings.HasPrefix(s[i:], "<="):
			p.toks = append(p.toks, token{kind: tokCompare, text: s[i : i+2], pos: i})
			i += 2
		case r == '<' || r == '>':
			p.toks = append(p.toks, token{kind: tokCompare, text: s[i : i+1], pos: i})
			i++
		case strings.HasPrefix(s[i:], "??"):
			p.toks = append(p.toks, token{kind: tokCoalesce, pos: i})
			i += 2
		case r == '[':
			end := strings.IndexAny(s[i+1:], "[]\"")
			if end < 0 || s[i+1+end] != ']' {
				return &ParseError{Src: s, Column: p.column(i), Msg: "attribute not closed: expected ] after the attribute name"}
			}
			name := strings.TrimSpace(s[i+1 : i+1+end])
			if name == "" {
				return &ParseError{Src: s, Column: p.column(i), Msg: "empty attribute name in []"}
			}
			p.toks = append(p.toks, token{kind: tokAttr, text: name, pos: i})
			i += end + 2
		case r == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' {
					if j+1 == len(s) || (s[j+1] != '"' && s[j+1] != '\\') {
						return &ParseError{Src: s, Column: p.column(j), Msg: `in a string, \ escapes only " and \ (write \\ for a backslash)`}
					}
					j++
				}
				b.WriteByte(s[j])
			}
			if j == len(s) {
				return &ParseError{Src: s, Column: p.column(i), Msg: "string not closed: expected a closing double quote"}
			}
			p.toks = append(p.toks, token{kind: tokString, text: b.String(), pos: i})
			i = j + 1
		case r == '-' || (r >= '0' && r <= '9'):
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if s[i:j] == "-" {
				return &ParseError{Src: s, Column: p.column(i), Msg: "expected a digit after -"}
			}
			p.toks = append(p.toks, token{kind: tokNumber, text: s[i:j], pos: i})
			i = j
		case unicode.IsLetter(r) || r == '_':
			j := i
			for j < len(s) {
				r2, sz := utf8.DecodeRuneInString(s[j:])
				if !(unicode.IsLetter(r2) || unicode.IsDigit(r2) || r2 == '_' || r2 == '.') {
					break
				}
				j += sz
			}
			p.toks = append(p.toks, token{kind: tokIdent, text: s[i:j], pos: i})
			i = j
		default:
			return &ParseError{Src: s, Column: p.column(i), Msg: fmt.Sprintf("unexpected character %q", r)}
		}
	}
	p.toks = append(p.toks, token{kind: tokEOF, pos: len(s)})
	return nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// --- parsing ---

// coalesce := compare ("??" compare)*
func (p *parser) coalesce(depth int) (node, error) {
	first, err := p.compare(depth)
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tokCoalesce {
		return first, nil
	}
	c := &coalesceNode{pos: first.position(), terms: []node{first}}
	for p.peek().kind == tokCoalesce {
		p.next()
		t, err := p.compare(depth)
		if err != nil {
			return nil, err
		}
		c.terms = append(c.terms, t)
	}
	return c, nil
}

// compare := primary [("=" | "<>" | "<" | "<=" | ">" | ">=") primary]
func (p *parser) compare(depth int) (node, error) {
	left, err := p.primary(depth)
	if err != nil {
		return nil, err
	}
	if p.peek().kind == tokCompare {
		op := p.next()
		right, err := p.primary(depth)
		if err != nil {
			return nil, err
		}
		return &compareNode{pos: op.pos, op: op.text, left: left, right: right}, nil
	}
	return left, nil
}

func (p *parser) primary(depth int) (node, error) {
	if depth > maxDepth {
		return nil, p.errAt(p.peek(), "nested more than %d deep", maxDepth)
	}
	t := p.next()
	switch t.kind {
	case tokString:
		return &constNode{pos: t.pos, s: t.text}, nil
	case tokNumber:
		n, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil || n > 1<<62 || n < -(1<<62) {
			return nil, p.errAt(t, "number %s is out of range", t.text)
		}
		return &numNode{pos: t.pos, n: int(n)}, nil
	case tokAttr:
		return p.attribute(t, false)
	case tokIdent:
		if p.peek().kind == tokLParen {
			return p.call(t, depth)
		}
		if strings.EqualFold(t.text, "true") || strings.EqualFold(t.text, "false") {
			return &boolNode{pos: t.pos, b: strings.EqualFold(t.text, "true")}, nil
		}
		return p.attribute(t, true)
	case tokLParen:
		n, err := p.coalesce(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tokRParen {
			return nil, p.errAt(c, `expected ")", found %s`, c.describe())
		}
		return n, nil
	case tokEOF:
		return nil, p.errAt(t, "expected an attribute, a \"string\" or a function, found the end")
	}
	return nil, p.errAt(t, "expected an attribute, a \"string\" or a function, found %s", t.describe())
}

func (p *parser) attribute(t token, bare bool) (node, error) {
	if t.text == attrAppRoles {
		return &attrNode{pos: t.pos, name: attrAppRoles, list: true}, nil
	}
	name, ok := canonicalAttribute(t.text)
	if !ok {
		hint := ""
		if bare && slices.ContainsFunc(functionNames(), func(f string) bool { return strings.EqualFold(f, t.text) }) {
			hint = "; a function needs its arguments in parentheses"
		}
		return nil, p.errAt(t, "unknown directory attribute %q (known: %s, extensionAttribute1..15, extension_<appId>_<name>)%s",
			t.text, strings.Join(knownAttributes, ", "), hint)
	}
	return &attrNode{pos: t.pos, name: name, trim: bare, list: slices.Contains(multiValued, name)}, nil
}

func (p *parser) call(name token, depth int) (node, error) {
	fn := lookupFunction(name.text)
	if fn == nil {
		msg := fmt.Sprintf("unknown function %q", name.text)
		for _, f := range functionNames() {
			if strings.EqualFold(f, name.text) {
				msg += fmt.Sprintf("; names are case-sensitive: did you mean %s?", f)
			}
		}
		return nil, p.errAt(name, "%s", msg)
	}
	p.next() // (
	c := &callNode{pos: name.pos, fn: fn}
	if p.peek().kind == tokRParen {
		p.next()
		return c, nil
	}
	for {
		// Entra leaves optional arguments out by position:
		// FormatDateTime([x], , "yyyyMMdd", "yyyy-MM-dd").
		if k := p.peek().kind; k == tokComma || k == tokRParen {
			c.args = append(c.args, &emptyNode{pos: p.peek().pos})
		} else {
			a, err := p.coalesce(depth + 1)
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
		}
		switch t := p.next(); t.kind {
		case tokComma:
			continue
		case tokRParen:
			return c, nil
		default:
			return nil, p.errAt(t, `expected "," or ")" in the arguments of %s, found %s`, fn.name, t.describe())
		}
	}
}
