package config

import (
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// Dump writes the effective configuration as YAML, secrets redacted to
// where they came from, for `g2msync check --print-config`.
func (c *Config) Dump(w io.Writer) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return fmt.Errorf("print config: %w", err)
	}
	return enc.Close()
}
