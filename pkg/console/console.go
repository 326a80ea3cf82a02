// Package console is g2msync's web console: the daemon serves it at / on
// its listen address, beside /status and /metrics. Pages are rendered on
// the server with html/template from embedded assets, need no JavaScript
// and load nothing from elsewhere, so the console works on an isolated
// host and under a Content-Security-Policy that allows no script at all.
//
// Reading is open on a loopback listener; elsewhere every page needs a
// person to sign in. Every action (approve, retry, pause, resume) needs a
// signed-in operator, the session's CSRF token and a same-origin request,
// and is written to the provisioning log with the operator's name and
// address. People sign in with Microsoft Entra ID (OpenID Connect, in
// entra.go): anyone of the tenant reads, members of the operators group or
// holders of the operators role act. Local operators, names with bcrypt
// password hashes read from a secret file, are the break-glass door. No
// secret is ever rendered.
package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/state"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Operator is the person behind an action: their name (a local operator's,
// or the UPN of a person signed in with Entra), their Entra object id (""
// for a local operator), and the address the request came from.
type Operator struct{ Name, ID, Address string }

// Seat is one GoTo licence's seats, as `g2msync licenses` counts them.
type Seat struct {
	Key, Name   string
	Used, Total int
	// ManagedActive and ManagedSuspended hold seats through accounts
	// g2msync manages; Unmanaged through the others.
	ManagedActive, ManagedSuspended, Unmanaged int
	// Waiting are the people whose create waits for a seat.
	Waiting int
	// RunsOut says when free seats run out at the last 30 days' rate
	// ("2027-01-10", "now"), or why there is no forecast.
	RunsOut string
}

// Backend is what the console reads and does; cmd/g2msync wires it to the
// state file, the daemon and the clients. Reads must not block on a
// running cycle for long: they return ErrBusy instead.
type Backend interface {
	Status() daemon.StatusDoc
	// Cycles returns the last cycles, newest first (all when limit is 0).
	Cycles(ctx context.Context, limit int) ([]state.Cycle, error)
	Audit(ctx context.Context, f state.AuditFilter) ([]state.AuditEntry, error)
	// WriteLog writes entries as the CLI's report does (csv or json).
	WriteLog(w io.Writer, entries []state.AuditEntry, format string) error
	Seats(ctx context.Context) ([]Seat, error)
	// Explain returns what `g2msync explain user` reports.
	Explain(ctx context.Context, user string) (*app.OnDemandReport, error)
	// Approve approves the staged changes the operator saw: Entra id →
	// the fingerprint shown. One that changed since waits.
	Approve(ctx context.Context, op Operator, shown map[string]string) (int, error)
	// Retry releases a failing person (all when who is "").
	Retry(ctx context.Context, op Operator, who string) (int, error)
	Pause(ctx context.Context, op Operator, reason string) error
	Resume(ctx context.Context, op Operator) error
	// Statistics returns provisioning to date over the last days days, as
	// `g2msync report --stats` prints it (ErrBusy while the file is held).
	Statistics(ctx context.Context, days int) (*app.Statistics, error)
	// Approvals returns the staged changes grouped by the cause that holds
	// them (the threshold a cycle exceeded, or an operator's keep).
	Approvals(ctx context.Context) ([]app.ApprovalGroup, error)
	// Keep keeps the staged changes of the people ids name staged, for
	// reason, until an operator releases them; it returns how many.
	Keep(ctx context.Context, op Operator, ids []string, reason string) (int, error)
	// Release lifts the keeps of ids; it returns how many.
	Release(ctx context.Context, op Operator, ids []string) (int, error)
	// Provision provisions the person user names now, as `g2msync
	// provision USER` does, logged as op's; ErrBusy, at once, while a
	// cycle holds the state file. The report says what GoTo holds after.
	Provision(ctx context.Context, op Operator, user string) (*app.OnDemandReport, error)
	// LicenseNames returns GoTo licences' names by key, from a cache: no
	// page view calls GoTo while a cycle runs.
	LicenseNames(ctx context.Context) map[string]string
	// Mappings returns the mappings, scoping filters, matching, roles and
	// policy in force.
	Mappings() (*app.Mappings, error)
	// MappingTest is `g2msync mapping test [--set FIELD=EXPR] USER`: it
	// changes nothing.
	MappingTest(ctx context.Context, user string, sets []string) (*app.OnDemandReport, error)
}

// ErrBusy: the state file is held by a running cycle; try again shortly.
var ErrBusy = errors.New("the state file is busy with a running cycle; try again in a moment")

// Options configure a console.
type Options struct {
	Backend Backend
	// Operators maps each operator's name to the bcrypt hash of their
	// password: the break-glass door. Without them or Entra every action
	// is refused.
	Operators map[string][]byte
	// Entra, when set, signs people in with Microsoft Entra ID.
	Entra *Entra
	// OpenReads lets anyone who reaches the listener read the pages
	// without signing in: a loopback listener.
	OpenReads bool
	Logger    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// DemoChanges, set by `g2msync demo --serve`, makes a few changes in
	// the simulated tenant and says which: the overview offers a button.
	DemoChanges func() (string, error)
}

// sessionTTL is how long a sign-in lasts.
const sessionTTL = 8 * time.Hour

// Body limits of the console's forms; a larger body is refused with 413
// and nothing is done. The daemon's listener bounds every body at
// daemon.MaxBodyBytes before these.
const (
	// maxSignInBytes: a name and a password (bcrypt reads 72 bytes of it)
	// take well under 1 KiB.
	maxSignInBytes = 16 << 10
	// maxFormBytes: a retry, a pause with its reason, an explain: well
	// under 1 KiB, and 64 KiB leaves room to spare.
	maxFormBytes = 64 << 10
	// maxApprovalBytes: an approval names every staged row shown, as
	// "entra-id|fingerprint", once as shown and once if ticked: about
	// 200 bytes a row, so a gate that staged thousands of disables (a
	// group unassigned) needs far more than the other forms. 2 MiB takes
	// 10,000 rows.
	maxApprovalBytes = daemon.MaxBodyBytes
)

// Server is the console's http.Handler.
type Server struct {
	opts Options
	tmpl *template.Template
	mux  *http.ServeMux

	mu       sync.Mutex
	sessions map[string]*session
	// failures counts recent failed sign-ins by address, to slow guessing.
	failures map[string]*failures
	// checking is the sign-ins being checked now, from every address.
	checking int
	// entra is sign-in with Entra, nil when not configured; pending are
	// its sign-ins sent to Entra and not back yet, by state.
	entra   *entraSignIn
	pending map[string]*pendingSignIn
	// explaining is held while an explain runs: one at a time, so pages
	// cannot keep the state file from the daemon's cycles.
	explaining sync.Mutex
	// provisioned holds each session's last provision report until its
	// page shows it once (person.go); s.mu guards it.
	provisioned map[string]*app.OnDemandReport
	// dummy is a hash of a random password, compared when a sign-in names
	// no operator.
	dummy []byte
}

type session struct {
	name string
	// oid is the Entra object id of a person signed in with Entra.
	oid string
	// canAct: a local operator, or an Entra member of the operators group
	// or holder of the operators role. Others read only.
	canAct  bool
	csrf    string
	expires time.Time
	// flash is what the operator's last action did, shown once.
	flash string
	// notice is what a person should know of their sign-in (that it reads
	// only, and why), shown once, as a notice rather than a success.
	notice string
}

// New builds a console.
func New(opts Options) (*Server, error) {
	if opts.Backend == nil {
		return nil, errors.New("console: no backend")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts}
	tmpl, err := template.New("").Funcs(funcs).Funcs(s.pageFuncs()).ParseFS(assets, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	// The decoy costs what the operators' hashes cost, so a sign-in takes
	// as long whether or not the name is an operator's.
	cost := bcrypt.DefaultCost
	for _, h := range opts.Operators {
		if c, err := bcrypt.Cost(h); err == nil {
			cost = c
			break
		}
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte(randomToken()), cost)
	if err != nil {
		return nil, err
	}
	s.tmpl, s.sessions, s.failures, s.dummy = tmpl, map[string]*session{}, map[string]*failures{}, dummy
	s.pending = map[string]*pendingSignIn{}
	if opts.Entra != nil {
		if s.entra, err = newEntraSignIn(*opts.Entra); err != nil {
			return nil, err
		}
	}
	s.routes()
	return s, nil
}

// ParseOperators reads an operators file: one "name:bcrypt-hash" per line
// (as `htpasswd -nbB` or `g2msync console hash` prints), # for comments.
func ParseOperators(data []byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("line %d: want name:bcrypt-hash", i+1)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("line %d (%s): not a bcrypt hash; make one with `g2msync console hash`", i+1, name)
		}
		out[name] = []byte(hash)
	}
	if len(out) == 0 {
		return nil, errors.New("no operator in the file")
	}
	return out, nil
}

// HashPassword returns the bcrypt hash an operators file holds.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(h), err
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.read(s.overview))
	m.HandleFunc("GET /cycles", s.read(s.cycles))
	m.HandleFunc("GET /cycles/{id}", s.read(s.cycle))
	m.HandleFunc("GET /log", s.read(s.log))
	m.HandleFunc("GET /log.csv", s.read(s.download("csv")))
	m.HandleFunc("GET /log.json", s.read(s.download("json")))
	m.HandleFunc("GET /attention", s.read(s.attention))
	m.HandleFunc("POST /retry", s.act(maxFormBytes, s.retry))
	m.HandleFunc("POST /pause", s.act(maxFormBytes, s.pause))
	m.HandleFunc("POST /resume", s.act(maxFormBytes, s.resume))
	// Approvals grouped by cause, keep and release (approvals.go).
	m.HandleFunc("GET /approvals", s.read(s.approvals))
	m.HandleFunc("POST /approvals", s.act(maxApprovalBytes, s.approve))
	m.HandleFunc("POST /approvals/keep", s.act(maxApprovalBytes, s.keep))
	m.HandleFunc("POST /approvals/release", s.act(maxApprovalBytes, s.release))
	m.HandleFunc("POST /approvals/select", s.selectAll)
	// A person: explain, provision now (person.go).
	m.HandleFunc("GET /person", s.read(s.person))
	m.HandleFunc("POST /person", s.read(s.person))
	m.HandleFunc("POST /person/provision", s.act(maxFormBytes, s.provision))
	// The rules in force, and try them on a person (mappings.go).
	m.HandleFunc("GET /mappings", s.read(s.mappings))
	m.HandleFunc("POST /mappings/test", s.read(s.mappings))
	if s.opts.DemoChanges != nil {
		m.HandleFunc("POST /demo/changes", s.act(maxFormBytes, func(context.Context, *http.Request, Operator) (string, error) { return s.opts.DemoChanges() }))
	}
	m.HandleFunc("GET /statistics", s.read(s.statistics))
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.login)
	m.HandleFunc("POST /logout", s.logout)
	if s.entra != nil {
		m.HandleFunc("POST /auth/start", s.startEntra)
		m.HandleFunc("GET /auth/callback", s.entraCallback)
	}
	m.Handle("GET /static/", http.FileServerFS(assets))
	s.mux = m
}

// ServeHTTP implements http.Handler, with the headers every page gets: no
// script, no frames, nothing from elsewhere.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", policy("'self'"))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	if s.opts.OpenReads && !daemon.LoopbackHost(r.Host) {
		// Open reads are for this host only: a request naming another host
		// is a page elsewhere that rebound its name to 127.0.0.1.
		http.Error(w, "refused: on a loopback listener the console answers only to localhost or a loopback address", http.StatusMisdirectedRequest)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// policy is the Content-Security-Policy of the pages: no script, no
// frames, nothing from elsewhere, forms posted to formAction only.
func policy(formAction string) string {
	return "default-src 'none'; style-src 'self'; img-src 'self'; form-action " + formAction + "; frame-ancestors 'none'; base-uri 'none'"
}

// page is what every template gets.
type page struct {
	Title string
	Nav   string
	// Operator is the signed-in person when they may act, else "": pages
	// show actions only to them. SignedIn is whoever is signed in.
	Operator string
	SignedIn string
	CSRF     string
	CanAct   bool   // someone can sign in to act (operators or Entra configured)
	Entra    bool   // sign-in with Microsoft Entra is offered
	Demo     bool   // the demo's tenant can be changed from the overview
	Flash    string // what the last action did
	Error    string
	Notice   string // handled, but the operator should know (damaged log entries left out)
	// Refresh, when above zero, reloads the page after that many seconds
	// (the Refresh header: no script). Only the overview sets it, only
	// while a cycle runs, and only for a person who asked to follow the
	// cycle: a page that reloads by itself unasked moves a screen reader's
	// place and a keyboard's focus away (WCAG 2.2.1), which axe-core
	// reports as critical of a meta refresh.
	Refresh int
	Data    any
}

type readHandler func(w http.ResponseWriter, r *http.Request, p *page) error

// read serves a page: open to anyone on loopback, to signed-in operators
// elsewhere.
func (s *Server) read(h readHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := s.session(r)
		if !s.opts.OpenReads && sess == nil {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost && !parseForm(w, r, maxFormBytes) {
			return
		}
		p := s.newPage()
		p.Demo = s.opts.DemoChanges != nil
		if sess != nil {
			s.mu.Lock()
			p.SignedIn, p.Flash, sess.flash = sess.name, sess.flash, ""
			if sess.notice != "" {
				p.Notice, sess.notice = sess.notice, ""
			}
			if sess.canAct {
				p.Operator, p.CSRF = sess.name, sess.csrf
			}
			s.mu.Unlock()
		}
		if err := h(w, r, p); err != nil {
			s.fail(w, r, p, err)
		}
	}
}

type actHandler func(ctx context.Context, r *http.Request, op Operator) (string, error)

// parseForm reads a posted form of at most limit bytes. When it cannot,
// it answers (413 for a body over the limit, 400 for a malformed one) and
// returns false.
func parseForm(w http.ResponseWriter, r *http.Request, limit int64) bool {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	err := r.ParseForm()
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		http.Error(w, fmt.Sprintf("refused: the form is over the limit of %d bytes", tooBig.Limit), http.StatusRequestEntityTooLarge)
		return false
	case err != nil:
		http.Error(w, "bad form", http.StatusBadRequest)
		return false
	}
	return true
}

// act runs an action: a form of at most limit bytes, a signed-in
// operator, the session's CSRF token and a same-origin request, or
// nothing happens. It redirects back to the page the form was on, saying
// what was done.
func (s *Server) act(limit int64, h actHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !parseForm(w, r, limit) {
			return
		}
		if !sameOrigin(r) {
			http.Error(w, "refused: the request does not come from this console's own pages (Origin or Referer missing or foreign)", http.StatusForbidden)
			return
		}
		sess := s.session(r)
		if sess == nil {
			http.Error(w, "refused: sign in as an operator first (/login)", http.StatusUnauthorized)
			return
		}
		if !sess.canAct {
			http.Error(w, "refused: "+sess.name+" is signed in to read only: not in the console's operators group and not holding its operators role", http.StatusForbidden)
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(sess.csrf)) != 1 {
			http.Error(w, "refused: the form's CSRF token does not match your session; reload the page and try again", http.StatusForbidden)
			return
		}
		op := Operator{Name: sess.name, ID: sess.oid, Address: remoteIP(r)}
		msg, err := h(r.Context(), r, op)
		back := localPath(r.PostFormValue("back"), "/")
		if err != nil {
			s.opts.Logger.Warn("console action failed", "operator", op.Name, "entra_id", op.ID, "address", op.Address, "path", r.URL.Path, "error", err.Error())
			msg = "failed: " + err.Error()
		} else {
			s.opts.Logger.Info("console action", "operator", op.Name, "entra_id", op.ID, "address", op.Address, "path", r.URL.Path, "result", msg)
		}
		// What it did is shown once, from the session: a link cannot put
		// words in the console's mouth.
		s.mu.Lock()
		sess.flash = msg
		s.mu.Unlock()
		http.Redirect(w, r, back, http.StatusSeeOther)
	}
}

// localPath returns p when it is a path on this console, else def: a
// redirect never leaves the console.
func localPath(p, def string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.Contains(p, "\\") {
		return def
	}
	u, err := url.Parse(p)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return def
	}
	return p
}

// sameOrigin reports whether a state-changing request comes from a page
// of this console: its Origin, or failing that its Referer, names this
// host. A request with neither is refused.
func sameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" || src == "null" {
		src = r.Header.Get("Referer")
	}
	if src == "" {
		return false
	}
	u, err := url.Parse(src)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host) && u.Scheme == scheme
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

const cookieName = "g2msync_session"

func (s *Server) session(r *http.Request) *session {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[c.Value]
	if sess == nil || s.opts.Now().After(sess.expires) {
		delete(s.sessions, c.Value)
		return nil
	}
	return sess
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newPage is a page with what every template needs of the configuration.
func (s *Server) newPage() *page {
	return &page{CanAct: len(s.opts.Operators) > 0 || s.entra != nil, Entra: s.entra != nil}
}

// loginData is the sign-in page's: where to go after, and which doors.
type loginData struct {
	Next       string
	BreakGlass bool // local operators are configured
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	p := s.newPage()
	p.Title, p.Data = "Sign in", loginData{Next: localPath(r.URL.Query().Get("next"), "/"), BreakGlass: len(s.opts.Operators) > 0}
	if r.URL.Query().Get("failed") != "" {
		p.Error = "That name and password do not match an operator."
	}
	s.entra.allowSignInForm(w)
	s.render(w, "login", p)
}

// loginError shows the sign-in page again, saying why the last one failed.
func (s *Server) loginError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := s.newPage()
	p.Title, p.Error, p.Data = "Sign in", msg, loginData{Next: "/", BreakGlass: len(s.opts.Operators) > 0}
	s.entra.allowSignInForm(w)
	s.renderStatus(w, "login", p, status)
}

// startSession signs sess in: a new session id in a strict cookie.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, sess *session) {
	id := randomToken()
	s.mu.Lock()
	now := s.opts.Now()
	for k, v := range s.sessions {
		if now.After(v.expires) {
			delete(s.sessions, k)
		}
	}
	sess.csrf, sess.expires = randomToken(), now.Add(sessionTTL)
	if old, err := r.Cookie(cookieName); err == nil {
		delete(s.sessions, old.Value) // signing in again ends the session this browser had
	}
	s.sessions[id] = sess
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, MaxAge: int(sessionTTL.Seconds())})
}

// signInPost reads a sign-in form posted from this console's own page;
// otherwise it answers and returns false.
func signInPost(w http.ResponseWriter, r *http.Request) bool {
	if !parseForm(w, r, maxSignInBytes) {
		return false
	}
	if !sameOrigin(r) {
		http.Error(w, "refused: sign in from this console's own page", http.StatusForbidden)
		return false
	}
	return true
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !signInPost(w, r) {
		return
	}
	name, password := r.PostFormValue("name"), r.PostFormValue("password")
	next := localPath(r.PostFormValue("next"), "/")
	addr := remoteIP(r)
	if wait := s.beginSignIn(addr); wait > 0 {
		tooMany(w, wait)
		return
	}
	hash, ok := s.opts.Operators[name]
	if !ok {
		hash = s.dummy // as slow as a wrong password: no name is confirmed
	}
	signedIn := false
	defer func() { s.endSignIn(addr, signedIn) }() // a panic must not leave the reservation
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))
	signedIn = err == nil && ok
	if !signedIn {
		s.opts.Logger.Warn("console sign-in refused", "name", name, "address", remoteIP(r))
		http.Redirect(w, r, "/login?failed=1&next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	s.startSession(w, r, &session{name: name, canAct: true})
	s.opts.Logger.Info("console sign-in", "door", "local", "operator", name, "address", remoteIP(r))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "refused: sign out from this console's own page", http.StatusForbidden)
		return
	}
	if c, err := r.Cookie(cookieName); err == nil {
		s.mu.Lock()
		delete(s.sessions, c.Value)
		s.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	if end := s.entra.endSessionURL(r); end != "" {
		http.Redirect(w, r, end, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) render(w http.ResponseWriter, name string, p *page) {
	s.renderStatus(w, name, p, http.StatusOK)
}

func (s *Server) renderStatus(w http.ResponseWriter, name string, p *page, status int) {
	var b strings.Builder
	if err := s.tmpl.ExecuteTemplate(&b, name, p); err != nil {
		s.opts.Logger.Error("console template", "page", name, "error", err.Error())
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if p.Refresh > 0 {
		w.Header().Set("Refresh", strconv.Itoa(p.Refresh))
	}
	w.WriteHeader(status)
	io.WriteString(w, b.String())
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, p *page, err error) {
	status := http.StatusInternalServerError
	if errors.Is(err, ErrBusy) {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
	}
	s.opts.Logger.Warn("console page", "path", r.URL.Path, "error", err.Error())
	p.Title, p.Error = "Not available", err.Error()
	s.renderStatus(w, "error", p, status)
}

// failures are an address's recent failed sign-ins, and the sign-ins of
// it being checked now.
type failures struct {
	n       int
	pending int
	last    time.Time
}

// signInFailures is how many failed sign-ins an address may make before
// it waits; each one past it doubles the wait, up to signInMaxWait.
// signInsInFlight bounds the sign-ins checked at once from every address
// (a bcrypt comparison, or a code redeemed at Entra), and
// signInsInFlightPerAddress those of one address: guesses spread over
// many addresses must not take every core, nor one address every slot.
const (
	signInFailures            = 5
	signInMaxWait             = 15 * time.Minute
	signInsInFlight           = 4
	signInsInFlightPerAddress = 2
)

// beginSignIn reserves a sign-in check for addr, or says how long it must
// wait instead. The checks under way count as failures until they end:
// otherwise concurrent guesses all passed the count before the first
// failure was recorded (174 of 200 were checked). Past the free attempts,
// one check at a time, after the doubling wait.
func (s *Server) beginSignIn(addr string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	for k, f := range s.failures {
		if f.pending == 0 && now.Sub(f.last) > signInMaxWait {
			delete(s.failures, k)
		}
	}
	f := s.failures[addr]
	if f == nil {
		f = &failures{}
		s.failures[addr] = f
	}
	if f.n+f.pending >= signInFailures {
		if f.pending > 0 {
			return time.Second // another guess of this address is being checked
		}
		wait := min(signInMaxWait, time.Second<<min(f.n-signInFailures, 10))
		if left := f.last.Add(wait).Sub(now); left > 0 {
			return left
		}
	}
	if f.pending >= signInsInFlightPerAddress || s.checking >= signInsInFlight {
		return time.Second
	}
	f.pending++
	s.checking++
	return 0
}

// endSignIn ends a check beginSignIn reserved, counting it if it failed.
func (s *Server) endSignIn(addr string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.failures[addr]
	if f == nil {
		return
	}
	f.pending--
	s.checking--
	if !ok {
		f.n++
		f.last = s.opts.Now()
	}
}
