package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/g2msync/g2msync/pkg/sim/scenario"
	"github.com/g2msync/g2msync/pkg/state"
)

// `g2msync bootstrap`, the initContainer of the chart and the manifest:
// a first sync that defers changes for lack of seats (run --once exits 4)
// lets the daemon start (exit 0), and a restarted pod's bootstrap does
// nothing, leaving the daemon's cycles alone. An empty token file (a
// Secret key left blank) is no sign-in.
func TestBootstrapFirstSyncOnce(t *testing.T) {
	pw := newProcWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 30}}, DirectAdmins: 2, PreExisting: 2, Seats: 10}, "@every 1h")
	pat := filepath.Join(pw.dir, "goto-personal-access-token")
	if err := os.WriteFile(pat, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := pw.exitCode("bootstrap", "--pat-file", pat)
	if code != ExitOK || !strings.Contains(out, "No personal access token in "+pat) || !strings.Contains(out, "exit 4 would need a person") {
		t.Fatalf("bootstrap of a tenant short of seats: exit %d, want 0 after the sync's 4\n%s", code, out)
	}
	cycles := func() []state.Cycle {
		t.Helper()
		st, err := state.Open(filepath.Join(pw.dir, "state.db"), state.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		cs, err := st.Cycles(0)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	if cs := cycles(); len(cs) != 1 || cs[0].Outcome != "partial" || cs[0].DeferredBy["seats"] == 0 {
		t.Fatalf("after bootstrap: cycles %+v, want one partial cycle with changes deferred for seats", cs)
	}
	code, out = pw.exitCode("bootstrap", "--pat-file", pat)
	if code != ExitOK || !strings.Contains(out, "records a first sync: nothing to do") || len(cycles()) != 1 {
		t.Fatalf("second bootstrap: exit %d, %d cycles\n%s", code, len(cycles()), out)
	}
}

// A first sync that fails (GoTo refuses every token) stops the pod before
// the daemon: bootstrap exits 1, as run --once does, and a later bootstrap
// tries the first sync again rather than taking the file for a synced one.
func TestBootstrapFailureStopsBeforeTheDaemon(t *testing.T) {
	pw := newProcWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 5}}, DirectAdmins: 1}, "@every 1h")
	var env []string
	for _, e := range pw.env {
		if strings.HasPrefix(e, "G2MSYNC_GOTO_") && strings.Contains(e, "SECRET") {
			e = e[:strings.Index(e, "=")+1] + "wrong"
		}
		env = append(env, e)
	}
	good := pw.env
	pw.env = env
	if code, out := pw.exitCode("bootstrap"); code != ExitFailure {
		t.Fatalf("bootstrap with a wrong GoTo secret: exit %d, want %d\n%s", code, ExitFailure, out)
	}
	pw.env = good
	if code, out := pw.exitCode("bootstrap"); code != ExitOK || strings.Contains(out, "nothing to do") {
		t.Fatalf("bootstrap after the failure: exit %d\n%s", code, out)
	}
}

// With no GoTo refresh token anywhere, bootstrap signs in with the
// personal access token of its file (the Secret's key) before the first
// sync, as the initContainer does on a new tenant.
func TestBootstrapSignsInWithTheToken(t *testing.T) {
	pw := newProcWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 5}}, DirectAdmins: 1}, "@every 1h")
	pw.env = slices.DeleteFunc(pw.env, func(e string) bool { return strings.HasPrefix(e, "G2MSYNC_GOTO_REFRESH_TOKEN=") })
	if code, out := pw.exitCode("bootstrap"); code == ExitOK {
		t.Fatalf("bootstrap without any GoTo token: exit 0\n%s", out)
	}
	pat := filepath.Join(pw.dir, "goto-personal-access-token")
	if err := os.WriteFile(pat, []byte(pw.w.GoTo.IssuePAT()), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := pw.exitCode("bootstrap", "--pat-file", pat); code != ExitOK || strings.Contains(out, "No personal access token") {
		t.Fatalf("bootstrap with a personal access token: exit %d\n%s", code, out)
	}
}
