package main

import (
	"bufio"
	"context"
	"flag"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/g2msync/g2msync/pkg/address"
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
)

// cobraTree builds the cobra command tree from the command table, each
// command's own synopsis and its own flag set, as the command parses with
// them: shell completion (`g2msync completion bash|zsh|fish|powershell`, and the
// `__complete` calls the scripts make) and the man page (`g2msync man`)
// are generated from the same definitions, never from a second list.
func (m *Main) cobraTree() *cobra.Command {
	root := &cobra.Command{Use: "g2msync", Short: "keep GoToMeeting accounts in step with Microsoft Entra ID", Long: verbatim(usage),
		SilenceUsage: true, SilenceErrors: true, DisableAutoGenTag: true}
	names := make([]string, 0, len(m.commands()))
	for name := range m.commands() {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		verbs := subcommandsOf(name)
		if len(verbs) == 0 {
			verbs = []string{""}
		}
		var sub *cobra.Command
		for _, verb := range verbs {
			fs, synopsis := m.flagsOf(name, verb)
			if sub == nil {
				sub = &cobra.Command{Use: name, Short: shortOf(name), Long: verbatim(synopsis), DisableFlagsInUseLine: true,
					Run: func(*cobra.Command, []string) {}}
			}
			leaf := sub
			if verb != "" {
				// `login goto`, `state rebuild`, …: the flags are the verb's.
				leaf = &cobra.Command{Use: verb, Short: shortOf(name), Long: verbatim(synopsis), DisableFlagsInUseLine: true,
					Run: func(*cobra.Command, []string) {}}
				sub.AddCommand(leaf)
			}
			if takesPeople(name, verb) {
				leaf.ValidArgsFunction = func(cmd *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
					cfgPath, _ := cmd.Flags().GetString("config")
					return m.people(cfgPath, prefix), cobra.ShellCompDirectiveNoFileComp
				}
			}
			if fs != nil {
				fs.VisitAll(func(f *flag.Flag) {
					pf := pflag.PFlagFromGoFlag(f)
					pf.Shorthand = shortName(f.Name) // -o, as the command itself takes it
					leaf.Flags().AddFlag(pf)
				})
				m.completeValues(leaf, fs)
			}
		}
		root.AddCommand(sub)
	}
	root.AddCommand(&cobra.Command{Use: "man [DIR]", Short: "print the man page, or write one page per command into DIR",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			header := &doc.GenManHeader{Title: "G2MSYNC", Section: "1", Source: "g2msync " + version, Manual: "g2msync manual"}
			if len(args) == 1 {
				if err := os.MkdirAll(args[0], 0o755); err != nil {
					return err
				}
				return doc.GenManTree(root, header, args[0])
			}
			return doc.GenMan(root, header, cmd.OutOrStdout())
		}})
	return root
}

// flagsOf returns the flag set and synopsis a command (with its verb, for
// `state rebuild`) defines, by asking it for its help with the output
// discarded and the flag set captured.
func (m *Main) flagsOf(name, verb string) (*flag.FlagSet, string) {
	var fs *flag.FlagSet
	var synopsis string
	cm := &Main{Stdout: io.Discard, Stderr: io.Discard, Environ: m.Environ, Now: m.Now,
		capture: func(f *flag.FlagSet, s string) { fs, synopsis = f, s }}
	args := []string{"-h"}
	if verb != "" {
		args = []string{verb, "-h"}
	}
	_ = cm.commands()[name].Run(context.Background(), args)
	return fs, synopsis
}

// subcommandsOf are the verbs a command takes first (`login goto`).
func subcommandsOf(name string) []string {
	switch name {
	case "login":
		return []string{"goto"}
	case "import":
		return []string{"entra-job"}
	case "state":
		return []string{"rebuild", "backup"}
	case "mapping":
		return []string{"test"}
	case "console":
		return []string{"hash"}
	}
	return nil
}

// completeValues completes the values of the flags that take one of a few
// words (--output, --action, --result), from the words the flag's own
// usage lists, and the cycle ids of the state file for --cycle.
func (m *Main) completeValues(c *cobra.Command, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		switch f.Name {
		case "output", "action", "result":
			if f.Name == "output" && !strings.Contains(f.Usage, "json") {
				return // a file to write (import), not a format
			}
			words := usageWords(f.Usage)
			_ = c.RegisterFlagCompletionFunc(f.Name, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
				return words, cobra.ShellCompDirectiveNoFileComp
			})
		case "cycle":
			_ = c.RegisterFlagCompletionFunc(f.Name, func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
				cfgPath, _ := cmd.Flags().GetString("config")
				statePath, _ := cmd.Flags().GetString("state")
				return m.cycleIDs(cfgPath, statePath), cobra.ShellCompDirectiveNoFileComp
			})
		}
	})
}

// usageWords are the values a flag's usage lists: "text, json or csv", or
// "only this result: success, failure, …".
func usageWords(usage string) []string {
	if _, list, ok := strings.Cut(usage, ":"); ok {
		usage = list
	}
	var out []string
	for _, w := range strings.FieldsFunc(usage, func(r rune) bool { return r == ',' || r == ';' || r == ':' || r == ' ' }) {
		switch w {
		case "or", "an", "operator's", "only", "this":
			continue
		}
		out = append(out, w)
	}
	return out
}

// cycleIDs lists the state file's newest cycle ids, for `report --cycle`;
// none when the file cannot be read now (a cycle holds it).
func (m *Main) cycleIDs(cfgPath, statePath string) []string {
	st, err := m.openStateReadOnly(cfgPath, statePath)
	if err != nil {
		return nil
	}
	defer st.Close()
	cycles, err := st.Cycles(50)
	if err != nil {
		return nil
	}
	ids := make([]string, len(cycles))
	for i, c := range cycles {
		ids[i] = c.ID + "\t" + c.Start.UTC().Format("2006-01-02 15:04") + " " + c.Outcome
	}
	return ids
}

// shortOf is the one-line description the top-level usage gives a command.
func shortOf(name string) string {
	sc := bufio.NewScanner(strings.NewReader(usage))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 1 && f[0] == name && strings.HasPrefix(sc.Text(), "  "+name+" ") {
			return strings.Join(f[1:], " ")
		}
	}
	return ""
}

// verbatim makes preformatted help text a Markdown code block, which the
// man page renders as it is (its <user> and tables intact).
func verbatim(text string) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n")
}

// takesPeople says whether a command's arguments name people.
func takesPeople(name, verb string) bool {
	switch name {
	case "explain", "provision", "retry", "approve":
		return true
	case "mapping":
		return verb == "test"
	}
	return false
}

// people completes a USER argument from the state file: the UPNs of the
// people g2msync owns an account for that start with prefix (compared as
// addresses are: ASCII case folded), at most 200; none when the file
// cannot be read now.
func (m *Main) people(cfgPath, prefix string) []string {
	st, err := m.openStateReadOnly(cfgPath, "")
	if err != nil {
		return nil
	}
	defer st.Close()
	recs, err := st.Records()
	if err != nil {
		return nil
	}
	want := address.Fold(prefix)
	var out []string
	for _, r := range recs {
		if strings.HasPrefix(address.Fold(r.UPN), want) {
			out = append(out, r.UPN)
		}
		if len(out) == 200 {
			break
		}
	}
	slices.Sort(out)
	return out
}
