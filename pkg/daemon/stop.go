package daemon

import (
	"context"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/g2msync/g2msync/pkg/engine"
)

// Clock is the daemon's time: the time now, and timers. Tests give a fake
// one, so that schedules, back-offs and the grace period pass without
// waiting for them.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once, d from now.
	NewTimer(d time.Duration) Timer
}

// Timer is a timer made by a Clock.
type Timer interface {
	// C receives the time when the timer fires.
	C() <-chan time.Time
	// Stop stops the timer, and reports whether it did so before it fired.
	Stop() bool
}

// SystemClock returns the process's clock.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time                 { return time.Now() }
func (systemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (t systemTimer) C() <-chan time.Time { return t.t.C }
func (t systemTimer) Stop() bool          { return t.t.Stop() }

// DefaultGrace is the grace period when none is configured
// (config shutdown_grace).
const DefaultGrace = 30 * time.Second

// Stopper stops a cycle on request, the same way in the daemon and in
// `run --once`. A stop request (SIGTERM or SIGINT, or the context given to
// Run or Once ending) closes the cycle's stop channel: it starts no new
// change, and the calls in flight finish and are committed. When they
// outlast the grace period, or a second SIGTERM or SIGINT comes, the
// cycle's context is cancelled, and what is left waits for the next cycle.
// SIGHUP is no stop request.
type Stopper struct {
	// Grace is how long the calls in flight have after a stop request;
	// 0 means DefaultGrace.
	Grace time.Duration
	// Clock times the grace period; nil means SystemClock.
	Clock Clock
	// Logger says when the grace period runs out; nil logs nothing.
	Logger *slog.Logger
}

func (s Stopper) grace() time.Duration {
	if s.Grace <= 0 {
		return DefaultGrace
	}
	return s.Grace
}

func (s Stopper) clock() Clock {
	if s.Clock == nil {
		return SystemClock()
	}
	return s.Clock
}

func (s Stopper) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// isStop says whether a signal asks g2msync to stop.
func isStop(sig os.Signal) bool { return sig == syscall.SIGTERM || sig == os.Interrupt }

// Once runs one cycle with opts under the stop rules and returns what it
// returned. A stop request before it ends closes opts.Stop (which Once
// sets), and so on as Stopper says. Nothing is read from signals once the
// cycle has returned.
func (s Stopper) Once(ctx context.Context, signals <-chan os.Signal, opts engine.Options, cycle Cycle) (*Report, error) {
	stop := make(chan struct{})
	opts.Stop = stop
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var rep *Report
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		rep, err = cycle(cctx, opts)
	}()
	for signalled := 0; ; {
		select {
		case <-done:
			return rep, err
		case sig := <-signals:
			if !isStop(sig) {
				continue
			}
			signalled++
		case <-ctx.Done():
		}
		s.finish(stop, done, cancel, signals, signalled)
		return rep, err
	}
}

// finish ends a running cycle on a stop request: it closes stop, then
// waits for done; when the grace period passes first, or another SIGTERM
// or SIGINT comes on signals (signalled of them came already; the context
// of a process stopped by a signal may end before the signal is read, so
// only signals are counted), it cancels the cycle and waits for it to
// return.
func (s Stopper) finish(stop chan<- struct{}, done <-chan struct{}, cancel context.CancelFunc, signals <-chan os.Signal, signalled int) {
	close(stop)
	grace := s.clock().NewTimer(s.grace())
	defer grace.Stop()
	for {
		select {
		case <-done:
			return
		case <-grace.C():
			s.logger().Warn("the calls in flight did not finish within the grace period; cancelling them", "grace", s.grace().String())
		case sig := <-signals:
			if !isStop(sig) {
				continue
			}
			if signalled++; signalled < 2 {
				continue // the signal that stopped the process, read after its context ended
			}
			s.logger().Warn("a second signal; cancelling the calls in flight", "signal", sig.String())
		}
		cancel()
		<-done
		return
	}
}
