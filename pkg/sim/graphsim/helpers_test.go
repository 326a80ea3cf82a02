package graphsim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/sim/graphsim"
)

// clock is a settable clock for token, delta and throttling windows.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a simulator with one client app and one enterprise app.
type fixture struct {
	t      *testing.T
	sim    *graphsim.Server
	http   *http.Client
	client string // client id
	secret string
	spID   string
	roleA  string
	roleB  string
	token  string
}

var allPerms = []string{"Application.Read.All", "GroupMember.Read.All", "User.Read.All"}

func newFixture(t *testing.T, opts graphsim.Options, perms ...string) *fixture {
	t.Helper()
	if opts.Seed == 0 {
		opts.Seed = 42
	}
	sim, err := graphsim.New(opts)
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(sim.Close)
	if perms == nil {
		perms = allPerms
	}
	f := &fixture{
		t:      t,
		sim:    sim,
		http:   &http.Client{Transport: &http.Transport{TLSClientConfig: sim.CA().ClientConfig()}, Timeout: 30 * time.Second},
		secret: "s3cret",
	}
	t.Cleanup(f.http.CloseIdleConnections)
	f.client, err = sim.AddApp(graphsim.App{DisplayName: "g2msync", Secrets: []string{f.secret}, Permissions: perms})
	if err != nil {
		t.Fatalf("add app: %v", err)
	}
	f.spID, err = sim.AddServicePrincipal(graphsim.ServicePrincipal{
		DisplayName: "GoToMeeting",
		AppRoles:    []graphsim.AppRole{{Value: "User", DisplayName: "User"}, {Value: "Admin", DisplayName: "Admin"}},
	})
	if err != nil {
		t.Fatalf("add service principal: %v", err)
	}
	roles, err := sim.AppRoles(f.spID)
	if err != nil {
		t.Fatal(err)
	}
	f.roleA, f.roleB = roles[0].ID, roles[1].ID
	return f
}

// tokenFor gets an access token with the client secret.
func (f *fixture) tokenFor(clientID, secret string) (int, map[string]any) {
	f.t.Helper()
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {clientID},
		"client_secret": {secret},
		"scope":         {f.sim.URL() + "/.default"},
	}
	res, err := f.http.PostForm(f.sim.URL()+"/"+f.sim.TenantID()+"/oauth2/v2.0/token", form)
	if err != nil {
		f.t.Fatalf("token request: %v", err)
	}
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		f.t.Fatalf("decode token reply: %v", err)
	}
	return res.StatusCode, body
}

func (f *fixture) login() {
	f.t.Helper()
	st, body := f.tokenFor(f.client, f.secret)
	if st != http.StatusOK {
		f.t.Fatalf("token: %d %v", st, body)
	}
	f.token = body["access_token"].(string)
}

// reply is a decoded response.
type reply struct {
	status int
	header http.Header
	body   map[string]any
}

func (r reply) errorCode() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (r reply) value() []map[string]any {
	raw, _ := r.body["value"].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, v := range raw {
		out = append(out, v.(map[string]any))
	}
	return out
}

// do calls the simulator; path is relative to the Graph base URL unless it
// is absolute.
func (f *fixture) do(method, path string, body any, hdr ...string) reply {
	f.t.Helper()
	u := path
	if !strings.HasPrefix(path, "https://") {
		u = f.sim.GraphBaseURL() + path
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if f.token != "" {
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := f.http.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatalf("%s %s: read body: %v", method, u, err)
	}
	out := reply{status: res.StatusCode, header: res.Header}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			f.t.Fatalf("%s %s: decode %q: %v", method, u, raw, err)
		}
	}
	return out
}

func (f *fixture) get(path string, hdr ...string) reply {
	return f.do(http.MethodGet, path, nil, hdr...)
}

// all follows nextLinks from path and returns every item and the number of pages.
func (f *fixture) all(path string) ([]map[string]any, int) {
	f.t.Helper()
	var items []map[string]any
	pages := 0
	for next := path; next != ""; {
		r := f.get(next)
		if r.status != http.StatusOK {
			f.t.Fatalf("GET %s: %d %v", next, r.status, r.body)
		}
		pages++
		items = append(items, r.value()...)
		next, _ = r.body["@odata.nextLink"].(string)
	}
	return items, pages
}

// addUsers adds n users named prefix-i.
func (f *fixture) addUsers(prefix string, n int) []string {
	f.t.Helper()
	ids := make([]string, n)
	for i := range n {
		id, err := f.sim.AddUser(graphsim.User{
			UserPrincipalName: fmt.Sprintf("%s%d@contoso.com", prefix, i),
			DisplayName:       fmt.Sprintf("%s %d", prefix, i),
			GivenName:         prefix,
			Surname:           fmt.Sprint(i),
			Mail:              fmt.Sprintf("%s%d@contoso.com", prefix, i),
			Department:        "Sales",
		})
		if err != nil {
			f.t.Fatal(err)
		}
		ids[i] = id
	}
	return ids
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
