package gotomeeting

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/g2msync/g2msync/pkg/sim/gotosim"
)

// hammer runs n GetUser calls from 4 goroutines sharing one client.
func hammer(t *testing.T, c *Client, keys []string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	work := make(chan string)
	errs := make(chan error, n)
	for range 4 {
		wg.Go(func() {
			for k := range work {
				if _, err := c.GetUser(context.Background(), k); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		work <- keys[i%len(keys)]
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func rateEnv(t *testing.T, simRate float64) (*env, []string) {
	return rateEnvWith(t, gotosim.Options{RateLimit: simRate})
}

// rateEnvWith starts a simulator with opts and 5 users.
func rateEnvWith(t *testing.T, opts gotosim.Options) (*env, []string) {
	e := newEnv(t, opts)
	var keys []string
	for i := range 5 {
		keys = append(keys, e.user(t, gotosim.User{Email: fmt.Sprintf("u%d@x.test", i), FirstName: "U", LastName: "L"}))
	}
	return e, keys
}

func TestSteadyRunAtDefaultRateIsNeverThrottled(t *testing.T) {
	if testing.Short() {
		t.Skip("paces 30 calls at 10/s")
	}
	t.Skip("issue 30: the client paces at exactly the limit and meets 429s on the strict simulator; the next commit adds the margin")
	e, keys := rateEnv(t, 10)
	c := e.client(t, func(c *Config) { c.RateLimit = 0; c.Burst = 0 }) // defaults: 10/s, burst 1
	hammer(t, c, keys, 30)
	if n := e.sim.Throttled(); n != 0 {
		t.Errorf("simulator sent %d 429s to a client at the default rate", n)
	}
	if s := c.Stats(); s.Calls != 30 || s.Throttled != 0 || s.Retries != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestThrottledStormCompletes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 30 calls against a 5/s simulator")
	}
	e, keys := rateEnv(t, 5)
	c := e.client(t, func(c *Config) { c.RateLimit = 0; c.RetryBackoff = 0; c.MaxBackoff = 0 }) // all defaults
	hammer(t, c, keys, 30)
	s := c.Stats()
	t.Logf("stats %+v", s)
	if e.sim.Throttled() == 0 {
		t.Fatal("the simulator never throttled: the test proves nothing")
	}
	if s.Throttled != int64(e.sim.Throttled()) || s.Retries != s.Throttled {
		t.Errorf("simulator sent %d 429s; client saw %d and retried %d times: every 429 must be retried after a back-off",
			e.sim.Throttled(), s.Throttled, s.Retries)
	}
	if got := e.sim.Calls()[gotosim.RouteGetUser]; int64(got) != s.Calls || got != 30+e.sim.Throttled() {
		t.Errorf("GET calls %d, client calls %d, want 30 + %d", got, s.Calls, e.sim.Throttled())
	}
}

// TestSteadyRunOnTruthfulServerIsNeverThrottled runs a few hundred calls
// from 4 goroutines (reads and writes share the budget) against a
// simulator that takes the strictest reading of its limit (any one-second
// window, counted on arrival) with up to 30 ms of network jitter and its
// own handling time. A client at exactly the limit meets 429s there; one
// pacing with a margin meets none. The limit is 25/s rather than GoTo's
// 10/s only to keep the test short: the margin is a share of the window,
// so the test is the same at any rate. The assertions are counts.
func TestSteadyRunOnTruthfulServerIsNeverThrottled(t *testing.T) {
	if testing.Short() {
		t.Skip("paces 250 calls at 25/s")
	}
	t.Skip("issue 30: fails today, 8 × 429 in 250 calls (seed 30); the next commit adds the margin")
	const limit, calls = 25, 250
	e, keys := rateEnvWith(t, gotosim.Options{RateLimit: limit, Jitter: gotosim.DefaultJitter, Seed: 30,
		Handling: gotosim.DefaultHandling, HandlingPerItem: gotosim.DefaultHandlingPerItem})
	c := e.client(t, func(c *Config) { c.RateLimit = limit })
	e.sim.ResetCounters()
	hammer(t, c, keys, calls)
	s := c.Stats()
	t.Logf("stats %+v, simulator 429s %d", s, e.sim.Throttled())
	if n := e.sim.Throttled(); n != 0 || s.Throttled != 0 {
		t.Errorf("simulator sent %d 429s (client saw %d) in a steady run of %d calls: the pace needs a margin", n, s.Throttled, calls)
	}
	if got := e.sim.Calls()[gotosim.RouteGetUser]; got != calls {
		t.Errorf("GET calls %d, want %d", got, calls)
	}
}
