package config

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	secretType    = reflect.TypeFor[Secret]()
	unmarshalType = reflect.TypeFor[yaml.Unmarshaler]()
)

// decoder walks a YAML tree against the Config type, so that every unknown
// key and every wrong type is reported with its key path, not just the first.
type decoder struct {
	probs *Problems
	// visits counts the values decoded; aliases make a small file decode to
	// many (a 255 KB file of nested aliases took check to 4.2 GB), so past
	// maxVisits the decoder stops with one problem.
	visits int
}

// maxVisits is far above any real configuration (a hundred roles and
// mappings are some thousand values).
const maxVisits = 100_000

// duplicates reports every key a mapping gives twice: YAML parsers differ
// on which value wins (ours merged two safety: blocks without a word), so
// neither may.
func (d *decoder) duplicates(n *yaml.Node, path string) {
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if line, ok := first[k.Value]; ok {
			d.probs.Add(join(path, k.Value), "given twice, on lines %d and %d; keep one", line, k.Line)
			continue
		}
		first[k.Value] = k.Line
	}
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.visits++; d.visits > maxVisits {
		if d.visits == maxVisits+1 {
			d.probs.Add(keyOrFile(path), "the configuration expands to more than %d values (YAML aliases of aliases?); write it out plainly", maxVisits)
		}
		return
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Tag == "!!null" {
		return // "key:" with no value keeps the default
	}
	if v.Type() == secretType {
		d.probs.Add(path, "secrets are not read from the config file; put it in a file named by %s_file, "+
			"or in $%s, or in the systemd credential %s", path, envName(path), credentialName(path))
		return
	}
	if reflect.PointerTo(v.Type()).Implements(unmarshalType) {
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.probs.Add(path, "%s (line %d)", cleanYAMLError(err), n.Line)
		}
		return
	}
	if n.Kind == yaml.MappingNode {
		d.duplicates(n, path)
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.probs.Add(keyOrFile(path), "want a mapping of keys, got %s (line %d)%s", describe(n), n.Line, dedented(path))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			f, ok := fieldByTag(v, k.Value)
			if !ok {
				name := k.Value
				if name == "" {
					name = `""`
				}
				d.probs.Add(join(path, name), "unknown key (line %d)%s", k.Line, suggest(v.Type(), k.Value))
				continue
			}
			d.decode(val, f, join(path, k.Value))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.probs.Add(path, "want a mapping, got %s (line %d)", describe(n), n.Line)
			return
		}
		// A map from the file replaces the default, as one from the
		// environment does: `mapping: {email: mail}` maps email only.
		v.Set(reflect.MakeMap(v.Type()))
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			elem := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, elem, join(path, k.Value))
			v.SetMapIndex(reflect.ValueOf(k.Value), elem)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.probs.Add(path, "want a list, got %s (line %d)", describe(n), n.Line)
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, el := range n.Content {
			d.decode(el, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	default:
		if n.Kind != yaml.ScalarNode {
			d.probs.Add(path, "want %s, got %s (line %d)", kindName(v.Kind()), describe(n), n.Line)
			return
		}
		if err := setScalar(v, n.Value); err != nil {
			d.probs.Add(path, "want %s, got %q (line %d)", kindName(v.Kind()), n.Value, n.Line)
		}
	}
}

// setScalar parses s into v, which is a string, bool, integer or float.
func setScalar(v reflect.Value, s string) error {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil {
			return err
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("not a finite number")
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("unsupported kind %s", v.Kind())
	}
	return nil
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	}
	return "a string"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

func fieldByTag(v reflect.Value, key string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		if tag := tagName(t.Field(i)); tag == key && tag != "-" {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// suggest names the closest known key when the unknown one looks like a typo.
func suggest(t reflect.Type, key string) string {
	best, bestDist := "", 3
	var keys []string
	for i := range t.NumField() {
		name := tagName(t.Field(i))
		if name == "" || name == "-" {
			continue
		}
		keys = append(keys, name)
		if d := distance(strings.ToLower(key), name); d < bestDist {
			best, bestDist = name, d
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %s?", best)
	}
	slices.Sort(keys)
	return "; known keys: " + strings.Join(keys, ", ")
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// keyOrFile names the whole file when a problem is at the top level.
func keyOrFile(path string) string {
	if path == "" {
		return "(file)"
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func cleanYAMLError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "yaml: ")
	if i := strings.Index(s, "unmarshal errors:\n"); i >= 0 {
		s = strings.TrimSpace(s[i+len("unmarshal errors:\n"):])
	}
	return s
}

// dedented explains a key of a role's (licenses, admin_roles) found where
// role names go: the YAML was indented one level too little, under roles:
// rather than under a role.
func dedented(path string) string {
	parent, key, ok := strings.Cut(path, ".")
	if ok && parent == "roles" && (key == "licenses" || key == "admin_roles") {
		return fmt.Sprintf("; %s belongs to a role: indent it under the role's name (roles: User: %s: [...])", key, key)
	}
	return ""
}
