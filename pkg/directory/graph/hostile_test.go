package graph_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/directory/graph"
	"github.com/g2msync/g2msync/pkg/sim/graphsim"
)

// hostile is an HTTPS server that stands where Graph or Entra should be
// and misbehaves on purpose. It forwards to graphsim (rewriting graphsim's
// own address in replies to its own, so paging stays on it), unless handle
// answers a request itself; rewrite may change graphsim's reply bodies.
type hostile struct {
	t        *testing.T
	srv      *httptest.Server
	upstream string
	handle   atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
	rewrite  atomic.Pointer[func(r *http.Request, body []byte) []byte]
}

func newHostile(t *testing.T, tn *tenant) *hostile {
	t.Helper()
	h := &hostile{t: t, upstream: strings.TrimSuffix(tn.sim.URL(), "/")}
	up, err := url.Parse(h.upstream)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(up)
	proxy.Transport = &http.Transport{TLSClientConfig: tn.sim.CA().ClientConfig()}
	director := proxy.Director
	proxy.Director = func(r *http.Request) {
		director(r)
		r.Host = up.Host
		r.Header.Del("Accept-Encoding") // plain replies, to rewrite them
	}
	proxy.ModifyResponse = func(res *http.Response) error {
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return err
		}
		body = bytes.ReplaceAll(body, []byte(h.upstream), []byte(h.srv.URL))
		if rw := h.rewrite.Load(); rw != nil {
			body = (*rw)(res.Request, body)
		}
		res.Body = io.NopCloser(bytes.NewReader(body))
		res.ContentLength = int64(len(body))
		res.Header.Del("Content-Length")
		return nil
	}
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hd := h.handle.Load(); hd != nil && (*hd)(w, r) {
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	cfg, err := tn.sim.CA().ServerConfig("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	h.srv.TLS = cfg
	h.srv.StartTLS()
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hostile) onRequest(fn func(w http.ResponseWriter, r *http.Request) bool) {
	h.handle.Store(&fn)
}
func (h *hostile) onReply(fn func(r *http.Request, body []byte) []byte) { h.rewrite.Store(&fn) }

// sink is another HTTPS server on loopback that records what reaches it:
// where a redirect or a foreign nextLink would take g2msync's requests.
type sink struct {
	srv    *httptest.Server
	hits   atomic.Int64
	bodies atomic.Pointer[string]
}

func newSink(t *testing.T, tn *tenant, reply string) *sink {
	t.Helper()
	s := &sink{}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		got := r.Header.Get("Authorization") + "|" + string(b)
		s.bodies.Store(&got)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, reply)
	}))
	cfg, err := tn.sim.CA().ServerConfig("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	s.srv.TLS = cfg
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	return s
}

// viaHostile returns the tenant's config with Graph (and, if entra, the
// Entra authority) behind h.
func (tn *tenant) viaHostile(h *hostile, entra bool) graph.Config {
	cfg := tn.config()
	cfg.Cloud.GraphBaseURL = h.srv.URL + "/v1.0"
	cfg.Scope = tn.sim.URL() + "/.default" // the token is graphsim's, as the proxy forwards to it
	if entra {
		cfg.Cloud.AuthorityHost = h.srv.URL + "/"
	}
	return cfg
}

// salesTenant is a tenant whose app is assigned one group of n users.
func salesTenant(t *testing.T, n int) (*tenant, string) {
	tn := newTenant(t, graphsim.Options{})
	gid := tn.must1(tn.sim.AddGroup(graphsim.Group{DisplayName: "Sales"}))
	tn.must(tn.sim.AddMembers(gid, tn.users("u", n)...))
	tn.must1(tn.sim.Assign(tn.spID, gid, tn.roleU))
	return tn, gid
}

func isMembers(r *http.Request) bool { return strings.Contains(r.URL.Path, "/members") }

// A null accountEnabled is unknown, not false: taken as false it planned
// disables (held back only by the threshold).
func TestHostileNullAccountEnabledRefusesTheRead(t *testing.T) {
	tn, _ := salesTenant(t, 3)
	_, err := rewrittenRead(tn, newHostile(t, tn), isMembers, `"accountEnabled":true`, `"accountEnabled":null`)
	if err == nil || !strings.Contains(err.Error(), `accountEnabled null, not true or false`) {
		t.Fatalf("err = %v, want the read refused over accountEnabled null", err)
	}
}

// A nextLink to another origin was followed, and a foreign empty page taken
// as the end of the group: 31 disables staged.
func TestHostileForeignNextLinkIsRefused(t *testing.T) {
	tn, _ := salesTenant(t, 1200) // two pages of members
	h := newHostile(t, tn)
	other := newSink(t, tn, `{"value":[]}`)
	h.onReply(func(r *http.Request, body []byte) []byte {
		if isMembers(r) {
			return bytes.ReplaceAll(body, []byte(h.srv.URL), []byte(other.srv.URL))
		}
		return body
	})
	_, err := tn.read(tn.viaHostile(h, false))
	if err == nil || !strings.Contains(err.Error(), "@odata.nextLink") || !strings.Contains(err.Error(), "another origin") {
		t.Fatalf("err = %v, want the foreign nextLink refused", err)
	}
	if other.hits.Load() != 0 {
		t.Errorf("the foreign host got %d requests", other.hits.Load())
	}
}

// A nextLink that points at the page itself ran 51,056 pages in 40 s.
func TestHostilePagingLoopsAndEndlessPagesStop(t *testing.T) {
	tn, _ := salesTenant(t, 2)
	h := newHostile(t, tn)
	var pages atomic.Int64
	h.onReply(func(r *http.Request, body []byte) []byte {
		if !isMembers(r) {
			return body
		}
		pages.Add(1)
		next := h.srv.URL + r.URL.RequestURI() // the same page again
		return bytes.Replace(body, []byte(`"value":[`), []byte(`"@odata.nextLink":"`+next+`","value":[`), 1)
	})
	_, err := tn.read(tn.viaHostile(h, false))
	if err == nil || !strings.Contains(err.Error(), "repeats an earlier page") || pages.Load() > 2 {
		t.Fatalf("self-referencing nextLink: err %v after %d pages", err, pages.Load())
	}
	// Pages without end, each with a fresh link, as a broken or hostile
	// server could serve them.
	pages.Store(0)
	h.onRequest(func(w http.ResponseWriter, r *http.Request) bool {
		if !isMembers(r) {
			return false
		}
		n := pages.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"@odata.nextLink":"%s%s?$skiptoken=p%d","value":[{"id":"00000000-0000-4000-8000-%012d","userPrincipalName":"u%d@x.com","accountEnabled":true}]}`,
			h.srv.URL, r.URL.Path, n, n, n)
		return true
	})
	cfg := tn.viaHostile(h, false)
	cfg.MaxPages = 50
	_, err = tn.read(cfg)
	if err == nil || !strings.Contains(err.Error(), "more than 50 pages") || pages.Load() > 50 {
		t.Fatalf("endless fresh pages: err %v after %d pages", err, pages.Load())
	}
}

// A 500 MiB reply, or a small gzip bomb, took the process to 3.3 GB.
func TestHostileHugeRepliesAreCut(t *testing.T) {
	tn, _ := salesTenant(t, 2)
	h := newHostile(t, tn)
	h.onRequest(func(w http.ResponseWriter, r *http.Request) bool {
		if !isMembers(r) {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"value":[{"id":"`)
		chunk := bytes.Repeat([]byte("a"), 1<<20)
		for range 100 { // 100 MiB, more than any page of 999 users
			if _, err := w.Write(chunk); err != nil {
				return true
			}
		}
		io.WriteString(w, `"}]}`)
		return true
	})
	cfg := tn.viaHostile(h, false)
	cfg.MaxReplyBytes = 8 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := tn.read(cfg)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "larger than 8 MiB") {
		t.Fatalf("err = %v, want the reply cut at 8 MiB", err)
	}
	if grew := int64(after.TotalAlloc) - int64(before.TotalAlloc); grew > 64<<20 {
		t.Errorf("reading the cut reply allocated %d MiB", grew>>20)
	}
}

// A redirect must never carry credentials to another origin or to http: the
// Entra token request sent the client secret, Graph calls the bearer token.
func TestHostileRedirectsCarryNoCredentials(t *testing.T) {
	tn, _ := salesTenant(t, 2)
	h := newHostile(t, tn)
	thief := newSink(t, tn, `{"access_token":"x","expires_in":3600,"token_type":"Bearer"}`)
	h.onRequest(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
			http.Redirect(w, r, thief.srv.URL+"/steal", http.StatusTemporaryRedirect)
			return true
		}
		return false
	})
	_, err := tn.read(tn.viaHostile(h, true))
	if err == nil || thief.hits.Load() != 0 {
		t.Fatalf("token redirect: err %v, thief hits %d", err, thief.hits.Load())
	}
	if !strings.Contains(err.Error(), "redirect") {
		t.Errorf("the error does not say a redirect was refused: %v", err)
	}
	h.onRequest(func(w http.ResponseWriter, r *http.Request) bool {
		if isMembers(r) {
			http.Redirect(w, r, thief.srv.URL+"/steal", http.StatusTemporaryRedirect)
			return true
		}
		return false
	})
	_, err = tn.read(tn.viaHostile(h, false))
	if err == nil || thief.hits.Load() != 0 || !strings.Contains(err.Error(), "redirect") {
		t.Fatalf("graph redirect: err %v, thief hits %d", err, thief.hits.Load())
	}
}

// An Entra token endpoint that repeats the request in its
// error_description printed client_secret=… in check, in the cycle's error
// and its log lines; a Graph reply quoting the Authorization header printed
// the bearer token.
func TestHostileEchoedSecretsAreScrubbed(t *testing.T) {
	tn, _ := salesTenant(t, 2)
	h := newHostile(t, tn)
	secret := tn.config().ClientSecret
	for _, c := range []struct {
		name  string
		entra bool
		match func(*http.Request) bool
		reply func(r *http.Request, form string) string
	}{
		{"Entra echoes the form", true, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") },
			func(_ *http.Request, form string) string {
				return fmt.Sprintf(`{"error":"invalid_request","error_description":"AADSTS900144: you sent %s.\r\nTrace ID: 1","error_codes":[900144]}`, form)
			}},
		{"Graph quotes the bearer token", false, isMembers,
			func(r *http.Request, _ string) string {
				return fmt.Sprintf(`{"error":{"code":"BadRequest","message":"header %s is malformed"}}`, r.Header.Get("Authorization"))
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var bearer atomic.Pointer[string]
			h.onRequest(func(w http.ResponseWriter, r *http.Request) bool {
				if !c.match(r) {
					return false
				}
				b, _ := io.ReadAll(r.Body)
				a := r.Header.Get("Authorization")
				bearer.Store(&a)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, c.reply(r, string(b)))
				return true
			})
			_, err := tn.read(tn.viaHostile(h, c.entra))
			if err == nil {
				t.Fatal("the echoing 400 passed")
			}
			leaks := []string{secret, url.QueryEscape(secret)}
			if b := bearer.Load(); b != nil && len(*b) > len("Bearer ") {
				leaks = append(leaks, strings.TrimPrefix(*b, "Bearer "))
			}
			for _, l := range leaks {
				if strings.Contains(err.Error(), l) {
					t.Errorf("%q reaches the error: %v", l, err)
				}
			}
			if !strings.Contains(err.Error(), "you sent") && !strings.Contains(err.Error(), "malformed") {
				t.Errorf("the reply's words are lost: %v", err)
			}
		})
	}
}

// rewrittenRead reads the tenant through h, each reply to a request that
// match selects with its first from replaced by to.
func rewrittenRead(tn *tenant, h *hostile, match func(*http.Request) bool, from, to string) (*directory.Snapshot, error) {
	h.onReply(func(r *http.Request, body []byte) []byte {
		if match(r) {
			return bytes.Replace(body, []byte(from), []byte(to), 1)
		}
		return body
	})
	return tn.read(tn.viaHostile(h, false))
}

func isAssignments(r *http.Request) bool { return strings.Contains(r.URL.Path, "/appRoleAssignedTo") }

// The assignment pages are decoded without kiota's models: a page with no
// value collection is refused, not taken for a page that assigns no one
// (which the SDK's models did: everyone assigned through it looked
// unassigned).
func TestHostileAssignmentPageWithoutValueRefusesTheRead(t *testing.T) {
	tn, _ := salesTenant(t, 3)
	snap, err := rewrittenRead(tn, newHostile(t, tn), isAssignments, `"value":`, `"values":`)
	if err == nil || !strings.Contains(err.Error(), "no value collection") || !strings.Contains(err.Error(), "list assignments") {
		t.Fatalf("err = %v (%d users read), want the page refused", err, len(usersOf(snap)))
	}
}

// An id that is not a GUID, or a value of the wrong type, fails the page
// with the operation named; a GUID in upper case is read in the canonical
// form, as Graph's own are, so the same person is the same key.
func TestHostileAssignmentIDs(t *testing.T) {
	tn, gid := salesTenant(t, 3)
	want, err := tn.read(tn.config())
	if err != nil {
		t.Fatal(err)
	}
	h := newHostile(t, tn)
	for _, c := range []struct {
		name, from, to, wantErr string
	}{
		{"principal id not a GUID", `"principalId":"` + gid + `"`, `"principalId":"../../users/x"`, `principalId: "../../users/x" is not a GUID`},
		{"role id a number", `"appRoleId":"`, `"appRoleId":7,"x":"`, "list assignments"},
		{"upper case", `"principalId":"` + gid + `"`, `"principalId":"` + strings.ToUpper(gid) + `"`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := rewrittenRead(tn, h, isAssignments, c.from, c.to)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Groups) != 1 || got.Groups[0].ID != gid || len(got.Users) != len(want.Users) {
				t.Fatalf("read %+v and %d users, want group %s and %d users", got.Groups, len(got.Users), gid, len(want.Users))
			}
		})
	}
}

func usersOf(s *directory.Snapshot) []directory.User {
	if s == nil {
		return nil
	}
	return s.Users
}
