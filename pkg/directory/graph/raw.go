package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// rawObject keeps every JSON property of a reply by its Graph name. User
// pages are read into it instead of models.User so that any attribute a
// mapping names, directory extension attributes included, is read without
// a per-property getter table, and so that a read holds one map per user
// rather than a backing store.
type rawObject struct{ data map[string]any }

// decodeRaw decodes one reply: a JSON object, numbers kept as written
// (json.Number), as kiota's parse nodes keep them as int64 or float64.
func decodeRaw(body []byte) (*rawObject, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var data map[string]any
	if err := d.Decode(&data); err != nil {
		return nil, fmt.Errorf("the reply is not a JSON object: %w", err)
	}
	if data == nil {
		return nil, errors.New("empty reply")
	}
	// One object and nothing after it: a second value glued on would
	// otherwise be dropped without a word.
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("the reply holds more than one JSON value")
	}
	return &rawObject{data: data}, nil
}

// page returns the collection in "value" and "@odata.nextLink".
func (o *rawObject) page() ([]map[string]any, string, error) {
	var items []map[string]any
	switch v := o.data["value"].(type) {
	case []any:
		items = make([]map[string]any, 0, len(v))
		for i, it := range v {
			m, ok := it.(map[string]any)
			if !ok {
				return nil, "", fmt.Errorf("item %d of the page is not an object", i)
			}
			items = append(items, m)
		}
	case nil:
		return nil, "", errors.New("the reply has no value collection")
	default:
		return nil, "", fmt.Errorf("the reply's value is a %T, not a collection", v)
	}
	next, _ := scalar(o.data["@odata.nextLink"])
	return items, next, nil
}

// scalar renders a parsed JSON value as a string: a reply's values are
// strings, booleans and json.Numbers, kiota's typed models' pointers to
// string, bool, float64, int64, ... Collections are joined with ","; null
// and absent are ("", false).
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case json.Number:
		// As kiota renders a number: an integer as one, anything else as
		// the shortest decimal of its float64.
		if i, err := x.Int64(); err == nil {
			return strconv.FormatInt(i, 10), true
		}
		if f, err := x.Float64(); err == nil {
			return strconv.FormatFloat(f, 'f', -1, 64), true
		}
		return x.String(), true
	case *string:
		if x == nil {
			return "", false
		}
		return *x, true
	case string:
		return x, true
	case *bool:
		if x == nil {
			return "", false
		}
		return strconv.FormatBool(*x), true
	case bool:
		return strconv.FormatBool(x), true
	case *float64:
		if x == nil {
			return "", false
		}
		return strconv.FormatFloat(*x, 'f', -1, 64), true
	case *float32:
		if x == nil {
			return "", false
		}
		return strconv.FormatFloat(float64(*x), 'f', -1, 32), true
	case *int64:
		if x == nil {
			return "", false
		}
		return strconv.FormatInt(*x, 10), true
	case *int32:
		if x == nil {
			return "", false
		}
		return strconv.FormatInt(int64(*x), 10), true
	case *time.Time:
		if x == nil {
			return "", false
		}
		return x.Format(time.RFC3339), true
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := scalar(e); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ","), true
	}
	return fmt.Sprint(v), true
}

// lookup walks a dotted attribute name through nested objects.
func lookup(obj map[string]any, name string) (any, bool) {
	head, rest, nested := strings.Cut(name, ".")
	v, ok := obj[head]
	if !ok || !nested {
		return v, ok
	}
	inner, isObj := v.(map[string]any)
	if !isObj {
		return nil, v == nil && ok
	}
	return lookup(inner, rest)
}
