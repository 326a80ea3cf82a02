package console

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/state"
	"github.com/g2msync/g2msync/pkg/view"
)

// personLogEntries is how many provisioning log entries the person page
// shows; the link below them searches the rest.
const personLogEntries = 10

// maxPersonQuery bounds the person field: an object id, a UPN or a mail
// address is far shorter.
const maxPersonQuery = 320

type personData struct {
	User string
	// Report is an explain's or a provision's steps, as the CLI prints
	// them; Done names which ("explain", "provision"), "" when none ran.
	Report view.OnDemand
	Done   string
	// Log is the person's last entries, for a user given with no report.
	Log []state.AuditEntry
	// LogErr says why the log could not be read (busy).
	LogErr string
}

// person shows the person form, filled in from ?user=, with their last
// log entries, or the provision this session just made. Explain is a POST
// from this console's own page (explain reads Entra and GoTo, so no link
// elsewhere may start one), one at a time.
func (s *Server) person(w http.ResponseWriter, r *http.Request, p *page) error {
	user := strings.TrimSpace(r.FormValue("user"))
	d := personData{User: user}
	p.Title, p.Nav, p.Data = "Person", "person", &d
	if user != "" {
		if err := checkPerson(user); err != nil {
			p.Error, d.User = err.Error(), ""
			s.renderStatus(w, "person", p, http.StatusBadRequest)
			return nil
		}
	}
	if r.Method != http.MethodPost || user == "" {
		if rep := s.takeProvisioned(r); rep != nil {
			d.Report, d.Done = view.OnDemandView(rep, s.opts.Backend.LicenseNames(r.Context())), "provision"
		} else if user != "" {
			log, err := s.opts.Backend.Audit(r.Context(), state.AuditFilter{User: user, Limit: personLogEntries})
			if err = p.damaged(err); err != nil {
				d.LogErr = err.Error()
			}
			for i := len(log) - 1; i >= 0; i-- {
				d.Log = append(d.Log, log[i]) // newest first
			}
		}
		s.render(w, "person", p)
		return nil
	}
	if !sameOrigin(r) {
		http.Error(w, "refused: explain from this console's own page", http.StatusForbidden)
		return nil
	}
	if rep, ran := s.oneAtATime(w, r, p, "person", func(ctx context.Context) (*app.OnDemandReport, error) { return s.opts.Backend.Explain(ctx, user) }); ran {
		if rep != nil {
			d.Report, d.Done = view.OnDemandView(rep, s.opts.Backend.LicenseNames(r.Context())), "explain"
		}
		s.render(w, "person", p)
	}
	return nil
}

// oneAtATime runs a read of Entra and GoTo for a page (an explain, a
// mapping test), one at a time and for at most a minute, so pages cannot
// keep the daemon's cycles from the state file; its error goes on the
// page. When another runs, it answers 429 with tmpl and reports false.
func (s *Server) oneAtATime(w http.ResponseWriter, r *http.Request, p *page, tmpl string, fn func(context.Context) (*app.OnDemandReport, error)) (*app.OnDemandReport, bool) {
	if !s.explaining.TryLock() {
		p.Error = "another explain or mapping test is running; try again in a moment"
		s.renderStatus(w, tmpl, p, http.StatusTooManyRequests)
		return nil, false
	}
	defer s.explaining.Unlock()
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	rep, err := fn(ctx)
	if err != nil {
		p.Error = err.Error()
	}
	return rep, true
}

// checkPerson refuses a person field that cannot name anyone: an object
// id, a UPN or a mail address is one short line.
func checkPerson(user string) error {
	if user == "" || len(user) > maxPersonQuery || strings.ContainsAny(user, "\x00\r\n") {
		return fmt.Errorf("%q names no one: give an Entra object id, a userPrincipalName or a mail address", view.Safe(user))
	}
	return nil
}

// provision provisions the person named now, as `g2msync provision USER`
// does, and keeps the report for the page the operator is sent back to.
// While a cycle holds the state file it is refused at once: try again.
func (s *Server) provision(ctx context.Context, r *http.Request, op Operator) (string, error) {
	user := strings.TrimSpace(r.PostFormValue("user"))
	if err := checkPerson(user); err != nil {
		return "", err
	}
	// Once started, a provision runs to its end: an operator who closes
	// the tab must not leave a change half made (its intent would make it
	// safe, but the next cycle would finish it unasked).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	rep, err := s.opts.Backend.Provision(ctx, op, user)
	if rep != nil {
		s.keepProvisioned(r, rep)
	}
	if err != nil {
		return "", err
	}
	var parts []string
	for _, p := range rep.People {
		parts = append(parts, fmt.Sprintf("%s: %s, %s", p.UPN, p.Action.Action, p.Result.Status))
	}
	for _, q := range rep.Unmatched {
		parts = append(parts, q+": no Entra user matches it")
	}
	return "provisioned on demand: " + strings.Join(parts, "; "), nil
}

// provisionedKeep bounds the reports kept for sessions that never came
// back for theirs.
const provisionedKeep = 64

// keepProvisioned keeps rep for the session of r until its page shows it.
func (s *Server) keepProvisioned(r *http.Request, rep *app.OnDemandReport) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.provisioned == nil || len(s.provisioned) >= provisionedKeep {
		s.provisioned = map[string]*app.OnDemandReport{}
	}
	s.provisioned[c.Value] = rep
}

// takeProvisioned returns, once, the report of the last provision of the
// session of r.
func (s *Server) takeProvisioned(r *http.Request) *app.OnDemandReport {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rep := s.provisioned[c.Value]
	delete(s.provisioned, c.Value)
	return rep
}

// pageFuncs are the template functions that read the backend: licence
// names beside keys.
func (s *Server) pageFuncs() template.FuncMap {
	return template.FuncMap{
		"mapped":      view.MappedValue,
		"licensename": view.LicenseName,
		// change shows one value of a logged change: a licenseKeys value
		// gets each licence's name beside its key.
		"change": func(name, value string) string {
			if value == "" {
				return "-"
			}
			if name != "licenseKeys" {
				return value
			}
			return view.LicenseList(strings.Split(value, ","), s.opts.Backend.LicenseNames(context.Background()))
		},
	}
}
