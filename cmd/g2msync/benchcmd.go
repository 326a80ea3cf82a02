package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/metrics"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
)

// BenchCommand measures whole cycles against the simulators, as a person
// would run them to size an installation: the same code as `run --once`.
type BenchCommand struct{ m *Main }

const benchUsage = `usage: g2msync bench [flags]

Starts the simulated Entra tenant and GoTo account on loopback with the
latency and rate given, builds a tenant of --users people (30 % assigned
directly, 70 % in 10 assigned groups), and times three cycles of the real
code: the initial sync, a cycle with no change, and one after 1 % of the
people changed (a surname each). For each it prints the wall time, the
lower bound (the Graph calls one after another at their latency, plus the
GoTo calls at the rate limit), their ratio, the calls, GoTo's 429s, and
the CPU time, how the directory was read (full or delta), and the
process's peak RSS (the simulators share the process, so CPU and RSS are
upper bounds for g2msync alone).
  g2msync bench --users 10000 --goto-latency 200ms`

// Run implements command.
func (c *BenchCommand) Run(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("bench", benchUsage)
	users := fs.Int("users", 1000, "people in the tenant")
	graphLatency := fs.Duration("graph-latency", 50*time.Millisecond, "latency of each Graph call")
	gotoLatency := fs.Duration("goto-latency", 50*time.Millisecond, "latency of each GoTo call")
	rate := fs.Float64("goto-rate", 10, "GoTo requests per second before 429 (the client is set to the same)")
	inFlight := fs.Int("max-in-flight", 4, "goto.max_in_flight")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the no-change cycle to this file (go tool pprof)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *users < 10 || *users > 1_000_000 {
		return usageError{fmt.Errorf("--users: want 10 to 1,000,000, got %d", *users)}
	}
	if *rate <= 0 || *inFlight < 1 {
		return usageError{fmt.Errorf("--goto-rate and --max-in-flight: want more than 0")}
	}
	direct := *users * 3 / 10
	groups := make([]scenario.GroupSpec, 10)
	for i := range groups {
		groups[i] = scenario.GroupSpec{Name: fmt.Sprintf("Group %d", i+1), Size: (*users - direct) / 10}
	}
	fmt.Fprintf(c.m.Stderr, "building a tenant of %d people...\n", *users)
	w, err := scenario.Start(scenario.Options{Groups: groups, DirectAdmins: direct, DefaultAccess: -1, Disabled: -1, PreExisting: -1,
		GraphLatency: *graphLatency, GoToLatency: *gotoLatency, GoToRateLimit: *rate})
	if err != nil {
		return err
	}
	defer w.Close()
	dir, err := os.MkdirTemp("", "g2msync-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg, err := config.Parse([]byte(w.ConfigYAML(filepath.Join(dir, "state.db"), "")), w.Environ())
	if err != nil {
		return err
	}
	cfg.GoTo.RateLimitPerSecond, cfg.GoTo.MaxInFlight = *rate, *inFlight
	met := metrics.New(version)
	a, err := c.m.newApp(cfg, c.m.newLogger(cfg, c.m.Stderr), met, appOptions{roots: w.CA.Pool()})
	if err != nil {
		return err
	}
	type row struct {
		name            string
		wall, bound     time.Duration
		graph, gotoCall int64
		throttled       int
		applied         map[string]int
		read            string
		cpu             time.Duration
	}
	var rows []row
	measure := func(name string, opts engine.Options) error {
		fmt.Fprintf(c.m.Stderr, "%s...\n", name)
		w.GoTo.ResetCounters()
		before := met.Calls()
		cpu0 := cpuTime()
		start := time.Now()
		rep, err := a.cycle(ctx, opts)
		wall := time.Since(start)
		cpu := cpuTime() - cpu0
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		after := met.Calls()
		g, t := after["graph"]-before["graph"], after["goto"]-before["goto"]
		bound := time.Duration(g)*(*graphLatency) + time.Duration(float64(t)/(*rate)*float64(time.Second))
		rows = append(rows, row{name: name, wall: wall, bound: bound, graph: g, gotoCall: t, throttled: w.GoTo.Throttled(), applied: rep.Result.Cycle.Applied,
			read: rep.Result.Cycle.Read, cpu: cpu})
		return nil
	}
	if err := measure("initial sync", engine.Options{InitialSync: true}); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	err = measure("no change", engine.Options{})
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	people := w.InScope(false)
	changed := max(1, len(people)/100)
	for i := range changed {
		if err := w.Graph.UpdateUser(people[i*len(people)/changed].ID, map[string]any{"surname": "Benchmarked"}); err != nil {
			return err
		}
	}
	if err := measure("1 % changed", engine.Options{}); err != nil {
		return err
	}
	fmt.Fprintf(c.m.Stdout, "%d people; Graph %s, GoTo %s and %g requests/s; max_in_flight %d; peak RSS %s\n",
		*users, *graphLatency, *gotoLatency, *rate, *inFlight, peakRSS())
	tw := tabwriter.NewWriter(c.m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "run\twall\tbound\tratio\tCPU\tGraph calls\tGoTo calls\tGoTo 429s\tdirectory read\tapplied")
	for _, r := range rows {
		ratio := "-"
		if r.bound > 0 {
			ratio = fmt.Sprintf("%.2f×", r.wall.Seconds()/r.bound.Seconds())
		}
		read, _, _ := strings.Cut(r.read, ":")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", r.name, r.wall.Round(10*time.Millisecond), r.bound.Round(10*time.Millisecond), ratio,
			r.cpu.Round(10*time.Millisecond), r.graph, r.gotoCall, r.throttled, read, countsOrNone(r.applied))
	}
	return tw.Flush()
}

// cpuTime is the CPU the process has used, user and system (the
// simulators' included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS is the process's peak resident set (VmHWM), where Linux says it.
func peakRSS() string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err == nil {
				return fmt.Sprintf("%.0f MiB", float64(kb)/1024)
			}
		}
	}
	return "unknown"
}
