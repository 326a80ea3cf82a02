package graph

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	absser "github.com/microsoft/kiota-abstractions-go/serialization"
)

// rawObject is a Parsable that keeps every JSON property, by its Graph name,
// in its additional data. User pages are parsed into it instead of
// models.User so that any attribute a mapping names, directory extension
// attributes included, is read without a per-property getter table, and so
// that a read holds one map per user rather than a backing store.
type rawObject struct{ data map[string]any }

var _ absser.AdditionalDataHolder = (*rawObject)(nil)

func newRawObject(absser.ParseNode) (absser.Parsable, error) {
	return &rawObject{data: map[string]any{}}, nil
}

func (o *rawObject) GetFieldDeserializers() map[string]func(absser.ParseNode) error {
	return map[string]func(absser.ParseNode) error{}
}

func (o *rawObject) Serialize(absser.SerializationWriter) error {
	return errors.New("graph: rawObject is read-only")
}

func (o *rawObject) GetAdditionalData() map[string]any  { return o.data }
func (o *rawObject) SetAdditionalData(d map[string]any) { o.data = d }

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

// scalar renders a parsed JSON value as a string: kiota's raw values are
// pointers to string, bool, float64, int64, ... Collections are joined with
// ","; null and absent are ("", false).
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
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
