package entrajob

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/mapping"
)

// Item is one part of the job, named as Entra names it, with what became
// of it.
type Item struct {
	Part   string // e.g. `attribute mapping "externalId"`
	Reason string
}

// Result is the translation of a schema's user object mapping.
type Result struct {
	// Object is the name of the object mapping translated.
	Object string
	// Fields are the GoTo fields' mappings, by g2msync field name.
	Fields map[string]config.FieldMapping
	// From names, for each field, the target attribute it came from.
	From map[string]string
	// Matching are the directory attributes of the matching mappings,
	// lowest matchingPriority first.
	Matching []string
	// Filters are the scoping filter groups.
	Filters []config.Filter
	// Policy is sync, create-update or create-only, from the object
	// mapping's flow types.
	Policy string
	// Unsupported are the parts not carried over, each with the reason.
	Unsupported []Item
	// Notes are parts carried over with a difference a person should know.
	Notes []Item
}

func (r *Result) unsupported(part, format string, args ...any) {
	r.Unsupported = append(r.Unsupported, Item{Part: part, Reason: fmt.Sprintf(format, args...)})
}

func (r *Result) note(part, format string, args ...any) {
	r.Notes = append(r.Notes, Item{Part: part, Reason: fmt.Sprintf(format, args...)})
}

// targets are GoTo's fields with the target attribute names Entra's
// connectors give them: the SCIM names of the GoTo gallery app first, then
// plain ones. Compared without case.
var targets = []struct {
	field string
	names []string
}{
	{"email", []string{"userName", `emails[type eq "work"].value`, "email", "emails", "mail", "emailAddress"}},
	{"firstName", []string{"name.givenName", "firstName", "givenName"}},
	{"lastName", []string{"name.familyName", "lastName", "surname", "familyName"}},
	{"locale", []string{"locale", "preferredLanguage"}},
	{"timeZone", []string{"timezone", "timeZone"}},
}

// noField says why target attributes GoTo's Admin API has no field for
// are not needed, where g2msync does their work another way.
var noField = map[string]string{
	"active": "g2msync disables an account when its person leaves scope (unassigned, filtered out, or accountEnabled false), " +
		"by removing its licences; there is no field to map",
	"externalid":  "g2msync keys each person by their Entra object id in its state file; GoTo's Admin API has no external id field",
	"displayname": "GoTo's Admin API has no display name field; GoTo shows firstName and lastName",
}

func normal(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// field returns the GoTo field a target attribute maps to, or "".
func field(target string) string {
	n := normal(target)
	for _, t := range targets {
		for _, name := range t.names {
			if normal(name) == n {
				return t.field
			}
		}
	}
	return ""
}

// Translate turns the schema's user object mapping into g2msync
// configuration. It fails only when nothing usable is left: no enabled
// user mapping, no mapping of GoTo's email, or scoping filters none of
// which could be carried over (leaving all out would put everyone
// assigned in scope).
func Translate(s *Schema) (*Result, error) {
	r := &Result{Fields: map[string]config.FieldMapping{}, From: map[string]string{}, Policy: "sync"}
	om := r.pick(s)
	if om == nil {
		return nil, errors.New("the schema has no enabled object mapping of users (sourceObjectName User): nothing to import")
	}
	r.Object = om.Name
	r.policy(om.FlowTypes)
	for i := range om.AttributeMappings {
		r.attribute(&om.AttributeMappings[i])
	}
	r.matching(om.AttributeMappings)
	if err := r.validate(); err != nil {
		return nil, err
	}
	if err := r.scope(om.Scope); err != nil {
		return nil, err
	}
	return r, nil
}

// pick returns the first enabled user object mapping, and lists the others.
func (r *Result) pick(s *Schema) *ObjectMapping {
	var chosen *ObjectMapping
	for i := range s.Rules {
		for j := range s.Rules[i].ObjectMappings {
			om := &s.Rules[i].ObjectMappings[j]
			part := "object mapping " + quote(om.Name)
			switch {
			case om.Enabled != nil && !*om.Enabled:
				r.note(part, "disabled in Entra; not carried over")
			case !strings.EqualFold(om.SourceObjectName, "User"):
				r.unsupported(part, "g2msync provisions users only, not %s objects", quote(om.SourceObjectName))
			case chosen != nil:
				r.unsupported(part, "a second mapping of users; g2msync takes the first, %s", quote(chosen.Name))
			default:
				chosen = om
			}
		}
	}
	return chosen
}

// policy reads the object mapping's flow types ("Add, Update, Delete").
func (r *Result) policy(flows string) {
	set := map[string]bool{}
	for _, f := range strings.Split(flows, ",") {
		if f = strings.ToLower(strings.TrimSpace(f)); f != "" {
			set[f] = true
		}
	}
	switch {
	case len(set) == 0 || set["add"] && set["update"] && set["delete"] && len(set) == 3:
		r.Policy = "sync"
	case set["add"] && set["update"] && len(set) == 2:
		r.Policy = "create-update"
		r.note("flow types "+quote(flows), "no Delete: policy create-update (g2msync never disables)")
	case set["add"] && len(set) == 1:
		r.Policy = "create-only"
		r.note("flow types "+quote(flows), "only Add: policy create-only")
	default:
		r.unsupported("flow types "+quote(flows), "g2msync's policies are sync (Add, Update, Delete), create-update and create-only; "+
			"this combination has none, so the policy stays sync: set policy yourself")
	}
}

// attribute translates one attribute mapping into a field mapping.
func (r *Result) attribute(am *AttributeMapping) {
	part := "attribute mapping " + quote(am.TargetAttributeName)
	f := field(am.TargetAttributeName)
	if f == "" {
		if why, ok := noField[normal(am.TargetAttributeName)]; ok {
			r.unsupported(part, "%s", why)
		} else {
			r.unsupported(part, "GoTo's Admin API has no field for it; g2msync sets %s", fieldNames())
		}
		return
	}
	if prev, ok := r.From[f]; ok {
		r.unsupported(part, "GoTo's %s is already mapped from %s", f, quote(prev))
		return
	}
	expr, err := Expression(am.Source)
	if err != nil {
		r.unsupported(part, "%v", err)
		return
	}
	fm := config.FieldMapping{Expr: expr}
	switch normal(am.FlowType) {
	case "", "always":
	case "objectaddonly":
		fm.CreateOnly = true
	case "attributeaddonly":
		fm.CreateOnly = true
		r.note(part, "flow type AttributeAddOnly became apply: on_create: g2msync sets %s when it creates the account and never after, "+
			"where Entra would also fill it in later on an account where it is empty", f)
	case "multivalueaddonly", "valueaddonly":
		r.note(part, "flow type %s became apply: always: GoTo's %s holds one value, which g2msync replaces when it changes", am.FlowType, f)
	default:
		r.unsupported(part, "unknown flow type %s (Entra's are Always, ObjectAddOnly, MultiValueAddOnly, ValueAddOnly, AttributeAddOnly)", quote(am.FlowType))
		return
	}
	if am.DefaultValue != nil && *am.DefaultValue != "" {
		fm.Default = *am.DefaultValue
	}
	if strings.EqualFold(am.FlowBehavior, "FlowAlways") {
		r.note(part, "flow behavior FlowAlways is not carried over: g2msync sends a field only when it differs from what GoTo has")
	}
	r.Fields[f] = fm
	r.From[f] = am.TargetAttributeName
}

func fieldNames() string {
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.field
	}
	return strings.Join(names, ", ")
}

// matching lists the directory attributes of the matching mappings (those
// with matchingPriority above 0, lowest first) that target GoTo's email.
func (r *Result) matching(ams []AttributeMapping) {
	var ms []*AttributeMapping
	for i := range ams {
		if ams[i].MatchingPriority > 0 {
			ms = append(ms, &ams[i])
		}
	}
	slices.SortStableFunc(ms, func(a, b *AttributeMapping) int { return cmp.Compare(a.MatchingPriority, b.MatchingPriority) })
	for _, am := range ms {
		part := fmt.Sprintf("matching attribute %s (priority %d)", quote(am.TargetAttributeName), am.MatchingPriority)
		if field(am.TargetAttributeName) != "email" {
			r.unsupported(part, "g2msync matches existing GoTo accounts by their email only")
			continue
		}
		name, ok := plainAttribute(am.Source)
		switch {
		case !ok:
			r.unsupported(part, "its source is an expression; g2msync matches on directory attributes, compared with each GoTo account's email")
		case !mapping.KnownAttribute(name):
			r.unsupported(part, "unknown directory attribute %s", quote(name))
		case !slices.Contains(r.Matching, name):
			r.Matching = append(r.Matching, name)
		}
	}
	if len(r.Matching) == 0 {
		r.Matching = []string{"mail", "userPrincipalName"}
		r.note("matching", "no matching attribute could be carried over; g2msync's default, mail then userPrincipalName, is used")
	}
}

// plainAttribute returns the attribute a source reads when it is just one.
func plainAttribute(s *Source) (string, bool) {
	if s == nil {
		return "", false
	}
	if s.Expression != nil && *s.Expression != "" {
		e := strings.TrimSpace(*s.Expression)
		if m := bracketed.FindStringSubmatch(e); m != nil {
			return m[1], true
		}
		return "", false
	}
	if (s.Type == "" || strings.EqualFold(s.Type, "Attribute")) && s.Name != nil && attrName.MatchString(*s.Name) {
		return *s.Name, true
	}
	return "", false
}

var (
	bracketed = regexp.MustCompile(`^\[([A-Za-z_][A-Za-z0-9_.]*)\]$`)
	attrName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)
	funcName  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)
)

// validate checks the fields and matching as loading the configuration
// will, and leaves out, with the reason, what it refuses.
func (r *Result) validate() error {
	for range len(r.Fields) + 2 {
		c := &config.Config{Mapping: r.Fields, Matching: r.Matching}
		var cerr *config.Error
		if err := c.CheckMapping(); !errors.As(err, &cerr) {
			break
		}
		for _, p := range cerr.Problems {
			name := strings.TrimPrefix(p.Key, "mapping.")
			switch {
			case p.Key == "mapping.email":
				if from, ok := r.From["email"]; ok {
					r.unsupported("attribute mapping "+quote(from), "%s", p.Msg)
					delete(r.Fields, "email")
				}
				return fmt.Errorf("no mapping of GoTo's email could be carried over (g2msync keys GoTo accounts by email): %s", p.Msg)
			case strings.HasSuffix(name, ".default"):
				f := strings.TrimSuffix(name, ".default")
				fm := r.Fields[f]
				r.unsupported("default value of "+quote(r.From[f]), "%s", p.Msg)
				fm.Default = ""
				r.Fields[f] = fm
			case strings.HasPrefix(p.Key, "mapping."):
				r.unsupported("attribute mapping "+quote(r.From[name]), "%s", p.Msg)
				delete(r.Fields, name)
				delete(r.From, name)
			default:
				return fmt.Errorf("%s: %s", p.Key, p.Msg)
			}
		}
	}
	return nil
}

// scope translates the scoping filter groups. A group with a clause that
// cannot be carried over is left out whole: the filter then admits fewer
// people, who are neither adopted nor created, rather than more.
func (r *Result) scope(f *Filter) error {
	if f == nil {
		return nil
	}
	if len(f.CategoryFilterGroups) > 0 {
		r.unsupported("category filter groups", "g2msync has only scoping filters of users")
	}
	if len(f.InputFilterGroups) > 0 {
		r.unsupported("input filter groups", "g2msync has only scoping filters of users")
	}
	for i, g := range f.Groups {
		name := g.Name
		if name == "" {
			name = "filter " + strconv.Itoa(i+1)
		}
		out := config.Filter{Name: name}
		var why string
		for j, c := range g.Clauses {
			cl, err := r.clause(name, j, c)
			if err != nil {
				why = err.Error()
				break
			}
			out.Clauses = append(out.Clauses, cl)
		}
		if why == "" && len(out.Clauses) == 0 {
			why = "it has no clause"
		}
		if why != "" {
			r.unsupported("scoping filter "+quote(name), "%s; left out whole: people in scope only through it are neither adopted nor created until you add an equivalent filter", why)
			continue
		}
		r.Filters = append(r.Filters, out)
	}
	if len(f.Groups) > 0 && len(r.Filters) == 0 {
		return errors.New("none of the job's scoping filters could be carried over, and without them everyone assigned would be in scope; " +
			"mend the filters listed above in Entra, or import from a schema file you edited (--from-file)")
	}
	return nil
}

func (r *Result) clause(group string, j int, c FilterClause) (config.Clause, error) {
	op, ok := mapping.ParseOp(c.OperatorName)
	if !ok {
		return config.Clause{}, fmt.Errorf("clause %d: operator %s has no equivalent in g2msync", j+1, quote(c.OperatorName))
	}
	var values []string
	if c.TargetOperand != nil {
		values = c.TargetOperand.Values
	}
	value := ""
	switch op {
	case mapping.OpIsTrue, mapping.OpIsFalse, mapping.OpIsNull, mapping.OpIsNotNull:
		if len(values) > 0 {
			r.note(fmt.Sprintf("scoping filter %s, clause %d", quote(group), j+1), "operator %s takes no value; the values %s are not used", op, quoteAll(values))
		}
	default:
		if len(values) > 1 {
			return config.Clause{}, fmt.Errorf("clause %d: %d values %s; a g2msync clause compares with one (a REGEX MATCH can test several)", j+1, len(values), quoteAll(values))
		}
		if len(values) == 1 {
			value = values[0]
		}
	}
	if _, err := mapping.NewClause(c.SourceOperandName, op, value); err != nil {
		return config.Clause{}, fmt.Errorf("clause %d: %w", j+1, err)
	}
	return config.Clause{Attribute: c.SourceOperandName, Op: string(op), Value: value}, nil
}

// Expression returns the mapping expression of a source, as g2msync's
// configuration takes it: its expression when Entra gave one and g2msync
// parses it, else one written from its Attribute, Constant and Function
// tree. The error says what g2msync does not support.
func Expression(s *Source) (string, error) {
	if s == nil {
		return "", errors.New("it has no source")
	}
	var first error
	if s.Expression != nil && strings.TrimSpace(*s.Expression) != "" {
		e := *s.Expression
		if _, err := mapping.Parse(e); err == nil {
			return e, nil
		} else {
			first = err
		}
	}
	e, err := tree(s, 0)
	if err == nil {
		_, err = mapping.Parse(e)
	}
	if err != nil {
		if first != nil {
			return "", fmt.Errorf("g2msync cannot read its expression: %w", first)
		}
		return "", fmt.Errorf("g2msync cannot read its source: %w", err)
	}
	return e, nil
}

// tree writes a source tree in Entra's expression language.
func tree(s *Source, depth int) (string, error) {
	if depth > maxDepth {
		return "", fmt.Errorf("functions nested more than %d deep", maxDepth)
	}
	name := ""
	if s.Name != nil {
		name = *s.Name
	}
	switch normal(s.Type) {
	case "", "attribute":
		if !attrName.MatchString(name) {
			return "", fmt.Errorf("attribute name %s is not one", quote(name))
		}
		return "[" + name + "]", nil
	case "constant":
		return constant(name), nil
	case "function":
		if !funcName.MatchString(name) {
			return "", fmt.Errorf("function name %s is not one", quote(name))
		}
		if len(s.Parameters) > maxItems {
			return "", fmt.Errorf("%s has %d parameters", name, len(s.Parameters))
		}
		args := make([]string, len(s.Parameters))
		for i, p := range s.Parameters {
			if p.Value == nil {
				continue // an optional argument left out by position
			}
			a, err := tree(p.Value, depth+1)
			if err != nil {
				return "", err
			}
			args[i] = a
		}
		return name + "(" + strings.Join(args, ", ") + ")", nil
	}
	return "", fmt.Errorf("source type %s is not Attribute, Constant or Function", quote(s.Type))
}

// constant writes a string constant: \ and " are the only escapes.
func constant(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// quote quotes a name from the schema for a message or a comment: every
// character that is not graphic (newlines, line separators, bidirectional
// controls, escapes) is shown escaped, so a name cannot forge a line.
func quote(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strconv.QuoteToGraphic(s)
}

func quoteAll(ss []string) string {
	q := make([]string, 0, min(len(ss), 5))
	for i, s := range ss {
		if i == 5 {
			q = append(q, "…")
			break
		}
		q = append(q, quote(s))
	}
	return strings.Join(q, ", ")
}
