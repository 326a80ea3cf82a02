package gotomeeting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/g2msync/g2msync/pkg/sim/gotosim"
)

func TestListUsersPaging(t *testing.T) {
	for _, tc := range []struct {
		name      string
		users     int
		pageSize  int
		maxPage   int // server cap below the requested page size
		inclusive bool
		strings   bool
		wantCalls int
	}{
		{name: "empty account", users: 0, pageSize: 5, wantCalls: 1},
		{name: "one short page", users: 3, pageSize: 5, wantCalls: 1},
		{name: "exactly one page", users: 5, pageSize: 5, wantCalls: 1},
		{name: "exact multiple", users: 10, pageSize: 5, wantCalls: 2},
		{name: "exact multiple, inclusive toIndex", users: 10, pageSize: 5, inclusive: true, wantCalls: 2},
		{name: "remainder, inclusive toIndex", users: 12, pageSize: 5, inclusive: true, wantCalls: 3},
		{name: "server caps page size", users: 10, pageSize: 5, maxPage: 3, wantCalls: 4},
		{name: "keys as strings", users: 7, pageSize: 5, strings: true, wantCalls: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, gotosim.Options{ToIndexInclusive: tc.inclusive, KeysAsStrings: tc.strings, MaxPageSize: tc.maxPage})
			lic := e.license(t, 100)
			for i := range tc.users {
				e.user(t, gotosim.User{Email: fmt.Sprintf("u%02d@contoso.test", i), FirstName: "U", LastName: "L", LicenseKeys: []string{lic}})
			}
			c := e.client(t, func(c *Config) { c.PageSize = tc.pageSize })
			got, err := listAll(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			var want []User
			for _, u := range e.sim.Users() {
				want = append(want, User{Key: u.Key, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
					Status: u.Status, Licenses: u.LicenseKeys, AdminRoles: u.AdminRoles, Products: u.Products})
			}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })); diff != "" {
				t.Errorf("ListUsers (-want +got):\n%s", diff)
			}
			if n := e.sim.Calls()[gotosim.RouteListUsers]; n != tc.wantCalls {
				t.Errorf("GET /users calls = %d, want %d", n, tc.wantCalls)
			}
		})
	}
}

// listAll collects what ListUsers passes, as a caller keeping whole Users
// would.
func listAll(ctx context.Context, c *Client) ([]User, error) {
	var out []User
	err := c.ListUsers(ctx, func(u User) error {
		out = append(out, u)
		return nil
	})
	return out, err
}

// A caller that stops the listing stops its calls: the rest of the pages
// are not fetched, and its error comes back unchanged.
func TestListUsersStopsWhenTheCallerDoes(t *testing.T) {
	e := newEnv(t, gotosim.Options{})
	lic := e.license(t, 100)
	for i := range 12 {
		e.user(t, gotosim.User{Email: fmt.Sprintf("u%02d@contoso.test", i), FirstName: "U", LastName: "L", LicenseKeys: []string{lic}})
	}
	c := e.client(t, func(c *Config) { c.PageSize = 5 })
	stop := errors.New("enough")
	seen := 0
	err := c.ListUsers(context.Background(), func(User) error {
		if seen++; seen == 7 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Errorf("err = %v, want the caller's own", err)
	}
	if n := e.sim.Calls()[gotosim.RouteListUsers]; n != 2 || seen != 7 {
		t.Errorf("%d pages fetched and %d users passed, want 2 and 7", n, seen)
	}
}

// fakeAPI serves one odd Admin API reply shape over TLS, for the liberal
// decoding the simulator (strict in what it sends) never produces.
func fakeAPI(t *testing.T, handler http.HandlerFunc) *Client {
	t.Helper()
	e := newEnv(t, gotosim.Options{})
	mux := http.NewServeMux()
	mux.HandleFunc("/", handler)
	ca := e.sim.CA()
	tlsConf, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	srv := newTLSServer(t, mux, tlsConf)
	return e.client(t, func(c *Config) { c.APIBaseURL = srv + "/admin/rest/v1"; c.AccountKey = "1" })
}

func TestLiberalDecoding(t *testing.T) {
	ctx := context.Background()
	t.Run("no total: stop on the empty page", func(t *testing.T) {
		calls := 0
		c := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
			calls++
			switch r.URL.Query().Get("offset") {
			case "0":
				fmt.Fprint(w, `{"results":[{"key":78888886011013972886849029,"email":"a@x","status":"PENDING","licenseKeys":["5"]},{"userKey":"2","email":"b@x"}]}`)
			default:
				fmt.Fprint(w, `{"results":[]}`)
			}
		})
		got, err := listAll(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		want := []User{{Key: "78888886011013972886849029", Email: "a@x", Status: "PENDING", Licenses: []string{"5"}}, {Key: "2", Email: "b@x"}}
		if diff := cmp.Diff(want, got); diff != "" || calls != 2 {
			t.Errorf("calls %d, users (-want +got):\n%s", calls, diff)
		}
	})
	t.Run("server ignores offset", func(t *testing.T) {
		c := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"results":[{"key":1,"email":"a@x"}],"total":"5"}`)
		})
		if _, err := listAll(ctx, c); err == nil || !strings.Contains(err.Error(), "paging does not advance") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("create reply wrapped, PUT with a JSON body", func(t *testing.T) {
		c := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
			switch r.Method {
			case "POST":
				w.WriteHeader(http.StatusCreated)
				fmt.Fprint(w, `{"users":[{"userKey":12345678901234567890123,"email":"a@x"}]}`)
			case "PUT":
				w.WriteHeader(http.StatusOK)
				fmt.Fprint(w, `{"key":1,"email":"a@x"}`)
			}
		})
		got, err := c.CreateUsers(ctx, CreateRequest{Users: []NewUser{{Email: "a@x", FirstName: "A", LastName: "B"}}, LicenseKeys: []string{"1"}})
		if err != nil || len(got) != 1 || got[0].Key != "12345678901234567890123" {
			t.Errorf("CreateUsers = %v, %v", got, err)
		}
		if err := c.UpdateUser(ctx, "1", Update{FirstName: ptr("Z")}); err != nil {
			t.Errorf("UpdateUser with 200 and JSON: %v", err)
		}
	})
	t.Run("licences as a bare array, enabled absent", func(t *testing.T) {
		c := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `[{"key":"77","seats":"10","userCount":3,"products":["G2M"]}]`)
		})
		got, err := c.Licenses(ctx)
		want := []License{{Key: "77", Enabled: true, Seats: 10, UserCount: 3, Products: []string{"G2M"}}}
		if diff := cmp.Diff(want, got); err != nil || diff != "" {
			t.Errorf("Licenses: %v (-want +got):\n%s", err, diff)
		}
	})
}

func TestFindUsersByEmail(t *testing.T) {
	e := newEnv(t, gotosim.Options{})
	want := e.user(t, gotosim.User{Email: "O'Brien.Quote\"d@Contoso.test", FirstName: "O", LastName: "B"})
	e.user(t, gotosim.User{Email: "other@contoso.test", FirstName: "O", LastName: "B"})
	c := e.client(t)
	got, err := c.FindUsersByEmail(context.Background(), "o'brien.quote\"d@contoso.TEST")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Key != want {
		t.Errorf("found %v, want key %s", got, want)
	}
	got, err = c.FindUsersByEmail(context.Background(), "nobody@contoso.test")
	if err != nil || len(got) != 0 {
		t.Errorf("unknown email: %v, %v", got, err)
	}
}

func TestFilterEmailQuoting(t *testing.T) {
	for in, want := range map[string]string{
		"a@b.com":         `email eq "a@b.com"`,
		`o"b@c.com`:       `email eq "o\"b@c.com"`,
		`back\slash@c.om`: `email eq "back\\slash@c.om"`,
	} {
		if got := filterEmail(in); got != want {
			t.Errorf("filterEmail(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestBigKeysSurviveBothEncodings(t *testing.T) {
	for _, asStrings := range []bool{false, true} {
		e := newEnv(t, gotosim.Options{KeysAsStrings: asStrings})
		lic := e.license(t, 5)
		key := e.user(t, gotosim.User{Key: "78888886011013972886849029", Email: "a@x.test", FirstName: "A", LastName: "B", LicenseKeys: []string{lic}})
		c := e.client(t, func(c *Config) { c.AccountKey = "" }) // from /me
		u, err := c.GetUser(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		if u.Key != "78888886011013972886849029" || !slices.Equal(u.Licenses, []string{lic}) || len(lic) < 20 {
			t.Errorf("strings=%v: user %+v, licence %s", asStrings, u, lic)
		}
		ls, err := c.Licenses(context.Background())
		if err != nil || len(ls) != 1 || ls[0].Key != lic || ls[0].Free() != 4 {
			t.Errorf("licences %+v, %v", ls, err)
		}
		if n := e.sim.Calls()[gotosim.RouteMe]; n != 1 {
			t.Errorf("GET /me calls = %d, want 1 (account key cached)", n)
		}
	}
}

func TestFlexKey(t *testing.T) {
	for in, want := range map[string]string{
		`78888886011013972886849029`:   "78888886011013972886849029",
		`"78888886011013972886849029"`: "78888886011013972886849029",
		`12.0`:                         "12",
		`null`:                         "",
	} {
		var k flexKey
		if err := json.Unmarshal([]byte(in), &k); err != nil || string(k) != want {
			t.Errorf("flexKey(%s) = %q, %v; want %q", in, k, err, want)
		}
	}
	for _, bad := range []string{`7.8888886011013972e+25`, `-1`, `true`} {
		var k flexKey
		if err := json.Unmarshal([]byte(bad), &k); err == nil {
			t.Errorf("flexKey(%s) = %q, want an error", bad, k)
		}
	}
}

func TestCreateUsersOnePostIdempotent(t *testing.T) {
	e := newEnv(t, gotosim.Options{})
	lic := e.license(t, 10)
	existing := e.user(t, gotosim.User{Email: "Jane.Doe@Contoso.test", FirstName: "Jane", LastName: "Doe"})
	c := e.client(t)
	req := CreateRequest{
		Users: []NewUser{
			{Email: "jane.doe@contoso.test", FirstName: "Jane", LastName: "Doe"},
			{Email: "bob@contoso.test", FirstName: "Bob", LastName: "B", Locale: "fr_FR"},
			{Email: "eve@contoso.test", FirstName: "Eve", LastName: "E", TimeZone: "Europe/Berlin"},
		},
		LicenseKeys: []string{lic}, SuppressEmail: true,
	}
	first, err := c.CreateUsers(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.sim.Calls()[gotosim.RouteCreateUsers]; n != 1 {
		t.Errorf("POST /users calls = %d, want 1", n)
	}
	if !strings.Contains(string(e.sim.LastBody(gotosim.RouteCreateUsers)), `"licenseKeys":[`+lic+`]`) {
		t.Errorf("licence keys not sent as bare numbers: %s", e.sim.LastBody(gotosim.RouteCreateUsers))
	}
	if len(first) != 3 || first[0].Key != existing {
		t.Fatalf("created %+v; existing jane is %s", first, existing)
	}
	for _, cr := range first[1:] {
		u, ok := e.sim.User(cr.Key)
		if !ok || !strings.EqualFold(u.Email, cr.Email) || u.Status != gotosim.StatusActive || u.WelcomeEmail {
			t.Errorf("created %+v is %+v in the simulator", cr, u)
		}
	}
	bob, _ := e.sim.UserByEmail("bob@contoso.test")
	eve, _ := e.sim.UserByEmail("eve@contoso.test")
	if bob.Locale != "fr_FR" || eve.TimeZone != "Europe/Berlin" {
		t.Errorf("optional fields lost: %+v %+v", bob, eve)
	}

	// Repeating the call (a retry after a crash) creates nothing new.
	e.sim.SetOmitExistingKeys(true) // and copes with GoTo's legacy keyless reply
	again, err := c.CreateUsers(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(keysOf(first), keysOf(again)); diff != "" {
		t.Errorf("keys differ on repeat (-first +again):\n%s", diff)
	}
	if n := len(e.sim.Users()); n != 3 {
		t.Errorf("users = %d, want 3", n)
	}
	if u, _ := e.sim.User(existing); u.Status != gotosim.StatusSuspended {
		t.Errorf("existing user was modified: %+v", u)
	}
	if got, err := c.CreateUsers(context.Background(), CreateRequest{}); err != nil || got != nil {
		t.Errorf("empty create = %v, %v", got, err)
	}
	if n := e.sim.Calls()[gotosim.RouteCreateUsers]; n != 2 {
		t.Errorf("POST /users calls = %d, want 2", n)
	}
}

func keysOf(cs []Created) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Key)
	}
	return out
}

func TestUpdateSendsOnlyChangedFields(t *testing.T) {
	e := newEnv(t, gotosim.Options{})
	lic := e.license(t, 10)
	key := e.user(t, gotosim.User{Email: "a@x.test", FirstName: "A", LastName: "B", Locale: "en_US", LicenseKeys: []string{lic}, AdminRoles: []string{"MANAGE_USERS"}})
	c := e.client(t)
	ctx := context.Background()
	lastPut := func() string { return string(e.sim.LastBody(gotosim.RouteUpdateUser)) }

	if err := c.UpdateUser(ctx, key, Update{FirstName: ptr("Ann")}); err != nil {
		t.Fatal(err)
	}
	if got := lastPut(); got != `{"firstName":"Ann"}` {
		t.Errorf("PUT body = %s", got)
	}
	u, _ := e.sim.User(key)
	if u.FirstName != "Ann" || u.LastName != "B" || u.Locale != "en_US" || len(u.LicenseKeys) != 1 {
		t.Errorf("after name change: %+v", u)
	}

	if err := c.Disable(ctx, key); err != nil {
		t.Fatal(err)
	}
	if got := lastPut(); got != `{"adminRoles":[],"licenseKeys":[]}` {
		t.Errorf("disable body = %s", got)
	}
	if u, _ := e.sim.User(key); u.Status != gotosim.StatusSuspended {
		t.Errorf("disabled user status = %s", u.Status)
	}

	if err := c.Enable(ctx, key, []string{lic}, nil); err != nil {
		t.Fatal(err)
	}
	if got := lastPut(); got != `{"adminRoles":[],"licenseKeys":[`+lic+`]}` {
		t.Errorf("enable body = %s", got)
	}
	if u, _ := e.sim.User(key); u.Status != gotosim.StatusActive || !slices.Equal(u.LicenseKeys, []string{lic}) {
		t.Errorf("re-enabled user = %+v", u)
	}

	before := e.sim.Calls()[gotosim.RouteUpdateUser]
	if err := c.UpdateUser(ctx, key, Update{}); err != nil {
		t.Fatal(err)
	}
	if after := e.sim.Calls()[gotosim.RouteUpdateUser]; after != before {
		t.Errorf("an empty update made %d calls", after-before)
	}
}

func TestErrorsMapToSentinels(t *testing.T) {
	e := newEnv(t, gotosim.Options{})
	lic := e.license(t, 1)
	a := e.user(t, gotosim.User{Email: "a@x.test", FirstName: "A", LastName: "A", LicenseKeys: []string{lic}})
	b := e.user(t, gotosim.User{Email: "b@x.test", FirstName: "B", LastName: "B", AdminRoles: []string{"MANAGE_USERS"}, IdentityReadOnly: true})
	c := e.client(t)
	ctx := context.Background()

	_, err := c.GetUser(ctx, "1234567890123456789012")
	var ae *APIError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &ae) || ae.Code != "user.not.found" || ae.IncidentID == "" || ae.Status != 404 {
		t.Errorf("unknown user: %v", err)
	} else if want := "goto: GET users/1234567890123456789012: 404 user.not.found: 1234567890123456789012 [incident " + ae.IncidentID + "]"; err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}

	err = c.UpdateUser(ctx, a, Update{Email: ptr("B@X.test")})
	if !errors.Is(err, ErrConflict) || !strings.HasPrefix(err.Error(), "goto: PUT users/"+a+": 409 user.email.exists: B@X.test") {
		t.Errorf("email conflict: %v", err)
	}
	if err := c.UpdateUser(ctx, b, Update{LastName: ptr("Other")}); !errors.Is(err, ErrForbidden) {
		t.Errorf("read-only identity: %v", err)
	}

	err = c.UpdateUser(ctx, b, Update{LicenseKeys: []string{lic}})
	if !errors.Is(err, ErrSeatsExhausted) || errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), lic) {
		t.Errorf("PUT over seats: %v", err)
	}
	_, err = c.CreateUsers(ctx, CreateRequest{Users: []NewUser{{Email: "n@x.test", FirstName: "N", LastName: "N"}}, LicenseKeys: []string{lic}})
	if !errors.Is(err, ErrSeatsExhausted) {
		t.Errorf("create over seats: %v", err)
	}
	if _, ok := e.sim.UserByEmail("n@x.test"); ok {
		t.Error("refused create left a user behind")
	}

	if err := c.DeleteUser(ctx, "999999999999999999999"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete unknown: %v", err)
	}
	wrong := e.client(t, func(c *Config) { c.AccountKey = "4242" })
	if _, err := listAll(ctx, wrong); !errors.Is(err, ErrForbidden) {
		t.Errorf("foreign account: %v", err)
	}
}

func TestUnauthorizedShapes(t *testing.T) {
	for _, tc := range []struct {
		shape gotosim.AuthErrorShape
		code  string
	}{
		{gotosim.AuthErrorLegacy, "InvalidToken"},
		{gotosim.AuthErrorEmpty, ""},
		{gotosim.AuthErrorErrors, "invalid.token"},
	} {
		e := newEnv(t, gotosim.Options{AuthErrorShape: tc.shape})
		key := e.user(t, gotosim.User{Email: "a@x.test", FirstName: "A", LastName: "A"})
		c := e.client(t)
		// Two 401s: the first forces a refresh, the second is final.
		e.sim.InjectFault(gotosim.Fault{Route: gotosim.RouteGetUser, Status: 401, Times: 2})
		_, err := c.GetUser(context.Background(), key)
		var ae *APIError
		if !errors.Is(err, ErrUnauthorized) || !errors.As(err, &ae) || ae.Code != tc.code {
			t.Errorf("shape %d: %v (code %q, want %q)", tc.shape, err, ae.Code, tc.code)
		}
		if s := c.Stats(); s.TokenRefreshes != 2 {
			t.Errorf("shape %d: token refreshes = %d, want 2 (first token and one forced refresh)", tc.shape, s.TokenRefreshes)
		}
		// A single 401 is survived transparently.
		e.sim.InjectFault(gotosim.Fault{Route: gotosim.RouteGetUser, Status: 401})
		if _, err := c.GetUser(context.Background(), key); err != nil {
			t.Errorf("shape %d: one 401 not survived: %v", tc.shape, err)
		}
	}
}

func TestParseErrorBody(t *testing.T) {
	for _, tc := range []struct{ body, code, msg, incident string }{
		{`{"incidentId":"i-1","errors":[{"code":"user.not.found","value":"123"}]}`, "user.not.found", "123", "i-1"},
		{`{"errors":[{"code":"a","value":{"k":1}},{"code":"b","message":"m"}]}`, "a", `{"k":1}; m`, ""},
		{`{"int_err_code":"InvalidToken","msg":"Invalid token passed"}`, "InvalidToken", "Invalid token passed", ""},
		{`{"errorCode":"NotFound","description":"nope"}`, "NotFound", "nope", ""},
		{``, "", "", ""},
		{"<html>Bad Gateway</html>", "", "<html>Bad Gateway</html>", ""},
	} {
		code, msg, inc := parseErrorBody([]byte(tc.body))
		if code != tc.code || msg != tc.msg || inc != tc.incident {
			t.Errorf("parseErrorBody(%s) = %q %q %q", tc.body, code, msg, inc)
		}
	}
	for code, want := range map[string]error{
		"license.seats.exceeded": ErrSeatsExhausted, "NoSeatsAvailable": ErrSeatsExhausted,
		"license.limit.reached": ErrSeatsExhausted, "license.not.found": ErrConflict,
	} {
		if got := classify(409, code); got != want {
			t.Errorf("classify(409, %s) = %v, want %v", code, got, want)
		}
	}
}

func TestRetries(t *testing.T) {
	ctx := context.Background()
	t.Run("5xx then success", func(t *testing.T) {
		e := newEnv(t, gotosim.Options{})
		key := e.user(t, gotosim.User{Email: "a@x.test", FirstName: "A", LastName: "A"})
		c := e.client(t)
		e.sim.InjectFault(gotosim.Fault{Route: gotosim.RouteGetUser, Status: 503, Times: 2})
		if _, err := c.GetUser(ctx, key); err != nil {
			t.Fatal(err)
		}
		if s := c.Stats(); s.Retries != 2 || e.sim.Calls()[gotosim.RouteGetUser] != 3 {
			t.Errorf("retries %d, calls %d", s.Retries, e.sim.Calls()[gotosim.RouteGetUser])
		}
	})
	t.Run("5xx beyond MaxRetries", func(t *testing.T) {
		e := newEnv(t, gotosim.Options{})
		c := e.client(t)
		e.sim.InjectFault(gotosim.Fault{Route: gotosim.RouteListUsers, Status: 502, Times: -1})
		_, err := listAll(ctx, c)
		var ae *APIError
		if !errors.Is(err, ErrUnavailable) || !errors.As(err, &ae) || ae.Attempts != 5 || !strings.Contains(err.Error(), "(after 5 attempts)") {
			t.Errorf("err = %v", err)
		}
		if n := e.sim.Calls()[gotosim.RouteListUsers]; n != 5 {
			t.Errorf("calls = %d, want 5 (1 + MaxRetries)", n)
		}
	})
	t.Run("bulk create retried after 500 creates once", func(t *testing.T) {
		e := newEnv(t, gotosim.Options{})
		lic := e.license(t, 5)
		c := e.client(t)
		e.sim.InjectFault(gotosim.Fault{Route: gotosim.RouteCreateUsers, Status: 500})
		got, err := c.CreateUsers(ctx, CreateRequest{Users: []NewUser{{Email: "n@x.test", FirstName: "N", LastName: "N"}}, LicenseKeys: []string{lic}})
		if err != nil || len(got) != 1 || len(e.sim.Users()) != 1 {
			t.Errorf("created %v, %v; users %d", got, err, len(e.sim.Users()))
		}
	})
	t.Run("truncated reply", func(t *testing.T) {
		e := newEnv(t, gotosim.Options{})
		e.user(t, gotosim.User{Email: "a@x.test", FirstName: "A", LastName: "A"})
		c := e.client(t)
		e.sim.InjectFault(gotosim.Fault{Route: gotosim.RouteListUsers, Truncate: true})
		users, err := listAll(ctx, c)
		if err != nil || len(users) != 1 || c.Stats().Retries != 1 {
			t.Errorf("users %v, err %v, retries %d", users, err, c.Stats().Retries)
		}
	})
	t.Run("hang times out and is retried", func(t *testing.T) {
		e := newEnv(t, gotosim.Options{})
		key := e.user(t, gotosim.User{Email: "a@x.test", FirstName: "A", LastName: "A"})
		c := e.client(t, func(c *Config) { c.RequestTimeout = 300 * time.Millisecond })
		e.sim.InjectFault(gotosim.Fault{Route: gotosim.RouteUpdateUser, Hang: time.Minute})
		if err := c.UpdateUser(ctx, key, Update{LastName: ptr("Z")}); err != nil {
			t.Fatal(err)
		}
		if u, _ := e.sim.User(key); u.LastName != "Z" || e.sim.Calls()[gotosim.RouteUpdateUser] != 2 || c.Stats().Retries != 1 {
			t.Errorf("user %+v, PUT calls %d, retries %d", u, e.sim.Calls()[gotosim.RouteUpdateUser], c.Stats().Retries)
		}
	})
	t.Run("hangs beyond MaxRetries", func(t *testing.T) {
		e := newEnv(t, gotosim.Options{})
		c := e.client(t, func(c *Config) { c.RequestTimeout = 100 * time.Millisecond; c.MaxRetries = 1 })
		e.sim.InjectFault(gotosim.Fault{Route: gotosim.RouteListUsers, Hang: time.Minute, Times: -1})
		_, err := listAll(ctx, c)
		var ae *APIError
		if !errors.Is(err, ErrUnavailable) || !errors.As(err, &ae) || ae.Status != 0 || ae.Attempts != 2 || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("lost DELETE reply, retry finds it gone", func(t *testing.T) {
		e := newEnv(t, gotosim.Options{})
		key := e.user(t, gotosim.User{Email: "a@x.test", FirstName: "A", LastName: "A"})
		lost := 0
		e.transport.lose = func(r *http.Request) bool {
			if r.Method == http.MethodDelete && lost == 0 {
				lost++
				return true
			}
			return false
		}
		c := e.client(t)
		if err := c.DeleteUser(ctx, key); err != nil {
			t.Fatalf("delete with lost reply: %v", err)
		}
		if _, ok := e.sim.User(key); ok || e.sim.Calls()[gotosim.RouteDeleteUser] != 2 {
			t.Errorf("user still there or DELETE calls = %d", e.sim.Calls()[gotosim.RouteDeleteUser])
		}
	})
	t.Run("Retry-After is honoured on 429", func(t *testing.T) {
		e := newEnv(t, gotosim.Options{})
		c := e.client(t)
		e.sim.InjectFault(gotosim.Fault{Route: gotosim.RouteListUsers, Status: 429, RetryAfter: "0"})
		if _, err := listAll(ctx, c); err != nil || c.Stats().Throttled != 1 || c.Stats().Retries != 1 {
			t.Errorf("err %v, stats %+v", err, c.Stats())
		}
	})
	t.Run("cancelled context stops retrying", func(t *testing.T) {
		e := newEnv(t, gotosim.Options{})
		c := e.client(t, func(c *Config) { c.RetryBackoff = time.Hour; c.MaxBackoff = time.Hour })
		e.sim.InjectFault(gotosim.Fault{Route: gotosim.RouteListUsers, Status: 503, Times: -1})
		cctx, cancel := context.WithCancel(ctx)
		e.transport.lose = func(r *http.Request) bool { cancel(); return false }
		if _, err := listAll(cctx, c); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	if d := parseRetryAfter("7"); d != 7*time.Second {
		t.Errorf("seconds: %v", d)
	}
	if d := parseRetryAfter("86400"); d != 10*time.Minute {
		t.Errorf("cap: %v", d)
	}
	if d := parseRetryAfter("soon"); d != 0 {
		t.Errorf("garbage: %v", d)
	}
}

func TestUntrustedCertificateIsNotRetried(t *testing.T) {
	e := newEnv(t, gotosim.Options{})
	c := e.client(t, func(c *Config) { c.HTTPClient = &http.Client{} }) // system roots only
	_, err := listAll(context.Background(), c)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "certificate") || c.Stats().Retries != 0 {
		t.Errorf("err = %v, retries %d", err, c.Stats().Retries)
	}
}
