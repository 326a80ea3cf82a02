package main

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/metrics"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
	"github.com/g2msync/g2msync/pkg/sim/smtpsim"
)

// notify.seats_free_below mails once when a GoTo licence's free seats fall
// below it, and once when they recover, through the daemon's cycles and a
// real mail server.
func TestSeatsWarningOpensAndClears(t *testing.T) {
	smtpSrv, err := smtpsim.Start(smtpsim.Options{NoTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(smtpSrv.Close)
	listen := freeAddr(t)
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 10}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1, Seats: 30}, "",
		"G2MSYNC_SCHEDULE=@every 1s", "G2MSYNC_LISTEN="+listen,
		"G2MSYNC_NOTIFY_SMTP_HOST="+smtpSrv.Host, fmt.Sprintf("G2MSYNC_NOTIFY_SMTP_PORT=%d", smtpSrv.Port), "G2MSYNC_NOTIFY_SMTP_TLS=none",
		"G2MSYNC_NOTIFY_FROM=g2msync@contoso.example", "G2MSYNC_NOTIFY_TO=idm@contoso.example")
	tw.cfg.Notify.SeatsFreeBelow = "20%"
	a, err := tw.m.newApp(tw.cfg, tw.m.newLogger(tw.cfg, &syncBuffer{}), metrics.New("test"), appOptions{roots: tw.w.CA.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.cycle(context.Background(), engine.Options{InitialSync: true}); err != nil {
		t.Fatal(err)
	}
	tracker, err := a.tracker()
	if err != nil {
		t.Fatal(err)
	}
	d, sig, done := startDaemon(t, daemon.Options{Schedule: "@every 1s", Cycle: a.cycle, Listen: listen, Logger: a.log, Metrics: a.metrics, Tracker: tracker})
	defer func() { sig <- syscall.SIGTERM; <-done }()
	waitFor := mailWaiter(t, smtpSrv, d)
	cycles := func(n int) func() bool {
		start := len(d.Status().Cycles)
		return func() bool { return len(d.Status().Cycles) >= min(start+n, 10) }
	}

	// 11 of 30 seats used (10 people and the admin): 19 free, above 20 % (6).
	waitFor("two cycles", cycles(2))
	if s := subjects(smtpSrv); len(s) != 0 {
		t.Fatalf("mails with seats to spare: %v", s)
	}
	lic := tw.w.GoTo.Licenses()[0]
	if err := tw.w.GoTo.SetSeats(lic.Key, lic.UserCount+2); err != nil { // 2 of 13 free: below 20 %
		t.Fatal(err)
	}
	mailed := func(subject string) func() bool {
		return func() bool { return countContaining(subjects(smtpSrv), subject) > 0 }
	}
	waitFor("the seats mail", mailed("GoTo seats running low: 1 licence below 20% free"))
	m := find(smtpSrv.Messages(), "GoTo seats running low")
	if want := fmt.Sprintf("2 of %d seats free", lic.UserCount+2); !strings.Contains(m.Body, want) {
		t.Errorf("mail body lacks %q:\n%s", want, m.Body)
	}
	waitFor("two more cycles", cycles(2))
	if n := countContaining(subjects(smtpSrv), "seats running low"); n != 1 {
		t.Errorf("the seats mail was sent %d times, want once per incident", n)
	}
	if err := tw.w.GoTo.SetSeats(lic.Key, 100); err != nil {
		t.Fatal(err)
	}
	waitFor("the resolved mail", mailed("Resolved: GoTo licences have free seats again"))
}
