package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	bin "encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/sim/scenario"
	"github.com/g2msync/g2msync/pkg/state"
)

// login runs `g2msync login goto` as a process and plays the person: it
// opens the printed URL (the simulator approves at once and redirects to
// the loopback listener), then waits for the process to finish.
func (pw *procWorld) login(t *testing.T) string {
	t.Helper()
	cmd, _, stderr := pw.command("login", "goto", "--listen", freeAddr(t))
	cmd.Stdout = nil
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	r := bufio.NewReader(out)
	var url string
	for url == "" {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("login printed no URL: %v\n%s", err, stderr)
		}
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "https://") {
			url = l
		}
	}
	browser := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pw.w.CA.Pool()}}}
	resp, err := browser.Get(url)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	rest, _ := io.ReadAll(r)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("login: %v\npage: %s\n%s%s", err, page, rest, stderr)
	}
	return string(page) + string(rest)
}

func TestLoginStoresTheRefreshToken(t *testing.T) {
	pw := newProcWorld(t, smallWorld(), "@every 20m")
	pw.env = withoutEnv(pw.env, "G2MSYNC_GOTO_REFRESH_TOKEN")
	if code, out := pw.exitCode("run", "--once", "--initial-sync"); code != ExitFailure || !strings.Contains(out, "g2msync login goto") {
		t.Fatalf("without a token: exit %d\n%s", code, out)
	}
	if out := pw.login(t); !strings.Contains(out, "Logged in to GoTo") || !strings.Contains(out, "You may close this window") {
		t.Errorf("login output:\n%s", out)
	}
	if code, out := pw.exitCode("run", "--once", "--initial-sync"); code != ExitOK {
		t.Errorf("after login: exit %d\n%s", code, out)
	}
}

func withoutEnv(env []string, key string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// TestCorruptStateIsRebuilt: a truncated state file gives a clear error
// naming the recovery; `state rebuild` (after a login, since the rotated
// refresh token was lost with the file) re-adopts every account, and the
// next cycle creates nothing twice.
func TestCorruptStateIsRebuilt(t *testing.T) {
	pw := newProcWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 30}}, DirectAdmins: 3, DefaultAccess: -1, PreExisting: -1}, "@every 20m")
	if code, out := pw.exitCode("run", "--once", "--initial-sync"); code != ExitOK {
		t.Fatalf("initial sync: exit %d\n%s", code, out)
	}
	accounts := len(pw.w.GoTo.Users())
	pw.w.GoTo.ResetCounters()
	path := filepath.Join(pw.dir, "state.db")
	if err := os.Truncate(path, 100); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"status"}, {"run", "--once"}} {
		if code, out := pw.exitCode(args...); code != ExitFailure || !strings.Contains(out, "g2msync state rebuild") {
			t.Errorf("%v on a corrupt file: exit %d\n%s", args, code, out)
		}
	}
	code, out := pw.exitCode("state", "rebuild")
	if code != ExitFailure || !strings.Contains(out, "run `g2msync login goto`") || !strings.Contains(out, "moved the old file to") {
		t.Fatalf("rebuild without a valid refresh token: exit %d\n%s", code, out)
	}
	pw.login(t)
	code, out = pw.exitCode("state", "rebuild")
	if want := fmt.Sprintf("re-adopted %d GoTo accounts", len(pw.w.InScope(false))); code != ExitOK || !strings.Contains(out, want) {
		t.Fatalf("rebuild: exit %d\n%s", code, out)
	}
	// The login and the rebuild are in the provisioning log, with who
	// took them, from where, and through which door.
	host, _ := os.Hostname()
	st, err := state.Open(path, state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"login", "rebuild"} {
		entries, err := st.Audit(state.AuditFilter{Action: action})
		if err != nil || len(entries) != 1 {
			t.Errorf("%s: %d log entries, %v", action, len(entries), err)
			continue
		}
		if e := entries[0]; e.Operator != operator() || e.Address != host || e.Door != "cli" || e.Result != state.ResultSuccess || e.Reason == "" {
			t.Errorf("%s's log entry: %+v", action, e)
		}
	}
	st.Close()
	if code, out := pw.exitCode("state", "rebuild"); code != ExitUsage || !strings.Contains(out, "is readable") {
		t.Errorf("second rebuild: exit %d\n%s", code, out)
	}
	if pw.w.GoTo.Writes() != 0 {
		t.Errorf("rebuild wrote to GoTo %d times", pw.w.GoTo.Writes())
	}
	if code, out := pw.exitCode("run", "--once"); code != ExitOK || !strings.Contains(out, "applied none") {
		t.Errorf("cycle after rebuild: exit %d\n%s", code, out)
	}
	if n := len(pw.w.GoTo.Users()); n != accounts {
		t.Errorf("GoTo holds %d accounts after rebuild, want %d", n, accounts)
	}
	// --force rebuilds a readable file and keeps its refresh token: no login.
	if code, out := pw.exitCode("state", "rebuild", "--force"); code != ExitOK || !strings.Contains(out, "moved the old file to") {
		t.Fatalf("rebuild --force: exit %d\n%s", code, out)
	}
	if code, out := pw.exitCode("run", "--once"); code != ExitOK {
		t.Errorf("cycle after a forced rebuild: exit %d\n%s", code, out)
	}
	// Another GoTo account's file is never moved, --force or not.
	pw.env = append(pw.env, "G2MSYNC_GOTO_ACCOUNT_KEY=999")
	if code, out := pw.exitCode("state", "rebuild", "--force"); code != ExitFailure || !strings.Contains(out, "belongs to") {
		t.Errorf("rebuild of a foreign file: exit %d\n%s", code, out)
	}
}

func TestRetryReleasesAQuarantinedAccount(t *testing.T) {
	pw := newProcWorld(t, smallWorld(), "@every 20m")
	// Before the first sync there is nothing to retry, and retry creates
	// no state file (it did, bound, and empty).
	if code, out := pw.exitCode("retry", "nobody@contoso.example"); code != ExitFailure || !strings.Contains(out, "no state file") {
		t.Errorf("retry before the first sync: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(pw.dir, "state.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("retry before the first sync made a state file: %v", err)
	}
	if code, out := pw.exitCode("run", "--once", "--initial-sync"); code != ExitOK {
		t.Fatalf("initial sync: exit %d\n%s", code, out)
	}
	if code, out := pw.exitCode("retry", "nobody@contoso.example"); code != ExitFailure || !strings.Contains(out, "no failing account matches") {
		t.Errorf("retry of nobody: exit %d\n%s", code, out)
	}
	if code, out := pw.exitCode("retry"); code != ExitUsage {
		t.Errorf("retry without a user: exit %d\n%s", code, out)
	}
}

// TestDamagedOrMissingStateIsNeverStartedAfresh: a zero-length file made a
// regular `run --once` start afresh (301 adoptions, success, the log and
// the token gone); a truncated file panicked run --once and both rebuilds;
// `check` and `plan` created and bound a state file (a mistyped account key
// bound it for good). None of that any more: before the first sync they
// keep only a rotated refresh token, in a file no cycle takes for state.
func TestDamagedOrMissingStateIsNeverStartedAfresh(t *testing.T) {
	pw := newProcWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 40}}, DirectAdmins: -1, DefaultAccess: -1, PreExisting: -1}, "@every 20m")
	path := filepath.Join(pw.dir, "state.db")
	// A check with a mistyped account key binds nothing.
	env := pw.env
	pw.env = append(pw.env, "G2MSYNC_GOTO_ACCOUNT_KEY=999")
	pw.exitCode("check")
	pw.env = env
	if code, out := pw.exitCode("check"); code != ExitOK {
		t.Fatalf("check: exit %d\n%s", code, out)
	}
	// gotosim rotates the refresh token on every refresh, so check kept the
	// new one in a file of its own; no cycle takes that file for state.
	if code, out := pw.exitCode("run", "--once"); code != ExitFailure || !strings.Contains(out, "holds only a GoTo refresh token") {
		t.Errorf("run --once on the token-only file: exit %d\n%s", code, out)
	}
	if code, out := pw.exitCode("plan"); code != ExitOK {
		t.Fatalf("plan before the first sync: exit %d\n%s", code, out)
	}
	if code, out := pw.exitCode("run", "--once", "--initial-sync"); code != ExitOK {
		t.Fatalf("initial sync: exit %d\n%s", code, out)
	}
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pw.w.GoTo.ResetCounters()
	for _, cut := range []int{0, len(whole) / 2, len(whole) / 4} {
		os.WriteFile(path, whole[:cut], 0o600)
		code, out := pw.exitCode("run", "--once")
		if code != ExitFailure || !strings.Contains(out, "state rebuild") || strings.Contains(out, "panic") || strings.Contains(out, "goroutine") {
			t.Errorf("run --once on a file cut to %d bytes: exit %d\n%s", cut, code, out)
		}
		if cut == 0 && !strings.Contains(out, "empty") {
			t.Errorf("an empty file is not called empty:\n%s", out)
		}
		if fi, _ := os.Stat(path); fi.Size() != int64(cut) {
			t.Errorf("the refused run changed the file: %d bytes, was %d", fi.Size(), cut)
		}
	}
	// One flipped bit where bbolt follows offsets blindly killed every
	// command, recovery included, with SIGSEGV or an out-of-memory death.
	for _, flip := range []struct {
		name string
		at   func(root, ps int) int
		set  byte
	}{
		{"the root page's first element points far past it", func(root, ps int) int { return root*ps + 16 + 4 + 3 }, 0x40},
		{"the root page claims 2^31 overflow pages", func(root, ps int) int { return root*ps + 12 + 3 }, 0x80},
	} {
		b := bytes.Clone(whole)
		ps, root := rootPage(t, b)
		b[flip.at(root, ps)] |= flip.set
		for _, args := range [][]string{{"report"}, {"status"}, {"run", "--once"}} {
			os.WriteFile(path, b, 0o600)
			code, out := pw.exitCode(args...)
			if code == ExitOK || !strings.Contains(out, "not a readable") || !strings.Contains(out, "state rebuild") ||
				strings.Contains(out, "fatal error") || strings.Contains(out, "goroutine") {
				t.Errorf("%s, %v: exit %d\n%s", flip.name, args, code, out)
			}
		}
	}
	if pw.w.GoTo.Writes() != 0 {
		t.Errorf("%d GoTo writes on a damaged state file", pw.w.GoTo.Writes())
	}
	code, out := pw.exitCode("state", "rebuild", "--force")
	if !strings.Contains(out, "moved the old file to") || strings.Contains(out, "panic") {
		t.Errorf("state rebuild --force on a damaged file: exit %d\n%s", code, out)
	}
}

// A file bound by mistake (to a mistyped GoTo account) said "set state_path
// to another file", which does nothing where G2MSYNC_STATE_PATH sets it,
// and `state rebuild --force` repeated the refusal. The refusal now names
// the recovery, and --force moves such a file aside when it owns nothing.
func TestFileBoundByMistakeIsRecovered(t *testing.T) {
	pw := newProcWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 10}}, DirectAdmins: -1, DefaultAccess: -1, Disabled: -1, PreExisting: -1}, "@every 20m")
	env := pw.env
	pw.env = append(pw.env, "G2MSYNC_GOTO_ACCOUNT_KEY=999")
	pw.login(t) // binds the new file to account 999
	pw.env = env
	code, out := pw.exitCode("run", "--once", "--initial-sync")
	if code != ExitFailure || !strings.Contains(out, "G2MSYNC_STATE_PATH") || !strings.Contains(out, "state rebuild --force") {
		t.Fatalf("run on the mistaken file: exit %d\n%s", code, out)
	}
	if code, out := pw.exitCode("state", "rebuild", "--force"); !strings.Contains(out, "owns no account") || !strings.Contains(out, "moved the old file to") {
		t.Errorf("rebuild --force: exit %d\n%s", code, out)
	}
}

// rootPage reads a bbolt file's page size and the root bucket's page from
// the meta page bbolt uses (the one with the higher transaction id).
func rootPage(t *testing.T, b []byte) (ps, root int) {
	t.Helper()
	le := bin.LittleEndian
	ps = int(le.Uint32(b[16+8:]))
	m0, m1 := b[16:], b[ps+16:]
	m := m0
	if le.Uint64(m1[48:]) > le.Uint64(m0[48:]) {
		m = m1
	}
	return ps, int(le.Uint64(m[16:]))
}
