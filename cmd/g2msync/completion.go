package main

import (
	"bufio"
	"context"
	"flag"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// cobraTree builds the cobra command tree from the command table, each
// command's own synopsis and its own flag set, as the command parses with
// them: shell completion (`g2msync completion bash|zsh|fish`, and the
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
		fs, synopsis := m.flagsOf(name)
		sub := &cobra.Command{Use: name, Short: shortOf(name), Long: verbatim(synopsis), DisableFlagsInUseLine: true,
			Run: func(*cobra.Command, []string) {}}
		if fs != nil {
			sub.Flags().AddGoFlagSet(fs)
		}
		root.AddCommand(sub)
	}
	root.AddCommand(&cobra.Command{Use: "man [DIR]", Short: "print the man page, or write one page per command into DIR",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			header := &doc.GenManHeader{Title: "G2MSYNC", Section: "1", Source: "g2msync " + version, Manual: "g2msync manual"}
			if len(args) == 1 {
				return doc.GenManTree(root, header, args[0])
			}
			return doc.GenMan(root, header, cmd.OutOrStdout())
		}})
	return root
}

// flagsOf returns the flag set and synopsis a command defines, by asking it
// for its help with the output discarded and the flag set captured.
func (m *Main) flagsOf(name string) (*flag.FlagSet, string) {
	var fs *flag.FlagSet
	var synopsis string
	cm := &Main{Stdout: io.Discard, Stderr: io.Discard, Environ: m.Environ, Now: m.Now,
		capture: func(f *flag.FlagSet, s string) { fs, synopsis = f, s }}
	args := []string{"-h"}
	switch name { // commands whose first argument names what they act on
	case "login":
		args = []string{"goto", "-h"}
	case "state":
		args = []string{"rebuild", "-h"}
	case "mapping":
		args = []string{"test", "-h"}
	case "console":
		args = []string{"hash", "-h"}
	}
	_ = cm.commands()[name].Run(context.Background(), args)
	return fs, synopsis
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
