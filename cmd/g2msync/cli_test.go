package main

import (
	"bufio"
	"bytes"
	"context"
	bin "encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
	"github.com/g2msync/g2msync/pkg/state"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func runMain(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	m := &Main{Stdout: &stdout, Stderr: &stderr, Environ: env, Now: func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }}
	err := m.Run(context.Background(), args)
	return m.exit(err), stdout.String(), stderr.String()
}

func TestEveryCommandHasHelp(t *testing.T) {
	// Every command in the real table: a new one without help fails here.
	commands := (&Main{}).commands()
	if len(commands) < 11 {
		t.Fatalf("only %d commands", len(commands))
	}
	for name := range commands {
		// Help goes to stdout, as the family's does: `plan --help | less`.
		for _, h := range []string{"-h", "--help"} {
			code, out, errOut := runMain(t, nil, name, h)
			if code != ExitOK || !strings.Contains(out, "usage: g2msync "+name) || errOut != "" {
				t.Errorf("%s %s: exit %d\nstdout:\n%s\nstderr:\n%s", name, h, code, out, errOut)
			}
			if strings.Contains(out, "\n  -config") || (strings.Contains(out, "Flags:") && !strings.Contains(out, "--")) {
				t.Errorf("%s %s lists flags Go-style:\n%s", name, h, out)
			}
		}
		if !strings.Contains(usage, "\n  "+name+" ") {
			t.Errorf("g2msync help does not list %s", name)
		}
	}
	code, out, errOut := runMain(t, nil, "login", "--help")
	if code != ExitOK || !strings.Contains(out, "usage: g2msync login goto") {
		t.Errorf("login --help: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runMain(t, nil, "help")
	if code != ExitOK || !strings.Contains(out, "Exit codes:") || !strings.Contains(out, "3  disables are staged") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
	if code, _, errOut := runMain(t, nil, "sync"); code != ExitUsage || !strings.Contains(errOut, `unknown command "sync"`) {
		t.Errorf("unknown command: exit %d %s", code, errOut)
	}
}

func TestInvalidConfigurationListsEveryProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g2msync.yaml")
	os.WriteFile(path, []byte("schedule: often\nsafety: { max_disable: 3 }\nroles: { User: {} }\n"), 0o600)
	code, _, errOut := runMain(t, nil, "run", "--once", "--config", path)
	if code != ExitUsage {
		t.Fatalf("exit %d, want %d\n%s", code, ExitUsage, errOut)
	}
	for _, want := range []string{"config " + path + ":", "problems:", "schedule: invalid schedule", "safety.max_disable: unknown key",
		"roles.User.licenses: empty", "entra.tenant_id: missing", "goto.client_secret: missing"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// goldenState writes a state file with a known history.
func goldenState(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	st, err := state.Open(path, state.Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec := plan.Record{EntraID: "4b1e0000-0000-4000-8000-000000000001", UPN: "jane@contoso.com", GoToKey: "7731",
		Profile: plan.Profile{Email: "jane@contoso.com", FirstName: "Jane", LastName: "Doe"}, Licenses: []string{"1001"}, State: plan.StateActive}
	outs := []state.Outcome{
		{EntraID: rec.EntraID, Record: &rec, Audit: state.AuditEntry{Time: t0, CycleID: "c1", EntraID: rec.EntraID, UPN: rec.UPN, GoToKey: "7731",
			Email: "jane@contoso.com", Action: "create", Result: state.ResultSuccess, Reason: "assigned to the app",
			Changes: []state.PropertyChange{{Name: "email", New: "jane@contoso.com"}, {Name: "licenseKeys", New: "1001"}}}},
		{EntraID: "b2", Failure: &state.Failure{EntraID: "b2", UPN: "bob@contoso.com", Email: "bob@contoso.com", Kind: plan.KindCreate, Count: 2,
			FirstAt: t0, LastAt: t0.Add(time.Hour), NextAttempt: t0.Add(80 * time.Minute), Cause: "conflict",
			LastError: "create goto user (bob@contoso.com, entra b2): goto: POST users: 409 user.email.exists: bob@contoso.com; another GoTo account already uses this email; rename or remove it, and the change is tried again"},
			Audit: state.AuditEntry{Time: t0.Add(time.Hour), CycleID: "c2", EntraID: "b2", UPN: "bob@contoso.com", Email: "bob@contoso.com",
				Action: "create", Result: state.ResultFailure, Error: "goto: POST users: 409 user.email.exists: bob@contoso.com"}},
		{EntraID: "q5", Failure: &state.Failure{EntraID: "q5", UPN: "quinn@contoso.com", Kind: plan.KindUpdate, Count: 5, Quarantined: true,
			FirstAt: t0, LastAt: t0.Add(time.Hour), LastError: "update goto user 7750 (quinn@contoso.com, entra q5): goto: 409 user.email.exists"}},
		{EntraID: rec.EntraID, Audit: state.AuditEntry{Time: t0.Add(time.Hour), CycleID: "c2", EntraID: rec.EntraID, UPN: rec.UPN, GoToKey: "7731",
			Email: "jane.lee@contoso.com", Action: "update", Result: state.ResultSuccess, Reason: "directory attributes changed",
			Changes: []state.PropertyChange{{Name: "email", Old: "jane@contoso.com", New: "jane.lee@contoso.com"}, {Name: "lastName", Old: "Doe", New: "Lee"}}}},
		{EntraID: "d3", Audit: state.AuditEntry{Time: t0.Add(time.Hour), CycleID: "c2", EntraID: "d3", UPN: "dee@contoso.com", Action: "skip",
			Result: state.ResultSkipped, Reason: "assigned only with app roles the configuration does not map: Default Access"}},
	}
	for _, o := range outs {
		if err := st.Commit(o); err != nil {
			t.Fatal(err)
		}
	}
	st.SetStaged([]state.Staged{{EntraID: "e4", UPN: "eve@contoso.com", GoToKey: "7740", Email: "eve@contoso.com", Reason: "no longer assigned to the app", Since: t0.Add(time.Hour)}})
	seats := "licence 1001 has no free seat (10 of 10 used); add seats in GoTo Admin or free some"
	st.SetDeferred([]state.Deferred{
		{EntraID: "f6", UPN: "fay@contoso.com", Email: "fay@contoso.com", Kind: plan.KindCreate, Cause: "seats", Reason: seats, Since: t0.Add(time.Hour)},
		{EntraID: "g7", UPN: "gus@contoso.com", Email: "gus@contoso.com", GoToKey: "7770", Kind: plan.KindUpdate, Cause: "backoff",
			Reason: "failed before; waiting for its next try", Until: t0.Add(90 * time.Minute), Attempts: 1, LastError: "goto: 503", Since: t0.Add(time.Hour)},
	})
	st.SaveCycle(state.Cycle{ID: "c1", Start: t0, End: t0.Add(1500 * time.Millisecond), Mode: "initial-sync", Read: "full: a full sync was requested", Outcome: "success", InScope: 3, Owned: 0,
		Planned: map[string]int{"create": 2}, Applied: map[string]int{"create": 1}, Skipped: 1, Calls: map[string]int64{"graph": 6, "goto": 4}})
	st.SaveCycle(state.Cycle{ID: "c2", Start: t0.Add(time.Hour), End: t0.Add(time.Hour + 800*time.Millisecond), Mode: "incremental", Read: "delta: 2 changes", Outcome: "partial",
		InScope: 3, Owned: 2, Applied: map[string]int{"update": 1}, Failed: map[string]int{"create": 1}, Skipped: 1, Staged: 1,
		Deferred: 2, DeferredBy: map[string]int{"seats": 1, "backoff": 1}, Calls: map[string]int64{"graph": 6, "goto": 3},
		Problems: []state.Problem{{Result: state.ResultDeferred, Action: "create", Cause: "seats", Reason: seats, Count: 1, People: []string{"fay@contoso.com"}},
			{Result: state.ResultDeferred, Action: "update", Cause: "backoff", Reason: "failed before; waiting for its next try", Count: 1, People: []string{"gus@contoso.com"}},
			{Result: state.ResultFailure, Action: "create", Cause: "conflict", Reason: "another GoTo account already uses this email; rename or remove it, and the change is tried again",
				Count: 1, People: []string{"bob@contoso.com"}}}})
	return path
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it)\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

func TestReportAndStatusOutput(t *testing.T) {
	path := goldenState(t)
	for _, tt := range []struct {
		file string
		args []string
	}{
		{"report.txt", []string{"report"}},
		{"report-failures.csv", []string{"report", "--result", "failure", "--output", "csv"}},
		{"report-jane.json", []string{"report", "--user", "JANE@contoso.com", "--output", "json"}},
		{"report-cycle.txt", []string{"report", "--cycle", "c2", "--action", "skip"}},
		{"status.txt", []string{"status"}},
		{"status.json", []string{"status", "-o", "json"}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			code, out, errOut := runMain(t, nil, append(tt.args, "--state", path)...)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden(t, tt.file, out)
		})
	}
	if code, _, errOut := runMain(t, nil, "report", "--state", path, "--since", "yesterday"); code != ExitUsage || !strings.Contains(errOut, "--since") {
		t.Errorf("bad --since: exit %d %s", code, errOut)
	}
}

// TestDemo runs the README's first command in-process: both simulators, an
// initial sync and an incremental cycle that makes exactly the four changes.
func TestDemo(t *testing.T) {
	code, out, errOut := runMain(t, nil, "demo")
	if code != ExitOK {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"Plan: 0 disable, 0 delete, 0 update, 0 enable, 15 adopt, 273 create; 3 left alone",
		"success", "applied create:273 adopt:15",
		"Plan: 2 disable, 0 delete, 1 update, 0 enable, 0 adopt, 1 create; 3 left alone",
		"applied create:1 update:1 disable:2", "Done.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

// The migration demo: import Entra's job, fill in the licences, and the
// initial sync adopts what the old job made and creates nothing.
func TestDemoFromEntraJob(t *testing.T) {
	code, out, errOut := runMain(t, nil, "demo", "--from-entra-job")
	if code != ExitOK {
		t.Fatalf("demo --from-entra-job: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"== Migrating: g2msync import entra-job", "WARN  Entra's job still provisions", "Not carried over (3)",
		"0 enable, 228 adopt, 0 create; 3 left alone", "applied adopt:228;", "Done."} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

// status and report only read the state file: they demanded the Entra and
// GoTo secrets (and a configuration valid in every other respect).
func TestStatusAndReportNeedNoSecrets(t *testing.T) {
	path := goldenState(t)
	cfg := filepath.Join(t.TempDir(), "g2msync.yaml")
	os.WriteFile(cfg, []byte("state_path: "+path+"\nentra: { tenant_id: not-filled-in-yet }\n"), 0o600)
	for _, args := range [][]string{{"status", "--config", cfg}, {"report", "--config", cfg}} {
		if code, out, errOut := runMain(t, nil, args...); code != ExitOK || out == "" {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	if code, _, errOut := runMain(t, []string{"G2MSYNC_STATE_PATH=" + path}, "status", "--config", filepath.Join(t.TempDir(), "absent.yaml")); code != ExitOK {
		t.Errorf("status with the path from the environment: exit %d %s", code, errOut)
	}
}

// Flags go before or after arguments, as with the Go tools administrators
// know; a bad flag is one error line naming the command, not the error and
// the whole help; help has no empty "Flags:" section.
func TestFlagsAnywhereAndOneLineErrors(t *testing.T) {
	for _, args := range [][]string{{"jane@contoso.com", "--config", "x.yaml"}, {"--config", "x.yaml", "jane@contoso.com"}, {"--config=x.yaml", "--", "jane@contoso.com"}} {
		fs := (&Main{Stderr: io.Discard}).newFlagSet("retry", "usage: g2msync retry")
		cfg := fs.String("config", "", "")
		if err := parseArgs(fs, args); err != nil || *cfg != "x.yaml" || fs.NArg() != 1 || fs.Arg(0) != "jane@contoso.com" {
			t.Errorf("%v: err %v, config %q, args %v", args, err, *cfg, fs.Args())
		}
	}
	code, _, errOut := runMain(t, nil, "plan", "--no-such-flag")
	if lines := strings.Split(strings.TrimSpace(errOut), "\n"); code != ExitUsage || len(lines) != 1 ||
		!strings.Contains(lines[0], "g2msync: plan: flag provided but not defined: -no-such-flag (see g2msync plan --help)") {
		t.Errorf("bad flag: exit %d, stderr:\n%s", code, errOut)
	}
	for name := range (&Main{}).commands() {
		_, out, errOut := runMain(t, nil, name, "-h")
		if strings.Contains(out+errOut, "Flags:\n\n") || strings.HasSuffix(strings.TrimSpace(out+errOut), "Flags:") {
			t.Errorf("%s -h has an empty Flags: section:\n%s", name, out+errOut)
		}
		// The flag package takes a `quoted` word of a flag's usage for the
		// value's name: "-dry-run g2msync plan". No usage may hold one.
		for _, verb := range append(subcommandsOf(name), "") {
			fs, _ := (&Main{}).flagsOf(name, verb)
			if fs != nil {
				fs.VisitAll(func(f *flag.Flag) {
					if strings.Contains(f.Usage, "`") {
						t.Errorf("%s %s --%s: usage %q holds a backquote", name, verb, f.Name, f.Usage)
					}
				})
			}
		}
	}
}

// bench prints its table for a small tenant: three cycles, each with its
// bound and calls.
func TestBenchCommand(t *testing.T) {
	var out, errs bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errs, Now: time.Now}
	if err := m.Run(context.Background(), []string{"bench", "--users", "100", "--graph-latency", "1ms", "--goto-latency", "1ms", "--goto-rate", "1000"}); err != nil {
		t.Fatalf("bench: %v\n%s", err, errs.String())
	}
	for _, want := range []string{"100 people", "initial sync", "no change", "1 % changed", "create:100", "update:1", "peak RSS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("bench output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := m.Run(context.Background(), []string{"bench", "--users", "100", "--graph-latency", "1ms", "--goto-latency", "1ms", "--goto-rate", "1000", "--cycles", "1"}); err != nil {
		t.Fatalf("bench --cycles 1: %v\n%s", err, errs.String())
	}
	if !strings.Contains(out.String(), "initial sync") || strings.Contains(out.String(), "no change") {
		t.Errorf("bench --cycles 1 ran other cycles:\n%s", out.String())
	}
	if err := m.Run(context.Background(), []string{"bench", "--cycles", "1", "--cpuprofile", filepath.Join(t.TempDir(), "p")}); err == nil {
		t.Error("bench --cpuprofile with --cycles 1 (no no-change cycle to profile) was accepted")
	}
	for _, bad := range [][]string{{"--memory-limit", "200MiB"}, {"--separate-process", "--memory-limit", "200MB"}, {"--separate-process", "--memory-limit", "-1"}, {"--separate-process", "--memory-limit", "0MiB"}} {
		if err := m.Run(context.Background(), append([]string{"bench"}, bad...)); err == nil {
			t.Errorf("bench %v was accepted", bad)
		}
	}
}

// bench --separate-process runs each cycle, the reconcile too, as its own
// `run --once` process (here the built binary's, as an administrator runs
// it), under the memory limit given, and says so with the table.
func TestBenchSeparateProcesses(t *testing.T) {
	cmd := exec.Command(binary(t), "bench", "--users", "100", "--graph-latency", "1ms", "--goto-latency", "1ms",
		"--separate-process", "--cycles", "4", "--memory-limit", "64MiB")
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GOGC=") })
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	for _, want := range []string{"each cycle a `run --once` process (CPU and RSS are its own) under g2msync's GOGC (100, 50 from 64 MiB live) and GOMEMLIMIT=64MiB",
		"initial sync", "no change", "1 % changed", "reconcile, 1 % drifted", "peak RSS"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("bench output lacks %q:\n%s", want, out)
		}
	}
	// Every cycle's row has its process's peak, split into the heap and
	// the mapped files.
	if rows := regexp.MustCompile(`(?m)MiB \(anon \d+, file \d+ MiB\)$`).FindAllString(string(out), -1); len(rows) != 4 {
		t.Errorf("%d rows with a peak RSS split, want 4:\n%s", len(rows), out)
	}
}

// bench --latency runs the daemon's loop while changes are made in Entra,
// and times each from the change to its GoTo write: every change is
// written, each kind has its row, and the CPU share is said with what it
// counts.
func TestBenchLatency(t *testing.T) {
	var out, errs bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errs, Now: time.Now}
	args := []string{"bench", "--users", "100", "--graph-latency", "1ms", "--goto-latency", "1ms", "--goto-rate", "1000",
		"--latency", "--schedule", "@every 1s", "--duration", "4s", "--changes", "8", "--idle", "2s", "--entra-lag", "500ms"}
	if err := m.Run(context.Background(), args); err != nil {
		t.Fatalf("bench --latency: %v\n%s", err, errs.String())
	}
	for _, want := range []string{"provisioning latency", "new hire in a group", "left a group", "new direct assignment",
		"direct assignment removed", "p95", "CPU between changes", "upper bound"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("bench --latency output lacks %q:\n%s", want, out.String())
		}
	}
	if !regexp.MustCompile(`(?m)^all +8 +8 `).MatchString(out.String()) || strings.Contains(out.String(), "no GoTo write") {
		t.Errorf("not every change was written:\n%s", out.String())
	}
	for _, bad := range [][]string{{"--latency", "--separate-process"}, {"--latency", "--changes", "0"}, {"--latency", "--schedule", "every minute"}} {
		if err := m.Run(context.Background(), append([]string{"bench"}, bad...)); err == nil {
			t.Errorf("bench %v was accepted", bad)
		}
	}
}

// A cycle's peak is its own: Linux hands a child started with os/exec the
// spawner's peak as its ru_maxrss, which the bench once printed.
func TestBenchChildPeakIsItsOwn(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	ballast := make([]byte, 256<<20) // this process's own: 256 MiB resident
	for i := 0; i < len(ballast); i += 4096 {
		ballast[i] = 1
	}
	cmd := exec.Command("sleep", "0.5")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep:", err)
	}
	mem := sampleMemory(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	peak := mem.stop()
	var mib int
	if _, err := fmt.Sscanf(peak, "%d MiB", &mib); err != nil || mib > 64 {
		t.Errorf("sleep's peak = %q, want its own few MiB", peak)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss < 200<<10 {
		t.Logf("this kernel does not carry the spawner's peak into ru_maxrss (%d kB)", ru.Maxrss)
	}
	runtime.KeepAlive(ballast)
}

// statusKB reads a field of /proc/PID/status, where the bench finds a
// cycle's anonymous and file-backed memory.
func TestStatusKB(t *testing.T) {
	status := []byte("Name:\tg2msync\nVmHWM:\t  302112 kB\nRssAnon:\t  191532 kB\nRssFile:\t  110208 kB\n")
	if a, f, h, x := statusKB(status, "RssAnon:"), statusKB(status, "RssFile:"), statusKB(status, "VmHWM:"), statusKB(status, "RssShmem:"); a != 191532 || f != 110208 || h != 302112 || x != 0 {
		t.Errorf("RssAnon %d, RssFile %d, VmHWM %d, RssShmem %d", a, f, h, x)
	}
}

// One damaged provisioning-log entry made report print nothing but an
// error; it prints the rest and names what it left out.
func TestReportLeavesOutADamagedEntry(t *testing.T) {
	path := goldenState(t)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	var seq uint64
	err = db.Update(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket([]byte("audit")).Cursor().First()
		seq = bin.BigEndian.Uint64(k)
		return tx.Bucket([]byte("audit")).Put(k, []byte(`{"seq":`))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runMain(t, nil, "report", "--state", path)
	if code != ExitOK || !strings.Contains(out, "bob@contoso.com") || !strings.Contains(errOut, fmt.Sprintf("entry %d", seq)) {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant the other entries and entry %d named", code, out, errOut, seq)
	}
}

// A mistyped command or flag gets one line naming what was meant, as the
// family's tools say it; -o is --output wherever --output is.
func TestMistypesAreSuggestedAndShortOutputWorks(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"stauts"}, `unknown command "stauts"; did you mean "status"?`},
		{[]string{"explian", "x"}, `did you mean "explain"?`},
		{[]string{"completoin"}, `did you mean "completion"?`},
		{[]string{"status", "--ouput", "json"}, "flag provided but not defined: -ouput; did you mean --output?"},
		{[]string{"plan", "--alow-disables"}, "did you mean --allow-disables?"},
		{[]string{"report", "--sinse", "24h"}, "did you mean --since?"},
	} {
		code, out, errOut := runMain(t, nil, tc.args...)
		if code != ExitUsage || out != "" || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want one line with %q", tc.args, code, out, errOut, tc.want)
		}
	}
	if code, _, errOut := runMain(t, nil, "frobnicate"); code != ExitUsage || strings.Contains(errOut, "did you mean") {
		t.Errorf("a command close to none: exit %d %q", code, errOut)
	}
	// -o json, -o=json and -ojson are --output json: a state file that does
	// not exist is the error, not the flag.
	for _, o := range [][]string{{"-o", "json"}, {"-o=json"}, {"--output", "json"}, {"-output", "json"}, {"-output=json"}} {
		args := append([]string{"status", "--state", filepath.Join(t.TempDir(), "none.db")}, o...)
		if code, _, errOut := runMain(t, nil, args...); code != ExitFailure || !strings.Contains(errOut, "does not exist") {
			t.Errorf("%v: exit %d %q", o, code, errOut)
		}
	}
	if code, _, errOut := runMain(t, nil, "status", "-o", "yaml", "--state", "x"); code != ExitUsage || !strings.Contains(errOut, "yaml") {
		t.Errorf("-o yaml: exit %d %q", code, errOut)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"status", "status", 0}, {"stauts", "status", 1}, {"stat", "status", 2}, {"kitten", "sitting", 3}, {"", "abc", 3}} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// Every --output json speaks one contract: snake_case keys, and empty
// lists as [] rather than null, so a script written against one command
// reads the others.
func TestEveryJSONOutputIsSnakeCase(t *testing.T) {
	pw := newProcWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 4}}, DirectAdmins: 1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1}, "@every 20m")
	if code, out := pw.exitCode("run", "--once", "--initial-sync"); code != ExitOK {
		t.Fatalf("initial sync: exit %d\n%s", code, out)
	}
	hire, err := pw.w.NewHire("Sales")
	if err != nil {
		t.Fatal(err)
	}
	people := pw.w.InScope(false)
	for _, args := range [][]string{
		{"plan", "-o", "json"},
		{"status", "-o", "json"},
		{"licenses", "-o", "json"},
		{"report", "-o", "json"},
		{"explain", "-o", "json", people[0].UPN, hire.UPN},
		{"provision", "--dry-run", "-o", "json", hire.UPN},
		{"mapping", "test", "-o", "json", hire.UPN},
	} {
		cmd, stdout, stderr := pw.command(args...)
		err := cmd.Run()
		var v any
		if jerr := json.Unmarshal(stdout.Bytes(), &v); err != nil || jerr != nil {
			t.Errorf("%v: %v, %v\n%s%s", args, err, jerr, stdout, stderr)
			continue
		}
		for _, p := range jsonProblems("", v) {
			t.Errorf("%v: %s", args, p)
		}
	}
	code, out, errOut := runMain(t, nil, "version", "-o", "json")
	var v any
	if err := json.Unmarshal([]byte(out), &v); code != ExitOK || err != nil {
		t.Errorf("version -o json: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	for _, p := range jsonProblems("", v) {
		t.Errorf("version: %s", p)
	}
}

// jsonProblems lists the keys of v that are not snake_case and the values
// that are null, by path.
func jsonProblems(path string, v any) []string {
	var out []string
	switch x := v.(type) {
	case nil:
		out = append(out, path+" is null")
	case map[string]any:
		// import and profile map attribute names to values, spelt as Graph
		// and GoTo's API spell them (givenName, firstName): data, not keys
		// of the contract.
		data := strings.HasSuffix(path, ".import") || strings.HasSuffix(path, ".profile")
		for k, e := range x {
			if data {
				out = append(out, jsonProblems(path+"."+k, e)...)
				continue
			}
			// Keys that are data (a kind, an API, a licence key) are
			// lowercase words too; a Go field name would start upper.
			if !regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`).MatchString(k) {
				out = append(out, fmt.Sprintf("%s.%s is not snake_case", path, k))
			}
			out = append(out, jsonProblems(path+"."+k, e)...)
		}
	case []any:
		for i, e := range x {
			out = append(out, jsonProblems(fmt.Sprintf("%s[%d]", path, i), e)...)
		}
	}
	return out
}

// A connection that fails says so once, in one line naming the host and
// what to check: here the simulators' CA, which this process does not
// trust, stands for a TLS-intercepting proxy. plan printed a JSON log line
// and then the same 300-character SDK chain, with a literal "\n".
func TestNetworkFailureIsOneLineOnce(t *testing.T) {
	w, err := scenario.Start(scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 2}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cfg := filepath.Join(t.TempDir(), "g2msync.yaml")
	if err := os.WriteFile(cfg, []byte(w.ConfigYAML(filepath.Join(filepath.Dir(cfg), "state.db"), "")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runMain(t, w.Environ(), "plan", "--config", cfg)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if code != ExitFailure || out != "" || len(lines) != 1 || !strings.Contains(errOut, "does not trust") || !strings.Contains(errOut, "127.0.0.1:") {
		t.Errorf("plan with an untrusted server: exit %d, %d lines on stderr:\n%s", code, len(lines), errOut)
	}
}

// The README says HTTPS_PROXY is honoured: every call to Entra, Graph and
// GoTo goes through the proxy (a CONNECT to it), and a proxy that refuses
// is named in one line. The endpoints are names that do not resolve here,
// so nothing could reach them but through the proxy. A proxy that refuses
// by its rules (403) is not asked again and again: check made 16 CONNECTs
// to Entra over 38 s before it said so.
func TestHTTPSProxyIsHonoured(t *testing.T) {
	for _, tc := range []struct {
		status string
		env    []string
		says   string
	}{
		{"502 Bad Gateway", []string{"G2MSYNC_GOTO_MAX_RETRIES=0"}, "the proxy (HTTPS_PROXY) could not connect to login.proxied.invalid (502 Bad Gateway)"},
		{"403 Forbidden", nil, "the proxy (HTTPS_PROXY) refused to connect to login.proxied.invalid (403 Forbidden)"},
	} {
		t.Run(tc.status, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			hosts := make(chan string, 256)
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						req, err := http.ReadRequest(bufio.NewReader(c))
						if err == nil && req.Method == http.MethodConnect {
							hosts <- req.Host
						}
						io.WriteString(c, "HTTP/1.1 "+tc.status+"\r\nContent-Length: 0\r\n\r\n") // the proxy refuses to go on
					}()
				}
			}()
			dir := t.TempDir()
			cfg := filepath.Join(dir, "g2msync.yaml")
			os.WriteFile(cfg, []byte(`entra:
  tenant_id: 3f782963-1da0-4787-a4b5-77a4d41bdf07
  client_id: 3f782963-1da0-4787-a4b5-77a4d41bdf08
  service_principal_id: 3f782963-1da0-4787-a4b5-77a4d41bdf09
  cloud: custom
  authority_host: https://login.proxied.invalid/
  graph_base_url: https://graph.proxied.invalid/
goto:
  account_key: "8887380153236031176710"
  client_id: abc
  api_base_url: https://api.proxied.invalid/admin/rest/v1
  auth_url: https://auth.proxied.invalid
roles:
  User: { licenses: ["5100000000000000000001"] }
state_path: `+filepath.Join(dir, "state.db")+"\n"), 0o600)
			cmd := exec.Command(binary(t), "check", "--config", cfg)
			cmd.Env = append([]string{"HTTPS_PROXY=http://" + ln.Addr().String(), "PATH=" + os.Getenv("PATH"),
				"G2MSYNC_ENTRA_CLIENT_SECRET=x", "G2MSYNC_GOTO_CLIENT_SECRET=y", "G2MSYNC_GOTO_REFRESH_TOKEN=z"}, tc.env...)
			out, _ := cmd.CombinedOutput()
			seen := map[string]int{}
			for len(hosts) > 0 {
				seen[<-hosts]++
			}
			for _, h := range []string{"login.proxied.invalid:443", "auth.proxied.invalid:443"} {
				if seen[h] == 0 {
					t.Errorf("no CONNECT to %s through the proxy (saw %v)\n%s", h, seen, out)
				}
				if tc.env == nil && seen[h] > 4 {
					t.Errorf("%d CONNECTs to %s: a proxy refusing by its rules was asked again and again", seen[h], h)
				}
			}
			if strings.Contains(string(out), "cannot resolve") {
				t.Errorf("a name was resolved here rather than by the proxy:\n%s", out)
			}
			if !strings.Contains(string(out), tc.says) {
				t.Errorf("check does not say %q:\n%s", tc.says, out)
			}
		})
	}
}

// g2msync's collector target follows the live heap: Go's default while it
// is small, 50 once it is large, with a gap between so that a heap near
// one threshold does not switch it back and forth.
func TestGCPercentFollowsTheLiveHeap(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		live          uint64
		current, want int
	}{
		{10 * mib, 100, 100}, {70 * mib, 100, 50}, {64 * mib, 100, 50}, {56 * mib, 100, 100},
		{56 * mib, 50, 50}, {47 * mib, 50, 100}, {300 * mib, 50, 50},
	} {
		if got := gcPercentFor(tc.live, tc.current); got != tc.want {
			t.Errorf("live %d MiB at %d: %d, want %d", tc.live/mib, tc.current, got, tc.want)
		}
	}
	// The tuner sets a target only when it changes, and stops with its context.
	lives := []uint64{10 * mib, 80 * mib, 60 * mib, 90 * mib, 20 * mib, 20 * mib}
	ctx, cancel := context.WithCancel(context.Background())
	var set []int
	i := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		tuneGC(ctx, time.Millisecond, func() uint64 {
			if i == len(lives)-1 {
				cancel()
			}
			i = min(i+1, len(lives))
			return lives[i-1]
		}, func(p int) int { set = append(set, p); return 0 })
	}()
	<-done
	if !slices.Equal(set, []int{50, 100}) {
		t.Errorf("targets set %v, want [50 100]", set)
	}
}
