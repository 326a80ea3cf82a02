// Research notes for the simulator (kept here, not in the package doc).
//
// # What the public documentation says, and what the simulator does with it
//
// Sources (stored public copies, consulted while writing the simulator):
//
//   - Token endpoint, refresh grant: https://developer.goto.com/how-use-refresh-tokens/
//     POST https://authentication.logmeininc.com/oauth/token, form body,
//     "Authorization: Basic base64(clientID:clientSecret)". The documented
//     reply is {access_token, expires_in: 3600, scope, principal}, with no
//     refresh_token and no token_type. Access tokens live 60 minutes. The
//     legacy page (https://goto-developer.logmeininc.com/how-use-refresh-tokens)
//     says refresh tokens were good for 30 days and the same one came back.
//     Here: refresh_token is in a reply only when a new one is issued
//     (Options.RotateRefreshEvery), and then the old one is dead.
//   - Authorization code: https://developer.goto.com/guides/Authentication/03_HOW_accessToken/
//     GET /oauth/authorize?client_id=&response_type=code&redirect_uri= redirects
//     to redirect_uri?code=…; "each authorization code can only be exchanged
//     once". Here: auto-approved, bound to redirect_uri, one use, 10 minutes.
//   - Personal access token: https://developer.goto.com/guides/Authentication/03.1_HOW_accessTokenPAT/
//     grant_type=personal_access_token&pat=… with the same Basic header.
//   - Password grant: https://developer.goto.com/guides/References/05_Direct-Login_migration
//     grant_type=password&username=&password= (deprecated; old clients only).
//   - No client_credentials grant is documented for GoTo's own auth service:
//     it answers 400 unsupported_grant_type here.
//   - Rate limits: https://goto-developer.logmeininc.com/guides/References/Ref-Rate-Limits/
//     "default 10 requests per second", "rate limits are applied per API",
//     429 beyond. No rate-limit headers or Retry-After are documented, and
//     none are sent here.
//   - Admin API users: https://developer.goto.com/guides/HowTos/10_HOW_manageAccountUsers/
//     POST https://api.getgo.com/admin/rest/v1/accounts/{accountKey}/users with
//     {"users":[{email,firstName,lastName}],"suppressEmail":true}; the reply is
//     [{"key": 78888886011013972886849029, "email": …}] and "existing
//     (conflicting) users are returned in the response payload as well".
//     The key there is a bare 26-digit JSON number (beyond int64), so user and
//     licence keys are sent as big JSON numbers here (Options.KeysAsStrings
//     switches to strings so clients are tested both ways).
//   - /me: https://developer.goto.com/guides/GoToConnect/09_HOW_fetchAccountUsers
//     shows account keys as JSON strings ("8887380153236031176710"); /me sends
//     accountKey and accounts[].key as strings here.
//   - Legacy create: https://goto-developer.logmeininc.com/create-user says a new
//     user needs a licenceKey or an adminRole (enforced here), and that with
//     allOrNothing=true (their default) conflicts give 409 and keys may be
//     absent for conflicting emails. The newer guide above returns them with
//     keys; that is the default here. allOrNothing=true is honoured when sent,
//     and SetOmitExistingKeys reproduces the keyless legacy reply.
//   - Legacy update: https://goto-developer.logmeininc.com/update-user: PUT
//     …/users/{userKey} by SUPER_USER or MANAGE_USERS; identity fields of a
//     user whose identityReadOnly is true cannot be changed (403 here).
//
// Where the documents are silent the simulator chooses, strictly:
// list paging is {results, fromIndex, toIndex, total} with toIndex exclusive
// (SetToIndexInclusive flips it, as sources disagree); the filter grammar is
// only `email eq "…"`, case-insensitive; PUT and DELETE answer 204 with no
// body; create answers 200; errors are {"incidentId","errors":[{"code","value"}]}
// with codes user.not.found (404), user.email.exists (409),
// license.seats.exceeded (409, value = licence key), license.not.found (400),
// invalid.request (400), user.identity.read.only (403), account.access.denied
// (403); 401s rotate between the legacy {"int_err_code":"InvalidToken","msg"}
// shape, an empty body with WWW-Authenticate, and the errors shape (see
// AuthErrorShape); 429 has an empty body. Unknown JSON fields in request
// bodies are refused with 400 so that client typos surface in tests.

package gotosim

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/g2msync/g2msync/pkg/sim/simtls"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// CA signs the server certificate; nil makes a fresh authority.
	CA *simtls.CA
	// Addr is the listen address; empty means 127.0.0.1 on a free port.
	Addr string
	// AccountKey is the account's key; empty means a 22-digit default.
	AccountKey string
	// AccountName is shown by /me; empty means "gotosim account".
	AccountName string
	// ClientID and ClientSecret are the one OAuth client the server knows;
	// empty means "gotosim-client" and "gotosim-secret".
	ClientID, ClientSecret string
	// AccessTokenTTL is the life of an access token; zero means 3600 s.
	AccessTokenTTL time.Duration
	// RotateRefreshEvery issues a new refresh token, and kills the old one,
	// on every Nth refresh grant of a token lineage. Zero means 1 (rotate on
	// every refresh); negative means never rotate.
	RotateRefreshEvery int
	// RateLimit is requests per second per API (OAuth and Admin API are
	// counted apart). Zero means 10; negative means unlimited. It is taken
	// in its strictest reading (DESIGN §5.3): at most RateLimit requests in
	// any one-second window, sliding, counted when the server handles each
	// request (after Latency and Jitter), so bunched arrivals get 429s even
	// from a client that sends at exactly the rate.
	RateLimit float64
	// Latency is the one-way network delay added to every request before it
	// is handled (and counted by the rate limit).
	Latency time.Duration
	// Jitter adds a further delay drawn uniformly from [0, Jitter] to each
	// request before it is handled, so that arrivals bunch and reorder as
	// on a real network. Zero means none (the fast default of unit tests);
	// DefaultJitter is what the benchmark and the demo use.
	Jitter time.Duration
	// Seed makes the jitter repeatable; zero means 1.
	Seed uint64
	// Handling is the server's own work per request, after it is counted
	// and before it replies; HandlingPerItem is added per user of a bulk
	// create, which is not free. Zero means none; DefaultHandling and
	// DefaultHandlingPerItem are what the benchmark uses.
	Handling, HandlingPerItem time.Duration
	// Now is the clock for token and code expiry; nil means time.Now. Rate
	// limiting always uses real time, as it is about real request spacing.
	Now func() time.Time
	// KeysAsStrings sends user and licence keys as JSON strings instead of
	// the documented big JSON numbers.
	KeysAsStrings bool
	// ToIndexInclusive makes list replies' toIndex the index of the last
	// result instead of one past it.
	ToIndexInclusive bool
	// DefaultPageSize applies when a list request has no pageSize; zero means 20.
	DefaultPageSize int
	// MaxPageSize caps pageSize silently, as some servers do; zero means no cap.
	MaxPageSize int
	// AuthErrorShape selects the body of 401 replies; the zero value rotates.
	AuthErrorShape AuthErrorShape
}

// AuthErrorShape selects how the Admin API words a 401.
type AuthErrorShape int

// 401 body shapes. GoTo has been seen answering with each of them.
const (
	// AuthErrorRotate cycles legacy, empty, errors-shape, one per 401, so a
	// client meets all of them in one run.
	AuthErrorRotate AuthErrorShape = iota
	// AuthErrorLegacy is {"int_err_code":"InvalidToken","msg":"…"} with WWW-Authenticate.
	AuthErrorLegacy
	// AuthErrorEmpty is an empty body with WWW-Authenticate only.
	AuthErrorEmpty
	// AuthErrorErrors is {"incidentId":"…","errors":[{"code":"invalid.token",…}]}.
	AuthErrorErrors
)

// Route names, as used by Calls, LastBody and Fault.Route.
const (
	RouteToken        = "POST /oauth/token"
	RouteAuthorize    = "GET /oauth/authorize"
	RouteMe           = "GET /me"
	RouteListUsers    = "GET /users"
	RouteGetUser      = "GET /users/{key}"
	RouteCreateUsers  = "POST /users"
	RouteUpdateUser   = "PUT /users/{key}"
	RouteDeleteUser   = "DELETE /users/{key}"
	RouteListLicenses = "GET /licenses"
	routeUnknown      = "unknown"
)

const (
	apiOAuth = "oauth"
	apiAdmin = "admin"
	apiBase  = "/admin/rest/v1"
)

// Server is a running simulator. All methods are safe for concurrent use,
// also while requests are being served.
type Server struct {
	ca        *simtls.CA
	ln        net.Listener
	srv       *http.Server
	url       string
	done      chan struct{}
	closeOnce sync.Once

	now          func() time.Time
	accountKey   string
	accountName  string
	clientID     string
	clientSecret string
	ttl          time.Duration
	rotateEvery  int
	defaultPage  int
	maxPage      int

	mu sync.Mutex
	// knobs
	latency       time.Duration
	jitter        time.Duration
	rng           *mrand.Rand // draws the jitter; guarded by mu
	handling      time.Duration
	handlingItem  time.Duration
	rateLimit     float64
	windows       map[string]*window
	faults        []*faultState
	authShape     AuthErrorShape
	authShapeN    int
	keysAsStrings bool
	toIndexIncl   bool
	omitExisting  bool
	// counters
	calls     map[string]int
	throttled int
	lastBody  map[string][]byte
	incidents int
	// writeLog, when set, is told of each write applied (WatchWrites).
	writeLog func(Write)
	// account model
	users       []*user
	byKey       map[string]*user
	byEmail     map[string]*user // lower-case email → user
	licenses    []*license
	licByKey    map[string]*license
	seq         uint64
	principals  map[string]string // principal email → synthetic key, for /me
	defaultUser string
	// OAuth state
	access   map[string]accessToken
	refresh  map[string]*refreshGrant
	codes    map[string]authCode
	pats     map[string]string // pat → principal
	admins   map[string]string // lower(username) → password
	rejected []string
}

// New starts a simulator listening on Options.Addr over TLS.
func New(opts Options) (*Server, error) {
	ca := opts.CA
	if ca == nil {
		var err error
		if ca, err = simtls.NewCA(); err != nil {
			return nil, fmt.Errorf("gotosim: %w", err)
		}
	}
	s := &Server{
		ca:            ca,
		done:          make(chan struct{}),
		now:           opts.Now,
		accountKey:    opts.AccountKey,
		accountName:   opts.AccountName,
		clientID:      opts.ClientID,
		clientSecret:  opts.ClientSecret,
		ttl:           opts.AccessTokenTTL,
		rotateEvery:   opts.RotateRefreshEvery,
		defaultPage:   opts.DefaultPageSize,
		maxPage:       opts.MaxPageSize,
		latency:       opts.Latency,
		jitter:        max(opts.Jitter, 0),
		rng:           mrand.New(mrand.NewPCG(cmp.Or(opts.Seed, 1), 0x6f746f67)),
		handling:      max(opts.Handling, 0),
		handlingItem:  max(opts.HandlingPerItem, 0),
		rateLimit:     opts.RateLimit,
		authShape:     opts.AuthErrorShape,
		keysAsStrings: opts.KeysAsStrings,
		toIndexIncl:   opts.ToIndexInclusive,
		calls:         map[string]int{},
		lastBody:      map[string][]byte{},
		byKey:         map[string]*user{},
		byEmail:       map[string]*user{},
		licByKey:      map[string]*license{},
		principals:    map[string]string{},
		defaultUser:   "admin@gotosim.test",
		access:        map[string]accessToken{},
		refresh:       map[string]*refreshGrant{},
		codes:         map[string]authCode{},
		pats:          map[string]string{},
		admins:        map[string]string{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.accountKey == "" {
		s.accountKey = "8887380153236031176710"
	}
	if s.accountName == "" {
		s.accountName = "gotosim account"
	}
	if s.clientID == "" {
		s.clientID = "gotosim-client"
	}
	if s.clientSecret == "" {
		s.clientSecret = "gotosim-secret"
	}
	if s.ttl <= 0 {
		s.ttl = time.Hour
	}
	if s.rotateEvery == 0 {
		s.rotateEvery = 1
	}
	if s.defaultPage <= 0 {
		s.defaultPage = 20
	}
	if s.rateLimit == 0 {
		s.rateLimit = 10
	}
	s.windows = newWindows(s.rateLimit)

	tlsConf, err := ca.ServerConfig()
	if err != nil {
		return nil, fmt.Errorf("gotosim: %w", err)
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("gotosim: listen on %s: %w", addr, err)
	}
	s.ln = tls.NewListener(ln, tlsConf)
	s.url = "https://" + ln.Addr().String()
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		// Handshake errors from clients that do not trust the CA are noise here.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() { _ = s.srv.Serve(s.ln) }()
	return s, nil
}

// URL returns the base URL, https://127.0.0.1:port.
func (s *Server) URL() string { return s.url }

// TokenURL returns the OAuth token endpoint.
func (s *Server) TokenURL() string { return s.url + "/oauth/token" }

// AuthorizeURL returns the OAuth authorization endpoint.
func (s *Server) AuthorizeURL() string { return s.url + "/oauth/authorize" }

// APIBaseURL returns the Admin API base, URL()+"/admin/rest/v1".
func (s *Server) APIBaseURL() string { return s.url + apiBase }

// CA returns the authority that signed the server certificate.
func (s *Server) CA() *simtls.CA { return s.ca }

// AccountKey returns the key of the simulated account.
func (s *Server) AccountKey() string { return s.accountKey }

// ClientID returns the OAuth client id the server accepts.
func (s *Server) ClientID() string { return s.clientID }

// ClientSecret returns the OAuth client secret the server accepts.
func (s *Server) ClientSecret() string { return s.clientSecret }

// Close stops the server and releases hanging requests.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		_ = s.srv.Close()
	})
}

// ServeHTTP routes one request through counting, the network delay, rate
// limiting, faults and the server's own handling time before the handler
// proper, in the order a real gateway would. The rate limit counts the
// request when it arrives, after the delay, not when the client sent it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, api, params := route(r)

	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			return
		}
	}

	s.mu.Lock()
	s.calls[name]++
	if len(body) > 0 {
		s.lastBody[name] = body
	}
	delay := s.latency
	if s.jitter > 0 {
		delay += time.Duration(s.rng.Int64N(int64(s.jitter) + 1))
	}
	s.mu.Unlock()

	if delay > 0 && !s.sleep(r.Context(), delay) {
		abandon()
	}

	s.mu.Lock()
	allowed := s.windows[api].allow(time.Now())
	if !allowed {
		s.throttled++
	}
	f := s.matchFault(r.Method, name, r.URL.Path)
	work := s.handling
	if name == RouteCreateUsers && s.handlingItem > 0 {
		work += time.Duration(bulkItems(body)) * s.handlingItem
	}
	s.mu.Unlock()
	if !allowed {
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	if work > 0 && !s.sleep(r.Context(), work) {
		abandon() // the client gave up while the server worked; nothing is applied
	}

	if f != nil && f.Hang > 0 && !s.sleep(r.Context(), f.Hang) {
		abandon() // the client gave up; nothing is applied
	}
	if f != nil && f.Status != 0 && !f.Truncate {
		s.writeFault(w, f)
		return
	}

	rec := newRecorder()
	s.dispatch(rec, r, name, params, body)
	if f != nil && f.Truncate {
		rec.body = rec.body[:len(rec.body)/2]
	}
	rec.flush(w)
}

// abandon ends a request cut short (the client gave up, or the server is
// closing) with no reply at all. Returning from the handler would send an
// empty 200, which a client still listening would take for a change that
// was never applied; seen once, under load, in TestRetries.
func abandon() { panic(http.ErrAbortHandler) }

// sleep waits d, or returns false when the request or the server ends first.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}

type routeParams struct {
	account string
	key     string
}

// route names a request by method and path shape, and says which API's rate
// limit it counts against.
func route(r *http.Request) (name, api string, p routeParams) {
	path := r.URL.Path
	switch path {
	case "/oauth/token":
		if r.Method == http.MethodPost {
			return RouteToken, apiOAuth, p
		}
		return routeUnknown, apiOAuth, p
	case "/oauth/authorize":
		if r.Method == http.MethodGet {
			return RouteAuthorize, apiOAuth, p
		}
		return routeUnknown, apiOAuth, p
	}
	if !strings.HasPrefix(path, apiBase+"/") {
		return routeUnknown, apiAdmin, p
	}
	seg := strings.Split(strings.TrimPrefix(path, apiBase+"/"), "/")
	m := r.Method
	switch {
	case len(seg) == 1 && seg[0] == "me" && m == http.MethodGet:
		return RouteMe, apiAdmin, p
	case len(seg) == 3 && seg[0] == "accounts" && seg[2] == "users":
		p.account = seg[1]
		switch m {
		case http.MethodGet:
			return RouteListUsers, apiAdmin, p
		case http.MethodPost:
			return RouteCreateUsers, apiAdmin, p
		}
	case len(seg) == 4 && seg[0] == "accounts" && seg[2] == "users" && seg[3] != "":
		p.account, p.key = seg[1], seg[3]
		switch m {
		case http.MethodGet:
			return RouteGetUser, apiAdmin, p
		case http.MethodPut:
			return RouteUpdateUser, apiAdmin, p
		case http.MethodDelete:
			return RouteDeleteUser, apiAdmin, p
		}
	case len(seg) == 3 && seg[0] == "accounts" && seg[2] == "licenses" && m == http.MethodGet:
		p.account = seg[1]
		return RouteListLicenses, apiAdmin, p
	}
	return routeUnknown, apiAdmin, p
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, name string, p routeParams, body []byte) {
	switch name {
	case RouteToken:
		s.handleToken(w, r, body)
		return
	case RouteAuthorize:
		s.handleAuthorize(w, r)
		return
	case routeUnknown:
		if strings.HasPrefix(r.URL.Path, "/oauth/") {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
	}
	principal, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if name == routeUnknown {
		s.writeErrors(w, http.StatusNotFound, "resource.not.found", r.URL.Path)
		return
	}
	if name == RouteMe {
		s.handleMe(w, principal)
		return
	}
	if p.account != s.accountKey {
		s.writeErrors(w, http.StatusForbidden, "account.access.denied", p.account)
		return
	}
	if (name == RouteCreateUsers || name == RouteUpdateUser || name == RouteDeleteUser) && !s.mayManageUsers(principal) {
		// Per the legacy update-user page, only SUPER_USER or MANAGE_USERS
		// admins may change users.
		s.writeErrors(w, http.StatusForbidden, "user.management.not.allowed", principal)
		return
	}
	switch name {
	case RouteListUsers:
		s.handleListUsers(w, r)
	case RouteGetUser:
		s.handleGetUser(w, p.key)
	case RouteCreateUsers:
		s.handleCreateUsers(w, r, body)
	case RouteUpdateUser:
		s.handleUpdateUser(w, p.key, body)
	case RouteDeleteUser:
		s.handleDeleteUser(w, p.key)
	case RouteListLicenses:
		s.handleListLicenses(w)
	}
}

// recorder buffers a handler's reply so that faults can cut it short.
type recorder struct {
	header http.Header
	status int
	body   []byte
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body = append(r.body, b...)
	return len(b), nil
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) flush(w http.ResponseWriter) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	// No Content-Length: a truncated body then arrives as a well-framed but
	// broken JSON document, which is what a client must survive.
	w.Header().Del("Content-Length")
	if r.status == 0 {
		r.status = http.StatusOK
	}
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body)
}

// randomToken returns an opaque token with a readable prefix.
func randomToken(prefix string) string {
	return prefix + rand.Text()
}

// mayManageUsers reports whether the token's principal may change users: an
// account user needs SUPER_USER or MANAGE_USERS; a principal that is not an
// account user (the simulator's built-in admin) may.
func (s *Server) mayManageUsers(principal string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userByEmailLocked(principal)
	if u == nil {
		return true
	}
	return slices.Contains(u.roles, "SUPER_USER") || slices.Contains(u.roles, "MANAGE_USERS")
}
