package gotomeeting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/g2msync/g2msync/pkg/netfail"
	"github.com/g2msync/g2msync/pkg/redact"
)

// TokenStore keeps GoTo's current refresh token. GoTo may issue a new refresh
// token on any refresh and stop accepting the old one, so the client saves
// every new token here before it uses the access token that came with it: a
// process that dies at any point restarts with a token GoTo still accepts.
// The state store implements it.
type TokenStore interface {
	// RefreshToken returns the stored token, or "" and no error if none is
	// stored yet. It is read once, on first use; it wins over
	// Config.RefreshToken.
	RefreshToken(ctx context.Context) (string, error)
	// SaveRefreshToken durably replaces the stored token.
	SaveRefreshToken(ctx context.Context, token string) error
}

// MemoryTokenStore is a TokenStore that forgets on exit, for tests and for
// one-shot runs. The zero value is empty and ready.
type MemoryTokenStore struct {
	mu    sync.Mutex
	token string
}

// RefreshToken returns the held token.
func (m *MemoryTokenStore) RefreshToken(context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.token, nil
}

// SaveRefreshToken replaces the held token.
func (m *MemoryTokenStore) SaveRefreshToken(_ context.Context, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.token = token
	return nil
}

// tokenSource hands out access tokens, one refresh at a time: two concurrent
// refreshes with one refresh token would race GoTo's rotation and lose.
type tokenSource struct {
	c *Client

	mu      sync.Mutex
	refresh string        // the current refresh token
	access  *oauth2.Token // the access token in use
	// pending holds a token whose rotated refresh token could not be saved
	// yet; its access token is not used until the save succeeds.
	pending *oauth2.Token
}

func (ts *tokenSource) token(ctx context.Context) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.access != nil && ts.access.Valid() {
		return ts.access.AccessToken, nil
	}
	if err := ts.loadLocked(ctx); err != nil {
		return "", err
	}
	if p := ts.pending; p != nil {
		if err := ts.saveLocked(ctx, p.RefreshToken); err != nil {
			return "", err
		}
		ts.pending, ts.access = nil, p
		if p.Valid() {
			return p.AccessToken, nil
		}
	}
	tk, err := ts.obtainLocked(ctx)
	if err != nil {
		return "", err
	}
	if err := ts.adoptLocked(ctx, tk); err != nil {
		return "", err
	}
	return tk.AccessToken, nil
}

// knownLocked lists the credentials the client holds now, for redact.Text:
// the configured ones and the current refresh and access tokens. The
// caller holds ts.mu.
func (ts *tokenSource) knownLocked() []string {
	out := ts.c.configured()
	out = append(out, ts.refresh)
	for _, tk := range []*oauth2.Token{ts.access, ts.pending} {
		if tk != nil {
			out = append(out, tk.AccessToken, tk.RefreshToken)
		}
	}
	return out
}

// known is knownLocked for callers that do not hold ts.mu.
func (ts *tokenSource) known() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.knownLocked()
}

// invalidate drops the access token after a 401, unless another caller has
// already replaced it.
func (ts *tokenSource) invalidate(used string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.access != nil && ts.access.AccessToken == used {
		ts.access = nil
	}
}

// loadLocked reads the stored refresh token before every refresh, not only
// the first: another process on the same state file (`g2msync plan`,
// `check`, `login goto`) may have rotated it since, and the copy in memory
// would then be dead. The stored token wins whenever it differs.
func (ts *tokenSource) loadLocked(ctx context.Context) error {
	rt, err := ts.c.cfg.TokenStore.RefreshToken(ctx)
	if err != nil {
		return fmt.Errorf("goto: load refresh token: %w", err)
	}
	if rt != "" {
		ts.refresh = rt
	}
	return nil
}

// adoptLocked takes a new token into use, saving a rotated refresh token
// first. The old refresh token is dead either way, so the new one is kept in
// memory even when saving fails.
func (ts *tokenSource) adoptLocked(ctx context.Context, tk *oauth2.Token) error {
	ts.c.refreshes.Add(1)
	if tk.RefreshToken != "" && tk.RefreshToken != ts.refresh {
		ts.refresh = tk.RefreshToken
		if err := ts.saveLocked(ctx, tk.RefreshToken); err != nil {
			ts.access, ts.pending = nil, tk
			return err
		}
	}
	ts.access, ts.pending = tk, nil
	return nil
}

// saveLocked persists a refresh token even if ctx is cancelled: losing it
// would lock the daemon out.
func (ts *tokenSource) saveLocked(ctx context.Context, rt string) error {
	if err := ts.c.cfg.TokenStore.SaveRefreshToken(context.WithoutCancel(ctx), rt); err != nil {
		return fmt.Errorf("goto: persist rotated refresh token: %w", err)
	}
	return nil
}

// obtainLocked gets a new access token: by refresh token if there is one,
// else (or when GoTo refuses it) by personal access token or password.
func (ts *tokenSource) obtainLocked(ctx context.Context) (*oauth2.Token, error) {
	cfg := ts.c.cfg
	var rejected error
	if rt := ts.refresh; rt != "" {
		tk, err := ts.c.grant(ctx, "refresh_token", func(ctx context.Context) (*oauth2.Token, error) {
			return ts.c.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
		})
		switch {
		case err == nil:
			return tk, nil
		case !grantRefused(err):
			return nil, oauthFailure("refresh access token", err, append(ts.knownLocked(), rt)...)
		}
		var lost *afterLostReply
		rejected = &rejectedError{cause: err, lostReply: errors.As(err, &lost)}
	}
	if cfg.PAT != "" {
		tk, err := ts.c.patGrant(ctx, cfg.PAT)
		if err != nil {
			return nil, oauthFailure("exchange personal access token", err, ts.knownLocked()...)
		}
		return tk, nil
	}
	if cfg.Username != "" {
		tk, err := ts.c.grant(ctx, "password", func(ctx context.Context) (*oauth2.Token, error) {
			return ts.c.oauth.PasswordCredentialsToken(ctx, cfg.Username, cfg.Password)
		})
		if err != nil {
			return nil, oauthFailure("password grant", err, ts.knownLocked()...)
		}
		return tk, nil
	}
	if rejected != nil {
		return nil, rejected
	}
	return nil, ErrNotLoggedIn
}

func (c *Client) patGrant(ctx context.Context, pat string) (*oauth2.Token, error) {
	return c.grant(ctx, "personal_access_token", func(ctx context.Context) (*oauth2.Token, error) {
		// Exchange is x/oauth2's generic form post; overriding grant_type
		// turns it into GoTo's PAT grant (an empty code= rides along).
		return c.oauth.Exchange(ctx, "",
			oauth2.SetAuthURLParam("grant_type", "personal_access_token"),
			oauth2.SetAuthURLParam("pat", pat))
	})
}

// grant runs one token-endpoint grant, retrying 429, 5xx and transport
// failures. It runs detached from ctx's cancellation (bounded by
// RequestTimeout): a refresh abandoned after GoTo rotated the token would
// lose the only valid refresh token.
func (c *Client) grant(ctx context.Context, kind string, fetch func(context.Context) (*oauth2.Token, error)) (*oauth2.Token, error) {
	base := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, c.http)
	lost := false // an earlier attempt's reply never arrived
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(base, c.cfg.RequestTimeout)
		start := time.Now()
		tk, err := fetch(actx)
		cancel()
		status := 0
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			status = re.Response.StatusCode
		} else if err == nil {
			status = http.StatusOK
		}
		attrs := []slog.Attr{
			slog.String("api", "goto-oauth"), slog.String("grant", kind), slog.Int("status", status),
			slog.Int("attempt", attempt), slog.Int64("duration_ms", time.Since(start).Milliseconds()),
		}
		if re != nil && re.ErrorCode != "" {
			attrs = append(attrs, slog.String("error", re.ErrorCode))
		} else if err != nil {
			// The reply's text may echo the request: the grant's secrets.
			attrs = append(attrs, slog.String("error", redact.Text(err.Error(), c.configured()...)))
		}
		c.log.LogAttrs(ctx, slog.LevelDebug, "goto token call", attrs...)
		if err == nil {
			return tk, nil
		}
		if attempt > c.cfg.MaxRetries || !transientGrantError(err) {
			if lost && grantRefused(err) {
				return nil, &afterLostReply{err}
			}
			return nil, err
		}
		var re2 *oauth2.RetrieveError
		lost = lost || !errors.As(err, &re2)
		if status == http.StatusTooManyRequests {
			c.throttled.Add(1)
		}
		c.retries.Add(1)
		wait := c.backoff(attempt)
		if re != nil && re.Response != nil {
			if ra := parseRetryAfter(re.Response.Header.Get("Retry-After")); ra > 0 {
				wait = ra
			}
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// grantRefused reports whether the token endpoint refused the grant itself
// (as opposed to the client or the transport failing).
func grantRefused(err error) bool {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return false
	}
	return re.ErrorCode == "invalid_grant" || re.ErrorCode == "invalid_token"
}

func transientGrantError(err error) bool {
	if errors.Is(err, errRedirect) || netfail.Lasting(err) { // netfail.Lasting: an untrusted certificate too
		return false // a wrong CA, an unknown name or a redirect does not heal
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return true // transport failure, timeout or unparsable reply
	}
	if re.Response == nil {
		return false
	}
	s := re.Response.StatusCode
	return s == http.StatusTooManyRequests || s == http.StatusRequestTimeout || s >= 500
}

// oauthFailure words a token-endpoint failure and attaches the sentinel
// that says what a person should look at. The endpoint's reply is part of
// err's text and may echo the request (the client secret, the refresh
// token, the Basic header), so the text is scrubbed of secrets and of
// whatever follows a credential's name.
func oauthFailure(what string, err error, secrets ...string) error {
	return redact.Error(wordOAuthFailure(what, err), secrets...)
}

func wordOAuthFailure(what string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		switch {
		case re.ErrorCode == "invalid_client" || (re.Response != nil && re.Response.StatusCode == http.StatusUnauthorized):
			return fmt.Errorf("goto: %s: GoTo refused the client id or secret (%w): %w", what, ErrUnauthorized, err)
		case grantRefused(err):
			return fmt.Errorf("goto: %s: GoTo refused the grant (%w): %w", what, ErrUnauthorized, err)
		case re.Response != nil && re.Response.StatusCode == http.StatusTooManyRequests:
			return fmt.Errorf("goto: %s (%w): %w", what, ErrThrottled, err)
		}
		if re.Response != nil && re.Response.StatusCode < 500 {
			return fmt.Errorf("goto: %s: %w", what, err)
		}
	}
	if line, ok := netfail.Describe(err); ok {
		return fmt.Errorf("goto: %s: %s (%w)%w", what, line, ErrUnavailable, quiet{err})
	}
	return fmt.Errorf("goto: %s (%w): %w", what, ErrUnavailable, err)
}

// afterLostReply is a refusal of the refresh token that came right after a
// refresh whose reply never arrived. GoTo documents that it issues a new
// refresh token only once the old one has expired, and the client keeps the
// old one until a new one is stored, so a lost reply is normally harmless:
// the next attempt uses the old token again. If GoTo then refuses it, it had
// rotated the token in the reply that was lost, and no retry can get it back.
type afterLostReply struct{ err error }

func (e *afterLostReply) Error() string { return e.err.Error() }
func (e *afterLostReply) Unwrap() error { return e.err }

// quiet wraps an error for errors.Is and errors.As without adding its
// text: the line before it already says what it means.
type quiet struct{ err error }

func (q quiet) Error() string { return "" }
func (q quiet) Unwrap() error { return q.err }
