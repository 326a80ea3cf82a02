package mapping

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// function is one function of Entra's expression language: its
// signature, checked when the configuration loads, and its evaluation.
// Each follows the semantics Microsoft Learn documents ("Reference for
// writing expressions for attribute mappings in Microsoft Entra ID");
// where the reference is silent, the choice is said in the doc comment.
type function struct {
	name   string
	syntax string // as the reference writes it, for errors
	params []param
	// rest, when set, is the type of every argument past params.
	rest     *param
	min, max int // argument counts; max -1: unbounded
	result   typ
	// extra checks what types alone cannot (a regular expression, pairs).
	extra func(c *callNode) error
	// eval gives the result; a function whose result could be much larger
	// than its arguments asks ev.room first.
	eval func(ev *evaluation, c *callNode, args []value) value
}

type param struct {
	name string
	t    typ
}

func (f *function) param(i int) typ {
	if i < len(f.params) {
		return f.params[i].t
	}
	if f.rest != nil {
		return f.rest.t
	}
	return tString
}

func (f *function) paramName(i int) string {
	if i < len(f.params) {
		return f.params[i].name
	}
	if f.rest != nil {
		return f.rest.name
	}
	return "?"
}

func (f *function) arity() string {
	switch {
	case f.min == f.max && f.min == 1:
		return "1 argument"
	case f.min == f.max:
		return fmt.Sprintf("%d arguments", f.min)
	case f.max < 0:
		return fmt.Sprintf("at least %d arguments", f.min)
	}
	return fmt.Sprintf("%d to %d arguments", f.min, f.max)
}

func lookupFunction(name string) *function {
	for i := range functions {
		if functions[i].name == name {
			return &functions[i]
		}
	}
	return nil
}

func functionNames() []string {
	out := make([]string, len(functions))
	for i := range functions {
		out[i] = functions[i].name
	}
	return out
}

func p(name string, t typ) param { return param{name, t} }

// functions is read-only after init.
var functions []function

func init() {
	functions = []function{
		{name: "Append", syntax: "Append(source, suffix)", params: []param{p("source", tString), p("suffix", tString)}, min: 2, max: 2, result: tString,
			// A null source gives the suffix alone.
			eval: func(_ *evaluation, _ *callNode, a []value) value { return str(a[0].text() + a[1].text()) }},
		{name: "Coalesce", syntax: "Coalesce(source1, source2, ..., defaultValue)", rest: &param{"source", tString}, min: 1, max: -1, result: tString,
			eval: func(_ *evaluation, _ *callNode, a []value) value {
				for _, v := range a {
					if !v.null {
						return v
					}
				}
				return null
			}},
		{name: "IIF", syntax: "IIF(condition, valueIfTrue, valueIfFalse)", params: []param{p("condition", tBool), p("valueIfTrue", tString), p("valueIfFalse", tString)},
			min: 3, max: 3, result: tString,
			eval: func(_ *evaluation, _ *callNode, a []value) value {
				if a[0].truth() {
					return a[1]
				}
				return a[2]
			}},
		{name: "IsNull", syntax: "IsNull(Expression)", params: []param{p("Expression", tString)}, min: 1, max: 1, result: tBool,
			eval: func(_ *evaluation, _ *callNode, a []value) value { return boolean(a[0].null) }},
		{name: "IsNullOrEmpty", syntax: "IsNullOrEmpty(Expression)", params: []param{p("Expression", tString)}, min: 1, max: 1, result: tBool,
			eval: func(_ *evaluation, _ *callNode, a []value) value { return boolean(a[0].text() == "") }},
		{name: "IsPresent", syntax: "IsPresent(Expression)", params: []param{p("Expression", tString)}, min: 1, max: 1, result: tBool,
			eval: func(_ *evaluation, _ *callNode, a []value) value { return boolean(a[0].text() != "") }},
		{name: "IsString", syntax: "IsString(Expression)", params: []param{p("Expression", tString)}, min: 1, max: 1, result: tBool,
			eval: func(_ *evaluation, _ *callNode, a []value) value { return boolean(!a[0].null && a[0].t == tString) }},
		{name: "Item", syntax: "Item(attribute, index)", params: []param{p("attribute", tList), p("index", tNumber)}, min: 2, max: 2, result: tString,
			// The index counts from 1; one outside the list gives null.
			eval: func(_ *evaluation, _ *callNode, a []value) value {
				items, i := a[0].items(), a[1].n
				if i < 1 || i > len(items) {
					return null
				}
				return str(items[i-1])
			}},
		{name: "Join", syntax: "Join(separator, source1, source2, ...)", params: []param{p("separator", tString)}, rest: &param{"source", tList},
			min: 2, max: -1, result: tString,
			// Null sources are left out, so no separator doubles.
			eval: func(ev *evaluation, c *callNode, a []value) value {
				var parts []string
				for _, v := range a[1:] {
					parts = append(parts, v.items()...)
				}
				sep := a[0].text()
				size := int64(max(len(parts)-1, 0)) * int64(len(sep))
				for _, s := range parts {
					size += int64(len(s))
				}
				if !ev.room(c, size, true) {
					return null
				}
				return str(strings.Join(parts, sep))
			}},
		{name: "Left", syntax: "Left(String, NumChars)", params: []param{p("String", tString), p("NumChars", tNumber)}, min: 2, max: 2, result: tString,
			eval: func(_ *evaluation, _ *callNode, a []value) value {
				r, n := []rune(a[0].text()), a[1].n
				switch {
				case n < 0:
					return str(string(r))
				case n > len(r):
					n = len(r)
				}
				return str(string(r[:n]))
			}},
		{name: "Mid", syntax: "Mid(source, start, length)", params: []param{p("source", tString), p("start", tNumber), p("length", tNumber)},
			min: 3, max: 3, result: tString,
			// start counts from 1; a length past the end stops at the end.
			eval: func(_ *evaluation, _ *callNode, a []value) value {
				r, start, length := []rune(a[0].text()), a[1].n, a[2].n
				if start < 1 || start > len(r) || length <= 0 {
					return null
				}
				end := min(start-1+length, len(r))
				return str(string(r[start-1 : end]))
			}},
		{name: "NormalizeDiacritics", syntax: "NormalizeDiacritics(source)", params: []param{p("source", tString)}, min: 1, max: 1, result: tString,
			eval: func(_ *evaluation, _ *callNode, a []value) value { return str(normalizeDiacritics(a[0].text())) }},
		{name: "Not", syntax: "Not(source)", params: []param{p("source", tBool)}, min: 1, max: 1, result: tBool,
			eval: func(_ *evaluation, _ *callNode, a []value) value { return boolean(!a[0].truth()) }},
		{name: "PCase", syntax: "PCase(source, wordSeparators)", params: []param{p("source", tString), p("wordSeparators", tString)}, min: 1, max: 2, result: tString,
			eval: func(_ *evaluation, _ *callNode, a []value) value {
				sep := defaultWordSeparator
				if len(a) > 1 && !a[1].null {
					sep = runeSet(a[1].text())
				}
				return str(pcase(a[0].text(), sep))
			}},
		{name: "RemoveDuplicates", syntax: "RemoveDuplicates(attribute)", params: []param{p("attribute", tList)}, min: 1, max: 1, result: tList,
			eval: func(_ *evaluation, _ *callNode, a []value) value {
				var out []string
				seen := map[string]bool{}
				for _, s := range a[0].items() {
					if !seen[s] {
						seen[s] = true
						out = append(out, s)
					}
				}
				return list(out)
			}},
		{name: "Replace", syntax: "Replace(source, oldValue, regexPattern, regexGroupName, replacementValue, replacementAttributeName, template)",
			params: []param{p("source", tString), p("oldValue", tString), p("regexPattern", tString), p("regexGroupName", tString),
				p("replacementValue", tString), p("replacementAttributeName", tString), p("template", tString)},
			min: 3, max: 7, result: tString, extra: checkReplace, eval: evalReplace},
		{name: "SelectUniqueValue", syntax: "SelectUniqueValue(uniqueValueRule1, uniqueValueRule2, ...)", rest: &param{"uniqueValueRule", tString},
			min: 2, max: -1, result: tString,
			// The first rule's value; the planner picks among Candidates.
			eval: func(_ *evaluation, _ *callNode, a []value) value {
				for _, v := range a {
					if !v.null {
						return v
					}
				}
				return null
			}},
		{name: "SingleAppRoleAssignment", syntax: "SingleAppRoleAssignment([appRoleAssignments])", params: []param{p("appRoleAssignments", tList)},
			min: 1, max: 1, result: tString,
			extra: func(c *callNode) error {
				if a, ok := c.args[0].(*attrNode); !ok || a.name != attrAppRoles {
					return typeErrorf(c.args[0], "SingleAppRoleAssignment reads [appRoleAssignments] only")
				}
				return nil
			},
			// One of the user's roles: the first in a stable order, as the
			// reference leaves which one unspecified.
			eval: func(_ *evaluation, _ *callNode, a []value) value {
				items := slices.Clone(a[0].items())
				slices.Sort(items)
				if len(items) == 0 {
					return null
				}
				return str(items[0])
			}},
		{name: "Split", syntax: "Split(source, delimiter)", params: []param{p("source", tString), p("delimiter", tString)}, min: 2, max: 2, result: tList,
			eval: func(ev *evaluation, c *callNode, a []value) value {
				if a[0].null {
					return null
				}
				if a[1].null {
					return list([]string{a[0].text()})
				}
				s, d := a[0].text(), a[1].text()
				n := int64(strings.Count(s, d)) + 1
				if !ev.room(c, int64(len(s))-(n-1)*int64(len(d))+n*itemSize, true) {
					return null
				}
				return list(strings.Split(s, d))
			}},
		{name: "StripSpaces", syntax: "StripSpaces(source)", params: []param{p("source", tString)}, min: 1, max: 1, result: tString,
			eval: func(_ *evaluation, _ *callNode, a []value) value {
				return str(strings.ReplaceAll(a[0].text(), " ", ""))
			}},
		{name: "Switch", syntax: "Switch(source, defaultValue, key1, value1, key2, value2, ...)", params: []param{p("source", tString), p("defaultValue", tString)},
			rest: &param{"key or value", tString}, min: 4, max: -1, result: tString,
			extra: func(c *callNode) error {
				if len(c.args)%2 != 0 {
					return typeErrorf(c, "Switch takes keys and values in pairs after source and defaultValue; key %d has no value", (len(c.args)-2)/2+1)
				}
				return nil
			},
			eval: func(_ *evaluation, _ *callNode, a []value) value {
				for i := 2; i+1 < len(a); i += 2 {
					if a[0].text() == a[i].text() {
						return a[i+1]
					}
				}
				return a[1]
			}},
		{name: "ToLower", syntax: "ToLower(source, culture)", params: []param{p("source", tString), p("culture", tString)}, min: 1, max: 2, result: tString,
			extra: checkCulture,
			eval: func(_ *evaluation, _ *callNode, a []value) value {
				return str(cases.Lower(culture(a)).String(a[0].text()))
			}},
		{name: "ToUpper", syntax: "ToUpper(source, culture)", params: []param{p("source", tString), p("culture", tString)}, min: 1, max: 2, result: tString,
			extra: checkCulture,
			eval: func(_ *evaluation, _ *callNode, a []value) value {
				return str(cases.Upper(culture(a)).String(a[0].text()))
			}},
		{name: "Trim", syntax: "Trim(source)", params: []param{p("source", tString)}, min: 1, max: 1, result: tString,
			eval: func(_ *evaluation, _ *callNode, a []value) value { return str(strings.TrimSpace(a[0].text())) }},
		{name: "Word", syntax: "Word(String, WordNumber, Delimiters)", params: []param{p("String", tString), p("WordNumber", tNumber), p("Delimiters", tString)},
			min: 3, max: 3, result: tString,
			eval: func(_ *evaluation, _ *callNode, a []value) value {
				return str(word(a[0].text(), a[1].n, runeSet(a[2].text())))
			}},
		{name: "CStr", syntax: "CStr(value)", params: []param{p("value", tString)}, min: 1, max: 1, result: tString,
			eval: func(_ *evaluation, _ *callNode, a []value) value { return str(a[0].text()) }},
		{name: "CBool", syntax: "CBool(Expression)", params: []param{p("Expression", tBool)}, min: 1, max: 1, result: tBool,
			eval: func(_ *evaluation, _ *callNode, a []value) value { return boolean(a[0].truth()) }},
		{name: "FormatDateTime", syntax: "FormatDateTime(source, dateTimeStyles, inputFormat, outputFormat)",
			params: []param{p("source", tString), p("dateTimeStyles", tString), p("inputFormat", tString), p("outputFormat", tString)},
			min:    4, max: 4, result: tString, extra: checkFormatDateTime, eval: evalFormatDateTime},
		{name: "DateFromNum", syntax: "DateFromNum(value)", params: []param{p("value", tString)}, min: 1, max: 1, result: tString,
			eval: func(_ *evaluation, _ *callNode, a []value) value {
				t, ok := fromFileTime(a[0].text())
				if !ok {
					return null
				}
				return str(t.Format(entraDateTime))
			}},
		{name: "Now", syntax: "Now()", min: 0, max: 0, result: tString,
			eval: func(ev *evaluation, _ *callNode, _ []value) value {
				now := time.Now
				if ev.env != nil && ev.env.Now != nil {
					now = ev.env.Now
				}
				return str(now().UTC().Format(entraDateTime))
			}},
		{name: "Guid", syntax: "Guid()", min: 0, max: 0, result: tString,
			eval: func(ev *evaluation, _ *callNode, _ []value) value {
				if ev.env != nil && ev.env.GUID != nil {
					return str(ev.env.GUID())
				}
				return str(uuid.NewString())
			}},
	}
}

// diacriticLetters are the letters of Entra's NormalizeDiacritics table that
// carry no combining mark in Unicode (a stroke, a ligature, a dotless i),
// spelled as the table spells them (ø is oe). Đ and œ, which the table
// leaves out, are spelled the same way for consistency.
var diacriticLetters = strings.NewReplacer("ø", "oe", "Ø", "OE", "ł", "l", "Ł", "L", "đ", "d", "Đ", "D", "ß", "ss",
	"æ", "ae", "Æ", "AE", "ǣ", "ae", "Ǣ", "AE", "œ", "oe", "Œ", "OE", "ı", "i")

// normalizeDiacritics strips combining marks (é is e + ´, so e) and
// spells the table's other letters out.
func normalizeDiacritics(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		return s
	}
	// Letters that carry no combining mark in Unicode but a stroke or a
	// ligature, spelled in ASCII as a person would.
	return diacriticLetters.Replace(out)
}

// defaultWordSeparator is what .NET's ToTitleCase, which PCase uses
// without wordSeparators, takes to end a word: spaces, controls, format
// characters, punctuation and symbols.
func defaultWordSeparator(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.In(r, unicode.Cf) || unicode.IsPunct(r) || unicode.IsSymbol(r)
}

// pcase upper-cases the first letter of each word and lower-cases the rest.
func pcase(s string, sep func(rune) bool) string {
	var b strings.Builder
	start := true
	for _, r := range s {
		if sep(r) {
			start = true
			b.WriteRune(r)
			continue
		}
		if start {
			b.WriteRune(unicode.ToUpper(r))
		} else {
			b.WriteRune(unicode.ToLower(r))
		}
		start = false
	}
	return b.String()
}

// word returns the nth word of s, counting from 1, as strings.FieldsFunc
// would split it, without keeping the words before it; "" if there is none.
func word(s string, n int, delim func(rune) bool) string {
	start := -1 // of the word being read; -1 between words
	for i, r := range s {
		switch {
		case delim(r) && start >= 0:
			if n--; n == 0 {
				return s[start:i]
			}
			start = -1
		case !delim(r) && start < 0:
			start = i
		}
	}
	if start >= 0 && n == 1 {
		return s[start:]
	}
	return ""
}

// runeSet returns a test for the runes of s in logarithmic time, so that a
// long list of separators does not make the walk over a long value
// quadratic (PCase, Word).
func runeSet(s string) func(rune) bool {
	rs := []rune(s)
	slices.Sort(rs)
	return func(r rune) bool {
		_, ok := slices.BinarySearch(rs, r)
		return ok
	}
}

// culture returns the culture argument's language, or the invariant (und).
func culture(a []value) language.Tag {
	if len(a) < 2 || a[1].null {
		return language.Und
	}
	t, err := language.Parse(a[1].text())
	if err != nil {
		return language.Und
	}
	return t
}

func checkCulture(c *callNode) error {
	if len(c.args) < 2 {
		return nil
	}
	if k, ok := c.args[1].(*constNode); ok {
		if _, err := language.Parse(k.s); err != nil {
			return typeErrorf(k, "culture %q is not a culture name such as en-US or tr-TR", k.s)
		}
	}
	return nil
}

// checkReplace checks Replace's form, by which arguments are given
// (Microsoft Learn lists them), and compiles its regexPattern, which must
// be a constant: once, here, for every person the expression is evaluated
// for. A literal oldValue may not be empty: it would match between every
// two characters and put the replacement there, squaring the value.
func checkReplace(c *callNode) error {
	given := func(i int) bool {
		if i >= len(c.args) {
			return false
		}
		_, empty := c.args[i].(*emptyNode)
		return !empty
	}
	if given(1) {
		if k, ok := c.args[1].(*constNode); ok && k.s == "" {
			return typeErrorf(k, "Replace's oldValue is empty: it would match between every two characters; give the text to replace, or a regexPattern")
		}
	}
	if given(2) {
		k, ok := c.args[2].(*constNode)
		if !ok {
			return typeErrorf(c.args[2], "Replace's regexPattern must be a \"string\"")
		}
		if len(k.s) > maxPattern {
			return typeErrorf(k, "Replace's regexPattern is %d bytes long; at most %d (for a list of values, use Switch)", len(k.s), maxPattern)
		}
		re, err := regexp.Compile(k.s)
		if err != nil {
			return typeErrorf(k, "Replace's regexPattern does not compile: %v", err)
		}
		c.re = re
	}
	switch {
	case given(1) && given(4), given(1) && given(6):
	case given(2) && given(3) && given(5):
	case given(2) && given(4):
	default:
		return typeErrorf(c, "Replace needs oldValue with replacementValue or template, or regexPattern with replacementValue, "+
			"or regexPattern, regexGroupName and replacementAttributeName; %s", lookupFunction("Replace").syntax)
	}
	return nil
}

func evalReplace(ev *evaluation, c *callNode, a []value) value {
	at := func(i int) value {
		if i < len(a) {
			return a[i]
		}
		return omitted
	}
	source, old, group, repl, replAttr, template := at(0), at(1), at(3), at(4), at(5), at(6)
	switch {
	case old.given() && old.text() == "":
		// A constant was refused when the configuration loaded; an
		// attribute or a function gave nothing for this person.
		return ev.fail(c.args[1], "Replace's oldValue (%s) is empty for this user: it would match between every two characters", describe(c.args[1]))
	case old.given() && template.given():
		// oldValue is looked for in the template and replaced by the source.
		return replaceAll(ev, c, template.text(), old.text(), source.text())
	case old.given():
		if source.null {
			return null
		}
		return replaceAll(ev, c, source.text(), old.text(), repl.text())
	}
	re := c.re // set by checkReplace: regexPattern is given in every other form
	switch {
	case group.given() && replAttr.given():
		// A source with a value is kept; an empty one takes the group's
		// match in the replacement attribute (Microsoft Learn's current form).
		if !source.null {
			return source
		}
		m := re.FindStringSubmatch(replAttr.text())
		if gi := re.SubexpIndex(group.text()); m != nil && gi >= 0 {
			return str(m[gi])
		}
		return null
	case source.null:
		return null
	case group.given():
		return replaceGroup(ev, c, re, source.text(), group.text(), repl.text())
	}
	return replaceRegexp(ev, c, re, source.text(), repl.text())
}

// replaceAll replaces every old (not empty) in s with with, once it knows
// the result fits.
func replaceAll(ev *evaluation, c *callNode, s, old, with string) value {
	n := strings.Count(s, old)
	if n == 0 {
		return str(s)
	}
	if !ev.room(c, int64(len(s))+int64(n)*(int64(len(with))-int64(len(old))), true) {
		return null
	}
	return str(strings.Replace(s, old, with, n))
}

// replaceRegexp replaces each match of re in s with repl, where ${name}
// names a group, as in .NET. The result's size is known before it is
// built: exactly when repl has no $, and otherwise bounded by taking each $
// for a reference to the whole match.
func replaceRegexp(ev *evaluation, c *callNode, re *regexp.Regexp, s, repl string) value {
	if repl != "" { // with nothing to put in, the result is no longer than s
		count, matched := countMatches(re, s)
		refs := int64(strings.Count(repl, "$"))
		size := int64(len(s)-matched) + int64(count)*int64(len(repl)) + refs*int64(matched)
		if !ev.room(c, size, refs == 0) {
			return null
		}
	}
	return str(re.ReplaceAllString(s, repl))
}

// replaceGroup replaces, in each match of re, the named group's text.
func replaceGroup(ev *evaluation, c *callNode, re *regexp.Regexp, s, group, with string) value {
	gi := re.SubexpIndex(group)
	if gi < 0 {
		return str(s)
	}
	count, _ := countMatches(re, s)
	// Each match's group gives way to with; the positions of the matches
	// take 2 ints a group and a slice header each.
	if !ev.room(c, int64(len(s))+int64(count)*int64(len(with)), false) ||
		!ev.spend(c, int64(count)*int64(16*(re.NumSubexp()+1)+24), fmt.Sprintf("the positions of its %d matches", count)) {
		return null
	}
	var b strings.Builder
	last := 0
	for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
		if m[2*gi] < 0 {
			continue
		}
		b.WriteString(s[last:m[2*gi]])
		b.WriteString(with)
		last = m[2*gi+1]
	}
	b.WriteString(s[last:])
	return str(b.String())
}

// countMatches returns how many times re matches in s, and the bytes the
// matches cover, without keeping their positions.
func countMatches(re *regexp.Regexp, s string) (count, matched int) {
	re.ReplaceAllStringFunc(s, func(m string) string {
		count++
		matched += len(m)
		return ""
	})
	return count, matched
}

func checkFormatDateTime(c *callNode) error {
	for _, i := range []int{2, 3} {
		if k, ok := c.args[i].(*constNode); ok {
			if _, err := dotnetLayout(k.s); err != nil {
				return typeErrorf(k, "%v", err)
			}
		} else if _, empty := c.args[i].(*emptyNode); empty {
			return typeErrorf(c, "FormatDateTime needs the inputFormat and outputFormat, such as \"yyyyMMddHHmmss.fZ\" and \"yyyy-MM-dd\"")
		}
	}
	return nil
}

func evalFormatDateTime(_ *evaluation, _ *callNode, a []value) value {
	if a[0].null {
		return null
	}
	in, err := dotnetLayout(a[2].text())
	if err != nil {
		return null
	}
	out, err := dotnetLayout(a[3].text())
	if err != nil {
		return null
	}
	t, err := time.Parse(in, a[0].text())
	if err != nil {
		return null
	}
	return str(t.Format(out))
}

// dotnetLayout turns a .NET custom date and time format string into a Go
// layout, for the specifiers dates in a directory use.
func dotnetLayout(f string) (string, error) {
	specs := []struct{ net, goLayout string }{
		{"yyyy", "2006"}, {"yy", "06"}, {"MMMM", "January"}, {"MMM", "Jan"}, {"MM", "01"}, {"M", "1"},
		{"dddd", "Monday"}, {"ddd", "Mon"}, {"dd", "02"}, {"d", "2"},
		{"HH", "15"}, {"hh", "03"}, {"h", "3"}, {"mm", "04"}, {"m", "4"}, {"ss", "05"}, {"s", "5"},
		{"fffffff", "0000000"}, {"ffffff", "000000"}, {"fffff", "00000"}, {"ffff", "0000"}, {"fff", "000"}, {"ff", "00"}, {"f", "0"},
		{"tt", "PM"}, {"zzz", "-07:00"}, {"K", "Z07:00"},
	}
	var b strings.Builder
	for i := 0; i < len(f); {
		matched := false
		for _, s := range specs {
			if strings.HasPrefix(f[i:], s.net) {
				b.WriteString(s.goLayout)
				i += len(s.net)
				matched = true
				break
			}
		}
		if matched {
			continue
		}
		switch c := f[i]; {
		case c == '\\' && i+1 < len(f):
			b.WriteByte(f[i+1])
			i += 2
		case c == '\'':
			end := strings.IndexByte(f[i+1:], '\'')
			if end < 0 {
				return "", fmt.Errorf("date format %q: quote not closed", f)
			}
			b.WriteString(f[i+1 : i+1+end])
			i += end + 2
		case unicode.IsLetter(rune(c)) && c != 'Z' && c != 'T':
			return "", fmt.Errorf("date format %q: %q is not a .NET date and time specifier g2msync reads (yyyy, MM, dd, HH, mm, ss, f…, tt, zzz, K)", f, string(c))
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

// fromFileTime reads Active Directory's large-integer time (100 ns ticks
// since 1601-01-01 UTC), as lastLogonTimestamp or accountExpires hold it.
func fromFileTime(s string) (time.Time, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n == 1<<63-1 {
		return time.Time{}, false
	}
	const ticksPerSecond, unixFrom1601 = 10_000_000, 11_644_473_600
	return time.Unix(n/ticksPerSecond-unixFrom1601, n%ticksPerSecond*100).UTC(), true
}

// entraDateTime is how Entra writes a DateTime as a string (Now, CDate,
// DateAdd): M/d/yyyy h:mm:ss tt, in UTC.
const entraDateTime = "1/2/2006 3:04:05 PM"
