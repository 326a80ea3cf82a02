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

func describeText(text string) (string, bool) {
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
// cannot mend: a name that does not resolve, or a certificate this host
// does not accept. Retrying those only makes a person wait (check took
// 37 s with no network) before reading the same line.
func Lasting(err error) bool {
	var dns *net.DNSError
	var unknown x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	var hostname x509.HostnameError
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
