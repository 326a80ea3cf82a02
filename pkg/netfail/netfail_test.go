package netfail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Real failures from a real client, each described in one line naming the
// host and what to check.
func TestDescribeRealFailures(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens there now
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close() // accepts nothing: the request times out
	client := &http.Client{Timeout: 300 * time.Millisecond}
	for _, tc := range []struct {
		url, want string
	}{
		{srv.URL, "does not trust"},
		{"http://" + closed, "refused the connection"},
		{"http://" + hang.Addr().String(), "did not answer in time"},
	} {
		_, err := client.Get(tc.url)
		if err == nil {
			t.Fatalf("%s: no error", tc.url)
		}
		line, ok := Describe(err)
		host := strings.TrimPrefix(strings.TrimPrefix(tc.url, "https://"), "http://")
		if !ok || !strings.Contains(line, tc.want) || !strings.Contains(line, host) || strings.Contains(line, "\n") {
			t.Errorf("%s: %q (%v), want a line naming %s with %q; the error was %v", tc.url, line, ok, host, tc.want, err)
		}
	}
}

func TestDescribeDNSAndProxy(t *testing.T) {
	dns := &url.Error{Op: "Post", URL: "https://login.microsoftonline.com/t/oauth2/v2.0/token",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Name: "login.microsoftonline.com", Err: "no such host", IsNotFound: true}}}
	if line, ok := Describe(dns); !ok || !strings.HasPrefix(line, "cannot resolve login.microsoftonline.com (DNS: no such host)") {
		t.Errorf("DNS: %q %v", line, ok)
	}
	proxy := &url.Error{Op: "Get", URL: "https://graph.microsoft.com/v1.0/x",
		Err: &net.OpError{Op: "proxyconnect", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 3128}, Err: errors.New("connection refused")}}
	if line, ok := Describe(proxy); !ok || !strings.Contains(line, "proxy 10.0.0.1:3128") || !strings.Contains(line, "graph.microsoft.com") {
		t.Errorf("proxy: %q %v", line, ok)
	}
	if _, ok := Describe(errors.New("400 bad request")); ok {
		t.Error("an error that is no connection failure was described as one")
	}
	if got := OneLine(errors.New("server response error:\n Get \"x\":   tls")); got != `server response error: Get "x": tls` {
		t.Errorf("OneLine: %q", got)
	}
}

// MSAL, inside azidentity, formats the transport's error as text: the
// standard library's words still say what failed.
func TestDescribeFlattenedErrors(t *testing.T) {
	msal := errors.New("ClientSecretCredential: unable to resolve an endpoint: server response error:\n Get \"https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration?\": tls: failed to verify certificate: x509: certificate signed by unknown authority")
	if line, ok := Describe(msal); !ok || line != "login.microsoftonline.com presented a certificate from an authority this host does not trust: a TLS-intercepting proxy needs its CA in the system's trust store" {
		t.Errorf("%q %v", line, ok)
	}
	dns := errors.New(`Post "https://login.microsoftonline.com/t/oauth2/v2.0/token": dial tcp: lookup login.microsoftonline.com on 127.0.0.53:53: no such host`)
	if line, ok := Describe(dns); !ok || !strings.HasPrefix(line, "cannot resolve login.microsoftonline.com (DNS)") {
		t.Errorf("%q %v", line, ok)
	}
}

func TestLasting(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	_, tlsErr := http.Get(srv.URL)
	notFound := &url.Error{Op: "Get", URL: "https://x.invalid", Err: &net.DNSError{Name: "x.invalid", Err: "no such host", IsNotFound: true}}
	tempDNS := &url.Error{Op: "Get", URL: "https://x.example", Err: &net.DNSError{Name: "x.example", Err: "server misbehaving", IsTemporary: true}}
	for _, tc := range []struct {
		err  error
		want bool
	}{{tlsErr, true}, {notFound, true}, {tempDNS, false}, {errors.New("EOF"), false}} {
		if got := Lasting(tc.err); got != tc.want {
			t.Errorf("Lasting(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// A request g2msync gave up on itself (a stop) is not a network failure,
// whatever the transport made of it.
func TestStopIsNotTheNetwork(t *testing.T) {
	for _, err := range []error{
		&url.Error{Op: "Get", URL: "https://api.getgo.com/x", Err: context.Canceled},
		fmt.Errorf("cycle: %w", &url.Error{Op: "Get", URL: "https://api.getgo.com/x", Err: &net.OpError{Op: "dial", Err: context.Canceled}}),
	} {
		if line, ok := Describe(err); ok {
			t.Errorf("Describe(%v) = %q", err, line)
		}
	}
}

// A proxy that refuses the CONNECT: Go's transport gives only the reason
// phrase ("Forbidden"), which read alone looks like the server's answer.
// It is described as the proxy's, and its rules or a sign-in it wants are
// not retried; a proxy whose own way out fails may be.
func TestProxyRefusingTheConnection(t *testing.T) {
	for _, tc := range []struct {
		code    int
		want    string
		lasting bool
	}{
		{http.StatusForbidden, "the proxy (HTTPS_PROXY) refused to connect to graph.microsoft.com (403 Forbidden): allow graph.microsoft.com", true},
		{http.StatusProxyAuthRequired, "the proxy (HTTPS_PROXY) asks g2msync to sign in before it connects to graph.microsoft.com (407 Proxy Authentication Required)", true},
		{http.StatusBadGateway, "the proxy (HTTPS_PROXY) could not connect to graph.microsoft.com (502 Bad Gateway)", false},
	} {
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodConnect || r.Host != "graph.microsoft.com:443" {
				t.Errorf("the proxy got %s %s", r.Method, r.Host)
			}
			w.WriteHeader(tc.code)
		}))
		u, _ := url.Parse(proxy.URL)
		client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u)}}
		_, err := client.Get("https://graph.microsoft.com/v1.0/servicePrincipals")
		proxy.Close()
		if err == nil {
			t.Fatalf("%d: no error", tc.code)
		}
		if line, ok := Describe(err); !ok || !strings.HasPrefix(line, tc.want) {
			t.Errorf("%d: %q (%v), want %q…; the error was %v", tc.code, line, ok, tc.want, err)
		}
		if got := Lasting(err); got != tc.lasting {
			t.Errorf("%d: Lasting = %v, want %v", tc.code, got, tc.lasting)
		}
		// MSAL flattens it into text; the words still say it.
		flat := errors.New("ClientSecretCredential: authentication failed: " + err.Error())
		if line, ok := Describe(flat); !ok || !strings.HasPrefix(line, tc.want) {
			t.Errorf("%d flattened: %q (%v)", tc.code, line, ok)
		}
	}
	// A server's own words at the end of an error are not a proxy's.
	for _, err := range []error{
		errors.New(`graph: GET "https://graph.microsoft.com/v1.0/x": 403: Forbidden: Authorization_RequestDenied`),
		&url.Error{Op: "Get", URL: "https://graph.microsoft.com/x", Err: fmt.Errorf("read: %w", errors.New("Forbidden"))},
	} {
		if line, ok := Describe(err); ok && strings.Contains(line, "proxy") {
			t.Errorf("%v described as a proxy's refusal: %q", err, line)
		}
	}
}
