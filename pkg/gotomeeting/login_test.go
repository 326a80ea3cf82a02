package gotomeeting

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/sim/gotosim"
)

// The redirect listener of `login goto` cuts off a client that sends its
// headers or a body at a crawl or keeps an idle connection, and refuses
// a body, while the login waits on. The limits are injected small, so
// the test takes a second; the 5 s the client waits is only a bound on
// "never".
func TestLoginCallbackCutsOffSlowClients(t *testing.T) {
	e := newEnv(t, gotosim.Options{})
	cfg := e.config()
	cfg.RefreshToken = ""
	cfg.AuthURL = e.sim.AuthorizeURL()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		_, err := loginLoopback(ctx, cfg, "127.0.0.1:0", func(u string) {
			p, _ := url.Parse(u)
			r, _ := url.Parse(p.Query().Get("redirect_uri"))
			addrs <- r.Host
		}, nil, callbackLimits{readHeader: 300 * time.Millisecond, read: 500 * time.Millisecond, write: 500 * time.Millisecond, idle: 300 * time.Millisecond})
		done <- err
	}()
	defer func() { cancel(); <-done }()
	addr := <-addrs
	for _, tc := range []struct {
		name, send string
		slow       bool
	}{
		{"headers at a crawl", "GET /callback HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", true},
		{"a body at a crawl", "POST /callback HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 500\r\n\r\n", true},
		{"an idle kept-alive connection", "GET /elsewhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			stop := make(chan struct{})
			defer close(stop)
			if tc.slow {
				go trickle(c, tc.send, stop)
			} else if _, err := io.WriteString(c, tc.send); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the listener still holds the connection after 5 s (%d bytes answered)", n)
			}
		})
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /callback HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4096\r\n\r\n"+strings.Repeat("a", 4096))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	status := make([]byte, len("HTTP/1.1 413"))
	if _, err := io.ReadFull(c, status); err != nil || string(status) != "HTTP/1.1 413" {
		t.Errorf("a 4 KiB body: %q %v, want 413", status, err)
	}
}

// trickle writes s then one byte every 20 ms until a write fails or stop
// is closed: a client sending at a crawl.
func trickle(c net.Conn, s string, stop <-chan struct{}) {
	if _, err := io.WriteString(c, s); err != nil {
		return
	}
	for {
		select {
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
			if _, err := c.Write([]byte("a")); err != nil {
				return
			}
		}
	}
}
