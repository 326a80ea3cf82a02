package gotosim

import (
	"encoding/json"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Realistic timing, for the benchmark and the demo (unit tests leave it out
// to stay fast). Nothing public measures GoTo's handling time; these are
// modest guesses, so that a bulk create of 100 is not free and arrivals
// within 30 ms of each other bunch as a server sees them.
const (
	DefaultJitter          = 30 * time.Millisecond
	DefaultHandling        = 2 * time.Millisecond
	DefaultHandlingPerItem = time.Millisecond
)

// Fault makes matching requests misbehave. A request matches when Method
// (empty: any) and Route (empty: any; a route name such as RouteUpdateUser, or
// else a substring of the URL path) both match. The first After matching
// calls pass untouched; the next Times calls (zero means 1, negative means
// all) get the fault.
type Fault struct {
	Method string
	Route  string
	After  int
	Times  int
	// Status replies with this status instead of handling the request. The
	// body is Body if set; a 401 gets the current AuthErrorShape; 429 and
	// 5xx get an empty body; any other status gets the errors shape.
	Status int
	Body   string
	// RetryAfter, if set, is sent as the Retry-After header with Status.
	RetryAfter string
	// Truncate handles the request normally (its effects apply) and then
	// sends only the first half of the reply body.
	Truncate bool
	// Hang waits this long before anything else; a client that gives up in
	// the meantime leaves no effect behind.
	Hang time.Duration
}

type faultState struct {
	Fault
	seen  int
	fired int
}

// InjectFault adds a fault. Faults are checked in the order they were added
// and the first one that fires wins.
func (s *Server) InjectFault(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f})
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// matchFault returns the fault that fires for this request, if any. The
// caller holds s.mu.
func (s *Server) matchFault(method, name, path string) *Fault {
	var hit *Fault
	for _, f := range s.faults {
		if f.Method != "" && !strings.EqualFold(f.Method, method) {
			continue
		}
		if f.Route != "" && f.Route != name && !strings.Contains(path, f.Route) {
			continue
		}
		f.seen++
		if hit != nil || f.seen <= f.After || (f.Times >= 0 && f.fired >= f.Times) {
			continue
		}
		f.fired++
		c := f.Fault
		hit = &c
	}
	return hit
}

func (s *Server) writeFault(w http.ResponseWriter, f *Fault) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	switch {
	case f.Body != "":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(f.Body))
	case f.Status == http.StatusUnauthorized:
		s.writeUnauthorized(w)
	case f.Status == http.StatusTooManyRequests || f.Status >= 500:
		w.WriteHeader(f.Status)
	default:
		s.writeErrors(w, f.Status, "injected.fault", http.StatusText(f.Status))
	}
}

// SetLatency changes the delay added to every request.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetRateLimit changes the requests per second per API (negative: unlimited)
// and empties both windows.
func (s *Server) SetRateLimit(perSecond float64) {
	if perSecond == 0 {
		perSecond = 10
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimit = perSecond
	s.windows = newWindows(perSecond)
}

// SetJitter changes the most random delay added to a request's latency
// (see Options.Jitter).
func (s *Server) SetJitter(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jitter = max(d, 0)
}

// SetHandling changes the server's own work per request and per user of a
// bulk create (see Options.Handling).
func (s *Server) SetHandling(perRequest, perItem time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handling, s.handlingItem = max(perRequest, 0), max(perItem, 0)
}

// SetAuthErrorShape changes the body of 401 replies.
func (s *Server) SetAuthErrorShape(shape AuthErrorShape) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authShape = shape
}

// SetKeysAsStrings switches user and licence keys between JSON strings and
// the documented big JSON numbers.
func (s *Server) SetKeysAsStrings(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keysAsStrings = on
}

// SetToIndexInclusive makes list replies' toIndex inclusive (or exclusive).
func (s *Server) SetToIndexInclusive(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.toIndexIncl = on
}

// SetOmitExistingKeys makes bulk create leave out the key of users that
// already existed, as the legacy documentation describes.
func (s *Server) SetOmitExistingKeys(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.omitExisting = on
}

// Calls returns how many requests each route received, 429s and faults
// included, keyed by route name ("POST /users", "POST /oauth/token", …).
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// Writes returns the number of create, update and delete requests received,
// so a dry run can assert it stays at zero.
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[RouteCreateUsers] + s.calls[RouteUpdateUser] + s.calls[RouteDeleteUser]
}

// Throttled returns the number of 429 replies sent by the rate limiter.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// LastBody returns the body of the last request to a route that had one.
func (s *Server) LastBody(route string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.lastBody[route]...)
}

// ResetCounters zeroes the call and 429 counters and forgets request bodies.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
	s.lastBody = map[string][]byte{}
	s.throttled = 0
}

// window is a sliding-window limiter: at most n requests handled in any
// span of time. It replaced a token bucket (burst = rate), which let up to
// 2×rate−1 requests through within one second: kinder than the strictest
// reading of GoTo's "10 requests per second", which a client must survive.
type window struct {
	n       int           // requests allowed per span; 0 means unlimited
	span    time.Duration // the window's length
	handled []time.Time   // arrival times of the last accepted requests, oldest first
}

// newWindows makes one window per API. A whole rate r allows r requests
// per second; a fractional one allows floor(r) (at least 1) per
// floor(r)/r seconds, the same average and no burst beyond it.
func newWindows(rate float64) map[string]*window {
	mk := func() *window {
		if rate < 0 {
			return &window{}
		}
		n := max(int(math.Floor(rate)), 1)
		return &window{n: n, span: time.Duration(float64(n) / rate * float64(time.Second))}
	}
	return map[string]*window{apiOAuth: mk(), apiAdmin: mk()}
}

// allow counts a request arriving at now, unless n requests were already
// accepted within the span before it. Rejected requests are not counted:
// they are not handled.
func (w *window) allow(now time.Time) bool {
	if w.n == 0 {
		return true
	}
	drop := 0
	for drop < len(w.handled) && now.Sub(w.handled[drop]) >= w.span {
		drop++
	}
	w.handled = w.handled[drop:]
	if len(w.handled) >= w.n {
		return false
	}
	w.handled = append(w.handled, now)
	return true
}

// bulkItems counts the users of a bulk create body, for its handling time;
// a body that does not parse counts as none (the handler refuses it).
func bulkItems(body []byte) int {
	var b struct {
		Users []json.RawMessage `json:"users"`
	}
	if json.Unmarshal(body, &b) != nil {
		return 0
	}
	return len(b.Users)
}

// Write is one write the simulator applied to its account, as a benchmark
// times a change from the directory to GoTo: when, what, and to whom.
type Write struct {
	// At is when the write was applied, by the simulator's clock.
	At time.Time
	Op WriteOp
	// Key and Email are the account's after the write (Email "" for a
	// delete); Licenses are the licence keys it holds after it (none for
	// an account a disable suspended).
	Key, Email string
	Licenses   []string
}

// WriteOp is the kind of a Write.
type WriteOp string

// Writes the simulator applies.
const (
	WriteCreate WriteOp = "create" // one per user a bulk create made
	WriteUpdate WriteOp = "update"
	WriteDelete WriteOp = "delete"
)

// WatchWrites calls fn with each write applied from now on, nil stops. fn
// runs while the simulator holds its lock: it must be quick and must not
// call the simulator.
func (s *Server) WatchWrites(fn func(Write)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeLog = fn
}

func (s *Server) wroteLocked(w Write) {
	if s.writeLog == nil {
		return
	}
	w.At = s.now()
	w.Licenses = slices.Clone(w.Licenses)
	s.writeLog(w)
}
