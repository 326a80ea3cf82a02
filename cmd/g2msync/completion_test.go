package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// Completion and the man page come from the commands' own definitions: a
// flag a command parses is completed and documented, with no second list.
func TestCompletionAndManPage(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, out, errOut := runMain(t, nil, "completion", shell)
		if code != ExitOK || !strings.Contains(out, "g2msync") || len(out) < 500 {
			t.Errorf("completion %s: exit %d %s", shell, code, errOut)
		}
		if shell == "bash" {
			f := filepath.Join(t.TempDir(), "g2msync.bash")
			os.WriteFile(f, []byte(out), 0o644)
			if b, err := exec.Command("bash", "-n", f).CombinedOutput(); err != nil {
				t.Errorf("bash -n on the completion script: %v\n%s", err, b)
			}
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"__complete", ""}, "pause"},
		{[]string{"__complete", "run", "--o"}, "--once"},
		{[]string{"__complete", "report", "--out"}, "--output"},
		{[]string{"__complete", "retry", "--"}, "--quarantined"},
		{[]string{"__complete", "login", "goto", "--"}, "--pat-file"},
		{[]string{"__complete", "login", ""}, "goto"},
		{[]string{"__complete", "state", ""}, "rebuild"},
		{[]string{"__complete", "state", "rebuild", "--"}, "--force"},
		{[]string{"__complete", "mapping", ""}, "test"},
		{[]string{"__complete", "console", ""}, "hash"},
		{[]string{"__complete", "report", "--output", ""}, "csv"},
		{[]string{"__complete", "plan", "-o", ""}, "json"},
		{[]string{"__complete", "report", "--result", ""}, "deferred"},
		{[]string{"__complete", "report", "--action", ""}, "full-sync"},
	} {
		if code, out, errOut := runMain(t, nil, tc.args...); code != ExitOK || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, want %q in\n%s%s", tc.args, code, tc.want, out, errOut)
		}
	}
	dir := filepath.Join(t.TempDir(), "man", "man1") // not there yet: man makes it
	if code, _, errOut := runMain(t, nil, "man", dir); code != ExitOK {
		t.Fatalf("man: exit %d %s", code, errOut)
	}
	page, err := os.ReadFile(filepath.Join(dir, "g2msync-run.1"))
	if err != nil || !strings.Contains(string(page), ".TH") || !strings.Contains(string(page), "once") || !strings.Contains(string(page), "allow-disables") {
		t.Errorf("man page of run: %v\n%s", err, page)
	}
	root, _ := os.ReadFile(filepath.Join(dir, "g2msync.1"))
	if !strings.Contains(string(root), "<command>") && !strings.Contains(string(root), "\\\\<command\\\\>") && !strings.Contains(string(root), "command>") {
		t.Errorf("the root page lost the usage's <command>:\n%.600s", root)
	}
}

// report --cycle completes the state file's cycle ids, newest first.
func TestCompletionOfCycleIDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := state.Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"20261101T100000Z-aaaa", "20261102T100000Z-bbbb"} {
		start, _ := time.Parse("20060102T150405Z", id[:16])
		if err := st.SaveCycle(state.Cycle{ID: id, Start: start, End: start, Outcome: "success"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, upn := range []string{"ada@contoso.example", "Adam@contoso.example", "bob@contoso.example"} {
		r := plan.Record{EntraID: "id-" + upn, UPN: upn, GoToKey: "k-" + upn, State: plan.StateActive, Origin: plan.OriginCreated}
		if err := st.Commit(state.Outcome{EntraID: r.EntraID, Record: &r}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	cfg := filepath.Join(t.TempDir(), "g2msync.yaml")
	os.WriteFile(cfg, []byte("state_path: "+path+"\n"), 0o600)
	// explain (and the other commands that name people) complete the
	// people g2msync owns an account for.
	code, out, errOut := runMain(t, nil, "__complete", "explain", "--config", cfg, "ad")
	if code != ExitOK || !strings.HasPrefix(out, "Adam@contoso.example\nada@contoso.example\n:4") {
		t.Errorf("explain ad<TAB>: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runMain(t, nil, "__complete", "report", "--state", path, "--cycle", "")
	if code != ExitOK || !strings.HasPrefix(out, "20261102T100000Z-bbbb\t2026-11-02 10:00 success\n20261101T100000Z-aaaa") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}
