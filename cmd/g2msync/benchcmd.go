package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/metrics"
	"github.com/g2msync/g2msync/pkg/sim/gotosim"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
	"github.com/g2msync/g2msync/pkg/view"
)

// BenchCommand measures whole cycles against the simulators, as a person
// would run them to size an installation: the same code as `run --once`.
type BenchCommand struct{ m *Main }

const benchUsage = `usage: g2msync bench [flags]

Starts the simulated Entra tenant and GoTo account on loopback with the
latency and rate given (GoTo's arrivals jitter by up to --goto-jitter, and
its limit is the strictest: at most --goto-rate requests in any one-second
window, counted when it handles them), builds a tenant of --users people
(30 % assigned directly, 70 % in 10 assigned groups), and times three
cycles of the real code: the initial sync, a cycle with no change, and one
after 1 % of the people changed (a surname each). For each it prints the
wall time, the lower bound (the Graph calls one after another at their
latency, plus the GoTo calls needed, 429s left out, at exactly the rate
limit), their ratio, the calls, GoTo's 429s and the client's pace at the
end, the CPU time, how the directory was read (full or delta), and the
process's peak RSS (the simulators share the process, so CPU and RSS are
upper bounds for g2msync alone). With --separate-process each cycle is its
own ` + "`g2msync run --once`" + ` and its peak RSS is split, as Linux counts it,
into anonymous memory (the heap) and file-backed pages (the binary and
the state file bbolt maps); --memory-limit runs them under a GOMEMLIMIT,
the Go runtime's soft limit, as the Kubernetes manifests and the Helm
chart set it from limits.memory. --cycles 1 stops after the initial sync;
--cycles 4 adds a fourth: a reconcile (goto.reconcile_interval passed)
after 1 % of the GoTo accounts were renamed out of band, which lists the
GoTo account and repairs them.
  g2msync bench --users 10000 --goto-latency 200ms
With --latency, after the initial sync the daemon's own loop runs on
--schedule (every minute) while --changes changes are made in Entra at
random times over --duration (new hires in a group, new direct
assignments, people leaving a group, direct assignments removed; new users
stay out of getByIds replies for --entra-lag, as Graph's replicas lag),
then --idle more with none. It reports the time from each change to its
GoTo write (p50, p95, max) and the CPU the process used while no change
waited (an upper bound: the simulators are counted in it).
  g2msync bench --users 10000 --goto-latency 200ms
  g2msync bench --users 100000 --separate-process --cycles 4 --memory-limit 180MiB
  g2msync bench --users 100000 --latency --duration 15m --changes 30`

// Run implements command.
func (c *BenchCommand) Run(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("bench", benchUsage)
	users := fs.Int("users", 1000, "people in the tenant")
	graphLatency := fs.Duration("graph-latency", 50*time.Millisecond, "latency of each Graph call")
	gotoLatency := fs.Duration("goto-latency", 50*time.Millisecond, "latency of each GoTo call")
	rate := fs.Float64("goto-rate", 10, "GoTo requests per second before 429, in any one-second window (the client is set to the same)")
	jitter := fs.Duration("goto-jitter", gotosim.DefaultJitter, "most random delay added to each GoTo call's latency (uniform from 0), so arrivals bunch as on a real network")
	handling := fs.Duration("goto-handling", gotosim.DefaultHandling, "GoTo's own work per request, after the rate limit counts it")
	perItem := fs.Duration("goto-handling-per-item", gotosim.DefaultHandlingPerItem, "GoTo's further work per user of a bulk create")
	inFlight := fs.Int("max-in-flight", 4, "goto.max_in_flight")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the no-change cycle to this file (go tool pprof)")
	cycles := fs.Int("cycles", 3, "how many cycles to run, in order (1: the initial sync alone; 2: and the no-change cycle; 3: and 1 % changed; 4: and a reconcile of 1 % drifted)")
	latency := fs.Bool("latency", false, "after the initial sync, run the daemon's own loop on --schedule for --duration while --changes changes are made in Entra at random times, and report the time from each change to its GoTo write (p50, p95) and the CPU share between changes")
	duration := fs.Duration("duration", 10*time.Minute, "for --latency: the span over which the changes are made")
	idle := fs.Duration("idle", 3*time.Minute, "for --latency: how long the daemon runs on after every change was written, for the CPU share with none waiting")
	nChanges := fs.Int("changes", 24, "how many changes --latency makes in Entra (new hires, direct assignments, people leaving a group, direct assignments removed, in turn)")
	schedule := fs.String("schedule", "@every 1m", "the daemon's schedule for --latency")
	entraLag := fs.Duration("entra-lag", 5*time.Second, "for --latency: how long a new user stays out of getByIds replies (Graph's replication lag)")
	separate := fs.Bool("separate-process", false, "run each cycle as its own g2msync run --once process, as cron or a Kubernetes CronJob would, and report that process's CPU and peak RSS alone")
	memLimit := fs.String("memory-limit", "", "with --separate-process: run each cycle under this GOMEMLIMIT (the Go runtime's soft memory limit, as the Kubernetes manifests and the Helm chart set from limits.memory), e.g. 200MiB")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *users < 10 || *users > 1_000_000 {
		return usageError{fmt.Errorf("--users: want 10 to 1,000,000, got %d", *users)}
	}
	if *cycles < 1 || *cycles > 4 {
		return usageError{fmt.Errorf("--cycles: want 1 to 4, got %d", *cycles)}
	}
	if *cpuProfile != "" && *cycles < 2 {
		return usageError{fmt.Errorf("--cpuprofile profiles the no-change cycle; it needs --cycles 2 or 3")}
	}
	if *jitter < 0 || *handling < 0 || *perItem < 0 {
		return usageError{fmt.Errorf("--goto-jitter, --goto-handling and --goto-handling-per-item: want 0 or more")}
	}
	if *rate <= 0 || *inFlight < 1 {
		return usageError{fmt.Errorf("--goto-rate and --max-in-flight: want more than 0")}
	}
	if *separate && *cpuProfile != "" {
		return usageError{fmt.Errorf("--cpuprofile profiles this process; it cannot be given with --separate-process")}
	}
	if *memLimit != "" && !*separate {
		return usageError{fmt.Errorf("--memory-limit applies to the cycles' own processes; it needs --separate-process (the simulators share this one)")}
	}
	if *memLimit != "" && !goMemLimit.MatchString(*memLimit) {
		return usageError{fmt.Errorf("--memory-limit: want a size as GOMEMLIMIT takes it, more than 0 (a number of bytes, or with B, KiB, MiB, GiB or TiB), got %q", *memLimit)}
	}
	if *latency && (*separate || *cpuProfile != "") {
		return usageError{fmt.Errorf("--latency runs the daemon in this process; it cannot be given with --separate-process or --cpuprofile")}
	}
	if *latency && *nChanges < 1 {
		return usageError{fmt.Errorf("--changes: want 1 or more, got %d", *nChanges)}
	}
	if *latency {
		if _, err := daemon.ParseSchedule(*schedule); err != nil {
			return usageError{fmt.Errorf("--schedule: %w", err)}
		}
	}
	direct := *users * 3 / 10
	groups := make([]scenario.GroupSpec, 10)
	for i := range groups {
		groups[i] = scenario.GroupSpec{Name: fmt.Sprintf("Group %d", i+1), Size: (*users - direct) / 10}
	}
	fmt.Fprintf(c.m.Stderr, "building a tenant of %d people...\n", *users)
	w, err := scenario.Start(scenario.Options{Groups: groups, DirectAdmins: direct, DefaultAccess: -1, Disabled: -1, PreExisting: -1,
		GraphLatency: *graphLatency, GoToLatency: *gotoLatency, GoToRateLimit: *rate,
		GoToJitter: *jitter, GoToHandling: *handling, GoToHandlingPerItem: *perItem})
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
	var child *benchChild
	if *separate {
		if child, err = newBenchChild(dir, w, cfg, *memLimit); err != nil {
			return err
		}
	}
	type row struct {
		name            string
		wall, bound     time.Duration
		graph, gotoCall int64
		throttled       int
		pace            float64 // the GoTo client's at the end; 0: not known (--separate-process)
		applied         map[string]int
		read            string
		cpu             time.Duration
		rss             string // the cycle's own process (--separate-process)
	}
	var rows []row
	// bound is the least a cycle can take: its Graph calls one after another
	// at their latency, and the GoTo calls it needed (a 429 is a call it did
	// not need) at exactly the rate limit.
	bound := func(graph, gotoCalls int64, throttled int) time.Duration {
		return time.Duration(graph)*(*graphLatency) + time.Duration(float64(gotoCalls-int64(throttled))/(*rate)*float64(time.Second))
	}
	measure := func(name string, opts engine.Options) error {
		fmt.Fprintf(c.m.Stderr, "%s...\n", name)
		w.GoTo.ResetCounters()
		if child != nil {
			r, err := child.cycle(ctx, opts)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			rows = append(rows, row{name: name, wall: r.wall, graph: r.graph, gotoCall: r.gotoCalls, throttled: w.GoTo.Throttled(),
				read: r.read, cpu: r.cpu, rss: r.rss, bound: bound(r.graph, r.gotoCalls, w.GoTo.Throttled())})
			return nil
		}
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
		rows = append(rows, row{name: name, wall: wall, bound: bound(g, t, w.GoTo.Throttled()), graph: g, gotoCall: t, throttled: w.GoTo.Throttled(),
			pace: rep.Result.Cycle.GoToPace, applied: rep.Result.Cycle.Applied, read: rep.Result.Cycle.Read, cpu: cpu})
		return nil
	}
	if err := measure("initial sync", engine.Options{InitialSync: true}); err != nil {
		return err
	}
	if *latency {
		r := rows[0]
		fmt.Fprintf(c.m.Stdout, "%d people; Graph %s, GoTo %s + jitter 0-%s, %g requests/s in any second; initial sync %s (CPU %s), then the daemon\n",
			*users, *graphLatency, *gotoLatency, *jitter, *rate, r.wall.Round(10*time.Millisecond), r.cpu.Round(10*time.Millisecond))
		l := &latencyRun{w: w, cycle: a.cycle, schedule: *schedule, duration: *duration, idle: *idle, changes: *nChanges, lag: *entraLag, seed: 30,
			out: c.m.Stdout, log: c.m.Stderr}
		return l.run(ctx)
	}
	if *cpuProfile != "" && *cycles > 1 {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	if *cycles > 1 {
		err := measure("no change", engine.Options{})
		if *cpuProfile != "" {
			pprof.StopCPUProfile()
		}
		if err != nil {
			return err
		}
	}
	if *cycles > 2 {
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
	}
	if *cycles > 3 {
		// GoTo Admin edits 1 % of the accounts g2msync owns; the reconcile
		// interval passes.
		users := w.GoTo.Users()
		drifted := max(1, len(users)/100)
		for i := range drifted {
			u := users[i*len(users)/drifted]
			if u.Email == w.AdminEmail {
				continue
			}
			if err := w.GoTo.EditUser(u.Key, func(u *gotosim.User) { u.LastName = "Drifted" }); err != nil {
				return err
			}
		}
		cfg.GoTo.ReconcileInterval = config.Duration(time.Nanosecond)
		if child != nil {
			child.env = append(child.env, "G2MSYNC_GOTO_RECONCILE_INTERVAL=1ns")
		}
		if err := measure("reconcile, 1 % drifted", engine.Options{}); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.m.Stdout, "%d people; Graph %s, GoTo %s + jitter 0-%s, handling %s + %s per created user, %g requests/s in any second; max_in_flight %d; ",
		*users, *graphLatency, *gotoLatency, *jitter, *handling, *perItem, *rate, *inFlight)
	if child != nil {
		fmt.Fprint(c.m.Stdout, "each cycle a `run --once` process (CPU and RSS are its own)")
		if v := child.getenv("GOGC"); v != "" {
			fmt.Fprintf(c.m.Stdout, " under GOGC=%s", v)
		} else {
			fmt.Fprintf(c.m.Stdout, " under g2msync's GOGC (%d, %d from %d MiB live)", gcPercentSmall, gcPercentLarge, largeHeap>>20)
		}
		if l := child.getenv("GOMEMLIMIT"); l != "" {
			fmt.Fprintf(c.m.Stdout, " and GOMEMLIMIT=%s", l)
		}
		fmt.Fprintln(c.m.Stdout)
	} else {
		fmt.Fprintf(c.m.Stdout, "peak RSS %s (simulators included)\n", peakRSS())
	}
	tw := tabwriter.NewWriter(c.m.Stdout, 0, 4, 2, ' ', 0)
	last := "applied"
	if child != nil {
		last = "peak RSS"
	}
	fmt.Fprintln(tw, "run\twall\tbound\tratio\tCPU\tGraph calls\tGoTo calls\tGoTo 429s\tGoTo pace\tdirectory read\t"+last)
	for _, r := range rows {
		ratio := "-"
		if r.bound > 0 {
			ratio = fmt.Sprintf("%.2f×", r.wall.Seconds()/r.bound.Seconds())
		}
		read, _, _ := strings.Cut(r.read, ":")
		lastCol := view.CountsOrNone(r.applied)
		if child != nil {
			lastCol = r.rss
		}
		pace := "-"
		if r.pace > 0 {
			pace = fmt.Sprintf("%.3g/s", r.pace)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", r.name, r.wall.Round(10*time.Millisecond), r.bound.Round(10*time.Millisecond), ratio,
			r.cpu.Round(10*time.Millisecond), r.graph, r.gotoCall, r.throttled, pace, read, lastCol)
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
	if kb := statusKB(data, "VmHWM:"); err == nil && kb > 0 {
		return fmt.Sprintf("%.0f MiB", float64(kb)/1024)
	}
	return "unknown"
}

// benchChild runs cycles as separate `g2msync run --once` processes
// against the bench's simulators, so that their CPU and peak RSS are
// g2msync's alone.
type benchChild struct {
	w      *scenario.World
	config string
	env    []string
}

// goMemLimit is the form GOMEMLIMIT takes (runtime/debug.SetMemoryLimit).
var goMemLimit = regexp.MustCompile(`^[1-9][0-9]*(B|KiB|MiB|GiB|TiB)?$`)

func newBenchChild(dir string, w *scenario.World, cfg *config.Config, memLimit string) (*benchChild, error) {
	ca := filepath.Join(dir, "ca.pem")
	if err := w.CA.WritePEM(ca); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "g2msync.yaml")
	if err := os.WriteFile(path, []byte(w.ConfigYAML(cfg.StatePath, "")), 0o600); err != nil {
		return nil, err
	}
	env := append(os.Environ(), "SSL_CERT_FILE="+ca,
		fmt.Sprintf("G2MSYNC_GOTO_RATE_LIMIT_PER_SECOND=%g", cfg.GoTo.RateLimitPerSecond),
		fmt.Sprintf("G2MSYNC_GOTO_MAX_IN_FLIGHT=%d", cfg.GoTo.MaxInFlight))
	if memLimit != "" {
		env = append(env, "GOMEMLIMIT="+memLimit)
	}
	return &benchChild{w: w, config: path, env: append(env, w.Environ()...)}, nil
}

// getenv is the value of an environment variable the cycles run with,
// given or inherited; "" for none.
func (b *benchChild) getenv(name string) string {
	l := ""
	for _, kv := range b.env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			l = v // the last one counts
		}
	}
	return l
}

type childCycle struct {
	wall, cpu        time.Duration
	graph, gotoCalls int64
	read, rss        string
}

// memorySampler follows a process's resident set while it runs: its peak
// (VmHWM), and the peaks of its two parts as Linux splits it, anonymous
// memory (the Go heap and stacks) and file-backed pages (the binary and
// the state file bbolt maps), which need not coincide.
//
// The peak is VmHWM, read while the process runs, never the ru_maxrss that
// wait4 gives: Linux carries into ru_maxrss the peak of the address space
// a process leaves at exec, and os/exec starts a child in the spawner's
// (vfork), so a cycle's ru_maxrss was at least this bench's own resident
// set (its simulators hold 100,000 people twice: 312-377 MiB by the third
// cycle). Every peak this bench printed for --separate-process before
// 2026-12-06 was that larger figure (docs/benchmarks.md). VmHWM starts
// afresh at exec; the last read, at most 10 ms before the process ends,
// is its peak.
type memorySampler struct {
	hwm, anon, file int // peak kB
	done            chan struct{}
	stopped         chan struct{}
}

func sampleMemory(pid int) *memorySampler {
	s := &memorySampler{done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(s.stopped)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		path := fmt.Sprintf("/proc/%d/status", pid)
		for {
			if data, err := os.ReadFile(path); err == nil {
				anon, file := statusKB(data, "RssAnon:"), statusKB(data, "RssFile:")
				s.anon, s.file = max(s.anon, anon), max(s.file, file)
				s.hwm = max(s.hwm, statusKB(data, "VmHWM:"), anon+file)
			}
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and says the peak with its parts, "" where Linux
// did not.
func (s *memorySampler) stop() string {
	close(s.done)
	<-s.stopped
	if s.hwm == 0 {
		return ""
	}
	return fmt.Sprintf("%.0f MiB (anon %.0f, file %.0f MiB)", float64(s.hwm)/1024, float64(s.anon)/1024, float64(s.file)/1024)
}

// statusKB is the value in kB of one field of /proc/PID/status, 0 when absent.
func statusKB(status []byte, field string) int {
	for line := range bytes.Lines(status) {
		if v, ok := bytes.CutPrefix(line, []byte(field)); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(string(v)), " kB"))
			if err == nil {
				return kb
			}
		}
	}
	return 0
}

func (b *benchChild) cycle(ctx context.Context, opts engine.Options) (childCycle, error) {
	self, err := os.Executable()
	if err != nil {
		return childCycle{}, err
	}
	args := []string{"run", "--once", "--config", b.config}
	if opts.InitialSync {
		args = append(args, "--initial-sync")
	}
	b.w.Graph.ResetCounters()
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Env = b.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err = cmd.Start(); err != nil {
		return childCycle{}, err
	}
	mem := sampleMemory(cmd.Process.Pid)
	err = cmd.Wait()
	peak := mem.stop()
	r := childCycle{wall: time.Since(start), graph: int64(b.w.Graph.GraphCalls())}
	for _, n := range b.w.GoTo.Calls() {
		r.gotoCalls += int64(n)
	}
	if err != nil {
		return r, fmt.Errorf("g2msync %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	r.rss = peak
	if r.rss == "" {
		r.rss = "-" // no /proc to read it from
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "directory read "); ok {
			r.read = v
		}
	}
	return r, nil
}
