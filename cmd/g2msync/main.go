// Command g2msync keeps GoToMeeting accounts in step with the users and groups
// assigned to the GoToMeeting enterprise application in Microsoft Entra ID.
//
// main builds Main with the process's streams and environment, runs it, and
// maps the error to an exit code in one place; every subcommand lives in its
// own file with its own flag set and usage text.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// Exit codes, documented in the README and in `g2msync help`.
const (
	ExitOK      = 0 // success
	ExitFailure = 1 // the cycle or command failed
	ExitUsage   = 2 // bad flags or configuration
	ExitStaged  = 3 // disables are staged and need approval (run --once --allow-disables)
	ExitPartial = 4 // the cycle ran but some changes failed; they are retried next cycle
)

// version, commit and date are stamped at build time (scripts/release.sh):
// -ldflags "-X main.version=v1.2.3 -X main.commit=<sha> -X main.date=<RFC 3339>".
// They are constants of the build, not state.
var (
	version = "dev"
	commit  = ""
	date    = ""
)

func main() {
	m := NewMain()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if os.Getenv("GOGC") == "" {
		go tuneGC(ctx, time.Second/4, liveHeap, debug.SetGCPercent)
	}
	err := m.Run(ctx, os.Args[1:])
	os.Exit(m.exit(err))
}

// Main holds what every command shares: the process's streams, its
// environment and the clock, injected so that tests run commands in-process.
type Main struct {
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Environ []string
	Now     func() time.Time
	// Signals delivers SIGHUP and SIGTERM to `run`; nil means the process's.
	Signals func(chan<- os.Signal)
	// capture, when set, is told of every flag set a command defines: the
	// completion and man page generator reads the commands' own flags so.
	capture func(fs *flag.FlagSet, synopsis string)
	// demoChanges, set by `demo --serve`, changes the simulated tenant from
	// the console.
	demoChanges func() (string, error)
}

// NewMain returns a Main wired to the process.
func NewMain() *Main {
	return &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Environ: os.Environ(), Now: time.Now}
}

// command is one subcommand.
type command interface {
	Run(ctx context.Context, args []string) error
}

func (m *Main) commands() map[string]command {
	return map[string]command{
		"run":         &RunCommand{m: m},
		"plan":        &PlanCommand{m: m},
		"report":      &ReportCommand{m: m},
		"status":      &StatusCommand{m: m},
		"licenses":    &LicensesCommand{m: m},
		"check":       &CheckCommand{m: m},
		"login":       &LoginCommand{m: m},
		"bootstrap":   &BootstrapCommand{m: m},
		"import":      &ImportCommand{m: m},
		"demo":        &DemoCommand{m: m},
		"healthcheck": &HealthcheckCommand{m: m},
		"version":     &VersionCommand{m: m},
		"retry":       &RetryCommand{m: m},
		"approve":     &ApproveCommand{m: m},
		"state":       &StateCommand{m: m},
		"pause":       &PauseCommand{m: m},
		"resume":      &ResumeCommand{m: m},
		"provision":   &ProvisionCommand{m: m},
		"explain":     &ProvisionCommand{m: m, explain: true},
		"mapping":     &MappingCommand{m: m},
		"console":     &ConsoleCommand{m: m},
		"bench":       &BenchCommand{m: m},
	}
}

// aliases are other spellings of commands: licences is how British
// English spells GoTo's licenses.
var aliases = map[string]string{"licences": "licenses"}

// commandNames lists the commands, completion and man included, sorted.
func (m *Main) commandNames() []string {
	names := []string{"completion", "man", "help"}
	for name := range m.commands() {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Run runs the subcommand named by args[0].
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = []string{"version"}
	}
	if len(args) > 0 && aliases[args[0]] != "" {
		args = append([]string{aliases[args[0]]}, args[1:]...)
	}
	if len(args) > 0 && (args[0] == "completion" || args[0] == "man" || strings.HasPrefix(args[0], "__complete")) {
		root := m.cobraTree()
		root.SetArgs(args)
		root.SetOut(m.Stdout)
		root.SetErr(m.Stderr)
		if err := root.Execute(); err != nil {
			return usageError{err}
		}
		return nil
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			name := args[1]
			if a := aliases[name]; a != "" {
				name = a
			}
			if c, ok := m.commands()[name]; ok {
				return c.Run(ctx, []string{"-h"})
			}
		}
		fmt.Fprint(m.Stdout, usage)
		if len(args) == 0 {
			return usageError{errors.New("no command given")}
		}
		return nil
	}
	c, ok := m.commands()[args[0]]
	if !ok {
		hint := ""
		if s := closest(args[0], m.commandNames()); s != "" {
			hint = fmt.Sprintf("; did you mean %q?", s)
		}
		return usageError{fmt.Errorf("unknown command %q%s (g2msync --help lists them)", args[0], hint)}
	}
	return c.Run(ctx, args[1:])
}

const usage = `g2msync keeps GoToMeeting accounts in step with Microsoft Entra ID.

Usage:
  g2msync <command> [flags]

Commands:
  demo         run real provisioning cycles against a simulated tenant and GoTo account
  run          run the daemon on its schedule (or one cycle with --once)
  plan         show what the next cycle would do, changing nothing
  check        check the configuration and its secret files, then test the Entra and GoTo connections
  login        obtain the first GoTo refresh token (g2msync login goto)
  bootstrap    the first run in a container: login with a token file and first sync, unless done
  import       write a configuration from Entra's provisioning job (import entra-job)
  report       show the provisioning log
  status       show the last cycles, staged disables, deferred changes and failing accounts
  licenses     show each GoTo licence's seats: managed, suspended, unmanaged, free, waiting, and when they run out
  retry        try a failing or quarantined account again on the next cycle
  approve      approve staged disables, each as listed (approve --all, or name the people)
  provision    provision named people now, and no one else; print the steps
  explain      say why a person has the GoTo account they have, or none
  mapping      try attribute mappings on real people before saving them (mapping test)
  pause        stop provisioning (the daemon keeps running) until resume
  resume       lift a pause
  state        rebuild a lost or corrupt state file (g2msync state rebuild)
  console      make an operator's password hash for the web console (console hash NAME)
  bench        time whole cycles against the simulators at a size, latency and rate you choose
  healthcheck  exit 0 if the daemon's /healthz answers (for container health checks)
  version      print the version
  completion   print the shell completion script: completion bash|zsh|fish|powershell
  man          print the man page (man DIR: one page per command into DIR)

Run 'g2msync <command> --help' for a command's flags.

Exit codes:
  0  success
  1  the cycle or command failed
  2  bad flags or configuration
  3  disables are staged and need approval: review with 'g2msync status', approve
     with 'g2msync approve --all' (or name the people)
  4  the cycle ran but some changes failed or were deferred (no free seat,
     back-off, quarantine); they are tried again on later cycles
`

// usageError marks bad flags or configuration.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// exitError carries an exit code other than success or failure.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

// exit maps an error to the process's exit code, printing it once.
func (m *Main) exit(err error) int {
	var ee exitError
	var ue usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintln(m.Stderr, "g2msync:", ee.msg)
		}
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintln(m.Stderr, "g2msync:", err)
		return ExitUsage
	default:
		fmt.Fprintln(m.Stderr, "g2msync:", err)
		return ExitFailure
	}
}

// subcommand handles the word a command takes first (`login goto`): it
// returns done when args do not start with it, after printing the help
// to stdout for -h or --help, or with a one-line usage error naming the
// missing word.
func (m *Main) subcommand(args []string, word, usageText, missing string) (done bool, err error) {
	if len(args) > 0 && args[0] == word {
		return false, nil
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(m.Stdout, usageText)
		return true, nil
	}
	return true, usageError{errors.New(missing)}
}

// newFlagSet returns a flag set whose help (-h, --help) prints the
// command's synopsis and flags to Stdout, as kubectl, helm and gh do (so
// `g2msync plan --help | less` works), and whose errors are returned, not
// printed: a bad flag is one line, `g2msync: …`, not an error and the
// whole help.
func (m *Main) newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if m.capture != nil {
		m.capture(fs, synopsis)
	}
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintln(m.Stdout, synopsis)
		writeFlags(m.Stdout, fs)
	}
	return fs
}

// shortName is the one-letter form a flag has, as the family spells its
// most used flags (-o for --output), or "".
func shortName(long string) string {
	if long == "output" {
		return "o"
	}
	return ""
}

// writeFlags lists fs's flags the way the family does: "-o, --output
// string", the usage, and the default when it is not the zero value.
func writeFlags(w io.Writer, fs *flag.FlagSet) {
	var rows []string
	fs.VisitAll(func(f *flag.Flag) {
		name := "    --" + f.Name
		if s := shortName(f.Name); s != "" {
			name = "-" + s + ", --" + f.Name
		}
		kind, usage := flag.UnquoteUsage(f)
		if kind != "" {
			name += " " + kind
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
			usage += fmt.Sprintf(" (default %q)", f.DefValue)
		}
		rows = append(rows, "  "+name+"\t"+usage)
	})
	if len(rows) == 0 {
		return // no empty "Flags:" section
	}
	fmt.Fprint(w, "\nFlags:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, r)
	}
	tw.Flush()
}

// parse parses args allowing no positional argument.
func parse(fs *flag.FlagSet, args []string) error {
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("%s: unexpected argument %q (see g2msync %s --help)", fs.Name(), fs.Arg(0), fs.Name())}
	}
	return nil
}

// parseArgs parses flags before or after the positional arguments, as the
// Go tools administrators know do (`g2msync retry jane@contoso.com
// --config x.yaml`); "--" ends the flags. -o stands for --output. Flag
// errors become usage errors, with the flag meant when one is close; -h
// and --help print the help and return flag.ErrHelp.
func parseArgs(fs *flag.FlagSet, args []string) error {
	usage := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = usage }()
	args = expandShort(fs, args)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage()
				return err
			}
			return usageError{fmt.Errorf("%s: %w%s (see g2msync %s --help)", fs.Name(), err, flagSuggestion(fs, err), fs.Name())}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

// expandShort spells the short forms of fs's flags out (-o json and
// -o=json become --output …), up to a "--". Only the short form itself is
// expanded: -output, a flag fs defines, and the value of the flag before
// (--reason -ops) are left as they are.
func expandShort(fs *flag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args))
	value := false // args[i] is the value of the flag before it
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if value {
			out, value = append(out, a), false
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && fs.Lookup(name) == nil {
			fs.VisitAll(func(f *flag.Flag) {
				if shortName(f.Name) == name {
					a, name = "-"+strings.Replace(a, "-"+name, "-"+f.Name, 1), f.Name
				}
			})
		}
		if f := fs.Lookup(name); f != nil && strings.HasPrefix(a, "-") && !hasValue {
			b, ok := f.Value.(interface{ IsBoolFlag() bool })
			value = !ok || !b.IsBoolFlag()
		}
		out = append(out, a)
	}
	return out
}

// flagSuggestion says which flag of fs a mistyped one was likely meant to
// be ("; did you mean --output?"), or "".
func flagSuggestion(fs *flag.FlagSet, err error) string {
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: ")
	if !ok {
		return ""
	}
	name = strings.TrimLeft(name, "-")
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if s := closest(name, names); s != "" {
		return "; did you mean --" + s + "?"
	}
	return ""
}

// closest returns the candidate within two edits of name, or that name
// starts, the nearest first; "" when none is close.
func closest(name string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		d := editDistance(strings.ToLower(name), c)
		if len(name) >= 3 && strings.HasPrefix(c, strings.ToLower(name)) {
			d = min(d, 1)
		}
		if d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the edit distance between a and b, in bytes, counting a
// swap of two neighbours as one edit ("stauts" is one from "status"): the
// optimal string alignment distance.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func (m *Main) getenv(key string) string {
	for i := len(m.Environ) - 1; i >= 0; i-- {
		if k, v, ok := cut(m.Environ[i]); ok && k == key {
			return v
		}
	}
	return ""
}

func cut(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return "", "", false
}
