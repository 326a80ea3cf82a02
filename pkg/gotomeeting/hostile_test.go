package gotomeeting

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/g2msync/g2msync/pkg/sim/gotosim"
)

// thief is a server on another port that records whatever reaches it: where
// a redirect would send g2msync's credentials.
func thief(t *testing.T, e *env) (url string, hits *atomic.Int64, seen *atomic.Pointer[string]) {
	t.Helper()
	hits, seen = &atomic.Int64{}, &atomic.Pointer[string]{}
	conf, err := e.sim.CA().ServerConfig("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	url = newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		s := r.Header.Get("Authorization") + " " + string(b)
		seen.Store(&s)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"stolen","token_type":"Bearer","expires_in":3600,"results":[]}`)
	}), conf)
	return url, hits, seen
}

// hostileServer serves h over TLS with the simulator's CA.
func hostileServer(t *testing.T, e *env, h http.HandlerFunc) string {
	t.Helper()
	conf, err := e.sim.CA().ServerConfig("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return newTLSServer(t, h, conf)
}

// A 307 from the token endpoint sent the refresh token and the client id
// and secret (Basic auth) to another host; Admin API redirects sent the
// bearer token to another port and over http.
func TestHostileRedirectsCarryNoCredentials(t *testing.T) {
	for _, target := range []string{"https", "http"} {
		e := newEnv(t, gotosim.Options{})
		steal, hits, seen := thief(t, e)
		if target == "http" {
			steal = "http" + strings.TrimPrefix(steal, "https")
		}
		redirect := hostileServer(t, e, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, steal+r.URL.Path, http.StatusTemporaryRedirect)
		})
		c := e.client(t, func(cfg *Config) { cfg.TokenURL = redirect + "/oauth/token" })
		_, err := listAll(context.Background(), c)
		if err == nil || hits.Load() != 0 || !strings.Contains(err.Error(), "redirect") {
			t.Fatalf("token endpoint redirect to %s: err %v, thief hits %d (%v)", target, err, hits.Load(), seen.Load())
		}
		c = e.client(t, func(cfg *Config) { cfg.APIBaseURL = redirect + "/admin/rest/v1" })
		_, err = listAll(context.Background(), c)
		if err == nil || hits.Load() != 0 || !strings.Contains(err.Error(), "redirect") {
			t.Fatalf("API redirect to %s: err %v, thief hits %d (%v)", target, err, hits.Load(), seen.Load())
		}
	}
}

// Pages without total and with fresh keys every page ran 700 pages without
// end.
func TestHostileEndlessUserPagesStop(t *testing.T) {
	e := newEnv(t, gotosim.Options{})
	var pages atomic.Int64
	api := hostileServer(t, e, func(w http.ResponseWriter, r *http.Request) {
		n := pages.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"results":[{"key":"%d","email":"u%d@x.com"}]}`, n, n)
	})
	c := e.client(t, func(cfg *Config) { cfg.APIBaseURL = api + "/admin/rest/v1"; cfg.MaxListPages = 30 })
	_, err := listAll(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "more than 30 pages") || pages.Load() > 30 {
		t.Fatalf("err %v after %d pages", err, pages.Load())
	}
}

// A huge reply is cut at once, not read whole and not retried.
func TestHostileHugeReplyIsCut(t *testing.T) {
	e := newEnv(t, gotosim.Options{})
	var calls atomic.Int64
	api := hostileServer(t, e, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"results":[{"key":"1","email":"`)
		chunk := []byte(strings.Repeat("a", 1<<20))
		for range 100 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		io.WriteString(w, `"}]}`)
	})
	c := e.client(t, func(cfg *Config) { cfg.APIBaseURL = api + "/admin/rest/v1" })
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := listAll(context.Background(), c)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "larger than g2msync reads (8 MiB)") || calls.Load() != 1 {
		t.Fatalf("err %v after %d calls", err, calls.Load())
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 48<<20 {
		t.Errorf("reading the cut reply allocated %d MiB", grew>>20)
	}
}

// When the reply to a refresh is lost: GoTo documents that it issues a new
// refresh token only once the old one expired, so the old one still works
// and the retry succeeds. Only when GoTo did rotate in the lost reply is the
// token gone, and then the error says so instead of leaving a riddle.
func TestLostTokenReply(t *testing.T) {
	t.Run("no rotation, as GoTo documents", func(t *testing.T) {
		e := newEnv(t, gotosim.Options{RotateRefreshEvery: -1})
		var lost atomic.Bool
		e.transport.lose = func(r *http.Request) bool {
			return strings.HasSuffix(r.URL.Path, "/oauth/token") && lost.CompareAndSwap(false, true)
		}
		if _, err := listAll(context.Background(), e.client(t)); err != nil {
			t.Fatalf("after a lost token reply: %v", err)
		}
	})
	t.Run("rotated in the lost reply", func(t *testing.T) {
		e := newEnv(t, gotosim.Options{RotateRefreshEvery: 1})
		var lost atomic.Bool
		e.transport.lose = func(r *http.Request) bool {
			return strings.HasSuffix(r.URL.Path, "/oauth/token") && lost.CompareAndSwap(false, true)
		}
		_, err := listAll(context.Background(), e.client(t))
		if err == nil || !strings.Contains(err.Error(), "run `g2msync login goto`") || !strings.Contains(err.Error(), "lost in transit") {
			t.Fatalf("err = %v, want the lockout explained", err)
		}
		if tok, _ := e.store.get(); tok != "" && tok != e.first {
			t.Errorf("store holds %q, which no reply delivered", tok)
		}
	})
}

// A server that echoes the request in its error reply: the token endpoint
// repeats the form (refresh_token=…) and the Basic header, the Admin API
// quotes the Authorization header. The texts reached the error, the log,
// and from there the cycle record, /status and mail.
func TestHostileEchoedSecretsAreScrubbed(t *testing.T) {
	echo := func(status int, shape string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			said := fmt.Sprintf("you sent %s with %s", b, r.Header.Get("Authorization"))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			switch shape {
			case "oauth":
				fmt.Fprintf(w, `{"error":"invalid_request","error_description":%q}`, said)
			case "admin":
				fmt.Fprintf(w, `{"incidentId":"i1","errors":[{"code":"bad.request","value":%q}]}`, said)
			default:
				io.WriteString(w, said) // not JSON: the excerpt path
			}
		}
	}
	for _, c := range []struct {
		name  string
		token bool // the token endpoint echoes; else the Admin API does
		shape string
	}{
		{"token endpoint, OAuth error", true, "oauth"},
		{"token endpoint, plain text", true, "plain"},
		{"Admin API, GoTo error", false, "admin"},
		{"Admin API, plain text", false, "plain"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, gotosim.Options{})
			var buf strings.Builder
			logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			srv := hostileServer(t, e, echo(http.StatusBadRequest, c.shape))
			cl := e.client(t, func(cfg *Config) {
				cfg.Logger = logger
				if c.token {
					cfg.TokenURL = srv + "/oauth/token"
				} else {
					cfg.APIBaseURL = srv
				}
			})
			_, err := listAll(context.Background(), cl)
			if err == nil {
				t.Fatal("an echoing server's 400 passed")
			}
			out := err.Error() + "\n" + buf.String()
			basic := base64.StdEncoding.EncodeToString([]byte(cl.cfg.ClientID + ":" + e.sim.ClientSecret()))
			for _, secret := range []string{e.first, e.sim.ClientSecret(), basic, "Bearer at-", "Bearer ey"} {
				if strings.Contains(out, secret) {
					t.Errorf("%q reaches the error or the log:\n%s", secret, out)
				}
			}
			if !strings.Contains(out, "you sent") {
				t.Errorf("the server's words are lost, not just its secrets:\n%s", out)
			}
		})
	}
}
