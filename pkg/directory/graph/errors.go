package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/netfail"
	"github.com/g2msync/g2msync/pkg/redact"
)

// Kinds of failure a caller may branch on with errors.Is.
var (
	// ErrCredentials: Entra refused to issue a token (bad secret,
	// unregistered certificate, unknown app or tenant).
	// It is directory.ErrCredentials, so callers that know no Graph can test for it.
	ErrCredentials = directory.ErrCredentials
	// ErrPermission: Graph answered 403; Error.Permission names what to grant.
	ErrPermission = errors.New("graph permission missing")
	// ErrThrottled: still 429 after the retries.
	ErrThrottled = errors.New("graph throttled")
	// ErrUnavailable: 5xx after the retries, or the network failed.
	ErrUnavailable = errors.New("graph unavailable")
	// ErrNotFound: the service principal or a group does not exist.
	ErrNotFound = errors.New("graph object not found")
)

// Error is a failed read, classified. Its message says what failed, on
// which object, and what to do.
type Error struct {
	Op         string // what was being done, e.g. `list members of group "Sales" (id …)`
	Status     int    // HTTP status; 0 if no response
	Code       string // Graph error code or AADSTS code
	Attempts   int    // Graph requests made for the call, retries included
	Permission string // for 403: the Graph application permission to grant
	Err        error  // the SDK's error (ODataError, AuthenticationFailedError, ...)

	kind   error
	detail string
}

func (e *Error) Error() string { return e.Op + ": " + e.detail }

// Unwrap exposes the kind (for errors.Is) and the SDK's error (for errors.As).
func (e *Error) Unwrap() []error { return []error{e.kind, e.Err} }

// call describes one logical Graph call for error messages.
type call struct {
	op         string
	permission string // what a 403 means is missing
	notFound   string // what a 404 means, and what to do
}

// classify turns an SDK error into an *Error. It matches types, never
// message text: azidentity's AuthenticationFailedError for Entra, kiota's
// ApiError (and Graph's ODataError, which embeds it) for Graph.
func (s *Source) classify(c call, tries int64, err error) error {
	e := &Error{Op: c.op, Attempts: int(tries), Err: err}
	var afe *azidentity.AuthenticationFailedError
	var odata *odataerrors.ODataError
	var status abs.ApiErrorable
	switch {
	case errors.As(err, &afe):
		s.entraFailure(e, afe)
	case errors.As(err, &status):
		e.Status = status.GetStatusCode()
		msg := ""
		if errors.As(err, &odata) && odata.GetErrorEscaped() != nil {
			main := odata.GetErrorEscaped()
			e.Code = deref(main.GetCode())
			msg = deref(main.GetMessage())
		}
		s.graphFailure(e, c, msg)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e.kind = err
		e.detail = fmt.Sprintf("gave up after %d attempts: %v", e.Attempts, err)
	default:
		// Transport failures, truncated bodies, unparseable JSON.
		e.kind = ErrUnavailable
		e.detail = fmt.Sprintf("%s (after %d attempts)", netfail.OneLine(err), e.Attempts)
	}
	// The detail quotes Entra's or Graph's reply, which may echo the
	// request: the client secret, an assertion, the bearer token.
	e.detail = redact.Text(e.detail, s.cfg.ClientSecret)
	return e
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (s *Source) graphFailure(e *Error, c call, msg string) {
	said := strings.TrimSuffix(strings.TrimSpace(strings.Join(nonEmpty(e.Code, msg), ": ")), ".")
	switch e.Status {
	case http.StatusForbidden:
		e.kind = ErrPermission
		e.Permission = c.permission
		e.detail = fmt.Sprintf("403 %s; grant the Microsoft Graph application permission %s to app %s and grant admin consent",
			said, c.permission, s.cfg.ClientID)
	case http.StatusUnauthorized:
		e.kind = ErrCredentials
		e.detail = fmt.Sprintf("401 %s; Graph refused the access token issued for tenant %s and scope %s: check the tenant, the cloud and that the app registration exists there",
			said, s.cfg.TenantID, s.scope)
	case http.StatusNotFound:
		e.kind = ErrNotFound
		e.detail = fmt.Sprintf("404 %s; %s", said, c.notFound)
	case http.StatusTooManyRequests:
		e.kind = ErrThrottled
		e.detail = fmt.Sprintf("429 after %d attempts (%s); Graph kept throttling, the next cycle will try again", e.Attempts, said)
	default:
		e.kind = ErrUnavailable
		if e.Attempts > 1 {
			e.detail = fmt.Sprintf("%d after %d attempts (%s)", e.Status, e.Attempts, said)
		} else {
			e.detail = fmt.Sprintf("%d %s", e.Status, said)
		}
	}
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// entraReply is Entra's OAuth error body.
type entraReply struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Codes       []int  `json:"error_codes"`
}

func (s *Source) entraFailure(e *Error, afe *azidentity.AuthenticationFailedError) {
	e.kind = ErrCredentials
	if afe.RawResponse == nil {
		e.kind = ErrUnavailable
		e.detail = fmt.Sprintf("get a token from Entra for tenant %s with the %s: %s", s.cfg.TenantID, s.credName, netfail.OneLine(afe))
		return
	}
	e.Status = afe.RawResponse.StatusCode
	var reply entraReply
	// runtime.Payload reads the body once and keeps it, so afe.Error() can
	// still print it.
	if body, err := runtime.Payload(afe.RawResponse); err == nil {
		_ = json.Unmarshal(body, &reply)
	}
	desc := reply.Description
	if i := strings.IndexAny(desc, "\r\n"); i >= 0 {
		desc = desc[:i] // drop Trace ID, Correlation ID and Timestamp
	}
	desc = strings.TrimSuffix(strings.TrimSpace(desc), ".")
	if len(reply.Codes) > 0 {
		e.Code = fmt.Sprintf("AADSTS%d", reply.Codes[0])
	}
	if desc == "" {
		desc = strings.TrimSpace(fmt.Sprintf("%d %s", e.Status, reply.Error))
	}
	switch {
	case e.Status >= 500 || e.Status == http.StatusTooManyRequests:
		// Entra itself is down or throttling: nothing is wrong with the
		// credentials, and saying so would send the administrator the wrong way.
		e.kind = ErrUnavailable
		e.detail = fmt.Sprintf("Entra's token endpoint for tenant %s is unavailable (%s); the next cycle will try again", s.cfg.TenantID, desc)
	case len(reply.Codes) > 0 && reply.Codes[0] == 90002:
		e.detail = fmt.Sprintf("Entra does not know tenant %s: %s; check the tenant id and the cloud", s.cfg.TenantID, desc)
	case len(reply.Codes) > 0 && reply.Codes[0] == 700016:
		e.detail = fmt.Sprintf("Entra has no application %s in tenant %s: %s; check the client id and that the app is registered in this tenant",
			s.cfg.ClientID, s.cfg.TenantID, desc)
	default:
		e.detail = fmt.Sprintf("Entra rejected the client credentials for tenant %s: %s; check the %s configured for client %s",
			s.cfg.TenantID, desc, s.credName, s.cfg.ClientID)
	}
}
