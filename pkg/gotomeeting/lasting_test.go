package gotomeeting

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A name that does not resolve is not tried again: retrying it made a
// person wait for check on a host without DNS, to read the same error,
// which now names the host and what to check in one line.
func TestUnresolvableHostIsNotRetried(t *testing.T) {
	var calls atomic.Int32
	dns := roundTripper(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Name: r.URL.Hostname(), Err: "no such host", IsNotFound: true}}
	})
	c, err := New(Config{
		APIBaseURL: "https://api.nowhere.invalid/admin/rest/v1", TokenURL: "https://auth.nowhere.invalid/oauth/token",
		AccountKey: "1", ClientID: "c", ClientSecret: "s", RefreshToken: "r",
		RateLimit: -1, MaxRetries: 4, RetryBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		RequestTimeout: 2 * time.Second, HTTPClient: &http.Client{Transport: dns},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Me(context.Background())
	if err == nil || calls.Load() != 1 {
		t.Fatalf("%d calls, %v; want one call", calls.Load(), err)
	}
	if !strings.Contains(err.Error(), "cannot resolve auth.nowhere.invalid (DNS: no such host)") || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q", err)
	}
}
