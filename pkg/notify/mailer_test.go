package notify

import (
	"context"
	"crypto/tls"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/sim/simtls"
)

const (
	testUser = "g2msync@contoso.com"
	testPass = "s3cret-smtp-Passw0rd!"
)

func newTestMailer(t *testing.T, ts *testServer, cfg Config) *Mailer {
	t.Helper()
	cfg.Host, cfg.Port = ts.host, ts.port
	if cfg.TLS != TLSNone {
		cfg.TLSConfig = ts.clientTLS
	}
	if cfg.From == "" {
		cfg.From = "g2msync@contoso.com"
	}
	if cfg.To == nil {
		cfg.To = []string{"idm-admins@contoso.com", "Jane Admin <jane@contoso.com>"}
	}
	// Generous: only a hung test would reach it, and the race detector is slow.
	cfg.Timeout = time.Minute
	m, err := NewMailer(cfg)
	if err != nil {
		t.Fatalf("NewMailer: %v", err)
	}
	return m
}

// checkDelivered asserts that exactly one message arrived, over TLS, with
// the envelope and content a reader expects.
func checkDelivered(t *testing.T, ts *testServer, wantAuthUser, subject, body string) {
	t.Helper()
	msgs := ts.messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	if !got.tls {
		t.Error("message travelled unencrypted")
	}
	if got.authUser != wantAuthUser {
		t.Errorf("authenticated as %q, want %q", got.authUser, wantAuthUser)
	}
	if got.from != "g2msync@contoso.com" {
		t.Errorf("envelope sender = %q, want g2msync@contoso.com", got.from)
	}
	if want := []string{"idm-admins@contoso.com", "jane@contoso.com"}; !slices.Equal(got.rcpts, want) {
		t.Errorf("envelope recipients = %q, want %q", got.rcpts, want)
	}
	p := parse(t, got.data)
	if want := "[g2msync] " + subject; p.subject != want {
		t.Errorf("subject = %q, want %q", p.subject, want)
	}
	if to := p.header.Get("To"); !strings.Contains(to, "idm-admins@contoso.com") || !strings.Contains(to, "jane@contoso.com") {
		t.Errorf("To header = %q, want both recipients", to)
	}
	if ct := p.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want text/plain", ct)
	}
	if strings.TrimRight(p.body, "\n") != strings.TrimRight(body, "\n") {
		t.Errorf("body = %q, want %q", p.body, body)
	}
	if strings.Contains(string(got.data), testPass) {
		t.Error("message contains the SMTP password")
	}
}

func TestMailerStartTLSAuth(t *testing.T) {
	ts := startServer(t, serverOpts{user: testUser, pass: testPass})
	m := newTestMailer(t, ts, Config{Username: testUser, Password: testPass})

	// Non-ASCII and a long line make go-mail encode subject and body, which
	// the reader side must undo.
	subject := "3 disables wait for approval — Zoë Müller"
	body := "Staged:\n  zoë.müller@contoso.com\n" + strings.Repeat("a long line that a mail reader must get back unbroken ", 4) + "\n"
	if err := m.Send(context.Background(), subject, body); err != nil {
		t.Fatalf("Send: %v", err)
	}
	checkDelivered(t, ts, testUser, subject, body)
}

func TestMailerImplicitTLS(t *testing.T) {
	ts := startServer(t, serverOpts{implicitTLS: true})
	m := newTestMailer(t, ts, Config{TLS: TLSImplicit})
	if err := m.Send(context.Background(), "hello", "plain body\n"); err != nil {
		t.Fatalf("Send: %v", err)
	}
	checkDelivered(t, ts, "", "hello", "plain body\n")
}

func TestMailerImplicitTLSAuth(t *testing.T) {
	ts := startServer(t, serverOpts{implicitTLS: true, user: testUser, pass: testPass})
	m := newTestMailer(t, ts, Config{TLS: TLSImplicit, Username: testUser, Password: testPass})
	if err := m.Send(context.Background(), "hello", "plain body\n"); err != nil {
		t.Fatalf("Send: %v", err)
	}
	checkDelivered(t, ts, testUser, "hello", "plain body\n")
}

func TestMailerNoTLS(t *testing.T) {
	ts := startServer(t, serverOpts{noTLS: true})
	m := newTestMailer(t, ts, Config{TLS: TLSNone})
	if err := m.Send(context.Background(), "relay", "via a local relay\n"); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := ts.messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages, want 1", len(msgs))
	}
	if p := parse(t, msgs[0].data); p.subject != "[g2msync] relay" {
		t.Errorf("subject = %q, want [g2msync] relay", p.subject)
	}
}

func TestMailerWrongPassword(t *testing.T) {
	ts := startServer(t, serverOpts{user: testUser, pass: testPass})
	const wrong = "wr0ng-Passw0rd-value"
	m := newTestMailer(t, ts, Config{Username: testUser, Password: wrong})
	err := m.Send(context.Background(), "hello", "body\n")
	if err == nil {
		t.Fatal("Send with a wrong password succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, ts.addr) {
		t.Errorf("error %q does not name the server %s", msg, ts.addr)
	}
	if !strings.Contains(msg, "username or password") {
		t.Errorf("error %q does not say what to check", msg)
	}
	for _, secret := range []string{wrong, testPass} {
		if strings.Contains(msg, secret) {
			t.Errorf("error %q contains a password", msg)
		}
	}
	if n := len(ts.messages()); n != 0 {
		t.Errorf("server accepted %d messages", n)
	}
}

// A server that hides STARTTLS must not get the mail, or the password, in
// clear text: STARTTLS is mandatory, not opportunistic.
func TestMailerStartTLSRequired(t *testing.T) {
	ts := startServer(t, serverOpts{noTLS: true})
	m := newTestMailer(t, ts, Config{Username: testUser, Password: testPass})
	err := m.Send(context.Background(), "hello", "body\n")
	if err == nil {
		t.Fatal("Send without STARTTLS succeeded")
	}
	if !strings.Contains(err.Error(), ts.addr) || strings.Contains(err.Error(), testPass) {
		t.Errorf("error %q: want the server named and no password", err)
	}
	if n := len(ts.messages()); n != 0 {
		t.Errorf("server accepted %d messages in clear text", n)
	}
}

// A certificate from an authority the client does not trust must be refused.
func TestMailerVerifiesCertificate(t *testing.T) {
	ts := startServer(t, serverOpts{})
	other, err := simtls.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	untrusting, err := NewMailer(Config{Host: ts.host, Port: ts.port, From: "g2msync@contoso.com",
		To: []string{"idm-admins@contoso.com"}, TLSConfig: other.ClientConfig(), Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	err = untrusting.Send(context.Background(), "hello", "body\n")
	if err == nil {
		t.Fatal("Send to a server with an untrusted certificate succeeded")
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("error %q does not mention the certificate", err)
	}
	if n := len(ts.messages()); n != 0 {
		t.Errorf("server accepted %d messages", n)
	}
	// The same server with the right CA works, so the failure above was trust.
	if err := newTestMailer(t, ts, Config{}).Send(context.Background(), "hello", "body\n"); err != nil {
		t.Fatalf("Send with the right CA: %v", err)
	}
}

func TestNewMailerDefaults(t *testing.T) {
	for _, tc := range []struct {
		tls  string
		port int
		want string
	}{
		{"", 0, "mail.contoso.com:587"},
		{TLSStartTLS, 0, "mail.contoso.com:587"},
		{TLSImplicit, 0, "mail.contoso.com:465"},
		{TLSNone, 0, "mail.contoso.com:25"},
		{TLSStartTLS, 2525, "mail.contoso.com:2525"},
	} {
		m, err := NewMailer(Config{Host: "mail.contoso.com", Port: tc.port, TLS: tc.tls, From: "g2msync@contoso.com", To: []string{"a@contoso.com"}})
		if err != nil {
			t.Errorf("NewMailer(tls %q, port %d): %v", tc.tls, tc.port, err)
			continue
		}
		if m.addr != tc.want {
			t.Errorf("NewMailer(tls %q, port %d) addr = %s, want %s", tc.tls, tc.port, m.addr, tc.want)
		}
	}
}

func TestNewMailerInvalid(t *testing.T) {
	valid := func() Config {
		return Config{Host: "mail.contoso.com", From: "g2msync@contoso.com", To: []string{"a@contoso.com"}, Username: "u", Password: testPass}
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want []string // substrings of the error, each naming a field
	}{
		{"no host", func(c *Config) { c.Host = "" }, []string{"host: missing"}},
		{"no from", func(c *Config) { c.From = "" }, []string{"from: missing"}},
		{"bad from", func(c *Config) { c.From = "not an address" }, []string{`from: "not an address"`}},
		{"no to", func(c *Config) { c.To = nil }, []string{"to: empty"}},
		{"bad to", func(c *Config) { c.To = []string{"a@contoso.com", "nobody"} }, []string{`to[1]: "nobody"`}},
		{"bad tls", func(c *Config) { c.TLS = "ssl" }, []string{`tls: "ssl"`}},
		{"auth in clear", func(c *Config) { c.TLS = TLSNone }, []string{"username: set while tls is \"none\""}},
		{"password without user", func(c *Config) { c.Username = "" }, []string{"username: missing while a password is set"}},
		{"bad port", func(c *Config) { c.Port = 70000 }, []string{"port: 70000"}},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, []string{"timeout: -1s"}},
		{"all at once", func(c *Config) { c.Host, c.From, c.To = "", "", nil }, []string{"host: missing", "from: missing", "to: empty"}},
	} {
		cfg := valid()
		tc.edit(&cfg)
		_, err := NewMailer(cfg)
		if err == nil {
			t.Errorf("%s: NewMailer succeeded, want error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", tc.name, err, w)
			}
		}
		if strings.Contains(err.Error(), testPass) {
			t.Errorf("%s: error %q contains the password", tc.name, err)
		}
	}
	if _, err := NewMailer(valid()); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

// The caller's TLS config must not be changed behind its back.
func TestNewMailerKeepsCallerTLSConfig(t *testing.T) {
	tc := &tls.Config{}
	if _, err := NewMailer(Config{Host: "mail.contoso.com", From: "a@contoso.com", To: []string{"b@contoso.com"}, TLSConfig: tc}); err != nil {
		t.Fatal(err)
	}
	if tc.ServerName != "" || tc.MinVersion != 0 {
		t.Errorf("caller's tls.Config changed: ServerName %q, MinVersion %d", tc.ServerName, tc.MinVersion)
	}
}

// The daemon may mail from more than one goroutine; each Send dials its own
// connection, so concurrent sends all arrive.
func TestMailerConcurrentSends(t *testing.T) {
	ts := startServer(t, serverOpts{user: testUser, pass: testPass})
	m := newTestMailer(t, ts, Config{Username: testUser, Password: testPass})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			if err := m.Send(context.Background(), "mail "+strconv.Itoa(i), "body\n"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(ts.messages()); n != 4 {
		t.Errorf("server got %d messages, want 4", n)
	}
}
