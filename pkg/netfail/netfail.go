// Package netfail says in one line what a failed connection means and
// what to look at, naming the host: the first thing an administrator on a
// locked-down network meets is a DNS failure, a firewall, a proxy or a
// TLS-intercepting proxy, and an SDK's error chain of three hundred
// characters says none of that plainly. It matches error types, never
// message text.
package netfail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"syscall"
)

// Describe says what err, a failed request, means and what to check, in
// one line; ok is false when err is no connection failure it knows.
func Describe(err error) (line string, ok bool) {
	if errors.Is(err, context.Canceled) {
		// g2msync gave up (a stop): not the network. A deadline is a
		// request's own timeout, which the server did not meet.
		return "", false
	}
	host := hostOf(err)
	var dns *net.DNSError
	var op *net.OpError
	var unknown x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var ne net.Error
	switch {
	case proxyAnswer(err) != 0:
		return proxySays(proxyAnswer(err), host), true
	case errors.As(err, &op) && op.Op == "proxyconnect":
		return fmt.Sprintf("cannot reach the proxy %s (HTTPS_PROXY) to get to %s: check the proxy's address and that it is up", op.Addr, host), true
	case errors.As(err, &dns):
		return fmt.Sprintf("cannot resolve %s (DNS: %s): check this host's DNS, or set HTTPS_PROXY if it reaches the internet through a proxy",
			dns.Name, dns.Err), true
	case errors.As(err, &hostname):
		return fmt.Sprintf("%s presented a certificate for another name: check the configured address, or a proxy answering in its place", host), true
	case errors.As(err, &invalid):
		return fmt.Sprintf("%s presented a certificate that is not valid now (%s): check this host's clock, or a proxy answering in its place",
			host, invalid.Detail+reason(invalid.Reason)), true
	case errors.As(err, &unknown), errors.As(err, &verify):
		return fmt.Sprintf("%s presented a certificate from an authority this host does not trust: a TLS-intercepting proxy needs its CA in the system's trust store",
			host), true
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("%s refused the connection: check the configured address, and that a firewall lets this host out on that port", host), true
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return fmt.Sprintf("no route to %s: this host has no way out to it; set HTTPS_PROXY if it must go through a proxy", host), true
	case errors.Is(err, syscall.ECONNRESET):
		return fmt.Sprintf("%s reset the connection: a firewall or proxy may be cutting it", host), true
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("%s did not answer in time: check that a firewall lets this host out, or set HTTPS_PROXY", host), true
	}
	return describeText(err.Error())
}

// proxyAnswer is the status a proxy refused a CONNECT with, or 0. Go's
// transport returns only the reason phrase of the proxy's answer, as an
// untyped error (net/http's dialConn: errors.New(text)) inside the
// url.Error: no server answers a request that way, so a bare reason phrase
// of a 4xx or 5xx status there is the proxy's.
func proxyAnswer(err error) int {
	var ue *url.Error
	if !errors.As(err, &ue) || ue.Err == nil || errors.Unwrap(ue.Err) != nil || !strings.HasPrefix(ue.URL, "https://") {
		return 0
	}
	return statusOf(ue.Err.Error())
}

// statusOf is the 4xx or 5xx status whose reason phrase is text, or 0.
func statusOf(text string) int {
	for code := 400; code < 600; code++ {
		if t := http.StatusText(code); t != "" && t == text {
			return code
		}
	}
	return 0
}

// proxySays says what a proxy's refusal of a CONNECT to host means.
func proxySays(code int, host string) string {
	status := fmt.Sprintf("%d %s", code, http.StatusText(code))
	switch {
	case code == http.StatusProxyAuthRequired:
		return fmt.Sprintf("the proxy (HTTPS_PROXY) asks g2msync to sign in before it connects to %s (%s): put its user and password in HTTPS_PROXY, as http://user:password@proxy:3128", host, status)
	case code >= 500:
		return fmt.Sprintf("the proxy (HTTPS_PROXY) could not connect to %s (%s): the proxy's own way out is failing, or the name does not resolve there", host, status)
	}
	return fmt.Sprintf("the proxy (HTTPS_PROXY) refused to connect to %s (%s): allow %s in the proxy's rules, or name it in NO_PROXY if it is reached directly", host, status, host)
}

// flattened are the standard library's own words for the failures above,
// for errors an SDK has flattened into text (MSAL, inside azidentity,
// formats the transport's error with %s): the types are gone, the words
// are Go's and stable.
var flattened = []struct{ words, says string }{
	{"x509: certificate signed by unknown authority", "%s presented a certificate from an authority this host does not trust: a TLS-intercepting proxy needs its CA in the system's trust store"},
	{"x509: certificate is valid for", "%s presented a certificate for another name: check the configured address, or a proxy answering in its place"},
	{"x509: certificate has expired or is not yet valid", "%s presented a certificate that is not valid now: check this host's clock, or a proxy answering in its place"},
	{"proxyconnect", "cannot reach the proxy (HTTPS_PROXY) to get to %s: check the proxy's address and that it is up"},
	{"no such host", "cannot resolve %s (DNS): check this host's DNS, or set HTTPS_PROXY if it reaches the internet through a proxy"},
	{"connection refused", "%s refused the connection: check the configured address, and that a firewall lets this host out on that port"},
	{"network is unreachable", "no route to %s: this host has no way out to it; set HTTPS_PROXY if it must go through a proxy"},
	{"i/o timeout", "%s did not answer in time: check that a firewall lets this host out, or set HTTPS_PROXY"},
}

// quotedURL finds the URL a flattened "Get \"https://host/…\"" names.
var quotedURL = regexp.MustCompile(`"(https?://[^/"?]+)`)

// proxyText finds a proxy's refusal in a flattened error: the request's
// URL, then the reason phrase alone at the end, as the transport gives it.
var proxyText = regexp.MustCompile(`"https://([^/"?]+)[^"]*": ([A-Z][A-Za-z -]+)$`)

func describeText(text string) (string, bool) {
	if m := proxyText.FindStringSubmatch(text); m != nil && statusOf(m[2]) != 0 {
		return proxySays(statusOf(m[2]), m[1]), true
	}
	for _, f := range flattened {
		if !strings.Contains(text, f.words) {
			continue
		}
		host := "the server"
		if m := quotedURL.FindStringSubmatch(text); m != nil {
			if u, err := url.Parse(m[1]); err == nil {
				host = u.Host
			}
		}
		return fmt.Sprintf(f.says, host), true
	}
	return "", false
}

// Lasting reports whether err is a failure that retrying within a cycle
// cannot mend: a name that does not resolve, a certificate this host does
// not accept, or a proxy that refuses the connection by its rules (403)
// or wants a sign-in (407). Retrying those only makes a person wait (check took
// 37 s with no network) before reading the same line.
func Lasting(err error) bool {
	var dns *net.DNSError
	var unknown x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	var hostname x509.HostnameError
	if code := proxyAnswer(err); code == http.StatusForbidden || code == http.StatusProxyAuthRequired {
		return true
	}
	return (errors.As(err, &dns) && dns.IsNotFound) || errors.As(err, &unknown) || errors.As(err, &verify) || errors.As(err, &hostname)
}

// OneLine is err's text on one line: Describe's when it knows the
// failure, otherwise the text with its line breaks and runs of spaces
// folded, so a log or a terminal never shows a literal "\n".
func OneLine(err error) string {
	if line, ok := Describe(err); ok {
		return line
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// hostOf is the host a failed request went to, as url.Error names it.
func hostOf(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
			return u.Host
		}
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Addr != nil {
		return op.Addr.String()
	}
	return "the server"
}

func reason(r x509.InvalidReason) string {
	if r == x509.Expired {
		return "expired, or not yet valid"
	}
	return ""
}
