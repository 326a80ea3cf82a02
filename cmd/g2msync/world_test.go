package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/metrics"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
	"github.com/g2msync/g2msync/pkg/state"
)

// testWorld is a scenario with g2msync wired to it, in-process.
type testWorld struct {
	t      *testing.T
	w      *scenario.World
	cfg    *config.Config
	m      *Main
	stdout *bytes.Buffer
	stderr *bytes.Buffer
	dir    string
}

func newTestWorld(t *testing.T, opts scenario.Options, extraYAML string, env ...string) *testWorld {
	t.Helper()
	w, err := scenario.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	tw := &testWorld{t: t, w: w, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, dir: t.TempDir()}
	tw.m = &Main{Stdout: tw.stdout, Stderr: tw.stderr, Environ: append(w.Environ(), env...)}
	tw.cfg, err = config.Parse([]byte(w.ConfigYAML(filepath.Join(tw.dir, "state.db"), "")+extraYAML), tw.m.Environ)
	if err != nil {
		t.Fatal(err)
	}
	return tw
}

// app builds a fresh app, as a new process would.
func (tw *testWorld) app() *app {
	tw.t.Helper()
	return tw.appWith(tw.cfg)
}

// appWith builds an app from another configuration, as a new process would.
func (tw *testWorld) appWith(cfg *config.Config) *app {
	tw.t.Helper()
	a, err := tw.m.newApp(cfg, tw.m.newLogger(cfg, tw.stderr), metrics.New("test"), appOptions{roots: tw.w.CA.Pool()})
	if err != nil {
		tw.t.Fatal(err)
	}
	return a
}

func (tw *testWorld) cycle(a *app, opts engine.Options) (*daemon.Report, error) {
	tw.t.Helper()
	return a.cycle(context.Background(), opts)
}

func (tw *testWorld) mustCycle(a *app, opts engine.Options) *engine.Result {
	tw.t.Helper()
	rep, err := tw.cycle(a, opts)
	if err != nil {
		tw.t.Fatalf("cycle: %v", err)
	}
	return rep.Result
}

// read opens the state file read-only for fn, and closes it, so that the
// next cycle can open it for writing.
func (tw *testWorld) read(fn func(st *state.Store)) {
	tw.t.Helper()
	st, err := state.Open(tw.cfg.StatePath, state.Options{ReadOnly: true})
	if err != nil {
		tw.t.Fatal(err)
	}
	defer st.Close()
	fn(st)
}

func (tw *testWorld) records() []plan.Record {
	tw.t.Helper()
	var recs []plan.Record
	tw.read(func(st *state.Store) {
		var err error
		if recs, err = st.Records(); err != nil {
			tw.t.Fatal(err)
		}
	})
	return recs
}
