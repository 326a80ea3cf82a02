package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/engine"
)

// Nothing a signed-out visitor can send keeps the state file from the
// daemon: while many visitors of a console open to reads on loopback ask
// for every page it serves them (the pages, the log and its downloads, a
// person's explain), the daemon's cycles still get the file, each within
// the time one page read may take.
func TestSignedOutVisitorsCannotKeepTheStateFileFromTheDaemon(t *testing.T) {
	tw, a := syncedSales(t)
	a.cfg.Listen = "127.0.0.1:9464" // reads open, as on loopback
	a.cfg.Console.Disabled = false
	ui, err := tw.m.newConsole(a, func() daemon.StatusDoc { return daemon.StatusDoc{} })
	if err != nil || ui == nil {
		t.Fatalf("console: %v", err)
	}
	who := tw.w.InScope(false)[0].Mail
	reads := []string{"/", "/cycles", "/log", "/log?user=" + url.QueryEscape(who), "/log.csv", "/log.json", "/approvals", "/attention", "/person?user=" + who}
	var stop atomic.Bool
	var served, busy atomic.Int64
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stop.Load(); n++ {
				var r *http.Request
				if i%4 == 0 {
					r = httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9464/person", strings.NewReader(url.Values{"user": {who}}.Encode()))
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					r.Header.Set("Origin", "http://127.0.0.1:9464")
				} else {
					r = httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9464"+reads[(i+n)%len(reads)], nil)
				}
				w := httptest.NewRecorder()
				ui.ServeHTTP(w, r)
				switch w.Code {
				case http.StatusServiceUnavailable, http.StatusTooManyRequests:
					busy.Add(1)
				default:
					served.Add(1)
				}
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }()
	time.Sleep(200 * time.Millisecond) // the visitors are at it
	for i := range 3 {
		began := time.Now()
		if _, err := a.cycle(context.Background(), engine.Options{}); err != nil {
			t.Fatalf("cycle %d while visitors read: %v", i, err)
		}
		if took := time.Since(began); took > 8*time.Second {
			t.Errorf("cycle %d took %s while visitors read", i, took)
		}
	}
	stop.Store(true)
	wg.Wait()
	if served.Load() == 0 {
		t.Errorf("no page was served (%d busy): the visitors did not read", busy.Load())
	}
	t.Logf("%d pages served, %d answered busy, during 3 cycles", served.Load(), busy.Load())
}
