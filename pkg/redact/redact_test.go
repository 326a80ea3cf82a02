package redact

import (
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

func TestTextRemovesCredentials(t *testing.T) {
	const secret = "s3cr3t~Value/+="
	basic := base64.StdEncoding.EncodeToString([]byte("client-id:" + secret))
	for _, c := range []struct {
		name, in string
		gone     []string // must not survive
		kept     []string // must survive
	}{
		{"an echoed form body", "AADSTS900144: body was grant_type=client_credentials&client_id=abc&client_secret=" + url.QueryEscape(secret) + "&scope=x",
			[]string{secret, url.QueryEscape(secret)}, []string{"AADSTS900144", "client_id=abc", "scope=x"}},
		{"an unknown secret after its name", "invalid request: client_secret=Zq8~never.seen-before_123 was refused",
			[]string{"Zq8~never.seen-before_123"}, []string{"was refused"}},
		{"a rotated refresh token in JSON", `{"error":"x","refresh_token": "rt-rotated-9f8e7d"}`,
			[]string{"rt-rotated-9f8e7d"}, []string{`"error":"x"`}},
		{"a JSON-escaped echo", `{"msg":"saw {\"refresh_token\":\"rt-abc-123456\"}"}`,
			[]string{"rt-abc-123456"}, []string{"msg"}},
		{"an echoed Authorization header", "goto: GET users: 400: bad header Authorization: Bearer at-4f5e6d7c8b9a.xyz",
			[]string{"at-4f5e6d7c8b9a.xyz"}, []string{"goto: GET users: 400: bad header Authorization: Bearer"}},
		{"an echoed Basic header", "got Authorization: Basic " + basic + " from you",
			[]string{basic}, []string{"from you"}},
		{"a password grant", "username=admin@x.com&password=Hunter2-long&grant_type=password",
			[]string{"Hunter2-long"}, []string{"username=admin@x.com", "grant_type=password"}},
		{"an assertion", "client_assertion=eyJhbGciOi.eyJzdWIi.sig&client_assertion_type=jwt-bearer",
			[]string{"eyJhbGciOi.eyJzdWIi.sig"}, []string{"client_assertion_type"}},
		{"a form-encoded pair in a JSON string", `error_description: "client_secret%3D` + url.QueryEscape("abc/def+ghi") + `"`,
			[]string{"abc", "def"}, []string{"error_description"}},
		{"a known secret alone", "the secret " + secret + " is wrong", []string{secret}, []string{"the secret", "is wrong"}},
		{"ordinary text", "goto: PUT users/123: 409 user.email.exists: jane@contoso.com; $skiptoken=abc",
			nil, []string{"goto: PUT users/123: 409 user.email.exists: jane@contoso.com; $skiptoken=abc"}},
	} {
		got := Text(c.in, secret)
		for _, g := range c.gone {
			if strings.Contains(got, g) {
				t.Errorf("%s: %q survives in %q", c.name, g, got)
			}
		}
		for _, k := range c.kept {
			if !strings.Contains(got, k) {
				t.Errorf("%s: %q is lost from %q", c.name, k, got)
			}
		}
	}
}

func TestShortSecretsAreNotMasked(t *testing.T) {
	if got := Text("a status of 42 and x", "x", "42"); got != "a status of 42 and x" {
		t.Errorf("got %q: a short secret would mask every match", got)
	}
}

func TestErrorKeepsTheChain(t *testing.T) {
	base := errors.New("reply: refresh_token=rt-123456789")
	err := Error(base)
	if strings.Contains(err.Error(), "rt-123456789") || !errors.Is(err, base) {
		t.Errorf("Error(...) = %q, Is the original: %v", err, errors.Is(err, base))
	}
	if Error(nil) != nil {
		t.Error("Error(nil) is not nil")
	}
	plain := errors.New("nothing secret")
	if Error(plain) != plain {
		t.Error("an error with nothing to remove is wrapped")
	}
}

func FuzzText(f *testing.F) {
	f.Add("client_secret=abc&x=1", "abcdefgh")
	f.Add("Authorization: Bearer at-1", "")
	f.Fuzz(func(t *testing.T, s, secret string) {
		got := Text(s, secret)
		if len(secret) >= minSecret && !strings.Contains(Mask, secret) && strings.Contains(got, secret) {
			// Masking one occurrence can join its neighbours into a new
			// one only if the secret contains the mask's text.
			if !strings.Contains(strings.ReplaceAll(got, Mask, ""), secret) {
				return
			}
			t.Errorf("Text(%q, %q) = %q still holds the secret", s, secret, got)
		}
	})
}

func TestHandlerScrubsWhatItWrites(t *testing.T) {
	var buf strings.Builder
	log := slog.New(Handler(slog.NewJSONHandler(&buf, nil), "known-secret-1"))
	log = log.With("ctx", "refresh_token=rt-with-9876")
	log.WithGroup("g").Error("cycle failed: client_secret=abc123456 rejected",
		"error", errors.New("reply: Bearer at-55555.x"), "n", 3, "nested", slog.GroupValue(slog.String("s", "known-secret-1")))
	out := buf.String()
	for _, s := range []string{"rt-with-9876", "abc123456", "at-55555.x", "known-secret-1"} {
		if strings.Contains(out, s) {
			t.Errorf("%q reaches the log: %s", s, out)
		}
	}
	if !strings.Contains(out, `"n":3`) || !strings.Contains(out, "cycle failed") {
		t.Errorf("the rest of the line is lost: %s", out)
	}
}

// BenchmarkHandler is the cost of the logger's scrub on a per-change log
// line (go test -bench Handler ./pkg/redact): every line of a 100,000-person
// initial sync goes through it.
func BenchmarkHandler(b *testing.B) {
	log := slog.New(Handler(slog.NewJSONHandler(io.Discard, nil), "client-secret-value-1", "rt-refresh-token-22", "pat-333333", "smtp-pass-4444"))
	b.ReportAllocs()
	for b.Loop() {
		log.Info("applied change", "cycle_id", "20261206T052040Z-e214", "op", "update", "entra_id", "4b1e0000-0000-0000-0000-000000000001",
			"upn", "jane.doe@contoso.com", "goto_key", "78888880000000000000000246", "fields", "email,lastName", "reason", "renamed in Entra")
	}
}
