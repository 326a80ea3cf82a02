package gotomeeting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// replySeeds are Admin API replies in the shapes GoTo and its gateways send.
var replySeeds = []string{
	`{"results":[{"key":78888886011013972886849029,"email":"a@x","status":"PENDING","licenseKeys":["5",123456789012345678901]},{"userKey":"2","email":"b@x"}],"fromIndex":0,"toIndex":1,"total":2}`,
	`{"results":[{"key":"1","email":"a@x"}],"total":"5"}`,
	`{"results":[]}`,
	`{"key":"  42 ","email":"a@x","licenseKeys":[1.0,null,""],"adminRoles":["MANAGE_USERS"]}`,
	`{"key":null,"userKey":12345678901234567890123}`,
	`{"key":1e3}`,
	`{"key":-1}`,
	`[{"key":"77","seats":"10","userCount":3,"products":["G2M"]},{"key":78,"enabled":false,"seats":1.5}]`,
	`{"licenses":[{"key":1}]}`,
	`{"users":[{"userKey":12345678901234567890123,"email":"a@x"},{"email":"b@x"}]}`,
	`{"key":5,"accountKey":4200000000000000001,"email":"admin@x","accounts":[{"key":"1","name":"A"},{"key":2}]}`,
	`"78888886011013972886849029"`,
	`78888886011013972886849029`,
	`12.0`,
	`null`,
	``,
	`{`,
}

// FuzzDecodeReplies feeds one body to every Admin API reply decoder. None
// may panic, and whatever decodes must keep keys exactly: a key sent as a
// string is kept trimmed, one sent as an integer number keeps every digit,
// and a number that is not an integer is refused.
func FuzzDecodeReplies(f *testing.F) {
	for _, s := range replySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		generic, valid := decodeGeneric(body)

		var k flexKey
		err := json.Unmarshal(body, &k)
		switch {
		case !valid && err == nil:
			t.Fatalf("flexKey accepted invalid JSON %q as %q", body, k)
		case valid:
			want, ok := wantKey(generic)
			if ok != (err == nil) || (ok && string(k) != want) {
				t.Fatalf("flexKey(%s) = %q, %v; want %q (ok=%v)", body, k, err, want, ok)
			}
		}

		var o optInt
		if err := json.Unmarshal(body, &o); err == nil && valid {
			if n, ok := generic.(json.Number); ok {
				if want, aerr := strconv.Atoi(n.String()); aerr == nil && (!o.ok || o.v != want) {
					t.Fatalf("optInt(%s) = %+v, want %d", body, o, want)
				}
			}
			if generic == nil && o.ok {
				t.Fatalf("optInt(null) = %+v, want absent", o)
			}
		}

		var w wireUser
		if jsonInto(&w)(body) == nil {
			checkUser(t, w.user(), generic)
		}

		var page wirePage
		if jsonInto(&page)(body) == nil {
			m, _ := generic.(map[string]any)
			if canonical(m, "results", "fromIndex", "toIndex", "total") {
				rs, _ := m["results"].([]any)
				if len(rs) != len(page.Results) {
					t.Fatalf("page has %d results, JSON has %d", len(page.Results), len(rs))
				}
				for i, r := range page.Results {
					checkUser(t, r.user(), rs[i])
				}
			}
		}

		var me wireMe
		if jsonInto(&me)(body) == nil {
			m, _ := generic.(map[string]any)
			if canonical(m, "key", "accountKey", "accounts") {
				checkKey(t, "me key", string(me.Key), m["key"])
				checkKey(t, "me accountKey", string(me.AccountKey), m["accountKey"])
				as, _ := m["accounts"].([]any)
				if len(as) != len(me.Accounts) {
					t.Fatalf("me has %d accounts, JSON has %d", len(me.Accounts), len(as))
				}
				for i, a := range me.Accounts {
					if am, _ := as[i].(map[string]any); canonical(am, "key") {
						checkKey(t, "me account key", string(a.Key), am["key"])
					}
				}
			}
		}

		if ls, err := decodeList[wireLicense](body, "results", "licenses"); err == nil {
			items := listItems(generic, "results", "licenses")
			if len(items) != len(ls) {
				t.Fatalf("decoded %d licences, JSON has %d", len(ls), len(items))
			}
			for i, l := range ls {
				lic := l.license()
				m, _ := items[i].(map[string]any)
				if !canonical(m, "key", "enabled", "seats", "userCount") {
					continue
				}
				checkKey(t, "licence key", lic.Key, m["key"])
				if en, isBool := m["enabled"].(bool); lic.Enabled != (!isBool || en) {
					t.Fatalf("licence enabled = %v from %v", lic.Enabled, m["enabled"])
				}
			}
		}

		if cs, err := decodeList[wireCreated](body, "results", "users"); err == nil {
			items := listItems(generic, "results", "users")
			if len(items) != len(cs) {
				t.Fatalf("decoded %d created users, JSON has %d", len(cs), len(items))
			}
			for i, c := range cs {
				if m, _ := items[i].(map[string]any); canonical(m, "key", "userKey") {
					checkKey(t, "created key", string(c.Key), m["key"])
					checkKey(t, "created userKey", string(c.UserKey), m["userKey"])
				}
			}
		}
	})
}

// FuzzParseErrorBody checks that any error body, with any status, gives a
// code, message and incident without panicking, classifies to one sentinel
// or none as documented, and formats as an APIError.
func FuzzParseErrorBody(f *testing.F) {
	for _, s := range []struct {
		body   string
		status uint16
	}{
		{`{"incidentId":"i-1","errors":[{"code":"user.not.found","value":"123"}]}`, 404},
		{`{"errors":[{"code":"a","value":{"k":1}},{"code":"b","message":"m"}]}`, 400},
		{`{"errors":[{"code":"license.seats.exceeded","value":"77"}]}`, 409},
		{`{"int_err_code":"InvalidToken","msg":"Invalid token passed"}`, 401},
		{`{"errorCode":"NotFound","description":"nope","message":"also"}`, 404},
		{`{"errors":[],"int_err_code":"NoSeatsAvailable"}`, 403},
		{``, 429},
		{"<html>Bad Gateway</html>", 502},
		{"\x00\x01 \xff\xfe" + strings.Repeat("é", 150), 503},
		{`{"msg":5}`, 500},
	} {
		f.Add([]byte(s.body), s.status)
	}
	sentinels := []error{nil, ErrUnauthorized, ErrForbidden, ErrNotFound, ErrConflict, ErrThrottled, ErrSeatsExhausted, ErrUnavailable}
	f.Fuzz(func(t *testing.T, body []byte, status uint16) {
		code, msg, incident := parseErrorBody(body)
		trimmed := bytes.TrimSpace(body)
		var eb errorBody
		switch {
		case len(trimmed) == 0:
			if code != "" || msg != "" || incident != "" {
				t.Fatalf("empty body gave %q %q %q", code, msg, incident)
			}
		case json.Unmarshal(trimmed, &eb) != nil:
			if code != "" || incident != "" || !utf8.ValidString(msg) || len(msg) > 3*200+len("…") {
				t.Fatalf("non-JSON body gave code %q incident %q message %q", code, incident, msg)
			}
			for _, r := range msg {
				if !unicode.IsPrint(r) {
					t.Fatalf("message of a non-JSON body keeps unprintable %U: %q", r, msg)
					break
				}
			}
		default:
			generic, _ := decodeGeneric(trimmed)
			m, _ := generic.(map[string]any)
			if canonical(m, "incidentId", "errors", "int_err_code", "msg", "errorCode", "description", "message") {
				want := ""
				if es, _ := m["errors"].([]any); len(es) > 0 {
					if e0, _ := es[0].(map[string]any); canonical(e0, "code", "value", "message") {
						want, _ = e0["code"].(string)
					} else {
						break
					}
				}
				for _, alt := range []string{"int_err_code", "errorCode"} {
					if want == "" {
						want, _ = m[alt].(string)
					}
				}
				inc, _ := m["incidentId"].(string)
				if code != want || incident != inc {
					t.Fatalf("parseErrorBody(%s) = code %q incident %q, want %q %q", body, code, incident, want, inc)
				}
			}
		}

		st := int(status)
		got := classify(st, code)
		if !slices.Contains(sentinels, got) {
			t.Fatalf("classify(%d, %q) = %v, not a sentinel", st, code, got)
		}
		var want error
		switch {
		case seatsCode(code):
			want = ErrSeatsExhausted
		case st == 401:
			want = ErrUnauthorized
		case st == 403:
			want = ErrForbidden
		case st == 404:
			want = ErrNotFound
		case st == 409:
			want = ErrConflict
		case st == 429:
			want = ErrThrottled
		case st == 408 || st >= 500:
			want = ErrUnavailable
		}
		if got != want {
			t.Fatalf("classify(%d, %q) = %v, want %v", st, code, got, want)
		}
		e := &APIError{Op: "get user", Method: "GET", Path: "users/1", Status: st, Code: code, Message: msg, IncidentID: incident, Attempts: 2, Err: got}
		if s := e.Error(); !strings.HasPrefix(s, "goto: GET users/1: ") {
			t.Fatalf("APIError text %q", s)
		}
		if got != nil && !errors.Is(e, got) {
			t.Fatalf("APIError does not wrap %v", got)
		}
	})
}

// fuzzReply is what the fuzz server answers for one input.
type fuzzReply struct {
	status int
	body   []byte
	calls  atomic.Int64
	cancel context.CancelFunc
}

// maxFuzzCalls bounds the API requests one client call may make against a
// server that always gives the same reply; beyond it the client is looping.
const maxFuzzCalls = 100

// FuzzClientReply runs a client call against a server that answers every
// Admin API request with the fuzzed status and body. The call must return a
// value and nil, or an error, promptly and after a bounded number of
// requests; a non-2xx status must surface as an *APIError with that status.
func FuzzClientReply(f *testing.F) {
	for i, s := range replySeeds {
		f.Add([]byte(s), uint16(0), uint8(i))
	}
	f.Add([]byte(`{"errors":[{"code":"user.not.found","value":"123"}]}`), uint16(204), uint8(1))
	f.Add([]byte(`{"errors":[{"code":"license.seats.exceeded"}]}`), uint16(209), uint8(2))
	f.Add([]byte(`{"int_err_code":"InvalidToken"}`), uint16(201), uint8(0))
	f.Add([]byte(`<html>busy</html>`), uint16(303), uint8(3))
	// Issue 10's inputs: a redirect, pages that never end, a null where a list belongs.
	f.Add([]byte(`{"results":[{"key":"1","email":"a@x"}],"toIndex":0}`), uint16(307), uint8(0))
	f.Add([]byte(`{"results":[{"key":"9","email":"\u212Aate@x"}],"total":null}`), uint16(0), uint8(0))
	f.Add([]byte(`{"results":null,"licenseKeys":null}`), uint16(0), uint8(4))

	var (
		replies sync.Map // id → *fuzzReply
		nextID  atomic.Int64
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if rest == "oauth/token" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"access_token":"at-`+id+`","token_type":"Bearer","expires_in":3600}`)
			return
		}
		v, ok := replies.Load(id)
		if !ok {
			http.Error(w, "unknown fuzz id", http.StatusGone)
			return
		}
		rp := v.(*fuzzReply)
		if rp.calls.Add(1) > maxFuzzCalls {
			rp.cancel()
		}
		w.WriteHeader(rp.status)
		_, _ = w.Write(rp.body)
	}))
	f.Cleanup(srv.Close)
	transport := &http.Transport{MaxIdleConnsPerHost: 8}
	f.Cleanup(transport.CloseIdleConnections)

	f.Fuzz(func(t *testing.T, body []byte, status uint16, call uint8) {
		id := strconv.FormatInt(nextID.Add(1), 10)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rp := &fuzzReply{status: 200 + int(status)%400, body: body, cancel: cancel}
		replies.Store(id, rp)
		defer replies.Delete(id)

		c, err := New(Config{
			APIBaseURL: srv.URL + "/" + id + "/admin/rest/v1", TokenURL: srv.URL + "/" + id + "/oauth/token",
			AccountKey: "1", ClientID: "c", ClientSecret: "s", RefreshToken: "r",
			RateLimit: -1, MaxRetries: 1, RetryBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
			RequestTimeout: 2 * time.Second, PageSize: 2, HTTPClient: &http.Client{Transport: transport},
		})
		if err != nil {
			t.Fatal(err)
		}

		type result struct {
			what string
			err  error
		}
		done := make(chan result, 1)
		go func() {
			switch call % 4 {
			case 0:
				us, err := listAll(ctx, c)
				seen := map[string]bool{}
				for _, u := range us {
					if u.Key != "" && seen[u.Key] {
						t.Fatalf("ListUsers returned key %s twice", u.Key)
					}
					seen[u.Key] = true
				}
				done <- result{"ListUsers", err}
			case 1:
				u, err := c.GetUser(ctx, "123")
				if err == nil && u.Key == "" {
					t.Error("GetUser returned a user without a key")
				}
				done <- result{"GetUser", err}
			case 2:
				_, err := c.CreateUsers(ctx, CreateRequest{Users: []NewUser{{Email: "a@x", FirstName: "A", LastName: "B"}}, LicenseKeys: []string{"5"}})
				done <- result{"CreateUsers", err}
			default:
				_, err := c.Licenses(ctx)
				done <- result{"Licenses", err}
			}
		}()
		var res result
		select {
		case res = <-done:
		case <-time.After(15 * time.Second):
			t.Fatalf("client call %d hangs on status %d body %q", call%4, rp.status, body)
		}
		if n := rp.calls.Load(); n > maxFuzzCalls {
			t.Fatalf("%s made more than %d requests against a server repeating status %d body %q: %v", res.what, maxFuzzCalls, rp.status, body, res.err)
		}
		if res.err != nil && res.err.Error() == "" {
			t.Fatalf("%s: error with empty text", res.what)
		}
		if rp.status >= 300 {
			var ae *APIError
			if !errors.As(res.err, &ae) {
				t.Fatalf("%s: status %d gave %v, want an *APIError", res.what, rp.status, res.err)
			}
			if ae.Status != rp.status {
				t.Fatalf("%s: APIError status %d, server sent %d", res.what, ae.Status, rp.status)
			}
			if s := classify(ae.Status, ae.Code); s != nil && !errors.Is(res.err, s) {
				t.Fatalf("%s: error %v does not wrap %v", res.what, res.err, s)
			}
		}
	})
}

// decodeGeneric decodes body as one JSON value with numbers kept as text.
func decodeGeneric(body []byte) (any, bool) {
	if !json.Valid(body) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

// wantKey is the reference model of flexKey: the key a JSON value should
// decode to, or false if it should be refused.
func wantKey(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", true
	case string:
		return strings.TrimSpace(v), true
	case json.Number:
		s := v.String()
		if isDigits(s) {
			return s, true
		}
		if t, ok := strings.CutSuffix(s, ".0"); ok && isDigits(t) {
			return t, true
		}
	}
	return "", false
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func checkKey(t *testing.T, what, got string, v any) {
	t.Helper()
	want, ok := wantKey(v)
	if !ok {
		t.Fatalf("%s: accepted %#v as %q", what, v, got)
		return
	}
	if got != want {
		t.Fatalf("%s = %q, want %q (from %#v)", what, got, want, v)
	}
}

// checkUser compares a decoded user's keys with the JSON it came from.
func checkUser(t *testing.T, u User, v any) {
	t.Helper()
	m, _ := v.(map[string]any)
	if !canonical(m, "key", "userKey", "licenseKeys") {
		return
	}
	want, ok := wantKey(m["key"])
	if ok && want == "" {
		want, ok = wantKey(m["userKey"])
	}
	if !ok || u.Key != want {
		t.Fatalf("user key = %q, want %q (ok=%v) from key %#v userKey %#v", u.Key, want, ok, m["key"], m["userKey"])
	}
	ls, _ := m["licenseKeys"].([]any)
	var wantLic []string
	for _, l := range ls {
		k, ok := wantKey(l)
		if !ok {
			t.Fatalf("licence key %#v accepted", l)
		}
		if k != "" {
			wantLic = append(wantLic, k)
		}
	}
	if !slices.Equal(u.Licenses, wantLic) {
		t.Fatalf("licences = %q, want %q", u.Licenses, wantLic)
	}
}

// canonical reports whether m is an object whose members that encoding/json
// would match to one of names (case-insensitively) are spelled exactly so;
// only then does the plain map model what the struct decoded.
func canonical(m map[string]any, names ...string) bool {
	if m == nil {
		return false
	}
	for k := range m {
		for _, n := range names {
			if k != n && strings.EqualFold(k, n) {
				return false
			}
		}
	}
	return true
}

// listItems models decodeList: a bare array, or the array under the first
// of names present.
func listItems(v any, names ...string) []any {
	switch v := v.(type) {
	case []any:
		return v
	case map[string]any:
		for _, n := range names {
			if raw, ok := v[n]; ok {
				items, _ := raw.([]any)
				return items
			}
		}
	}
	return nil
}
