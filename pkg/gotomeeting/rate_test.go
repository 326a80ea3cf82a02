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
	e := newEnv(t, gotosim.Options{RateLimit: simRate})
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
