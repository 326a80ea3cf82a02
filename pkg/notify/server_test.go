package notify

import (
	"crypto/tls"
	"fmt"
	"net/mail"
	"testing"

	"github.com/g2msync/g2msync/pkg/sim/smtpsim"
)

// testServer is a real SMTP server in the test process (pkg/sim/smtpsim),
// with the short names these tests use.
type testServer struct {
	addr      string
	host      string
	port      int
	clientTLS *tls.Config
	s         *smtpsim.Server
}

// received is one delivered message as the server saw it.
type received struct {
	from     string
	rcpts    []string
	data     []byte
	tls      bool
	authUser string
	msg      smtpsim.Message
}

// serverOpts picks the server's transport.
type serverOpts struct {
	implicitTLS bool
	noTLS       bool
	user, pass  string
}

func startServer(t testing.TB, opts serverOpts) *testServer {
	t.Helper()
	s, err := smtpsim.Start(smtpsim.Options{ImplicitTLS: opts.implicitTLS, NoTLS: opts.noTLS, User: opts.user, Password: opts.pass})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return &testServer{addr: fmt.Sprintf("%s:%d", s.Host, s.Port), host: s.Host, port: s.Port, clientTLS: s.ClientTLS(), s: s}
}

func (ts *testServer) messages() []received {
	var out []received
	for _, m := range ts.s.Messages() {
		out = append(out, received{from: m.From, rcpts: m.To, data: m.Data, tls: m.TLS, authUser: m.AuthUser, msg: m})
	}
	return out
}

// parsed is a delivered message decoded the way a mail reader would.
type parsed struct {
	header  mail.Header
	subject string
	body    string
}

func parse(t testing.TB, data []byte) parsed {
	t.Helper()
	m := smtpsim.Message{Data: data}
	if err := smtpsim.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return parsed{header: m.Header, subject: m.Subject, body: m.Body}
}
