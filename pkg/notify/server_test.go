package notify

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/g2msync/g2msync/pkg/sim/simtls"
)

// testServer is a real SMTP server in the test process. It records every
// delivered message and, when user is set, demands AUTH PLAIN with that
// user and password before accepting mail.
type testServer struct {
	addr      string
	host      string
	port      int
	clientTLS *tls.Config // trusts the server's certificate

	user, pass string

	mu   sync.Mutex
	msgs []received
}

// received is one delivered message as the server saw it.
type received struct {
	from     string
	rcpts    []string
	data     []byte
	tls      bool   // the session was encrypted when MAIL FROM arrived
	authUser string // "" when the client did not authenticate
}

// serverOpts picks the server's transport.
type serverOpts struct {
	implicitTLS bool   // TLS from the first byte instead of STARTTLS
	noTLS       bool   // offer neither STARTTLS nor TLS
	user, pass  string // require AUTH PLAIN with these
}

func startServer(t testing.TB, opts serverOpts) *testServer {
	t.Helper()
	ca, err := simtls.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{clientTLS: ca.ClientConfig(), user: opts.user, pass: opts.pass}

	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{ts: ts, conn: c}, nil
	}))
	s.Domain = "localhost"
	s.ErrorLog = log.New(io.Discard, "", 0)
	if !opts.noTLS {
		s.TLSConfig = serverTLS
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if opts.implicitTLS {
		ln = tls.NewListener(ln, serverTLS)
	}
	tcp := ln.Addr().(*net.TCPAddr)
	ts.addr, ts.host, ts.port = ln.Addr().String(), tcp.IP.String(), tcp.Port

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = s.Close()
		<-done
	})
	return ts
}

func (ts *testServer) messages() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.msgs...)
}

// session records one SMTP transaction.
type session struct {
	ts       *testServer
	conn     *smtp.Conn
	authUser string
	cur      received
}

var _ smtp.AuthSession = (*session)(nil)

func (s *session) AuthMechanisms() []string {
	if s.ts.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.ts.user || pass != s.ts.pass {
			return smtp.ErrAuthFailed
		}
		s.authUser = user
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.ts.user != "" && s.authUser == "" {
		return smtp.ErrAuthRequired
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.cur = received{from: from, tls: isTLS, authUser: s.authUser}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.rcpts = append(s.cur.rcpts, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = data
	s.ts.mu.Lock()
	s.ts.msgs = append(s.ts.msgs, s.cur)
	s.ts.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = received{} }
func (s *session) Logout() error { return nil }

// parsed is a delivered message decoded the way a mail reader would.
type parsed struct {
	header  mail.Header
	subject string
	body    string
}

func parse(t testing.TB, data []byte) parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, data)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject %q: %v", m.Header.Get("Subject"), err)
	}
	var body io.Reader = m.Body
	switch cte := strings.ToLower(m.Header.Get("Content-Transfer-Encoding")); cte {
	case "quoted-printable":
		body = quotedprintable.NewReader(m.Body)
	case "", "7bit", "8bit":
	default:
		t.Fatalf("unexpected Content-Transfer-Encoding %q", cte)
	}
	b, err := io.ReadAll(body)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("read body: %v", err)
	}
	return parsed{header: m.Header, subject: subject, body: strings.ReplaceAll(string(b), "\r\n", "\n")}
}
