package graphsim

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault is an injected failure. It matches requests by route and/or path
// substring, counts the matches from the moment it is injected, and fires on
// the Nth match and the Times-1 matches after it.
type Fault struct {
	// Route is a counter key such as "GET /groups/{id}/members"; "" = any.
	Route string
	// PathContains must occur in the request's path and query; "" = any.
	PathContains string
	// Nth is the 1-based matching call that fails first; 0 means 1.
	Nth int
	// Times is how many consecutive matching calls fail from the Nth on;
	// 0 means 1, negative means every one after.
	Times int
	// Status answers with this HTTP status and a Graph error body (5xx, 4xx).
	Status int
	// RetryAfter adds a Retry-After header, in seconds, to a Status reply.
	RetryAfter int
	// Truncate serves the real response but drops the connection halfway
	// through the body.
	Truncate bool
	// Hang never answers: the request waits until the client gives up or the
	// server closes.
	Hang bool
	// Latency delays the matching calls by this much more.
	Latency time.Duration
	// Echo makes a Status reply repeat the request in its error text (the
	// form body and the Authorization header), as a careless or hostile
	// server does: in error_description on the token endpoint, in the
	// error's message on Graph. Clients must not print what it repeats.
	Echo bool
}

type faultState struct {
	Fault
	seen int
}

// InjectFault adds a fault. Faults are checked in the order they were added;
// the first that fires wins.
func (s *Server) InjectFault(f Fault) error {
	if f.Status == 0 && !f.Truncate && !f.Hang && f.Latency == 0 {
		return errors.New("graphsim: fault needs Status, Truncate, Hang or Latency")
	}
	if f.Echo && f.Status == 0 {
		return errors.New("graphsim: an Echo fault needs a Status")
	}
	if f.Nth <= 0 {
		f.Nth = 1
	}
	if f.Times == 0 {
		f.Times = 1
	}
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f})
	return nil
}

// LagUser makes the next replies getByIds replies that ask for the user id
// leave it out, as Graph does while the replica that answers has not yet
// seen a new user (replication lag): the reply is a success, only shorter.
// Zero or less clears it.
func (s *Server) LagUser(id string, replies int) {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	if replies <= 0 {
		delete(s.lag, id)
		return
	}
	if s.lag == nil {
		s.lag = map[string]int{}
	}
	s.lag[id] = replies
}

// lagging returns which of ids this getByIds reply leaves out, and counts
// the reply against each one's LagUser.
func (s *Server) lagging(ids []string) map[string]bool {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	var out map[string]bool
	for _, id := range ids {
		if s.lag[id] <= 0 || out[id] {
			continue
		}
		if out == nil {
			out = map[string]bool{}
		}
		out[id] = true
		if s.lag[id]--; s.lag[id] == 0 {
			delete(s.lag, id)
		}
	}
	return out
}

// ClearFaults removes every injected fault and a pending 429 storm.
func (s *Server) ClearFaults() {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.faults = nil
	s.storm = 0
}

// ThrottleNext answers the next n Graph calls with 429 and Retry-After: 1,
// after authentication, whatever the RU budget: a "429 storm".
func (s *Server) ThrottleNext(n int) {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.storm = n
}

func (s *Server) fault(key string, r *http.Request) *Fault {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	target := r.URL.Path
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	for _, f := range s.faults {
		if f.Route != "" && f.Route != key {
			continue
		}
		if f.PathContains != "" && !strings.Contains(target, f.PathContains) {
			continue
		}
		f.seen++
		if f.seen < f.Nth || (f.Times > 0 && f.seen >= f.Nth+f.Times) {
			continue
		}
		out := f.Fault
		return &out
	}
	return nil
}

func (s *Server) faultResponse(f *Fault) *resp {
	code := "UnknownError"
	switch f.Status {
	case http.StatusBadGateway:
		code = "BadGateway"
	case http.StatusServiceUnavailable:
		code = "serviceNotAvailable"
	case http.StatusGatewayTimeout:
		code = "GatewayTimeout"
	case http.StatusTooManyRequests:
		code = "TooManyRequests"
	}
	msg := http.StatusText(f.Status)
	switch f.Status {
	case http.StatusForbidden: // as when a permission is revoked mid-read
		code, msg = "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
	case http.StatusUnauthorized:
		code, msg = "InvalidAuthenticationToken", "Access token validation failure."
	}
	out := graphErrorAt(s.now(), f.Status, code, msg)
	if f.RetryAfter > 0 {
		out.header.Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	return out
}

// ruWindow is one app's spending in the current 10-second window.
type ruWindow struct {
	start time.Time
	spent int
}

const ruWindowLength = 10 * time.Second

// SetRUBudget changes the resource units an app may spend per 10 s (0 =
// unlimited) and starts fresh windows.
func (s *Server) SetRUBudget(n int) {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.opts.RUBudget = n
	s.ru = map[string]*ruWindow{}
}

// throttle spends cost from the app's budget, or returns the 429 to send.
func (s *Server) throttle(appID string, cost int) *resp {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	now := s.now()
	if s.storm > 0 {
		s.storm--
		return s.tooMany(now, appID, 1)
	}
	if s.opts.RUBudget <= 0 {
		return nil
	}
	w := s.ru[appID]
	if w == nil || now.Sub(w.start) >= ruWindowLength || now.Before(w.start) {
		w = &ruWindow{start: now}
		s.ru[appID] = w
	}
	if w.spent+cost > s.opts.RUBudget {
		wait := int(math.Ceil(w.start.Add(ruWindowLength).Sub(now).Seconds()))
		return s.tooMany(now, appID, max(wait, 1))
	}
	w.spent += cost
	return nil
}

func (s *Server) tooMany(now time.Time, appID string, retryAfter int) *resp {
	out := graphErrorAt(now, http.StatusTooManyRequests, "TooManyRequests", "Too many requests. Please retry again later.")
	out.header.Set("Retry-After", strconv.Itoa(retryAfter))
	out.header.Set("x-ms-throttle-scope", "Tenant_Application/ReadWrite/"+appID+"/"+s.t.id)
	out.header.Set("x-ms-throttle-information", "ResourceUnitLimitExceeded")
	return out
}

// requestCost applies the documented modifiers to a route's base cost.
func requestCost(base int, r *http.Request) int {
	if base == 0 {
		return 0
	}
	q := r.URL.Query()
	cost := base
	if queryValue(q, "select") != "" {
		cost--
	}
	if queryValue(q, "expand") != "" {
		cost++
	}
	if t, err := strconv.Atoi(queryValue(q, "top")); err == nil && t < 20 {
		cost--
	}
	return max(cost, 1)
}

// echoResponse is an Echo fault's reply: the request repeated in the error
// text, in Entra's OAuth shape on the token endpoint and Graph's elsewhere.
func (s *Server) echoResponse(f *Fault, r *http.Request, token bool) *resp {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	said := fmt.Sprintf("the request was: %s %s with Authorization %q and body %s", r.Method, r.URL.Path, r.Header.Get("Authorization"), body)
	if token {
		return s.entraError(f.Status, "invalid_request", 900144, said)
	}
	return graphErrorAt(s.now(), f.Status, "BadRequest", said)
}
