package gotomeeting

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/g2msync/g2msync/pkg/sim/gotosim"
)

const rejectedText = "GoTo rejected the refresh token: run `g2msync login goto`"

func TestExpiredAccessTokenRefreshedMidRun(t *testing.T) {
	e := newEnv(t, gotosim.Options{}) // rotates the refresh token on every refresh
	key := e.user(t, gotosim.User{Email: "a@x.test", FirstName: "A", LastName: "A"})
	c := e.client(t)
	ctx := context.Background()
	if _, err := listAll(ctx, c); err != nil {
		t.Fatal(err)
	}
	e.sim.ExpireAccessTokens()
	if err := c.UpdateUser(ctx, key, Update{LastName: ptr("Z")}); err != nil {
		t.Fatalf("update after expiry: %v", err)
	}
	if u, _ := e.sim.User(key); u.LastName != "Z" {
		t.Errorf("update not applied: %+v", u)
	}
	stored, saves := e.store.get()
	if c.Stats().TokenRefreshes != 2 || len(saves) != 2 || !e.sim.RefreshTokenValid(stored) {
		t.Errorf("refreshes %d, saves %d, stored token valid %v", c.Stats().TokenRefreshes, len(saves), e.sim.RefreshTokenValid(stored))
	}
	if rej := e.sim.RejectedRefreshTokens(); len(rej) != 0 {
		t.Errorf("simulator refused %d refresh tokens", len(rej))
	}
}

func TestConcurrentCallersShareOneRefresh(t *testing.T) {
	e := newEnv(t, gotosim.Options{})
	key := e.user(t, gotosim.User{Email: "a@x.test", FirstName: "A", LastName: "A"})
	c := e.client(t)
	ctx := context.Background()
	if _, err := c.GetUser(ctx, key); err != nil {
		t.Fatal(err)
	}
	e.sim.ExpireAccessTokens()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := c.GetUser(ctx, key)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := c.Stats().TokenRefreshes; n != 2 {
		t.Errorf("token refreshes = %d, want 2: concurrent 401s must share one refresh", n)
	}
	if rej := e.sim.RejectedRefreshTokens(); len(rej) != 0 {
		t.Errorf("a racing refresh presented a rotated-away token: %v", rej)
	}
}

func TestRotatedTokenPersistedBeforeUse(t *testing.T) {
	e := newEnv(t, gotosim.Options{})
	c := e.client(t)
	ctx := context.Background()
	if _, err := listAll(ctx, c); err != nil {
		t.Fatal(err)
	}
	e.sim.ExpireAccessTokens()
	if _, err := listAll(ctx, c); err != nil {
		t.Fatal(err)
	}
	// The expired token's 401 comes between the two refreshes.
	want := []string{"token", "save", "api GET", "api GET", "token", "save", "api GET"}
	if got := e.events.list(); !slices.Equal(got, want) {
		t.Errorf("events = %v\nwant     %v", got, want)
	}

	// A store that cannot save: the new access token must not be used.
	e.sim.ExpireAccessTokens()
	e.store.setFail(errors.New("disk full"))
	before := e.sim.Calls()
	_, err := listAll(ctx, c)
	if err == nil || !strings.Contains(err.Error(), "persist rotated refresh token: disk full") {
		t.Fatalf("err = %v", err)
	}
	after := e.sim.Calls()
	if after[gotosim.RouteListUsers] != before[gotosim.RouteListUsers]+1 || after[gotosim.RouteToken] != before[gotosim.RouteToken]+1 {
		t.Errorf("calls went from %v to %v: want one 401 and one refresh, no API call with the unsaved token", before, after)
	}
	// Once the store works again the pending token is saved, then used,
	// without asking GoTo again (the old refresh token is dead).
	e.store.setFail(nil)
	if _, err := listAll(ctx, c); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.Calls()[gotosim.RouteToken]; n != after[gotosim.RouteToken] {
		t.Errorf("token calls %d, want %d", n, after[gotosim.RouteToken])
	}
	if stored, _ := e.store.get(); !e.sim.RefreshTokenValid(stored) {
		t.Error("stored refresh token is not the live one")
	}
}

func TestRestartUsesStoredToken(t *testing.T) {
	e := newEnv(t, gotosim.Options{})
	ctx := context.Background()
	c1 := e.client(t)
	if _, err := listAll(ctx, c1); err != nil {
		t.Fatal(err)
	}
	rotated, _ := e.store.get()
	if rotated == "" || rotated == e.first || e.sim.RefreshTokenValid(e.first) {
		t.Fatalf("no rotation happened: stored %q, first still valid %v", rotated, e.sim.RefreshTokenValid(e.first))
	}

	// "Restart": a new client with the same store and the same config, which
	// still names the first, now dead, refresh token.
	c2 := e.client(t)
	if _, err := listAll(ctx, c2); err != nil {
		t.Fatalf("restarted client: %v", err)
	}
	if rej := e.sim.RejectedRefreshTokens(); len(rej) != 0 {
		t.Errorf("restart presented a dead token: %v", rej)
	}
	// Without the store, the first token is refused: the store was needed.
	c3 := e.client(t, func(c *Config) { c.TokenStore = nil })
	if _, err := listAll(ctx, c3); !errors.Is(err, ErrRefreshTokenRejected) {
		t.Errorf("first token without the store: %v", err)
	}
	if rej := e.sim.RejectedRefreshTokens(); len(rej) != 1 || rej[0] != e.first {
		t.Errorf("rejected = %v, want the first token", rej)
	}
}

func TestRevokedRefreshTokenFailsWithHint(t *testing.T) {
	e := newEnv(t, gotosim.Options{})
	key := e.user(t, gotosim.User{Email: "a@x.test", FirstName: "A", LastName: "A"})
	c := e.client(t)
	ctx := context.Background()
	if _, err := listAll(ctx, c); err != nil {
		t.Fatal(err)
	}
	e.sim.RevokeAllGrants()
	err := c.UpdateUser(ctx, key, Update{LastName: ptr("Z")})
	if !errors.Is(err, ErrRefreshTokenRejected) || err.Error() != rejectedText {
		t.Fatalf("err = %q", err)
	}
	if u, _ := e.sim.User(key); u.LastName != "A" {
		t.Errorf("user changed: %+v", u)
	}
	if _, err := listAll(ctx, c); err == nil || err.Error() != rejectedText {
		t.Errorf("second call: %v", err)
	}
}

func TestOtherGrants(t *testing.T) {
	ctx := context.Background()
	t.Run("personal access token", func(t *testing.T) {
		e := newEnv(t, gotosim.Options{})
		c := e.client(t, func(c *Config) { c.RefreshToken = ""; c.PAT = e.sim.IssuePAT() })
		if _, err := listAll(ctx, c); err != nil {
			t.Fatal(err)
		}
		if stored, _ := e.store.get(); !e.sim.RefreshTokenValid(stored) {
			t.Error("refresh token from the PAT grant not stored")
		}
	})
	t.Run("PAT is the fallback when the refresh token is refused", func(t *testing.T) {
		e := newEnv(t, gotosim.Options{})
		e.sim.RevokeRefreshToken(e.first)
		c := e.client(t, func(c *Config) { c.PAT = e.sim.IssuePAT() })
		if _, err := listAll(ctx, c); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("password", func(t *testing.T) {
		e := newEnv(t, gotosim.Options{})
		e.sim.AddAdmin("admin@contoso.test", "s3cret")
		c := e.client(t, func(c *Config) { c.RefreshToken = ""; c.Username = "admin@contoso.test"; c.Password = "s3cret" })
		me, err := c.Me(ctx)
		if err != nil || me.Email != "admin@contoso.test" || me.AccountKey != e.sim.AccountKey() {
			t.Errorf("Me = %+v, %v", me, err)
		}
		bad := e.client(t, func(c *Config) {
			c.RefreshToken, c.Username, c.Password = "", "admin@contoso.test", "wrong"
			c.TokenStore = &MemoryTokenStore{} // the shared one holds a good token now
		})
		if _, err := bad.Me(ctx); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("bad password: %v", err)
		}
	})
	t.Run("nothing configured", func(t *testing.T) {
		e := newEnv(t, gotosim.Options{})
		c := e.client(t, func(c *Config) { c.RefreshToken = "" })
		if _, err := listAll(ctx, c); !errors.Is(err, ErrNotLoggedIn) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		e := newEnv(t, gotosim.Options{})
		c := e.client(t, func(c *Config) { c.ClientSecret = "nope" })
		if _, err := listAll(ctx, c); !errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrRefreshTokenRejected) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("ExchangePAT for login", func(t *testing.T) {
		e := newEnv(t, gotosim.Options{})
		c := e.client(t, func(c *Config) { c.RefreshToken = "" })
		rt, err := c.ExchangePAT(ctx, e.sim.IssuePAT())
		if stored, _ := e.store.get(); err != nil || rt == "" || stored != rt {
			t.Fatalf("ExchangePAT = %q, %v; stored %q", rt, err, stored)
		}
		if _, err := listAll(ctx, c); err != nil || e.sim.Calls()[gotosim.RouteToken] != 1 {
			t.Errorf("list after login: %v, token calls %d", err, e.sim.Calls()[gotosim.RouteToken])
		}
	})
}

func TestLoginLoopback(t *testing.T) {
	e := newEnv(t, gotosim.Options{})
	cfg := e.config()
	cfg.RefreshToken = ""
	cfg.AuthURL = e.sim.AuthorizeURL()
	// The "browser" trusts the simulator and follows its redirect to the
	// loopback listener.
	browser := &http.Client{Transport: &http.Transport{TLSClientConfig: e.sim.CA().ClientConfig()}}
	var shown string
	rt, err := LoginLoopback(context.Background(), cfg, "127.0.0.1:0", func(u string) {
		shown = u
		resp, err := browser.Get(u)
		if err != nil {
			t.Errorf("browser: %v", err)
			return
		}
		resp.Body.Close()
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(shown, e.sim.AuthorizeURL()+"?") || !strings.Contains(shown, "redirect_uri=http%3A%2F%2F127.0.0.1%3A") {
		t.Errorf("shown URL %s", shown)
	}
	if stored, _ := e.store.get(); stored != rt || !e.sim.RefreshTokenValid(rt) {
		t.Errorf("refresh token %q not stored (%q) or not valid", rt, stored)
	}
	c := e.client(t, func(c *Config) { c.RefreshToken = "" })
	if _, err := listAll(context.Background(), c); err != nil {
		t.Errorf("client after login: %v", err)
	}

	// A redirect with another state is refused.
	_, err = LoginLoopback(context.Background(), cfg, "", func(u string) {
		resp, err := browser.Get(strings.Replace(u, "state=", "state=forged", 1))
		if err == nil {
			resp.Body.Close()
		}
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "another state") {
		t.Errorf("forged state: %v", err)
	}
	// And a person who never comes back is waited for only as long as ctx.
	ctx, cancel := context.WithCancel(context.Background())
	_, err = LoginLoopback(ctx, cfg, "", func(string) { cancel() }, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled login: %v", err)
	}

	// Headless: the person signs in on another machine, whose browser
	// reaches no listener here, and pastes the address it shows.
	noFollow := &http.Client{Transport: browser.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	pasted := make(chan string, 1)
	rt, err = LoginLoopback(context.Background(), cfg, "", func(u string) {
		resp, err := noFollow.Get(u)
		if err != nil {
			t.Errorf("browser: %v", err)
			return
		}
		resp.Body.Close()
		pasted <- "  " + resp.Header.Get("Location") + "\n"
	}, pasted)
	if err != nil || !e.sim.RefreshTokenValid(rt) {
		t.Fatalf("pasted redirect: %q %v", rt, err)
	}
}

func TestLogsCarryNoSecrets(t *testing.T) {
	e := newEnv(t, gotosim.Options{})
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := e.client(t, func(c *Config) { c.Logger = logger })
	ctx := context.Background()
	if _, err := listAll(ctx, c); err != nil {
		t.Fatal(err)
	}
	e.sim.ExpireAccessTokens()
	if _, err := listAll(ctx, c); err != nil {
		t.Fatal(err)
	}
	logger.Info("config", "goto", c.cfg)
	out := buf.String()
	_, saves := e.store.get()
	secrets := append([]string{e.first, e.sim.ClientSecret(), "Bearer"}, saves...)
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("log contains secret %q:\n%s", s, out)
		}
	}
	if !strings.Contains(out, "goto api call") || !strings.Contains(out, "goto token call") || !strings.Contains(out, "status=401") {
		t.Errorf("debug log lacks per-call lines:\n%s", out)
	}
}
