package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/sim/gotosim"
	"github.com/g2msync/g2msync/pkg/sim/graphsim"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
)

// latencyRun is `bench --latency`: the daemon's own loop on a schedule,
// changes made in Entra at random times while it runs, and for each the
// time until GoTo applied its write.
type latencyRun struct {
	w        *scenario.World
	cycle    daemon.Cycle
	schedule string
	// duration is the span over which the changes are made; idle how long
	// the daemon then runs on once every change was written, with none
	// waiting.
	duration, idle time.Duration
	changes        int
	// lag is how long a new user stays out of getByIds replies after it is
	// made (Graph's replication lag): a cycle that reads them within it
	// finds them absent, and the next cycle reads them again.
	lag  time.Duration
	seed uint64
	out  io.Writer
	log  io.Writer
}

// latencyChange is one change made in Entra and what GoTo must show of it.
type latencyChange struct {
	kind string // new hire (group), new direct assignment, left a group, direct assignment removed
	at   time.Time
	// email is the created account's address; key the account a disable
	// suspends.
	email, key string
	written    time.Time
}

// latencyKinds are the changes made, in turn.
var latencyKinds = []string{"new hire in a group", "left a group", "new direct assignment", "direct assignment removed"}

func (l *latencyRun) run(ctx context.Context) error {
	rng := rand.New(rand.NewPCG(l.seed, 0x1a7e))
	var mu sync.Mutex
	var changes []*latencyChange
	pending := 0 // changes made whose write GoTo has not applied yet
	made := 0    // changes made since the CPU sampler last looked
	l.w.GoTo.WatchWrites(func(wr gotosim.Write) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range changes {
			if !c.written.IsZero() {
				continue
			}
			create := c.email != "" && wr.Op == gotosim.WriteCreate && wr.Email == c.email
			disable := c.key != "" && wr.Op == gotosim.WriteUpdate && wr.Key == c.key && len(wr.Licenses) == 0
			if create || disable {
				c.written = wr.At
				pending--
			}
		}
	})
	defer l.w.GoTo.WatchWrites(nil)

	d, err := daemon.New(daemon.Options{Schedule: l.schedule, Cycle: l.cycle})
	if err != nil {
		return err
	}
	dctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- d.Run(dctx, nil) }()
	start := time.Now()

	// The changes come at random times over the run's duration, after the
	// daemon's first cycle.
	settle := min(20*time.Second, l.duration/4)
	span := l.duration - settle
	if span <= 0 {
		return fmt.Errorf("--duration: want more than %s, got %s", settle, l.duration)
	}
	times := make([]time.Duration, l.changes)
	for i := range times {
		times[i] = settle + time.Duration(rng.Int64N(int64(span)))
	}
	slices.Sort(times)

	// The CPU the process uses while no change waits: the daemon's cost
	// of polling an unchanged directory (the simulators share the
	// process, so it is an upper bound).
	var idleCPU, idleWall time.Duration
	sampleStop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		lastCPU, lastAt := cpuTime(), time.Now()
		for {
			select {
			case <-sampleStop:
				return
			case <-t.C:
			}
			cpu, now := cpuTime(), time.Now()
			mu.Lock()
			idle := pending == 0 && made == 0
			made = 0
			mu.Unlock()
			if idle {
				idleCPU += cpu - lastCPU
				idleWall += now.Sub(lastAt)
			}
			lastCPU, lastAt = cpu, now
		}
	}()

	people := l.w.InScope(false)
	rng.Shuffle(len(people), func(i, j int) { people[i], people[j] = people[j], people[i] })
	var groupNames []string
	for g := range l.w.GroupIDs {
		groupNames = append(groupNames, g)
	}
	slices.Sort(groupNames)
	next := 0 // the next person to take out
	takeOut := func(direct bool) (scenario.Person, error) {
		for ; next < len(people); next++ {
			if p := people[next]; (p.Group == "") == direct {
				next++
				return p, nil
			}
		}
		return scenario.Person{}, fmt.Errorf("no assigned person left to take out")
	}
	for i, at := range times {
		select {
		case <-time.After(time.Until(start.Add(at))):
		case <-ctx.Done():
			return fmt.Errorf("stopped before change %d of %d was made", i+1, len(times))
		}
		c := &latencyChange{kind: latencyKinds[i%len(latencyKinds)]}
		// The person to take out, and their account, are found first: the
		// simulator calls the write watcher under its own lock, which then
		// takes mu.
		var out scenario.Person
		if c.kind == "left a group" || c.kind == "direct assignment removed" {
			var err error
			if out, err = takeOut(c.kind == "direct assignment removed"); err != nil {
				return err
			}
			u, ok := l.w.GoTo.UserByEmail(out.Mail)
			if !ok {
				return fmt.Errorf("no GoTo account for %s", out.Mail)
			}
			c.key = u.Key
		}
		var err error
		var fresh string // a user made now, whom Graph's replicas have not all seen
		mu.Lock()        // the change and its record, before any write of it can come
		switch c.kind {
		case "new hire in a group":
			var p scenario.Person
			p, err = l.w.NewHire(groupNames[rng.IntN(len(groupNames))])
			c.email, fresh = p.Mail, p.ID
		case "new direct assignment":
			mail := fmt.Sprintf("latency.direct%d@%s", i, scenario.Domain)
			var id string
			if id, err = l.w.Graph.AddUser(graphsim.User{UserPrincipalName: mail, Mail: mail, GivenName: "Lat", Surname: fmt.Sprintf("Direct%d", i)}); err == nil {
				_, err = l.w.Graph.Assign(l.w.ServicePrincipalID, id, l.w.RoleUser)
			}
			c.email, fresh = mail, id
		case "left a group":
			err = l.w.RemoveFromGroup(out.ID)
		case "direct assignment removed":
			err = l.w.Graph.Unassign(l.w.ServicePrincipalID, out.ID, p2role(l.w, out))
		}
		if fresh != "" && l.lag > 0 {
			l.w.Graph.LagUser(fresh, 1<<20)
			time.AfterFunc(l.lag, func() { l.w.Graph.LagUser(fresh, 0) })
		}
		c.at = time.Now()
		if err == nil {
			changes = append(changes, c)
			pending++
			made++
		}
		mu.Unlock()
		if err != nil {
			return fmt.Errorf("change %d (%s): %w", i+1, c.kind, err)
		}
		fmt.Fprintf(l.log, "%s: change %d of %d: %s\n", time.Since(start).Round(time.Second), i+1, len(times), c.kind)
	}
	// Every change is waited for (at most ten minutes), then the daemon
	// runs on with nothing to do.
	waitUntil := time.Now().Add(10 * time.Minute)
	for {
		mu.Lock()
		left := pending
		mu.Unlock()
		if left == 0 || time.Now().After(waitUntil) {
			break
		}
		select {
		case <-time.After(time.Second):
		case err := <-done:
			return fmt.Errorf("the daemon stopped: %v", err)
		}
	}
	fmt.Fprintf(l.log, "%s: every change written; the daemon runs on for %s with none waiting\n", time.Since(start).Round(time.Second), l.idle)
	select {
	case <-time.After(l.idle):
	case <-ctx.Done():
	}
	stop()
	err = <-done
	close(sampleStop)
	<-sampled
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	return l.report(changes, idleCPU, idleWall)
}

// p2role is the app role a directly assigned person holds.
func p2role(w *scenario.World, p scenario.Person) string {
	if p.Role == "Admin" {
		return w.RoleAdmin
	}
	return w.RoleUser
}

func (l *latencyRun) report(changes []*latencyChange, idleCPU, idleWall time.Duration) error {
	var all []time.Duration
	byKind := map[string][]time.Duration{}
	missed := 0
	for _, c := range changes {
		if c.written.IsZero() {
			missed++
			continue
		}
		d := c.written.Sub(c.at)
		all = append(all, d)
		byKind[c.kind] = append(byKind[c.kind], d)
	}
	fmt.Fprintf(l.out, "provisioning latency: the daemon on %q; %d changes in Entra at random times over %s (new users out of getByIds replies for %s after they are made: Graph's replication lag)\n",
		l.schedule, len(changes), l.duration, l.lag)
	tw := tabwriter.NewWriter(l.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "change\tchanges\twritten\tp50\tp95\tmax")
	row := func(name string, n int, ds []time.Duration) {
		slices.Sort(ds)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", name, n, len(ds), quantile(ds, 0.5), quantile(ds, 0.95), quantile(ds, 1))
	}
	for _, k := range latencyKinds {
		n := 0
		for _, c := range changes {
			if c.kind == k {
				n++
			}
		}
		row(k, n, byKind[k])
	}
	row("all", len(changes), all)
	if err := tw.Flush(); err != nil {
		return err
	}
	if missed > 0 {
		fmt.Fprintf(l.out, "%d changes had no GoTo write by the end of the run\n", missed)
	}
	share := "not measured (no second passed with no change waiting)"
	if idleWall > 0 {
		share = fmt.Sprintf("%.1f %% of one core (%s of CPU in %s with no change waiting)", 100*idleCPU.Seconds()/idleWall.Seconds(),
			idleCPU.Round(10*time.Millisecond), idleWall.Round(time.Second))
	}
	fmt.Fprintf(l.out, "CPU between changes: %s; the simulators run in this process and are counted in it, so it is an upper bound for g2msync\n", share)
	return nil
}

// quantile is the q-quantile of sorted ds (nearest rank), "-" when empty.
func quantile(ds []time.Duration, q float64) string {
	if len(ds) == 0 {
		return "-"
	}
	i := int(q*float64(len(ds))+0.999999) - 1
	i = min(max(i, 0), len(ds)-1)
	return ds[i].Round(100 * time.Millisecond).String()
}
