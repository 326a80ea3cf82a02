package gotomeeting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/g2msync/g2msync/pkg/netfail"
	"github.com/g2msync/g2msync/pkg/redact"
)

// Production endpoints, used when Config leaves them empty.
const (
	DefaultAPIBaseURL = "https://api.getgo.com/admin/rest/v1"
	DefaultTokenURL   = "https://authentication.logmeininc.com/oauth/token"
	DefaultAuthURL    = "https://authentication.logmeininc.com/oauth/authorize"
)

// Config configures a Client. Secrets are plain strings: the caller loads
// and redacts them (LogValue redacts them too).
type Config struct {
	APIBaseURL string // empty: DefaultAPIBaseURL
	TokenURL   string // empty: DefaultTokenURL
	// AuthURL is the authorization endpoint for the login flow; empty means
	// the sibling "authorize" of TokenURL.
	AuthURL string
	// AccountKey is the GoTo account to manage; empty means the one /me names.
	AccountKey   string
	ClientID     string
	ClientSecret string

	// One grant. RefreshToken is only the first token: once GoTo rotates it,
	// the current one lives in TokenStore, which wins over this field. PAT is
	// a personal access token; Username and Password are the legacy password
	// grant. When a refresh token is refused and PAT or Username is set, the
	// client falls back to that grant instead of failing.
	RefreshToken string
	PAT          string
	Username     string
	Password     string

	// TokenStore persists rotated refresh tokens; nil keeps them in memory
	// only, so a restart after a rotation needs a new login.
	TokenStore TokenStore

	// RateLimit is GoTo's Admin API limit in requests per second, read as
	// at most that many in any one-second window; 0 means 10, negative
	// means unlimited (no pacing).
	RateLimit float64
	// RateMargin is the share of RateLimit the client keeps in reserve,
	// pacing at RateLimit×(1−RateMargin) so that jittered arrivals never
	// bunch above the limit; 0 means DefaultRateMargin, negative means
	// none. After a 429 the pace halves, then climbs back slowly.
	RateMargin float64
	// MaxRetries bounds retries of one call after 429, 5xx, timeouts and
	// broken replies; 0 means 4, negative means none.
	MaxRetries int
	// RetryBackoff is the first back-off delay, doubled per retry with
	// jitter up to MaxBackoff; zero means 500 ms and 30 s. MaxBackoff also
	// caps a Retry-After header.
	RetryBackoff time.Duration
	MaxBackoff   time.Duration
	// RequestTimeout bounds each HTTP attempt; zero means 30 s. An attempt
	// that times out is retried like a 5xx.
	RequestTimeout time.Duration
	PageSize       int // users per list page; 0 means 100
	// MaxListPages bounds the pages of one user listing: 0 means 5,000
	// (half a million users at 100 a page), so a server whose pages never
	// end cannot keep a cycle reading.
	MaxListPages int
	// MaxReplyBytes bounds one reply's body: 0 means 8 MiB, some hundred
	// times a page of 100 users.
	MaxReplyBytes int64

	HTTPClient *http.Client // nil means a client with Go's default transport
	Logger     *slog.Logger // nil discards; Debug gets one line per HTTP call
}

// LogValue keeps secrets out of logs even if a Config is logged whole.
func (c Config) LogValue() slog.Value {
	redact := func(s string) string {
		if s == "" {
			return ""
		}
		return "REDACTED"
	}
	return slog.GroupValue(
		slog.String("api_base_url", c.APIBaseURL),
		slog.String("token_url", c.TokenURL),
		slog.String("account_key", c.AccountKey),
		slog.String("client_id", c.ClientID),
		slog.String("client_secret", redact(c.ClientSecret)),
		slog.String("refresh_token", redact(c.RefreshToken)),
		slog.String("pat", redact(c.PAT)),
		slog.String("username", c.Username),
		slog.String("password", redact(c.Password)),
	)
}

// Client talks to GoTo's OAuth service and Admin API. It is safe for
// concurrent use; all Admin API calls share one pace (see pacer).
type Client struct {
	cfg    Config
	base   string // APIBaseURL without a trailing slash
	http   *http.Client
	log    *slog.Logger
	oauth  *oauth2.Config
	pace   *pacer
	tokens *tokenSource

	acctMu  sync.Mutex
	account string

	calls     atomic.Int64
	throttled atomic.Int64
	retries   atomic.Int64
	refreshes atomic.Int64
}

var (
	_ Reader = (*Client)(nil)
	_ Writer = (*Client)(nil)
)

// New checks cfg and returns a client. It makes no call: credentials are
// first used, and missing ones reported, by the first API call.
func New(cfg Config) (*Client, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("goto: client id and client secret are required")
	}
	if cfg.APIBaseURL == "" {
		cfg.APIBaseURL = DefaultAPIBaseURL
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = DefaultTokenURL
	}
	if cfg.AuthURL == "" {
		if cfg.TokenURL == DefaultTokenURL {
			cfg.AuthURL = DefaultAuthURL
		} else {
			cfg.AuthURL = strings.TrimSuffix(strings.TrimSuffix(cfg.TokenURL, "/"), "token") + "authorize"
		}
	}
	for name, raw := range map[string]string{"api base url": cfg.APIBaseURL, "token url": cfg.TokenURL, "auth url": cfg.AuthURL} {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("goto: %s %q is not an http(s) URL", name, raw)
		}
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 10
	}
	if cfg.RateMargin == 0 {
		cfg.RateMargin = DefaultRateMargin
	} else if cfg.RateMargin < 0 {
		cfg.RateMargin = 0
	}
	if cfg.RateMargin >= 1 {
		return nil, fmt.Errorf("goto: rate margin %g leaves no requests: want a share below 1", cfg.RateMargin)
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 4
	} else if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 100
	}
	if cfg.MaxListPages <= 0 {
		cfg.MaxListPages = 5000
	}
	if cfg.MaxReplyBytes <= 0 {
		cfg.MaxReplyBytes = 8 << 20
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	// Every request carries a credential (the bearer token; for the token
	// endpoint the client secret and the refresh token): a redirect is
	// refused, never followed. Go would resend the Authorization header to
	// another port of the same host, and over plain http.
	hc := *cfg.HTTPClient
	hc.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		return fmt.Errorf("%w to %s://%s%s; g2msync follows no redirect with credentials: check goto.api_base_url and goto.auth_url",
			errRedirect, req.URL.Scheme, req.URL.Host, req.URL.Path)
	}
	cfg.HTTPClient = &hc
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TokenStore == nil {
		cfg.TokenStore = &MemoryTokenStore{}
	}
	c := &Client{
		cfg:     cfg,
		base:    strings.TrimSuffix(cfg.APIBaseURL, "/"),
		http:    cfg.HTTPClient,
		log:     cfg.Logger,
		pace:    newPacer(cfg.RateLimit, cfg.RateMargin),
		account: cfg.AccountKey,
		oauth: &oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint: oauth2.Endpoint{
				AuthURL:   cfg.AuthURL,
				TokenURL:  cfg.TokenURL,
				AuthStyle: oauth2.AuthStyleInHeader,
			},
		},
	}
	c.tokens = &tokenSource{c: c, refresh: cfg.RefreshToken}
	return c, nil
}

// Stats are the client's counters since New.
type Stats struct {
	Calls          int64 // Admin API requests sent, retries included
	Throttled      int64 // 429 replies received
	Retries        int64 // requests repeated after a 429, 5xx, timeout or broken reply
	TokenRefreshes int64 // access tokens obtained from the token endpoint
	// Pace is the requests per second the client paces at now: the ceiling
	// (RateLimit less the margin) unless 429s slowed it; 0 means unpaced.
	Pace float64
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	return Stats{
		Calls:          c.calls.Load(),
		Throttled:      c.throttled.Load(),
		Retries:        c.retries.Load(),
		TokenRefreshes: c.refreshes.Load(),
		Pace:           c.pace.current(),
	}
}

// request is one Admin API call.
type request struct {
	op      string     // for errors and logs, e.g. "update user"
	method  string     // HTTP method
	path    string     // below APIBaseURL, e.g. "accounts/1/users/2"
	display string     // for messages, e.g. "users/2"
	query   url.Values // may be nil
	body    any        // JSON-encoded when non-nil
	// decode parses a 2xx body; an error counts as a broken reply and is
	// retried. nil ignores the body.
	decode func([]byte) error
	// goneOK treats a 404 on a retry as success: the earlier attempt
	// probably applied (a DELETE whose reply was lost).
	goneOK bool
}

// do runs a call through the rate limiter, the token source and the retry
// policy: 401 refreshes the token once; 429, 408, 5xx, timeouts and broken
// replies are retried up to MaxRetries with jittered exponential back-off
// (or Retry-After). Every method GoTo offers is safe to repeat: GET, PUT and
// DELETE by nature, and bulk create because it is idempotent by email.
func (c *Client) do(ctx context.Context, r request) error {
	var payload []byte
	if r.body != nil {
		var err error
		if payload, err = json.Marshal(r.body); err != nil {
			return fmt.Errorf("goto: %s %s: encode request: %w", r.method, r.display, err)
		}
	}
	target := c.base + "/" + r.path
	if len(r.query) > 0 {
		// %20 rather than +: unambiguous for every server's query parser.
		target += "?" + strings.ReplaceAll(r.query.Encode(), "+", "%20")
	}
	fail := func(status int, attempts int, body []byte, cause error) error {
		code, msg, incident := parseErrorBody(body)
		// GoTo's reply may echo the request, Authorization header and all.
		known := c.tokens.known()
		msg, cause = redact.Text(msg, known...), redact.Error(cause, known...)
		sentinel := classify(status, code)
		if status == 0 {
			sentinel = ErrUnavailable // no reply at all: transport failure or timeout
			if line, ok := netfail.Describe(cause); ok {
				msg = line // the host and what to check, in one line
			}
		}
		return &APIError{
			Op: r.op, Method: r.method, Path: r.display, Status: status,
			Code: code, Message: msg, IncidentID: incident, Attempts: attempts,
			Err: sentinel, Cause: cause,
		}
	}

	refreshed := false
	retries := 0
	for attempt := 1; ; attempt++ {
		// The token first, then the pacing slot: a call that took its slot
		// and then waited for a token (GoTo's token endpoint, with its
		// latency) left late, and the calls queued behind the token left
		// with it, closer than one interval: eleven reached GoTo within
		// one second, and every initial sync of 10,000 met a 429.
		tok, err := c.tokens.token(ctx)
		if err != nil {
			return err
		}
		ticket, err := c.pace.wait(ctx)
		if err != nil {
			return fmt.Errorf("goto: %s %s: wait for rate limit: %w", r.method, r.display, err)
		}
		status, header, body, err := c.send(ctx, r, target, payload, tok, attempt)
		if err != nil && ctx.Err() != nil {
			return fmt.Errorf("goto: %s %s: %w", r.method, r.display, ctx.Err())
		}

		var retryAfter time.Duration
		switch {
		case err != nil: // transport error or attempt timeout
			// A wrong CA, a redirect and an oversized reply do not heal.
			if retries >= c.cfg.MaxRetries || errors.Is(err, errRedirect) || errors.Is(err, errTooLarge) || netfail.Lasting(err) {
				return fail(0, attempt, nil, err)
			}
		case status >= 200 && status < 300:
			if r.decode == nil {
				c.pace.succeeded()
				return nil
			}
			derr := r.decode(body)
			if derr == nil {
				c.pace.succeeded()
				return nil
			}
			if retries >= c.cfg.MaxRetries {
				return &APIError{
					Op: r.op, Method: r.method, Path: r.display, Status: status, Attempts: attempt,
					Message: "malformed reply: " + redact.Text(derr.Error(), c.tokens.known()...), Err: ErrUnavailable, Cause: derr,
				}
			}
		case status == http.StatusUnauthorized && !refreshed:
			// The access token expired or was revoked: refresh once, and do
			// not count it as a retry.
			refreshed = true
			c.tokens.invalidate(tok)
			continue
		case status == http.StatusTooManyRequests:
			c.throttled.Add(1)
			if c.pace.throttled(ticket) {
				c.log.LogAttrs(ctx, slog.LevelWarn, "goto throttled: slowing down", slog.String("api", "goto"),
					slog.String("op", r.op), slog.Float64("pace", c.pace.current()))
			}
			if retries >= c.cfg.MaxRetries {
				return fail(status, attempt, body, nil)
			}
			retryAfter = parseRetryAfter(header.Get("Retry-After"))
		case status == http.StatusRequestTimeout || status >= 500:
			if retries >= c.cfg.MaxRetries {
				return fail(status, attempt, body, nil)
			}
			retryAfter = parseRetryAfter(header.Get("Retry-After"))
		case status == http.StatusNotFound && r.goneOK && retries > 0:
			return nil
		default:
			return fail(status, attempt, body, nil)
		}

		retries++
		c.retries.Add(1)
		wait := c.backoff(retries)
		if retryAfter > 0 {
			// A hostile or confused server must not park a cycle for
			// hours: its Retry-After is honoured up to MaxBackoff.
			wait = min(retryAfter, c.cfg.MaxBackoff)
		}
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("goto: %s %s: %w", r.method, r.display, err)
		}
	}
}

// send makes one HTTP attempt under RequestTimeout and reads the whole reply.
func (c *Client) send(ctx context.Context, r request, target string, payload []byte, tok string, attempt int) (int, http.Header, []byte, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(actx, r.method, target, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	c.calls.Add(1)
	resp, err := c.http.Do(req)
	var body []byte
	status := 0
	var header http.Header
	if err == nil {
		status, header = resp.StatusCode, resp.Header
		body, err = io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxReplyBytes+1))
		resp.Body.Close()
		if err == nil && int64(len(body)) > c.cfg.MaxReplyBytes {
			body, err = nil, fmt.Errorf("%w (%d MiB)", errTooLarge, c.cfg.MaxReplyBytes>>20)
		}
	}
	attrs := []slog.Attr{
		slog.String("api", "goto"), slog.String("op", r.op), slog.String("method", r.method),
		slog.String("path", r.display), slog.Int("status", status), slog.Int("attempt", attempt),
		slog.Int64("duration_ms", time.Since(start).Milliseconds()),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", redact.Text(err.Error(), c.configured()...)))
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "goto api call", attrs...)
	return status, header, body, err
}

// backoff returns the delay before retry n (1-based): RetryBackoff doubled
// per retry, capped at MaxBackoff, with the upper half randomised so that
// concurrent callers do not retry in step.
func (c *Client) backoff(n int) time.Duration {
	d := c.cfg.RetryBackoff
	for i := 1; i < n && d < c.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.cfg.MaxBackoff)
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

// parseRetryAfter reads seconds or an HTTP date; GoTo does not document the
// header, but a gateway may send it. Absurd values are capped at 10 minutes.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	}
	return min(max(d, 0), 10*time.Minute)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Failures a retry cannot heal.
var (
	errRedirect = errors.New("GoTo answered with a redirect")
	errTooLarge = errors.New("the reply is larger than g2msync reads")
)

// configured lists the credentials given in the configuration, for
// redact.Text.
func (c *Client) configured() []string {
	return []string{c.cfg.ClientSecret, c.cfg.RefreshToken, c.cfg.PAT, c.cfg.Password}
}
