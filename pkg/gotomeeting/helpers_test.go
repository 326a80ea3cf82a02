package gotomeeting

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/sim/gotosim"
)

// events is a shared, ordered log of what the transport and store saw.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, s)
}

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.log...)
}

// recordingStore is a TokenStore that logs saves and can be made to fail.
type recordingStore struct {
	mu     sync.Mutex
	token  string
	saves  []string
	fail   error
	events *events
}

func (s *recordingStore) RefreshToken(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token, nil
}

func (s *recordingStore) SaveRefreshToken(_ context.Context, tok string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.token = tok
	s.saves = append(s.saves, tok)
	if s.events != nil {
		s.events.add("save")
	}
	return nil
}

func (s *recordingStore) get() (string, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token, append([]string(nil), s.saves...)
}

func (s *recordingStore) setFail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

// recordingTransport logs token replies and API requests in order, and can
// drop the reply of chosen requests after the server handled them.
type recordingTransport struct {
	base   http.RoundTripper
	events *events
	mu     sync.Mutex
	lose   func(*http.Request) bool
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	isToken := strings.HasSuffix(req.URL.Path, "/oauth/token")
	if !isToken && t.events != nil {
		t.events.add("api " + req.Method)
	}
	resp, err := t.base.RoundTrip(req)
	if isToken && t.events != nil && err == nil {
		t.events.add("token")
	}
	t.mu.Lock()
	lose := t.lose != nil && t.lose(req)
	t.mu.Unlock()
	if lose && err == nil {
		resp.Body.Close()
		return nil, &lostReply{}
	}
	return resp, err
}

type lostReply struct{}

func (*lostReply) Error() string   { return "connection reset (test: reply lost)" }
func (*lostReply) Timeout() bool   { return false }
func (*lostReply) Temporary() bool { return true }

type env struct {
	sim       *gotosim.Server
	store     *recordingStore
	events    *events
	transport *recordingTransport
	first     string // the first refresh token, as `login` would give
}

func newEnv(t testing.TB, opts gotosim.Options) *env {
	t.Helper()
	if opts.RateLimit == 0 {
		opts.RateLimit = -1
	}
	sim, err := gotosim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	ev := &events{}
	return &env{
		sim:       sim,
		store:     &recordingStore{events: ev},
		events:    ev,
		transport: &recordingTransport{base: &http.Transport{TLSClientConfig: sim.CA().ClientConfig()}, events: ev},
		first:     sim.IssueRefreshToken(),
	}
}

// config is a fast test configuration: no rate limit, short back-off.
func (e *env) config() Config {
	return Config{
		APIBaseURL:     e.sim.APIBaseURL(),
		TokenURL:       e.sim.TokenURL(),
		AccountKey:     e.sim.AccountKey(),
		ClientID:       e.sim.ClientID(),
		ClientSecret:   e.sim.ClientSecret(),
		RefreshToken:   e.first,
		TokenStore:     e.store,
		RateLimit:      -1,
		RetryBackoff:   5 * time.Millisecond,
		MaxBackoff:     50 * time.Millisecond,
		RequestTimeout: 5 * time.Second,
		HTTPClient:     &http.Client{Transport: e.transport},
	}
}

func (e *env) client(t testing.TB, mods ...func(*Config)) *Client {
	t.Helper()
	cfg := e.config()
	for _, m := range mods {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) license(t testing.TB, seats int) string {
	t.Helper()
	k, err := e.sim.AddLicense(gotosim.License{Seats: seats, Enabled: true, Description: "GoToMeeting Business"})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (e *env) user(t testing.TB, u gotosim.User) string {
	t.Helper()
	k, err := e.sim.AddUser(u)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ptr[T any](v T) *T { return &v }

// newTLSServer serves h over TLS with conf on a free loopback port and
// returns its base URL.
func newTLSServer(t testing.TB, h http.Handler, conf *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(tls.NewListener(ln, conf)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + ln.Addr().String()
}
