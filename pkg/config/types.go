package config

import (
	"fmt"
	"log/slog"
	"time"

	"go.yaml.in/yaml/v3"
)

// Secret holds a credential. Every way of printing it (fmt, slog, JSON,
// YAML) shows only where it came from, never the value.
type Secret struct {
	value  string
	source string
}

// NewSecret returns a secret read from source (for messages only).
func NewSecret(value, source string) Secret { return Secret{value: value, source: source} }

// Value returns the secret itself. Call it only where the secret is used.
func (s Secret) Value() string { return s.value }

// IsSet reports whether a value was found.
func (s Secret) IsSet() bool { return s.value != "" }

// Source says where the value came from.
func (s Secret) Source() string { return s.source }

// String implements fmt.Stringer with a redacted form.
func (s Secret) String() string {
	if !s.IsSet() {
		return ""
	}
	return "[redacted, from " + s.source + "]"
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return s.String() }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler (JSON uses it too).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// Duration is a time.Duration written as "30s" or "5m".
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("want a duration such as 30s or 5m, got %q", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// FieldMapping is one target field's mapping: an expression, written alone
// or as {expr: ..., apply: on_create, default: ...}: a field set only when
// creating, and a value for a create whose expression gives nothing (as
// Entra's "Default value if null", which is never applied on updates).
type FieldMapping struct {
	Expr       string
	CreateOnly bool
	Default    string
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (f *FieldMapping) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		f.Expr = n.Value
		return nil
	case yaml.MappingNode:
		var raw struct {
			Expr    string `yaml:"expr"`
			Apply   string `yaml:"apply"`
			Default string `yaml:"default"`
		}
		if err := n.Decode(&raw); err != nil {
			return err
		}
		for i := 0; i < len(n.Content); i += 2 {
			if k := n.Content[i].Value; k != "expr" && k != "apply" && k != "default" {
				return fmt.Errorf("unknown key %q (want expr, apply and default)", k)
			}
		}
		f.Default = raw.Default
		switch raw.Apply {
		case "", "always":
		case "on_create":
			f.CreateOnly = true
		default:
			return fmt.Errorf("apply: want always or on_create, got %q", raw.Apply)
		}
		f.Expr = raw.Expr
		return nil
	}
	return fmt.Errorf("want an expression or {expr, apply}")
}

// MarshalYAML implements yaml.Marshaler.
func (f FieldMapping) MarshalYAML() (any, error) {
	if !f.CreateOnly && f.Default == "" {
		return f.Expr, nil
	}
	out := map[string]string{"expr": f.Expr, "apply": "always"}
	if f.CreateOnly {
		out["apply"] = "on_create"
	}
	if f.Default != "" {
		out["default"] = f.Default
	}
	return out, nil
}
