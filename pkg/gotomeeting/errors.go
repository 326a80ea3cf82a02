package gotomeeting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// ErrNotLoggedIn means no refresh token (stored or configured), personal
// access token or password is available: a person must log in first.
var ErrNotLoggedIn = errors.New("no GoTo credentials: run `g2msync login goto`")

// APIError is a failed Admin API call. Err is the sentinel callers branch on
// (ErrNotFound, ErrConflict, …) and may be nil for failures that fit no
// class, such as a 400; Cause is the transport or decoding error, if any.
type APIError struct {
	Op         string // what the client was doing, e.g. "update user"
	Method     string
	Path       string // relative to the account, e.g. "users/123"
	Status     int    // HTTP status; 0 when no reply arrived
	Code       string // GoTo's error code, e.g. "user.not.found" or "InvalidToken"
	Message    string // GoTo's message or error value
	IncidentID string // GoTo's incident id, for support cases
	Attempts   int    // requests made, retries included
	Err        error
	Cause      error
}

// Error reads like `goto: PUT users/123: 409 user.email.exists: jane@contoso.com`.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "goto: %s %s: ", e.Method, e.Path)
	if e.Status > 0 {
		b.WriteString(strconv.Itoa(e.Status))
		if e.Code != "" {
			b.WriteString(" " + e.Code)
		}
		b.WriteString(": ")
	}
	switch {
	case e.Message != "":
		b.WriteString(e.Message)
	case e.Cause != nil:
		b.WriteString(e.Cause.Error())
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	default:
		b.WriteString("request failed")
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	if e.IncidentID != "" {
		fmt.Fprintf(&b, " [incident %s]", e.IncidentID)
	}
	return b.String()
}

// Unwrap gives the sentinel and the cause to errors.Is and errors.As.
func (e *APIError) Unwrap() []error {
	var out []error
	if e.Err != nil {
		out = append(out, e.Err)
	}
	if e.Cause != nil {
		out = append(out, e.Cause)
	}
	return out
}

// rejectedError is a refresh GoTo refused. Its text is exactly
// ErrRefreshTokenRejected's, because that sentence is what the person must
// read; the OAuth reply stays reachable through Unwrap for debugging.
type rejectedError struct {
	cause error
	// lostReply: the reply to the attempt before was lost in transit.
	lostReply bool
}

func (e *rejectedError) Error() string {
	if e.lostReply {
		return ErrRefreshTokenRejected.Error() + " (GoTo's reply to the refresh before was lost in transit; GoTo probably issued a new refresh token in it, " +
			"which no retry can recover: only a new login helps)"
	}
	return ErrRefreshTokenRejected.Error()
}
func (e *rejectedError) Unwrap() []error { return []error{ErrRefreshTokenRejected, e.cause} }

// classify maps a status and GoTo error code to a sentinel. A seats code wins
// over the status, since GoTo's status for it is not documented.
func classify(status int, code string) error {
	if seatsCode(code) {
		return ErrSeatsExhausted
	}
	switch {
	case status == 401:
		return ErrUnauthorized
	case status == 403:
		return ErrForbidden
	case status == 404:
		return ErrNotFound
	case status == 409:
		return ErrConflict
	case status == 429:
		return ErrThrottled
	case status == 408 || status >= 500:
		return ErrUnavailable
	}
	return nil
}

func seatsCode(code string) bool {
	c := strings.ToLower(code)
	if strings.Contains(c, "seat") {
		return true
	}
	if !strings.Contains(c, "licen") {
		return false
	}
	for _, w := range []string{"exceed", "exhaust", "insufficient", "limit", "full", "no.more", "not.enough"} {
		if strings.Contains(c, w) {
			return true
		}
	}
	return false
}

// errorBody is the union of the error shapes GoTo's services use: the Admin
// API's {"incidentId","errors":[{code,value}]}, the legacy
// {"int_err_code","msg"}, and {"errorCode","description"/"message"} seen on
// other GoTo APIs.
type errorBody struct {
	IncidentID string `json:"incidentId"`
	Errors     []struct {
		Code    string          `json:"code"`
		Value   json.RawMessage `json:"value"`
		Message string          `json:"message"`
	} `json:"errors"`
	IntErrCode  string `json:"int_err_code"`
	Msg         string `json:"msg"`
	ErrorCode   string `json:"errorCode"`
	Description string `json:"description"`
	Message     string `json:"message"`
}

// parseErrorBody extracts code, message and incident id from any of the
// shapes, or from an empty or non-JSON body (then only a short, printable
// excerpt becomes the message).
func parseErrorBody(body []byte) (code, msg, incident string) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return "", "", ""
	}
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		return "", excerpt(body), ""
	}
	var msgs []string
	for i, x := range e.Errors {
		if i == 0 {
			code = x.Code
		}
		if v := rawText(x.Value); v != "" {
			msgs = append(msgs, v)
		}
		if x.Message != "" {
			msgs = append(msgs, x.Message)
		}
	}
	switch {
	case code != "":
	case e.IntErrCode != "":
		code = e.IntErrCode
	case e.ErrorCode != "":
		code = e.ErrorCode
	}
	for _, m := range []string{e.Msg, e.Description, e.Message} {
		if m != "" {
			msgs = append(msgs, m)
		}
	}
	return code, strings.Join(msgs, "; "), e.IncidentID
}

// rawText renders an error value: strings unquoted, anything else as JSON.
func rawText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func excerpt(b []byte) string {
	s := string(b)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, s)
}

// Cause names what kind of failure an Admin API error is. Its values are
// stable: they label metrics, cycle summaries and JSON.
type Cause string

// Causes, as Classify reads them.
const (
	CauseRedirect    Cause = "redirect"    // a redirect: a configuration problem
	CauseOversized   Cause = "oversized"   // a reply larger than any GoTo sends
	CauseCredentials Cause = "credentials" // GoTo refused g2msync's token or grant
	CauseForbidden   Cause = "forbidden"   // the admin may not manage this user
	CauseSeats       Cause = "seats"       // no free seat on a licence
	CauseConflict    Cause = "conflict"    // another account holds the address
	CauseNotFound    Cause = "not-found"   // the user no longer exists
	CauseThrottled   Cause = "throttled"   // still 429 after the retries
	CauseOutage      Cause = "outage"      // no answer, or 5xx
	CauseRefused     Cause = "refused"     // any other failure of this one request
)

// Class is what an Admin API error means for the change that met it and for
// the cycle: the one reading of GoTo errors that every caller uses.
type Class struct {
	// Cause is the kind of failure; callers branch on it, never on
	// message text.
	Cause Cause
	// Systemic says the failure concerns GoTo or g2msync's credentials, not
	// the one person: outages, throttling that outlasted the retries, refused
	// tokens and roles. Most calls of a cycle failing this way fail the cycle.
	Systemic bool
	// Stop says every later call will fail the same way (refused
	// credentials): the cycle stops at once.
	Stop bool
	// Ambiguous says the call may have gone through (a timeout, an outage
	// reply), so a create's write-ahead intent must be kept.
	Ambiguous bool
	// Retryable says a later cycle may succeed without a person acting.
	Retryable bool
	// Hint says what a person can do, or "" when nothing specific helps.
	Hint string
}

// Classify reads an error from the Client. A nil error has the zero Class.
func Classify(err error) Class {
	switch {
	case err == nil:
		return Class{}
	case errors.Is(err, errRedirect):
		return Class{Cause: CauseRedirect, Systemic: true, Stop: true,
			Hint: "a redirect is a configuration problem, not an outage: check goto.api_base_url and goto.auth_url"}
	case errors.Is(err, errTooLarge):
		return Class{Cause: CauseOversized, Systemic: true, Stop: true,
			Hint: "no GoTo reply is that large: check that goto.api_base_url points at GoTo"}
	case errors.Is(err, ErrRefreshTokenRejected), errors.Is(err, ErrNotLoggedIn):
		return Class{Cause: CauseCredentials, Systemic: true, Stop: true, Hint: "run `g2msync login goto`"}
	case errors.Is(err, ErrUnauthorized):
		return Class{Cause: CauseCredentials, Systemic: true, Stop: true,
			Hint: "GoTo refused g2msync's token: check goto.client_id and its secret, then run `g2msync login goto`"}
	case errors.Is(err, ErrForbidden):
		// A 403 may concern one account (an identity GoTo marks read-only)
		// or the admin's role as a whole: a streak of them tells which.
		return Class{Cause: CauseForbidden, Systemic: true,
			Hint: "the GoTo admin g2msync signs in as cannot manage this user; give it the MANAGE_USERS or SUPER_USER role"}
	case errors.Is(err, ErrSeatsExhausted):
		return Class{Cause: CauseSeats, Retryable: true, Hint: "add seats in GoTo Admin or free some; tried again once a seat is free"}
	case errors.Is(err, ErrConflict):
		return Class{Cause: CauseConflict, Retryable: true,
			Hint: "another GoTo account already uses this email; rename or remove it, and the change is tried again"}
	case errors.Is(err, ErrNotFound):
		return Class{Cause: CauseNotFound}
	case errors.Is(err, ErrThrottled):
		return Class{Cause: CauseThrottled, Systemic: true, Retryable: true, Hint: "GoTo kept throttling; tried again next cycle"}
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return Class{Cause: CauseOutage, Systemic: true, Ambiguous: true, Retryable: true, Hint: "GoTo did not answer; tried again next cycle"}
	}
	return Class{Cause: CauseRefused, Retryable: true, Hint: "tried again next cycle"}
}
