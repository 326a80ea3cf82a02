package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	application "github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/metrics"
)

// MappingCommand tries attribute mappings on real people.
type MappingCommand struct{ m *Main }

const mappingUsage = `usage: g2msync mapping test [flags] USER...

Tries the attribute mappings on real people before they are saved: reads
the people named from Graph (an Entra object id, a userPrincipalName or a
mail address) and prints, as explain does, each GoTo field's expression and
the value it gives them, then what a cycle would do with those values.
--set FIELD=EXPRESSION (repeatable) replaces a field's expression for this
run only, in Entra's expression language or the short a ?? b form, e.g.
  g2msync mapping test --set 'firstName=PCase(Word([displayName], 1, " "))' jane@contoso.com
The expression is checked as the configuration would check it; nothing is
changed anywhere.`

// setFlags collects --set FIELD=EXPRESSION.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, ", ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

var _ flag.Value = (*setFlags)(nil)

// Run implements command.
func (c *MappingCommand) Run(ctx context.Context, args []string) error {
	if done, err := c.m.subcommand(args, "test", mappingUsage, "mapping: say what to do: g2msync mapping test USER"); done {
		return err
	}
	fs := c.m.newFlagSet("mapping test", mappingUsage)
	cfgPath := c.m.configFlag(fs)
	output := fs.String("output", "text", "text or json")
	var sets setFlags
	fs.Var(&sets, "set", "FIELD=EXPRESSION: try this expression for a GoTo field (email, firstName, lastName, locale, timeZone)")
	if err := parseArgs(fs, args[1:]); err != nil {
		return err
	}
	if *output != "text" && *output != "json" {
		return usageError{fmt.Errorf("--output: want text or json, got %q", *output)}
	}
	if fs.NArg() == 0 {
		return usageError{errors.New("name at least one person: an Entra object id, a userPrincipalName or a mail address")}
	}
	cfg, err := c.m.loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if _, err := application.WithMappingSets(cfg, sets); err != nil {
		return usageError{err}
	}
	a, err := c.m.newApp(cfg, c.m.quietLogger(cfg, c.m.Stderr), metrics.New(version), appOptions{})
	if err != nil {
		return err
	}
	rep, err := a.svc.MappingTest(ctx, fs.Args(), sets)
	return c.m.printOnDemand(rep, err, *output)
}
