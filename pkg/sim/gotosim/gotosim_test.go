package gotosim

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
)

func newServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// plainClient trusts the simulator's CA and does not follow redirects.
func plainClient(s *Server) *http.Client {
	return &http.Client{
		Transport:     &http.Transport{TLSClientConfig: s.CA().ClientConfig()},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %d reply %q: %v", r.status, r.body, err)
	}
	return m
}

func do(t testing.TB, c *http.Client, method, u, tok string, body any) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, u, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func tokenCall(t testing.TB, s *Server, c *http.Client, id, secret string, form url.Values) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.TokenURL(), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func grant(t testing.TB, s *Server, c *http.Client, form url.Values) reply {
	t.Helper()
	return tokenCall(t, s, c, s.ClientID(), s.ClientSecret(), form)
}

// getAccessToken obtains an access token through a refresh grant.
func getAccessToken(t testing.TB, s *Server, c *http.Client) string {
	t.Helper()
	r := grant(t, s, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.IssueRefreshToken()}})
	if r.status != http.StatusOK {
		t.Fatalf("refresh grant: %d %s", r.status, r.body)
	}
	return r.json(t)["access_token"].(string)
}

func usersURL(s *Server) string { return s.APIBaseURL() + "/accounts/" + s.AccountKey() + "/users" }

func seedUsers(t testing.TB, s *Server, n int, lic string) []string {
	t.Helper()
	var keys []string
	for i := range n {
		k, err := s.AddUser(User{Email: fmt.Sprintf("user%02d@contoso.test", i), FirstName: "U", LastName: fmt.Sprint(i), LicenseKeys: []string{lic}})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	return keys
}

func errorCode(t testing.TB, r reply) string {
	t.Helper()
	var e struct {
		IncidentID string `json:"incidentId"`
		Errors     []struct {
			Code  string `json:"code"`
			Value string `json:"value"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || len(e.Errors) != 1 || e.IncidentID == "" {
		t.Fatalf("reply %d %q is not the errors shape", r.status, r.body)
	}
	return e.Errors[0].Code + " " + e.Errors[0].Value
}

func TestListPagingFilterAndKeys(t *testing.T) {
	s := newServer(t, Options{RateLimit: -1})
	c := plainClient(s)
	lic, _ := s.AddLicense(License{Seats: 100, Enabled: true})
	keys := seedUsers(t, s, 45, lic)
	tok := getAccessToken(t, s, c)

	var got []string
	for _, off := range []int{0, 20, 40, 60} {
		r := do(t, c, "GET", fmt.Sprintf("%s?pageSize=20&offset=%d", usersURL(s), off), tok, nil)
		if r.status != 200 {
			t.Fatalf("offset %d: %d %s", off, r.status, r.body)
		}
		m := r.json(t)
		if m["total"].(json.Number).String() != "45" || m["fromIndex"].(json.Number).String() != fmt.Sprint(off) {
			t.Errorf("offset %d: total %v fromIndex %v", off, m["total"], m["fromIndex"])
		}
		res := m["results"].([]any)
		if want := fmt.Sprint(off + len(res)); m["toIndex"].(json.Number).String() != want {
			t.Errorf("offset %d: toIndex %v, want exclusive %s", off, m["toIndex"], want)
		}
		for _, u := range res {
			k, ok := u.(map[string]any)["key"].(json.Number)
			if !ok {
				t.Fatalf("key %#v is not a JSON number", u.(map[string]any)["key"])
			}
			got = append(got, k.String())
		}
	}
	if strings.Join(got, ",") != strings.Join(keys, ",") {
		t.Errorf("paged keys differ from seeding order:\n got %v\nwant %v", got, keys)
	}
	if len(keys[0]) < 20 {
		t.Errorf("key %s shorter than 20 digits", keys[0])
	}
	// The documented 26-digit key appears as a bare number on the wire.
	r := do(t, c, "GET", usersURL(s)+"/"+keys[3], tok, nil)
	if !bytes.Contains(r.body, []byte(`"key":`+keys[3])) {
		t.Errorf("GET user body %s lacks bare numeric key %s", r.body, keys[3])
	}

	s.SetToIndexInclusive(true)
	m := do(t, c, "GET", usersURL(s)+"?pageSize=20&offset=40", tok, nil).json(t)
	if m["toIndex"].(json.Number).String() != "44" {
		t.Errorf("inclusive toIndex = %v, want 44", m["toIndex"])
	}

	s.SetKeysAsStrings(true)
	r = do(t, c, "GET", usersURL(s)+"/"+keys[3], tok, nil)
	if !bytes.Contains(r.body, []byte(`"key":"`+keys[3]+`"`)) {
		t.Errorf("with KeysAsStrings, body %s lacks string key", r.body)
	}

	q := url.Values{"filter": {`email eq "USER07@Contoso.TEST"`}}
	m = do(t, c, "GET", usersURL(s)+"?"+q.Encode(), tok, nil).json(t)
	if res := m["results"].([]any); len(res) != 1 || res[0].(map[string]any)["email"] != "user07@contoso.test" {
		t.Errorf("filter results = %v", res)
	}
	q = url.Values{"filter": {`email co "user"`}}
	if r := do(t, c, "GET", usersURL(s)+"?"+q.Encode(), tok, nil); r.status != 400 {
		t.Errorf("unsupported filter: status %d, want 400", r.status)
	}
}

func TestParseFilter(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{`email eq "a@b.com"`, "a@b.com", true},
		{` EMAIL  EQ  "a@b.com" `, "a@b.com", true},
		{`email eq "o\"brien@b.com"`, `o"brien@b.com`, true},
		{`email eq "back\\slash@b.com"`, `back\slash@b.com`, true},
		{`email eq a@b.com`, "", false},
		{`email eq "a"b"`, "", false},
		{`firstName eq "a"`, "", false},
	} {
		got, err := parseFilter(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseFilter(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestCreateIsIdempotentByEmail(t *testing.T) {
	s := newServer(t, Options{RateLimit: -1})
	c := plainClient(s)
	lic, _ := s.AddLicense(License{Seats: 10, Enabled: true})
	old, _ := s.AddUser(User{Email: "Jane@Contoso.test", FirstName: "Jane", LastName: "Old"})
	tok := getAccessToken(t, s, c)

	body := map[string]any{
		"users": []map[string]string{
			{"email": "jane@contoso.test", "firstName": "Jane", "lastName": "New"},
			{"email": "bob@contoso.test", "firstName": "Bob", "lastName": "B", "timeZone": "Europe/Paris"},
		},
		"licenseKeys": []any{json.Number(lic)}, "suppressEmail": true,
	}
	for round := range 2 {
		r := do(t, c, "POST", usersURL(s), tok, body)
		if r.status != 200 {
			t.Fatalf("round %d: %d %s", round, r.status, r.body)
		}
		var got []struct {
			Key   json.Number `json:"key"`
			Email string      `json:"email"`
		}
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		bob, _ := s.UserByEmail("bob@contoso.test")
		if len(got) != 2 || got[0].Key.String() != old || got[1].Key.String() != bob.Key {
			t.Errorf("round %d: reply %s; want jane=%s bob=%s", round, r.body, old, bob.Key)
		}
	}
	if n := len(s.Users()); n != 2 {
		t.Errorf("users = %d, want 2", n)
	}
	jane, _ := s.User(old)
	if jane.LastName != "Old" || len(jane.LicenseKeys) != 0 || jane.Status != StatusSuspended {
		t.Errorf("existing user was modified: %+v", jane)
	}
	bob, _ := s.UserByEmail("BOB@contoso.test")
	if bob.Status != StatusActive || bob.TimeZone != "Europe/Paris" || bob.WelcomeEmail || bob.Products[0] != "G2M" {
		t.Errorf("created user = %+v", bob)
	}

	if r := do(t, c, "POST", usersURL(s)+"?allOrNothing=true", tok, body); r.status != 409 || errorCode(t, r) != "user.email.exists jane@contoso.test" {
		t.Errorf("allOrNothing: %d %s", r.status, r.body)
	}
	s.SetOmitExistingKeys(true)
	r := do(t, c, "POST", usersURL(s), tok, body)
	if bytes.Contains(r.body, []byte(old)) || !bytes.Contains(r.body, []byte("jane@contoso.test")) {
		t.Errorf("legacy reply should omit existing keys: %s", r.body)
	}

	for name, bad := range map[string]string{
		"unknown field":   `{"users":[{"email":"x@y.z","firstName":"X","lastName":"Y"}],"licenceKeys":["1"]}`,
		"no licence/role": `{"users":[{"email":"x@y.z","firstName":"X","lastName":"Y"}]}`,
		"no last name":    `{"users":[{"email":"x@y.z","firstName":"X"}],"adminRoles":["MANAGE_USERS"]}`,
		"empty":           ``,
	} {
		if r := do(t, c, "POST", usersURL(s), tok, bad); r.status != 400 {
			t.Errorf("%s: status %d, want 400 (%s)", name, r.status, r.body)
		}
	}
}

func TestSeatsAreEnforcedAsAWhole(t *testing.T) {
	s := newServer(t, Options{RateLimit: -1})
	c := plainClient(s)
	lic, _ := s.AddLicense(License{Seats: 2, Enabled: true, Description: "G2M Business"})
	first, _ := s.AddUser(User{Email: "a@x.test", FirstName: "A", LastName: "A", LicenseKeys: []string{lic}})
	spare, _ := s.AddUser(User{Email: "s@x.test", FirstName: "S", LastName: "S", AdminRoles: []string{"MANAGE_USERS"}})
	tok := getAccessToken(t, s, c)

	body := fmt.Sprintf(`{"users":[{"email":"b@x.test","firstName":"B","lastName":"B"},{"email":"c@x.test","firstName":"C","lastName":"C"}],"licenseKeys":["%s"]}`, lic)
	r := do(t, c, "POST", usersURL(s), tok, body)
	if r.status != 409 || errorCode(t, r) != "license.seats.exceeded "+lic {
		t.Fatalf("over seats: %d %s", r.status, r.body)
	}
	if len(s.Users()) != 2 {
		t.Errorf("a refused create added users: %d", len(s.Users()))
	}

	put := fmt.Sprintf(`{"licenseKeys":[%s]}`, lic)
	if r := do(t, c, "PUT", usersURL(s)+"/"+spare, tok, put); r.status != 204 {
		t.Fatalf("PUT into last seat: %d %s", r.status, r.body)
	}
	// Re-sending the same licences to a holder needs no extra seat.
	if r := do(t, c, "PUT", usersURL(s)+"/"+first, tok, put); r.status != 204 {
		t.Errorf("idempotent PUT: %d %s", r.status, r.body)
	}
	third, _ := s.AddUser(User{Email: "t@x.test", FirstName: "T", LastName: "T", AdminRoles: []string{"MANAGE_USERS"}})
	if r := do(t, c, "PUT", usersURL(s)+"/"+third, tok, put); r.status != 409 || errorCode(t, r) != "license.seats.exceeded "+lic {
		t.Errorf("PUT over seats: %d %s", r.status, r.body)
	}
	// Disabling frees the seat.
	if r := do(t, c, "PUT", usersURL(s)+"/"+first, tok, `{"licenseKeys":[],"adminRoles":[]}`); r.status != 204 {
		t.Fatal(r.status)
	}
	if u, _ := s.User(first); u.Status != StatusSuspended {
		t.Errorf("disabled user status = %s", u.Status)
	}
	if r := do(t, c, "PUT", usersURL(s)+"/"+third, tok, put); r.status != 204 {
		t.Errorf("PUT after a seat was freed: %d %s", r.status, r.body)
	}
	m := do(t, c, "GET", s.APIBaseURL()+"/accounts/"+s.AccountKey()+"/licenses", tok, nil).json(t)
	l := m["results"].([]any)[0].(map[string]any)
	if l["userCount"].(json.Number).String() != "2" || l["seats"].(json.Number).String() != "2" || len(l["userKeys"].([]any)) != 2 {
		t.Errorf("licence = %v", l)
	}
}

func TestUpdateErrors(t *testing.T) {
	s := newServer(t, Options{RateLimit: -1})
	c := plainClient(s)
	a, _ := s.AddUser(User{Email: "a@x.test", FirstName: "A", LastName: "A"})
	b, _ := s.AddUser(User{Email: "b@x.test", FirstName: "B", LastName: "B", IdentityReadOnly: true})
	tok := getAccessToken(t, s, c)

	for _, tc := range []struct {
		name, key, body string
		status          int
		code            string
	}{
		{"email taken", a, `{"email":"B@X.test"}`, 409, "user.email.exists B@X.test"},
		{"unknown user", "1234567890123456789012", `{"firstName":"Z"}`, 404, "user.not.found 1234567890123456789012"},
		{"key in body", a, `{"key":"1"}`, 400, ""},
		{"read-only identity", b, `{"lastName":"Other"}`, 403, "user.identity.read.only " + b},
		{"unknown licence", a, `{"licenseKeys":["42"]}`, 400, "license.not.found 42"},
	} {
		r := do(t, c, "PUT", usersURL(s)+"/"+tc.key, tok, tc.body)
		if r.status != tc.status {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, r.status, tc.status, r.body)
			continue
		}
		if tc.code != "" && errorCode(t, r) != tc.code {
			t.Errorf("%s: error %q, want %q", tc.name, errorCode(t, r), tc.code)
		}
	}
	if r := do(t, c, "PUT", usersURL(s)+"/"+b, tok, `{"adminRoles":["MANAGE_USERS"]}`); r.status != 204 {
		t.Errorf("roles of a read-only identity are writable: %d", r.status)
	}
	if r := do(t, c, "PUT", usersURL(s)+"/"+a, tok, `{"email":"A2@x.test"}`); r.status != 204 {
		t.Fatal(r.status)
	}
	if _, ok := s.UserByEmail("a2@x.test"); !ok {
		t.Error("renamed user not found by new email")
	}
	if r := do(t, c, "DELETE", usersURL(s)+"/"+a, tok, nil); r.status != 204 {
		t.Fatal(r.status)
	}
	if r := do(t, c, "DELETE", usersURL(s)+"/"+a, tok, nil); r.status != 404 {
		t.Errorf("second delete: %d", r.status)
	}
	if r := do(t, c, "GET", s.APIBaseURL()+"/accounts/999/users", tok, nil); r.status != 403 {
		t.Errorf("foreign account: %d", r.status)
	}
}

func TestRefreshRotation(t *testing.T) {
	s := newServer(t, Options{RateLimit: -1})
	c := plainClient(s)
	r0 := s.IssueRefreshToken()
	r := grant(t, s, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r0}})
	m := r.json(t)
	r1, _ := m["refresh_token"].(string)
	if r.status != 200 || r1 == "" || r1 == r0 || m["token_type"] != "Bearer" || m["expires_in"].(json.Number).String() != "3600" || !strings.HasPrefix(m["scope"].(string), "identity:") {
		t.Fatalf("refresh reply %d %s", r.status, r.body)
	}
	r = grant(t, s, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r0}})
	if r.status != 400 || r.json(t)["error"] != "invalid_grant" {
		t.Errorf("old token: %d %s", r.status, r.body)
	}
	if rej := s.RejectedRefreshTokens(); len(rej) != 1 || rej[0] != r0 {
		t.Errorf("rejected = %v", rej)
	}
	if s.RefreshTokenValid(r0) || !s.RefreshTokenValid(r1) {
		t.Error("validity after rotation is wrong")
	}

	s2 := newServer(t, Options{RateLimit: -1, RotateRefreshEvery: 2})
	c2 := plainClient(s2)
	tok := s2.IssueRefreshToken()
	m = grant(t, s2, c2, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}}).json(t)
	if _, has := m["refresh_token"]; has {
		t.Errorf("first of two refreshes rotated: %v", m)
	}
	m = grant(t, s2, c2, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}}).json(t)
	if nt, _ := m["refresh_token"].(string); nt == "" || nt == tok {
		t.Errorf("second refresh did not rotate: %v", m)
	}
}

func TestGrantsAndClientAuth(t *testing.T) {
	s := newServer(t, Options{RateLimit: -1})
	c := plainClient(s)

	r := tokenCall(t, s, c, s.ClientID(), "wrong", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.IssueRefreshToken()}})
	if r.status != 401 || r.json(t)["error"] != "invalid_client" {
		t.Errorf("bad secret: %d %s", r.status, r.body)
	}
	if r := tokenCall(t, s, c, "", "", url.Values{"grant_type": {"password"}}); r.status != 401 {
		t.Errorf("no client auth: %d", r.status)
	}
	if r := grant(t, s, c, url.Values{"grant_type": {"client_credentials"}}); r.status != 400 || r.json(t)["error"] != "unsupported_grant_type" {
		t.Errorf("client_credentials: %d %s", r.status, r.body)
	}

	s.AddAdmin("boss@contoso.test", "hunter2")
	if r := grant(t, s, c, url.Values{"grant_type": {"password"}, "username": {"boss@contoso.test"}, "password": {"nope"}}); r.status != 400 {
		t.Errorf("bad password: %d", r.status)
	}
	r = grant(t, s, c, url.Values{"grant_type": {"password"}, "username": {"boss@contoso.test"}, "password": {"hunter2"}})
	if m := r.json(t); r.status != 200 || m["principal"] != "boss@contoso.test" || m["refresh_token"] == nil {
		t.Errorf("password grant: %d %s", r.status, r.body)
	}
	me := do(t, c, "GET", s.APIBaseURL()+"/me", r.json(t)["access_token"].(string), nil).json(t)
	if me["accountKey"] != s.AccountKey() || me["email"] != "boss@contoso.test" {
		t.Errorf("/me = %v", me)
	}
	if _, isNum := me["key"].(json.Number); !isNum {
		t.Errorf("/me key %#v is not a number", me["key"])
	}

	if r := grant(t, s, c, url.Values{"grant_type": {"personal_access_token"}, "pat": {s.IssuePAT()}}); r.status != 200 || r.json(t)["refresh_token"] == nil {
		t.Errorf("PAT grant: %d %s", r.status, r.body)
	}
	if r := grant(t, s, c, url.Values{"grant_type": {"personal_access_token"}, "pat": {"forged"}}); r.status != 400 {
		t.Errorf("bad PAT: %d", r.status)
	}

	// Authorization code: auto-approved, bound to redirect_uri, one use.
	redirect := "http://127.0.0.1:9/callback"
	q := url.Values{"client_id": {s.ClientID()}, "response_type": {"code"}, "redirect_uri": {redirect}, "state": {"xyz"}}
	ar := do(t, c, "GET", s.AuthorizeURL()+"?"+q.Encode(), "", nil)
	loc, err := url.Parse(ar.header.Get("Location"))
	if ar.status != http.StatusFound || err != nil || loc.Query().Get("state") != "xyz" || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d %v", ar.status, ar.header)
	}
	code := loc.Query().Get("code")
	if r := grant(t, s, c, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://elsewhere/"}}); r.status != 400 {
		t.Errorf("code with another redirect_uri: %d", r.status)
	}
	ar = do(t, c, "GET", s.AuthorizeURL()+"?"+q.Encode(), "", nil)
	loc, _ = url.Parse(ar.header.Get("Location"))
	code = loc.Query().Get("code")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
	if r := grant(t, s, c, form); r.status != 200 || r.json(t)["refresh_token"] == nil {
		t.Errorf("code exchange: %d %s", r.status, r.body)
	}
	if r := grant(t, s, c, form); r.status != 400 || r.json(t)["error"] != "invalid_grant" {
		t.Errorf("code reuse: %d %s", r.status, r.body)
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestAccessTokensExpireAndBothErrorShapes(t *testing.T) {
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newServer(t, Options{RateLimit: -1, Now: clock.Now, AccessTokenTTL: time.Minute})
	c := plainClient(s)
	tok := getAccessToken(t, s, c)
	if r := do(t, c, "GET", usersURL(s), tok, nil); r.status != 200 {
		t.Fatal(r.status)
	}
	clock.Advance(time.Minute)

	// Rotation: legacy, empty, errors shape, then legacy again.
	var shapes []string
	for range 4 {
		r := do(t, c, "GET", usersURL(s), tok, nil)
		if r.status != 401 {
			t.Fatalf("expired token: %d", r.status)
		}
		switch {
		case bytes.Contains(r.body, []byte(`"int_err_code":"InvalidToken"`)):
			shapes = append(shapes, "legacy")
		case len(r.body) == 0 && r.header.Get("WWW-Authenticate") != "":
			shapes = append(shapes, "empty")
		case strings.HasPrefix(errorCode(t, r), "invalid.token"):
			shapes = append(shapes, "errors")
		default:
			shapes = append(shapes, "other:"+string(r.body))
		}
	}
	if got := strings.Join(shapes, ","); got != "legacy,empty,errors,legacy" {
		t.Errorf("401 shapes = %s", got)
	}

	s.SetAuthErrorShape(AuthErrorEmpty)
	tok = getAccessToken(t, s, c)
	s.ExpireAccessTokens()
	if r := do(t, c, "GET", usersURL(s), tok, nil); r.status != 401 || len(r.body) != 0 {
		t.Errorf("after ExpireAccessTokens: %d %q", r.status, r.body)
	}
	if r := do(t, c, "GET", usersURL(s), "", nil); r.status != 401 {
		t.Errorf("no token: %d", r.status)
	}
	rt := s.IssueRefreshToken()
	s.RevokeAllGrants()
	if r := grant(t, s, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}); r.status != 400 {
		t.Errorf("revoked grant: %d", r.status)
	}
}

func TestRateLimitPerAPI(t *testing.T) {
	s := newServer(t, Options{RateLimit: 5})
	c := plainClient(s)
	tok := getAccessToken(t, s, c) // one OAuth call, from the other bucket

	got429 := 0
	for range 20 {
		r := do(t, c, "GET", usersURL(s), tok, nil)
		if r.status == 429 {
			got429++
			if len(r.body) != 0 || r.header.Get("Retry-After") != "" || r.header.Get("X-RateLimit-Limit") != "" {
				t.Errorf("429 carries a body or rate-limit headers: %v %q", r.header, r.body)
			}
		}
	}
	if got429 == 0 || got429 != s.Throttled() {
		t.Errorf("saw %d 429s, simulator counted %d", got429, s.Throttled())
	}
	if n := s.Calls()[RouteListUsers]; n != 20 {
		t.Errorf("GET /users calls = %d, want 20 (429s included)", n)
	}
	// The OAuth bucket is separate: it still has its burst.
	for range 4 {
		if r := grant(t, s, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.IssueRefreshToken()}}); r.status != 200 {
			t.Errorf("token call throttled by the admin bucket: %d", r.status)
		}
	}

	// A client pacing itself below the rate never sees a 429 (at exactly
	// the rate, the ticker's own lateness would bunch some arrivals).
	s.SetRateLimit(20)
	s.ResetCounters()
	tick := time.NewTicker(time.Second / 16)
	defer tick.Stop()
	for range 30 {
		<-tick.C
		do(t, c, "GET", usersURL(s), tok, nil)
	}
	if n := s.Throttled(); n != 0 {
		t.Errorf("paced client got %d 429s", n)
	}
	if n := s.Calls()[RouteListUsers]; n != 30 {
		t.Errorf("calls after reset = %d", n)
	}
}

func TestFaults(t *testing.T) {
	s := newServer(t, Options{RateLimit: -1})
	c := plainClient(s)
	a, _ := s.AddUser(User{Email: "a@x.test", FirstName: "A", LastName: "A"})
	tok := getAccessToken(t, s, c)

	s.InjectFault(Fault{Method: "GET", Route: RouteGetUser, After: 1, Times: 2, Status: 503})
	var statuses []int
	for range 4 {
		statuses = append(statuses, do(t, c, "GET", usersURL(s)+"/"+a, tok, nil).status)
	}
	if fmt.Sprint(statuses) != "[200 503 503 200]" {
		t.Errorf("statuses = %v", statuses)
	}
	s.ClearFaults()

	s.InjectFault(Fault{Route: "/users/" + a, Truncate: true})
	r := do(t, c, "GET", usersURL(s)+"/"+a, tok, nil)
	if r.status != 200 || json.Valid(r.body) || len(r.body) == 0 {
		t.Errorf("truncated reply: %d %q", r.status, r.body)
	}

	s.InjectFault(Fault{Route: RouteUpdateUser, Hang: 10 * time.Second})
	short := plainClient(s)
	short.Timeout = 200 * time.Millisecond
	req, _ := http.NewRequest("PUT", usersURL(s)+"/"+a, strings.NewReader(`{"firstName":"Hung"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	if _, err := short.Do(req); err == nil {
		t.Fatal("hang did not time the client out")
	}
	// The hung PUT must not apply; the next one (fault spent) does.
	if r := do(t, c, "PUT", usersURL(s)+"/"+a, tok, `{"lastName":"Later"}`); r.status != 204 {
		t.Fatal(r.status)
	}
	if u, _ := s.User(a); u.FirstName != "A" || u.LastName != "Later" {
		t.Errorf("user after hang = %+v", u)
	}
	if n := s.Calls()[RouteUpdateUser]; n != 2 {
		t.Errorf("PUT calls = %d, want 2", n)
	}
	if got := string(s.LastBody(RouteUpdateUser)); got != `{"lastName":"Later"}` {
		t.Errorf("last PUT body = %s", got)
	}

	s.InjectFault(Fault{Route: RouteListUsers, Status: 401, Times: -1})
	s.SetAuthErrorShape(AuthErrorLegacy)
	if r := do(t, c, "GET", usersURL(s), tok, nil); r.status != 401 || !bytes.Contains(r.body, []byte("InvalidToken")) {
		t.Errorf("injected 401: %d %s", r.status, r.body)
	}
}

func TestEditUserAndStatusOverride(t *testing.T) {
	s := newServer(t, Options{RateLimit: -1})
	c := plainClient(s)
	lic, _ := s.AddLicense(License{Seats: 5, Enabled: true})
	a, _ := s.AddUser(User{Email: "a@x.test", FirstName: "A", LastName: "A", LicenseKeys: []string{lic}})
	if err := s.EditUser(a, func(u *User) { u.Status = "PENDING"; u.FirstName = "Edited" }); err != nil {
		t.Fatal(err)
	}
	tok := getAccessToken(t, s, c)
	m := do(t, c, "GET", usersURL(s)+"/"+a, tok, nil).json(t)
	if m["status"] != "PENDING" || m["firstName"] != "Edited" {
		t.Errorf("edited user = %v", m)
	}
	if err := s.EditUser("404", func(*User) {}); err == nil {
		t.Error("editing an unknown user succeeded")
	}
	if !s.DeleteUser(a) || s.DeleteUser(a) {
		t.Error("DeleteUser results wrong")
	}
	if s.Licenses()[0].UserCount != 0 {
		t.Error("deleted user still holds a seat")
	}
}

// TestWindowIsStrict checks the limiter's reading of "N per second": N in
// any one-second window, sliding, where a token bucket with a burst of N
// would let 2N-1 through within one second.
func TestWindowIsStrict(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	w := newWindows(10)[apiAdmin]
	accepted := 0
	for i := range 10 { // a burst of 10 at t0, t0+1ms, …
		if w.allow(at(i)) {
			accepted++
		}
	}
	if accepted != 10 {
		t.Fatalf("burst of 10 at rate 10: %d accepted", accepted)
	}
	// Within the second after the first arrival, nothing more is handled,
	// however the requests are spread (a bucket would have refilled 9).
	for _, ms := range []int{100, 500, 900, 999} {
		if w.allow(at(ms)) {
			t.Errorf("request at +%d ms accepted: 11 within one second", ms)
		}
	}
	// One second after the first, one slot frees; the rejected ones did
	// not take a slot.
	if !w.allow(at(1000)) {
		t.Error("request at +1000 ms refused: the first left the window")
	}
	if w.allow(at(1000)) {
		t.Error("second request at +1000 ms accepted: only one slot freed")
	}

	// Sent exactly 100 ms apart, any arrival 1 ms early bunches 11 into one
	// second: the 11th is refused.
	w = newWindows(10)[apiAdmin]
	for i := range 10 {
		if !w.allow(at(i * 100)) {
			t.Fatalf("request %d at its slot refused", i)
		}
	}
	if w.allow(at(999)) {
		t.Error("11th request 1 ms early accepted")
	}

	// A fractional rate keeps its average with no burst: 2.5/s is 2 per 800 ms.
	w = newWindows(2.5)[apiAdmin]
	if w.n != 2 || w.span != 800*time.Millisecond {
		t.Errorf("rate 2.5: %d per %s, want 2 per 800ms", w.n, w.span)
	}
	if w = newWindows(-1)[apiAdmin]; !w.allow(t0) || w.n != 0 {
		t.Error("negative rate is not unlimited")
	}
}

func TestBulkItems(t *testing.T) {
	for body, want := range map[string]int{
		`{"users":[{"email":"a@x"},{"email":"b@x"}],"licenseKeys":["1"]}`: 2,
		`{"users":[]}`: 0,
		`not json`:     0,
		``:             0,
	} {
		if got := bulkItems([]byte(body)); got != want {
			t.Errorf("bulkItems(%q) = %d, want %d", body, got, want)
		}
	}
}

// WatchWrites tells of each write applied, with the simulator's time, and
// of nothing refused: what `g2msync bench --latency` times a change by.
func TestWatchWritesTellsEachAppliedWrite(t *testing.T) {
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	s := newServer(t, Options{RateLimit: -1, Now: func() time.Time { return at }})
	c := plainClient(s)
	lic, _ := s.AddLicense(License{Seats: 10, Enabled: true})
	tok := getAccessToken(t, s, c)
	var got []Write
	s.WatchWrites(func(w Write) { got = append(got, w) })
	body := map[string]any{"users": []map[string]string{{"email": "bob@contoso.test", "firstName": "Bob", "lastName": "B"}}, "licenseKeys": []any{json.Number(lic)}}
	do(t, c, "POST", usersURL(s), tok, body)
	do(t, c, "POST", usersURL(s), tok, body) // exists: no write
	bob, _ := s.UserByEmail("bob@contoso.test")
	do(t, c, "PUT", usersURL(s)+"/"+bob.Key, tok, map[string]any{"licenseKeys": []any{}})
	do(t, c, "PUT", usersURL(s)+"/nobody", tok, map[string]any{"licenseKeys": []any{}}) // 404
	do(t, c, "DELETE", usersURL(s)+"/"+bob.Key, tok, nil)
	s.WatchWrites(nil)
	do(t, c, "POST", usersURL(s), tok, body)
	want := []Write{
		{At: at, Op: WriteCreate, Key: bob.Key, Email: "bob@contoso.test", Licenses: []string{lic}},
		{At: at, Op: WriteUpdate, Key: bob.Key, Email: "bob@contoso.test", Licenses: nil},
		{At: at, Op: WriteDelete, Key: bob.Key},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("writes:\n got %+v\nwant %+v", got, want)
	}
}
