package gotomeeting

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// CallbackPath is the path of the loopback redirect URI LoginLoopback serves.
const CallbackPath = "/callback"

// AuthCodeURL returns the URL a person opens to let g2msync act for them.
// GoTo redirects to redirectURI with a one-use code and state.
func (c *Client) AuthCodeURL(redirectURI, state string) string {
	conf := *c.oauth
	conf.RedirectURL = redirectURI
	return conf.AuthCodeURL(state)
}

// Exchange trades an authorization code for tokens, saves the refresh token
// through the TokenStore, keeps the access token for later calls, and
// returns the refresh token. redirectURI must be the one given to AuthCodeURL.
func (c *Client) Exchange(ctx context.Context, code, redirectURI string) (string, error) {
	conf := *c.oauth
	conf.RedirectURL = redirectURI
	tk, err := c.grant(ctx, "authorization_code", func(ctx context.Context) (*oauth2.Token, error) {
		return conf.Exchange(ctx, code)
	})
	if err != nil {
		return "", oauthFailure("exchange authorization code", err, append(c.configured(), code)...)
	}
	return c.login(ctx, tk, "authorization code")
}

// ExchangePAT trades a personal access token for tokens like Exchange does.
// If GoTo issues no refresh token for it, configure the PAT itself instead.
func (c *Client) ExchangePAT(ctx context.Context, pat string) (string, error) {
	tk, err := c.patGrant(ctx, pat)
	if err != nil {
		return "", oauthFailure("exchange personal access token", err, append(c.configured(), pat)...)
	}
	return c.login(ctx, tk, "personal access token")
}

func (c *Client) login(ctx context.Context, tk *oauth2.Token, what string) (string, error) {
	if tk.RefreshToken == "" {
		return "", fmt.Errorf("goto: GoTo issued no refresh token for the %s", what)
	}
	ts := c.tokens
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.refresh = "" // so that adoptLocked saves it
	if err := ts.adoptLocked(ctx, tk); err != nil {
		return "", err
	}
	return tk.RefreshToken, nil
}

// LoginLoopback runs the authorization-code login of `g2msync login goto`:
// it listens on listenAddr (empty: 127.0.0.1 on a free port), calls show
// with the URL the person must open, waits for GoTo's redirect to
// http://<listenAddr>/callback, exchanges the code, saves the refresh token
// through cfg.TokenStore and returns it. The redirect URI must be registered
// on the OAuth client, so use a fixed port in production.
//
// On a host without a browser, the person signs in elsewhere: then the
// redirect reaches no listener, but the address the browser shows holds the
// code. A line sent on pasted (that address, or its query) is taken as the
// redirect; nil means none is read.
func LoginLoopback(ctx context.Context, cfg Config, listenAddr string, show func(url string), pasted <-chan string) (string, error) {
	return loginLoopback(ctx, cfg, listenAddr, show, pasted, callbackLimits{readHeader: callbackReadHeaderTimeout,
		read: callbackReadTimeout, write: callbackWriteTimeout, idle: callbackIdleTimeout})
}

// Limits of the redirect listener of LoginLoopback, which answers a
// browser's redirect (a GET without a body) with one line. Any local
// process can reach it while the login waits, so a client holds it no
// longer than that exchange needs.
const (
	// callbackReadHeaderTimeout is how long a client has to send its
	// headers: a browser sends them at once; 10 s covers a busy machine.
	callbackReadHeaderTimeout = 10 * time.Second
	// callbackReadTimeout is how long it has to send the whole request,
	// which has no body.
	callbackReadTimeout = 10 * time.Second
	// callbackWriteTimeout is how long the one-line answer may take.
	callbackWriteTimeout = 10 * time.Second
	// callbackIdleTimeout is how long a kept-alive connection may wait:
	// the browser sends nothing more after the redirect.
	callbackIdleTimeout = 30 * time.Second
	// callbackMaxHeaderBytes bounds the headers: a browser sends every
	// cookie of 127.0.0.1, whatever the port, so other local
	// applications' cookies come too; 64 KiB holds them.
	callbackMaxHeaderBytes = 64 << 10
	// callbackMaxBodyBytes bounds a body, which the redirect does not
	// have: 1 KiB, and a larger one is refused with 413.
	callbackMaxBodyBytes = 1 << 10
)

// callbackLimits are the timeouts of the redirect listener; tests make
// them short.
type callbackLimits struct{ readHeader, read, write, idle time.Duration }

func loginLoopback(ctx context.Context, cfg Config, listenAddr string, show func(url string), pasted <-chan string, lim callbackLimits) (string, error) {
	c, err := New(cfg)
	if err != nil {
		return "", err
	}
	if listenAddr == "" {
		listenAddr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return "", fmt.Errorf("goto: login: listen for the redirect on %s: %w", listenAddr, err)
	}
	host, _, err := net.SplitHostPort(listenAddr)
	if err != nil || host == "" {
		host = "127.0.0.1"
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	redirect := "http://" + net.JoinHostPort(host, port) + CallbackPath
	state := rand.Text()

	type result struct {
		code string
		err  error
	}
	got := make(chan result, 1)
	read := func(q url.Values) result {
		var res result
		switch {
		case q.Get("state") != state:
			res.err = errors.New("goto: login: the redirect carried another state: start the login again")
		case q.Get("error") != "":
			res.err = fmt.Errorf("goto: login: GoTo refused the authorization: %s %s", q.Get("error"), q.Get("error_description"))
		case q.Get("code") == "":
			res.err = errors.New("goto: login: the redirect carried no code")
		default:
			res.code = q.Get("code")
		}
		return res
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+CallbackPath, func(w http.ResponseWriter, r *http.Request) {
		res := read(r.URL.Query())
		if res.err != nil {
			http.Error(w, "g2msync login failed; see the terminal. You may close this window.", http.StatusBadRequest)
		} else {
			fmt.Fprintln(w, "g2msync is logged in to GoTo. You may close this window.")
		}
		select {
		case got <- res:
		default:
		}
	})
	limited := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > callbackMaxBodyBytes {
			w.Header().Set("Connection", "close")
			http.Error(w, "the redirect has no body", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, callbackMaxBodyBytes)
		mux.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: limited, MaxHeaderBytes: callbackMaxHeaderBytes, ReadHeaderTimeout: lim.readHeader,
		ReadTimeout: lim.read, WriteTimeout: lim.write, IdleTimeout: lim.idle}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	show(c.AuthCodeURL(redirect, state))
	for {
		select {
		case res := <-got:
			if res.err != nil {
				return "", res.err
			}
			return c.Exchange(ctx, res.code, redirect)
		case line, ok := <-pasted:
			if !ok {
				pasted = nil // no more input: wait for the redirect alone
				continue
			}
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			_, query, _ := strings.Cut(line, "?")
			q, err := url.ParseQuery(query)
			if err != nil || q.Get("code") == "" && q.Get("error") == "" {
				return "", errors.New("goto: login: the pasted text is not the address GoTo redirected to (it holds code= and state=)")
			}
			res := read(q)
			if res.err != nil {
				return "", res.err
			}
			return c.Exchange(ctx, res.code, redirect)
		case <-ctx.Done():
			return "", fmt.Errorf("goto: login: wait for the redirect: %w", ctx.Err())
		}
	}
}
