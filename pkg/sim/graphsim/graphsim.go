// Package graphsim is an HTTPS simulator of the Microsoft Entra ID token
// endpoint and of the Microsoft Graph v1.0 endpoints g2msync reads, for tests,
// the demo and the benchmark. It holds one tenant in memory (client apps,
// enterprise apps with app roles, users, groups, assignments), speaks the
// wire formats below, and has knobs for latency, throttling, injected faults
// and revoked tokens. It imports nothing of g2msync but pkg/sim/simtls, so the
// real msgraph-sdk-go and azidentity can be run against it end to end.
//
// # What the public sources say, and what the simulator does with it
//
// Entra token side (what azidentity/MSAL Go speak):
//
//   - OIDC discovery: MSAL Go v1.4.2 with instance discovery disabled fetches
//     {authority}/{tenant}/v2.0/.well-known/openid-configuration and requires
//     authorization_endpoint, token_endpoint and issuer
//     (AzureAD/microsoft-authentication-library-for-go
//     apps/internal/oauth/resolvers.go, ops/authority/authority.go
//     TenantDiscoveryResponse.Validate). The document is built from the
//     request's own host so that the issuer's host matches the authority;
//     issuer is https://{host}/{tenant}/v2.0 as in Entra's metadata (stored
//     copy in panva/wellknown issuers/entra-common).
//   - Token request: POST {tenant}/oauth2/v2.0/token, form body,
//     grant_type=client_credentials, client_id, scope, and client_secret or
//     client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
//     with client_assertion; client_info and claims (CAE "cp1") are sent too
//     and ignored here (ops/accesstokens/accesstokens.go FromClientSecret,
//     FromAssertion; kiota-authentication-azure-go enables CAE). MSAL appends
//     "openid offline_access profile" to the scope (AppendDefaultScopes); those
//     are ignored and exactly one {resource}/.default must remain. The reply is
//     {token_type, expires_in, ext_expires_in, access_token}; access tokens
//     are RS256 JWTs shaped like Entra's v1.0 app tokens (aud, tid, appid,
//     roles), checked by Graph on every call.
//   - Client assertion: MSAL signs with PS256 and names the certificate in the
//     header x5t#S256 (SHA-256 of the DER, standard base64); for ADFS/DSTS it
//     uses RS256 with x5t (SHA-1). Claims aud = the token endpoint, iss = sub =
//     client id, jti, nbf, exp = now+10 min (accesstokens.go Credential.JWT).
//     Both algorithms and both thumbprints are accepted here, in either base64
//     alphabet; the signature is checked against the registered certificate.
//   - Errors use Entra's JSON shape {error, error_description, error_codes,
//     timestamp, trace_id, correlation_id, error_uri} (MSAL's
//     OAuthResponseBase). Codes: AADSTS7000215 invalid client secret (401
//     invalid_client), AADSTS700016 application not found in the directory
//     (400 unauthorized_client), AADSTS90002 tenant not found (400
//     invalid_request; invalid_tenant on discovery), AADSTS700027 assertion
//     signature or certificate not registered, AADSTS700024 assertion outside
//     its validity, AADSTS7000218 neither secret nor assertion,
//     AADSTS1002012 scope without /.default, AADSTS500011 unknown resource,
//     AADSTS70003 unsupported grant type. Where the public sources were silent
//     the status for a wrong assertion audience is chosen here: 401
//     invalid_client AADSTS50027.
//
// Microsoft Graph v1.0:
//
//   - URL templates as msgraph-sdk-go v1.89.0 writes them: groups/{id}/members/graph.user
//     and transitiveMembers/graph.user (microsoft.graph.user is accepted as
//     well, and the uncast form), servicePrincipals(appId='{appId}'),
//     users/delta() and groups/delta() with parentheses (the plain form is
//     accepted), query names percent-encoded as %24select, %24top
//     (msgraph-sdk-go groups/item_members_graph_user_request_builder.go,
//     serviceprincipalswithappid/, users/delta_request_builder.go).
//   - Errors: {"error":{"code","message","innerError":{"date","request-id",
//     "client-request-id"}}}; 401 InvalidAuthenticationToken, 403
//     Authorization_RequestDenied "Insufficient privileges to complete the
//     operation.", 404 Request_ResourceNotFound, 429 TooManyRequests
//     (microsoft-graph-docs-contrib concepts/errors.md, concepts/throttling.md).
//   - Users: v1.0 returns only businessPhones, displayName, givenName, id,
//     jobTitle, mail, mobilePhone, officeLocation, preferredLanguage, surname,
//     userPrincipalName unless $select names more; accountEnabled is "returned
//     only on $select" (microsoftgraph/microsoft-graph-docs PR #505; issue
//     microsoft-graph-docs-contrib#8798). With $select only the selected
//     properties come back, id included only when selected (msgraph-sdk-powershell#1091).
//   - getByIds: up to 1000 ids, types ["user"]; v1.0 returns users with the
//     default property subset, and honours $select in the query string as the
//     documented workaround ("Incomplete objects when using getByIds
//     request", quoted in microsoft-graph-docs-contrib#6006). Docs name
//     Directory.Read.All; #8798 reports User.Read.All is enough for users,
//     which is what is enforced here.
//   - Paging: $top default 100, max 999 (400 beyond); @odata.nextLink is an
//     absolute URL carrying the original query and an opaque $skiptoken.
//     Relationships returning directoryObjects show members an app may not
//     read "with limited information", only @odata.type and id
//     (directoryobject-getbyids.md, limited-info include): an app with
//     GroupMember.Read.All but no User.Read.All sees users that way here.
//   - Throttling (concepts/throttling-limits.md, identity and access): a
//     token bucket of resource units per app+tenant per 10 s (3,500/5,000/
//     8,000 by tenant size); base costs GET groups/{id}/members 3,
//     transitiveMembers 5, POST directoryObjects/getByIds 3, GET users 2, any
//     other identity GET 1; $select -1, $expand +1, $top under 20 -1, never
//     below 1. Throttled replies carry Retry-After, x-ms-throttle-scope and
//     x-ms-throttle-information; successful ones x-ms-resource-unit. Here the
//     bucket is a fixed 10 s window per client app, and throttled requests
//     do not consume units.
//   - Delta (concepts/delta-query-overview.md): $select and $filter by id are
//     encoded in the state token, $top is not supported (Prefer:
//     odata.maxpagesize is honoured), removed objects carry
//     "@removed":{"reason":"changed"|"deleted"} (changed = restorable soft
//     delete), group membership changes come as members@delta. Tokens for
//     directory objects live 7 days; an expired one gets 400 syncStateNotFound
//     "The sync state generation is not found. The delta token is expired and
//     data must be synchronized again." (devblogs.microsoft.com/microsoft365dev
//     duration-of-change-tracking-tokens-for-identity-and-education-resources).
//     A synchronization reset is 410 Gone with a Location header holding the
//     initial query (ForceDeltaReset).
//   - kiota-http-go v1.5.4's default middleware gzips request bodies
//     (compression_handler.go), so POST bodies with Content-Encoding: gzip are
//     accepted.
package graphsim

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"log"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/g2msync/g2msync/pkg/sim/simtls"
)

// Options configures a Server. The zero value is usable.
type Options struct {
	// CA issues the server certificate; nil creates a new authority.
	CA *simtls.CA
	// TenantID is the directory's id; "" generates one from Seed.
	TenantID string
	// Seed makes generated ids deterministic; 0 picks a random seed.
	Seed uint64
	// Latency delays every response (token endpoint included).
	Latency time.Duration
	// RUBudget is the resource units an app may spend per 10 s; 0 = unlimited.
	RUBudget int
	// DeltaTokenTTL is how long a delta link stays valid; 0 = 7 days.
	DeltaTokenTTL time.Duration
	// TokenTTL is the lifetime of issued access tokens; 0 = 1 hour.
	TokenTTL time.Duration
	// Now is the clock for token expiry, delta expiry and the RU window;
	// nil = time.Now.
	Now func() time.Time
	// ErrorLog receives the HTTP server's own errors; nil discards them.
	ErrorLog *log.Logger
}

// Server is a running simulator. Its methods are safe for concurrent use.
type Server struct {
	opts Options
	now  func() time.Time
	ca   *simtls.CA
	ln   net.Listener
	srv  *http.Server
	url  string
	done chan struct{}
	once sync.Once

	signKey *rsa.PrivateKey
	keyID   string
	latency atomic.Int64

	mu     sync.RWMutex // the tenant model and delta state
	t      *tenant
	deltas map[string]*deltaState
	// assigned caches the last appRoleAssignedTo list (assignedTo).
	assignedMu sync.Mutex
	assigned   *assignedList
	cursor     map[string]*deltaCursor

	ctl      sync.Mutex // counters, faults, throttling, issued tokens
	counters map[string]int
	total    int
	faults   []*faultState
	storm    int
	ru       map[string]*ruWindow
	lag      map[string]int // user id → getByIds replies that still leave it out (LagUser)
}

// New starts a simulator on 127.0.0.1 with an ephemeral port.
func New(opts Options) (*Server, error) {
	ca := opts.CA
	if ca == nil {
		var err error
		if ca, err = simtls.NewCA(); err != nil {
			return nil, fmt.Errorf("graphsim: %w", err)
		}
	}
	if opts.DeltaTokenTTL == 0 {
		opts.DeltaTokenTTL = 7 * 24 * time.Hour
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = time.Hour
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	seed := opts.Seed
	if seed == 0 {
		seed = mrand.Uint64()
	}
	rng := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	tid := opts.TenantID
	if tid == "" {
		tid = newGUID(rng)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("graphsim: generate token signing key: %w", err)
	}
	tlsCfg, err := ca.ServerConfig()
	if err != nil {
		return nil, fmt.Errorf("graphsim: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("graphsim: listen: %w", err)
	}
	s := &Server{
		opts:     opts,
		now:      now,
		ca:       ca,
		ln:       ln,
		url:      "https://" + ln.Addr().String(),
		done:     make(chan struct{}),
		signKey:  key,
		keyID:    newGUID(rng)[:8],
		t:        newTenant(tid, rng),
		deltas:   map[string]*deltaState{},
		cursor:   map[string]*deltaCursor{},
		counters: map[string]int{},
		ru:       map[string]*ruWindow{},
	}
	s.latency.Store(int64(opts.Latency))
	errLog := opts.ErrorLog
	if errLog == nil {
		errLog = log.New(io.Discard, "", 0)
	}
	s.srv = &http.Server{
		Handler:           s,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          errLog,
	}
	go func() { _ = s.srv.ServeTLS(ln, "", "") }()
	return s, nil
}

// URL is the server's origin, https://127.0.0.1:port.
func (s *Server) URL() string { return s.url }

// AuthorityHost is the Entra authority host to configure in azidentity.
func (s *Server) AuthorityHost() string { return s.url + "/" }

// GraphBaseURL is the Graph v1.0 base URL, URL()+"/v1.0".
func (s *Server) GraphBaseURL() string { return s.url + "/v1.0" }

// CA returns the authority the server certificate chains to.
func (s *Server) CA() *simtls.CA { return s.ca }

// Close stops the server and releases hung requests.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.done)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			_ = s.srv.Close()
		}
	})
}

// SetLatency changes the delay added to every response.
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// resp is a response built before it is written, so that faults can
// truncate it and throttling can replace it.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// ServeHTTP routes one request through counting, latency, faults,
// authentication, throttling and permissions, in that order.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := s.match(r)
	s.count(rt.key)
	if !s.sleep(r.Context(), time.Duration(s.latency.Load())) {
		return
	}
	f := s.fault(rt.key, r)
	if f != nil {
		if f.Latency > 0 && !s.sleep(r.Context(), f.Latency) {
			return
		}
		if f.Hang {
			select {
			case <-r.Context().Done():
			case <-s.done:
			}
			return
		}
		if f.Status != 0 && f.Echo {
			s.write(w, r, s.echoResponse(f, r, rt.key == routeToken), false)
			return
		}
		if f.Status != 0 {
			s.write(w, r, s.faultResponse(f), false)
			return
		}
	}
	truncate := f != nil && f.Truncate
	if !rt.graph {
		s.write(w, r, rt.handle(&call{r: r}), truncate)
		return
	}
	c := &call{r: r}
	claims, bad := s.authenticate(r)
	if bad != nil {
		s.write(w, r, bad, false)
		return
	}
	c.claims = claims
	if rt.perms != nil && !claims.hasAny(rt.perms) {
		s.write(w, r, graphError(r, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."), false)
		return
	}
	cost := requestCost(rt.cost, r)
	if th := s.throttle(claims.AppID, cost); th != nil {
		s.write(w, r, th, false)
		return
	}
	out := rt.handle(c)
	if out.status < 300 {
		if out.header == nil {
			out.header = http.Header{}
		}
		out.header.Set("x-ms-resource-unit", strconv.Itoa(cost))
	}
	s.write(w, r, out, truncate)
}

func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
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

func (s *Server) write(w http.ResponseWriter, r *http.Request, out *resp, truncate bool) {
	h := w.Header()
	for k, v := range out.header {
		h[k] = v
	}
	if h.Get("Content-Type") == "" && len(out.body) > 0 {
		h.Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	}
	if id := r.Header.Get("client-request-id"); id != "" {
		h.Set("client-request-id", id)
	}
	h.Set("Content-Length", strconv.Itoa(len(out.body)))
	w.WriteHeader(out.status)
	if !truncate {
		_, _ = w.Write(out.body)
		return
	}
	// Send half the promised body, then drop the connection, as a reset
	// mid-transfer would.
	_, _ = w.Write(out.body[:len(out.body)/2])
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	panic(http.ErrAbortHandler)
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Counters returns the number of calls per route, e.g.
// "GET /groups/{id}/members", "POST /directoryObjects/getByIds", "POST /token".
func (s *Server) Counters() map[string]int {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	out := make(map[string]int, len(s.counters))
	for k, v := range s.counters {
		out[k] = v
	}
	return out
}

// Calls returns the number of calls of one route.
func (s *Server) Calls(route string) int {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	return s.counters[route]
}

// TotalCalls returns the number of requests of every route.
func (s *Server) TotalCalls() int {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	return s.total
}

// GraphCalls returns the number of requests to Graph routes (not the token
// endpoint, discovery or keys).
func (s *Server) GraphCalls() int {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	n := 0
	for k, v := range s.counters {
		if !isEntraRoute(k) {
			n += v
		}
	}
	return n
}

func isEntraRoute(key string) bool {
	switch key {
	case routeToken, routeDiscovery, routeKeys, routeAuthorize, routeAuthorizePost, routeLogout:
		return true
	}
	return false
}

// ResetCounters zeroes every counter.
func (s *Server) ResetCounters() {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.counters = map[string]int{}
	s.total = 0
}

func (s *Server) count(key string) {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.counters[key]++
	s.total++
}

// hostOf returns the request's host as the client addressed it.
func hostOf(r *http.Request) string {
	if r.Host != "" {
		return r.Host
	}
	return r.URL.Host
}

func originOf(r *http.Request) string { return "https://" + hostOf(r) }

func trimPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}
