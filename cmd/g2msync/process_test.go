package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
	"github.com/g2msync/g2msync/pkg/state"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds g2msync once per test run. It uses the same build settings
// as `go test` so that the Graph SDK comes from the build cache: -trimpath or
// CGO_ENABLED=0 would compile it again (minutes and gigabytes).
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "g2msync-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "g2msync")
		cmd := exec.Command("go", "build", "-ldflags=-X main.version=test", "-o", binPath, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// procWorld is a scenario and a configuration on disk for a g2msync process.
type procWorld struct {
	t      *testing.T
	w      *scenario.World
	dir    string
	cfg    string
	listen string
	env    []string
}

func newProcWorld(t *testing.T, opts scenario.Options, schedule string) *procWorld {
	t.Helper()
	w, err := scenario.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	pw := &procWorld{t: t, w: w, dir: t.TempDir(), listen: freeAddr(t)}
	ca := filepath.Join(pw.dir, "ca.pem")
	if err := w.CA.WritePEM(ca); err != nil {
		t.Fatal(err)
	}
	yaml := strings.Replace(w.ConfigYAML(filepath.Join(pw.dir, "state.db"), pw.listen), `schedule: "@every 30s"`, `schedule: "`+schedule+`"`, 1)
	pw.cfg = filepath.Join(pw.dir, "g2msync.yaml")
	if err := os.WriteFile(pw.cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	pw.env = append([]string{"SSL_CERT_FILE=" + ca, "PATH=" + os.Getenv("PATH")}, w.Environ()...)
	return pw
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// command returns a g2msync command with the world's configuration.
func (pw *procWorld) command(args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	verb := 1 // "run", or "login goto", "state rebuild" and "mapping test"
	if (args[0] == "login" || args[0] == "state" || args[0] == "mapping") && len(args) > 1 {
		verb = 2
	}
	full := append(append(append([]string{}, args[:verb]...), "--config", pw.cfg), args[verb:]...)
	cmd := exec.Command(binary(pw.t), full...)
	cmd.Env = pw.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// exitCode runs a command and returns its exit code and output.
func (pw *procWorld) exitCode(args ...string) (int, string) {
	pw.t.Helper()
	cmd, stdout, stderr := pw.command(args...)
	if err := cmd.Start(); err != nil {
		pw.t.Fatal(err)
	}
	timer := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() }) // a hung command fails the test, not the run
	err := cmd.Wait()
	if !timer.Stop() {
		pw.t.Fatalf("g2msync %v did not exit within 2 minutes\n%s%s", args, stdout, stderr)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String() + stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String() + stderr.String()
	}
	pw.t.Fatal(err)
	return -1, ""
}

func (pw *procWorld) status() (daemon.StatusDoc, error) {
	var s daemon.StatusDoc
	resp, err := http.Get("http://" + pw.listen + "/status")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// TestDaemonProcess runs `g2msync run` as a process on a one-second
// schedule, watches two cycles through /status, stops it with SIGTERM and
// checks it exits 0 leaving a consistent state file.
func TestDaemonProcess(t *testing.T) {
	pw := newProcWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 40}}, DirectAdmins: 5}, "@every 1s")
	if code, out := pw.exitCode("run"); code != ExitFailure || !strings.Contains(out, "--initial-sync") {
		t.Fatalf("daemon without a state file: exit %d, want %d naming the first run\n%s", code, ExitFailure, out)
	}
	if code, out := pw.exitCode("run", "--once", "--initial-sync"); code != ExitOK {
		t.Fatalf("initial sync: exit %d\n%s", code, out)
	}
	cmd, _, stderr := pw.command("run")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()

	deadline := time.Now().Add(60 * time.Second)
	var s daemon.StatusDoc
	for {
		var err error
		s, err = pw.status()
		if err == nil && len(s.Cycles) >= 2 {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("daemon exited early: %v\n%s", err, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than two cycles after 60 s (status %+v, err %v)\n%s", s, err, stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s.Cycles[len(s.Cycles)-1].Outcome != "success" || !s.Ready {
		t.Errorf("status: %+v", s)
	}
	if resp, err := http.Get("http://" + pw.listen + "/metrics"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/metrics: %v", err)
	} else {
		resp.Body.Close()
	}
	// A third leave: staged. Approving while the daemon runs lets it apply them.
	for _, p := range pw.w.InScope(false)[:15] {
		pw.w.RemoveFromGroup(p.ID)
	}
	waitStatus := statusWaiter(t, pw, stderr)
	waitStatus("staged disables", func(s daemon.StatusDoc) bool { return len(s.Staged) == 15 })
	if code, out := pw.exitCode("run", "--once", "--allow-disables"); code != ExitOK || !strings.Contains(out, "will apply the 15 staged disables") {
		t.Fatalf("approve while the daemon runs: exit %d\n%s", code, out)
	}
	waitStatus("the approved disables", func(s daemon.StatusDoc) bool { return len(s.Staged) == 0 && s.Owned["disabled"] == 15 })

	// Pause the running daemon: it keeps serving, changes nothing; provision
	// is refused unless forced, and works beside the daemon; resume, and the
	// daemon provisions again.
	if code, out := pw.exitCode("pause", "--reason", "tenant migration"); code != ExitOK {
		t.Fatalf("pause: exit %d\n%s", code, out)
	}
	waitStatus("the pause", func(s daemon.StatusDoc) bool {
		return s.Paused != nil && s.Paused.Reason == "tenant migration" && s.Ready
	})
	hire, err := pw.w.NewHire("Sales")
	if err != nil {
		t.Fatal(err)
	}
	before := len(pw.w.GoTo.Users())
	time.Sleep(2500 * time.Millisecond) // two ticks of the schedule
	if got := len(pw.w.GoTo.Users()); got != before {
		t.Fatalf("paused daemon changed GoTo: %d accounts, was %d", got, before)
	}
	if code, out := pw.exitCode("provision", hire.UPN); code != ExitFailure || !strings.Contains(out, "provisioning is paused since") {
		t.Fatalf("provision while paused: exit %d\n%s", code, out)
	}
	if code, out := pw.exitCode("provision", "--force", hire.UPN); code != ExitOK || !strings.Contains(out, "applied in cycle") {
		t.Fatalf("provision --force beside the running daemon: exit %d\n%s", code, out)
	}
	if _, ok := pw.w.GoTo.UserByEmail(hire.Mail); !ok {
		t.Fatal("provision --force did not create the new hire")
	}
	if code, out := pw.exitCode("explain", hire.Mail); code != ExitOK || !strings.Contains(out, "(on demand)") || !strings.Contains(out, "member of Sales, assigned as User") {
		t.Errorf("explain: exit %d\n%s", code, out)
	}
	if code, out := pw.exitCode("resume"); code != ExitOK {
		t.Fatalf("resume: exit %d\n%s", code, out)
	}
	second, err := pw.w.NewHire("Sales")
	if err != nil {
		t.Fatal(err)
	}
	waitStatus("the daemon provisioning again", func(daemon.StatusDoc) bool { _, ok := pw.w.GoTo.UserByEmail(second.Mail); return ok })

	// A full re-match while the daemon runs: its next cycle is a full sync.
	if code, out := pw.exitCode("run", "--once", "--initial-sync"); code != ExitOK || !strings.Contains(out, "next cycle will be a full sync") {
		t.Fatalf("full sync while the daemon runs: exit %d\n%s", code, out)
	}
	waitStatus("a full sync", func(s daemon.StatusDoc) bool {
		return len(s.Cycles) > 0 && strings.Contains(s.Cycles[len(s.Cycles)-1].Mode, "initial-sync") && s.Cycles[len(s.Cycles)-1].Outcome == "success"
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30 s of SIGTERM")
	}
	st, err := state.Open(filepath.Join(pw.dir, "state.db"), state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, _ := st.Records()
	intents, _ := st.Intents()
	if len(recs) != len(pw.w.InScope(false))+15 || len(intents) != 0 {
		t.Errorf("state: %d records (want %d), %d intents left", len(recs), len(pw.w.InScope(false))+15, len(intents))
	}
	if req, err := st.FullSyncRequested(); req != nil || err != nil {
		t.Errorf("the full sync request outlived the full sync: %+v %v", req, err)
	}
	for _, r := range recs {
		u, ok := pw.w.GoTo.User(r.GoToKey)
		if !ok || (r.State == plan.StateDisabled) != (u.Status == "SUSPENDED") {
			t.Errorf("record %s (%s) points at GoTo account %s: exists=%v status=%s", r.EntraID, r.State, r.GoToKey, ok, u.Status)
		}
	}
}

func TestOnceExitCodes(t *testing.T) {
	pw := newProcWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 20}}, DirectAdmins: -1}, "@every 20m")
	if code, out := pw.exitCode("run", "--once", "--initial-sync"); code != ExitOK {
		t.Fatalf("initial sync: exit %d\n%s", code, out)
	}
	// A third of Sales leaves: more than 20% of owned accounts, so staged.
	for _, p := range pw.w.InScope(false)[:7] {
		if err := pw.w.RemoveFromGroup(p.ID); err != nil {
			t.Fatal(err)
		}
	}
	if code, out := pw.exitCode("run", "--once"); code != ExitStaged || !strings.Contains(out, "--allow-disables") {
		t.Errorf("staged: exit %d, want %d\n%s", code, ExitStaged, out)
	}
	if code, out := pw.exitCode("run", "--once", "--allow-disables"); code != ExitOK {
		t.Errorf("released: exit %d\n%s", code, out)
	}
	if err := pw.w.Graph.RevokePermission(pw.w.ClientID, "GroupMember.Read.All"); err != nil {
		t.Fatal(err)
	}
	if err := pw.w.Graph.RevokeTokens(pw.w.ClientID); err != nil {
		t.Fatal(err)
	}
	code, out := pw.exitCode("run", "--once")
	if code != ExitFailure || !strings.Contains(out, "GroupMember.Read.All") {
		t.Errorf("failure: exit %d, want %d naming the missing permission\n%s", code, ExitFailure, out)
	}
	if code, out := pw.exitCode("run", "--once", "--bogus"); code != ExitUsage {
		t.Errorf("bad flag: exit %d\n%s", code, out)
	}
	if code, out := pw.exitCode("run", "--dry-run"); code != ExitUsage || !strings.Contains(out, "go with --once") {
		t.Errorf("--dry-run without --once: exit %d\n%s", code, out)
	}
}
