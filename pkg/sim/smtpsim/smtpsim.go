// Package smtpsim is a real SMTP server (emersion/go-smtp) that records the
// mail it receives, for the tests of g2msync's notifications. It speaks
// STARTTLS or implicit TLS with a simtls certificate and can demand
// AUTH PLAIN. Like the other simulators it imports nothing of g2msync's
// production code.
package smtpsim

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/g2msync/g2msync/pkg/sim/simtls"
)

// Options pick the server's transport and authentication.
type Options struct {
	// CA signs the server's certificate; nil makes a fresh one.
	CA *simtls.CA
	// ImplicitTLS speaks TLS from the first byte instead of offering STARTTLS.
	ImplicitTLS bool
	// NoTLS offers neither STARTTLS nor TLS.
	NoTLS bool
	// User and Password, when set, are demanded with AUTH PLAIN before MAIL FROM.
	User, Password string
}

// Message is one delivered message, as the server saw it and decoded.
type Message struct {
	From     string
	To       []string
	Data     []byte // the raw DATA
	TLS      bool   // the session was encrypted when MAIL FROM arrived
	AuthUser string // "" when the client did not authenticate
	Header   mail.Header
	Subject  string // decoded
	Body     string // decoded, with \n line ends
}

// Server is a running SMTP server.
type Server struct {
	Host string
	Port int
	ca   *simtls.CA
	opts Options
	srv  *smtp.Server
	done chan struct{}

	mu   sync.Mutex
	msgs []Message
}

// Start listens on 127.0.0.1 on a free port and serves until Close.
func Start(opts Options) (*Server, error) {
	ca := opts.CA
	if ca == nil {
		var err error
		if ca, err = simtls.NewCA(); err != nil {
			return nil, err
		}
	}
	serverTLS, err := ca.ServerConfig()
	if err != nil {
		return nil, err
	}
	s := &Server{ca: ca, opts: opts, done: make(chan struct{})}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	if !opts.NoTLS {
		s.srv.TLSConfig = serverTLS
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("smtpsim: listen: %w", err)
	}
	if opts.ImplicitTLS {
		ln = tls.NewListener(ln, serverTLS)
	}
	tcp := ln.Addr().(*net.TCPAddr)
	s.Host, s.Port = tcp.IP.String(), tcp.Port
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// ClientTLS returns a client TLS configuration that trusts the server.
func (s *Server) ClientTLS() *tls.Config { return s.ca.ClientConfig() }

// Close stops the server.
func (s *Server) Close() {
	_ = s.srv.Close()
	<-s.done
}

// Messages returns the messages delivered so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

type session struct {
	s        *Server
	conn     *smtp.Conn
	authUser string
	cur      Message
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.s.opts.User || pass != ss.s.opts.Password {
			return smtp.ErrAuthFailed
		}
		ss.authUser = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.User != "" && ss.authUser == "" {
		return smtp.ErrAuthRequired
	}
	_, isTLS := ss.conn.TLSConnectionState()
	ss.cur = Message{From: from, TLS: isTLS, AuthUser: ss.authUser}
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.cur.To = append(ss.cur.To, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.cur.Data = data
	if err := Decode(&ss.cur); err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, ss.cur)
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset()        { ss.cur = Message{} }
func (ss *session) Logout() error { return nil }

// Decode fills m's Header, Subject and Body from its Data, the way a mail
// reader would.
func Decode(m *Message) error {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return fmt.Errorf("smtpsim: parse message: %w", err)
	}
	m.Header = msg.Header
	if m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return fmt.Errorf("smtpsim: decode subject: %w", err)
	}
	var body io.Reader = msg.Body
	switch cte := strings.ToLower(msg.Header.Get("Content-Transfer-Encoding")); cte {
	case "quoted-printable":
		body = quotedprintable.NewReader(msg.Body)
	case "", "7bit", "8bit":
	default:
		return fmt.Errorf("smtpsim: unexpected Content-Transfer-Encoding %q", cte)
	}
	b, err := io.ReadAll(body)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("smtpsim: read body: %w", err)
	}
	m.Body = strings.ReplaceAll(string(b), "\r\n", "\n")
	return nil
}
