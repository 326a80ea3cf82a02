// Package redact removes credentials from text that came from elsewhere.
//
// A server may echo what it was sent: an OAuth token endpoint that repeats
// the request in its error_description, an API that quotes the
// Authorization header back. g2msync turns such replies into errors, log
// lines, cycle records, pages and mail, so every text taken from a reply
// passes through Text before it becomes any of those. Text removes the
// secret values the caller knows, in the forms they travel in (as they
// are, form-encoded, JSON-escaped, inside a Basic header), and whatever
// follows the words that introduce a credential (Bearer, Basic,
// client_secret=, refresh_token=, …), which also covers tokens the caller
// has never seen, such as one GoTo rotated in the same reply.
//
// It imports nothing of g2msync's, so that every package that reads a
// remote reply can use it.
package redact

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
)

// Mask replaces what is removed.
const Mask = "[redacted]"

// minSecret is the shortest known value Text removes: a shorter one (a
// test's "x", a PIN) would match everywhere and make the text unreadable,
// and a real client secret, token or password is far longer.
const minSecret = 6

// credential finds a word that introduces a credential and the value after
// it, in the shapes a reply echoes a request in: an HTTP header
// ("Authorization: Bearer …", "Basic …"), a form or query parameter
// ("client_secret=…", "refresh_token%3D…" once encoded) and a JSON member
// ("\"refresh_token\": \"…\""). The value runs to the next character that
// cannot be part of a token.
var credential = regexp.MustCompile(`(?i)` +
	// Authorization schemes.
	`(\b(?:bearer|basic)\s+)[A-Za-z0-9\-._~+/]+=*` +
	// Parameters and JSON members, with an optional JSON quote after the
	// name, then =, %3D or a JSON colon.
	`|(\b(?:client_secret|refresh_token|access_token|id_token|password|client_assertion|assertion|pat|code_verifier|token)` +
	`(?:"\s*:\s*"|\\?"\s*:\s*\\?"|=|%3D))[^&\s"'\\,;<>]+`)

// Text returns s with the credentials in it removed: each of secrets (and
// its encoded forms) and every value that follows a word that introduces
// a credential.
func Text(s string, secrets ...string) string {
	return scrub(s, formsOf(secrets))
}

// scrub removes the given forms of secrets and every value that follows a
// credential's name. Most texts hold no such name, and a scan for one
// costs far less than the regular expression, so only those that do run it.
func scrub(s string, forms []string) string {
	for _, form := range forms {
		if strings.Contains(s, form) {
			s = strings.ReplaceAll(s, form, Mask)
		}
	}
	if !mayNameCredential(s) {
		return s
	}
	return credential.ReplaceAllString(s, "${1}${2}"+Mask)
}

// credentialWords are the words credential's alternatives start with.
var credentialWords = []string{"bearer", "basic", "client_secret", "refresh_token", "access_token", "id_token",
	"password", "assertion", "pat", "code_verifier", "token"}

// mayNameCredential reports whether s holds one of credentialWords,
// ignoring ASCII case, without allocating.
func mayNameCredential(s string) bool {
	for _, w := range credentialWords {
		for i := 0; i+len(w) <= len(s); i++ {
			if foldEqual(s[i:i+len(w)], w) {
				return true
			}
		}
	}
	return false
}

// foldEqual reports whether a equals the lowercase ASCII word w, ignoring
// the case of ASCII letters in a.
func foldEqual(a, w string) bool {
	for i := 0; i < len(w); i++ {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[i] {
			return false
		}
	}
	return true
}

// formsOf lists every form of every secret long enough to remove.
func formsOf(secrets []string) []string {
	var out []string
	for _, v := range secrets {
		if len(v) >= minSecret {
			out = append(out, forms(v)...)
		}
	}
	return out
}

// forms lists the ways a secret appears in an echoed request: as it is,
// form- or path-encoded, JSON-escaped, and base64 inside a Basic header
// (where it is joined to the client id, so only its own encoding at a
// three-byte boundary is found; the Basic pattern covers the rest).
func forms(v string) []string {
	out := []string{v, url.QueryEscape(v), url.PathEscape(v)}
	if j, err := json.Marshal(v); err == nil {
		out = append(out, strings.Trim(string(j), `"`))
	}
	out = append(out, base64.StdEncoding.EncodeToString([]byte(v)))
	return out
}

// Error returns err with its message passed through Text, or nil. errors.Is
// and errors.As still reach the original, so callers branch as before; only
// what is printed changes. Code that prints an unwrapped cause itself must
// pass it through Text too.
func Error(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := Text(err.Error(), secrets...)
	if msg == err.Error() {
		return err
	}
	return &scrubbed{msg: msg, err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }
