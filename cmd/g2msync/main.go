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
	"strings"
	"syscall"
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
		"check":       &CheckCommand{m: m},
		"login":       &LoginCommand{m: m},
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

// Run runs the subcommand named by args[0].
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = []string{"version"}
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
			if c, ok := m.commands()[args[1]]; ok {
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
		fmt.Fprint(m.Stderr, usage)
		return usageError{fmt.Errorf("unknown command %q", args[0])}
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
  report       show the provisioning log
  status       show the last cycles, staged disables, deferred changes and failing accounts
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
  completion   print the shell completion script: completion bash|zsh|fish
  man          print the man page (man DIR: one page per command into DIR)

Run 'g2msync <command> -h' for a command's flags.

Exit codes:
  0  success
  1  the cycle or command failed
  2  bad flags or configuration
  3  disables are staged and need approval: review with 'g2msync plan', release with
     'g2msync run --once --allow-disables'
  4  the cycle ran but some changes failed or were deferred (no free seat,
     back-off, quarantine); they are tried again on later cycles
`

var errHelp = flag.ErrHelp

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

// newFlagSet returns a flag set whose help (-h, --help) prints the
// command's synopsis and flags to Stderr, and whose errors are returned,
// not printed: a bad flag is one line, `g2msync: …`, not an error and the
// whole help.
func (m *Main) newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if m.capture != nil {
		m.capture(fs, synopsis)
	}
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintln(m.Stderr, synopsis)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n == 0 {
			return // no empty "Flags:" section
		}
		fmt.Fprint(m.Stderr, "\nFlags:\n")
		fs.SetOutput(m.Stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses args allowing no positional argument.
func parse(fs *flag.FlagSet, args []string) error {
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("%s: unexpected argument %q (see g2msync %s -h)", fs.Name(), fs.Arg(0), fs.Name())}
	}
	return nil
}

// parseArgs parses flags before or after the positional arguments, as the
// Go tools administrators know do (`g2msync retry jane@contoso.com
// --config x.yaml`); "--" ends the flags. Flag errors become usage errors;
// -h and --help print the help and return flag.ErrHelp.
func parseArgs(fs *flag.FlagSet, args []string) error {
	usage := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = usage }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage()
				return err
			}
			return usageError{fmt.Errorf("%s: %w (see g2msync %s -h)", fs.Name(), err, fs.Name())}
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
