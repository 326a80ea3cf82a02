package console

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/view"
)

// maxTrySets bounds the FIELD=EXPR lines of a "try on a person": GoTo has
// five mapped fields, and pkg/mapping bounds each expression's length,
// depth and evaluation.
const maxTrySets = 10

type mappingsData struct {
	Mappings *app.Mappings
	// Names are the licences' names by key.
	Names map[string]string
	// User and Sets are the "try on a person" form, as sent.
	User, Sets string
	// Report is the mapping test's steps; Done is "mapping test" once run.
	Report view.OnDemand
	Done   string
}

// mappings shows the rules in force and the "try on a person" form; the
// try is a POST from this page, read-only, one at a time with explains
// (it reads Entra and GoTo).
func (s *Server) mappings(w http.ResponseWriter, r *http.Request, p *page) error {
	m, err := s.opts.Backend.Mappings()
	if err != nil {
		return err
	}
	d := &mappingsData{Mappings: m, Names: s.opts.Backend.LicenseNames(r.Context())}
	p.Title, p.Nav, p.Data = "Mappings", "mappings", d
	if r.Method != http.MethodPost {
		d.User = strings.TrimSpace(r.URL.Query().Get("user"))
		s.render(w, "mappings", p)
		return nil
	}
	d.User, d.Sets = strings.TrimSpace(r.PostFormValue("user")), r.PostFormValue("sets")
	if !sameOrigin(r) {
		http.Error(w, "refused: try mappings from this console's own page", http.StatusForbidden)
		return nil
	}
	sets, err := trySets(d.Sets)
	if err == nil && len(sets) > 0 && p.Operator == "" {
		// An override may name any attribute, which the person is then
		// read again for with g2msync's own Graph permissions
		// (mobilePhone, employeeHireDate, extension attributes): more than
		// a reader of these pages sees.
		p.Error = "overrides are for the console's operators: an expression may read any attribute of any person with g2msync's Graph permissions; sign in as an operator, or try the mappings in force"
		s.renderStatus(w, "mappings", p, http.StatusForbidden)
		return nil
	}
	if err == nil {
		err = checkPerson(d.User)
	}
	if err != nil {
		p.Error = err.Error()
		s.renderStatus(w, "mappings", p, http.StatusBadRequest)
		return nil
	}
	if rep, ran := s.oneAtATime(w, r, p, "mappings", func(ctx context.Context) (*app.OnDemandReport, error) {
		return s.opts.Backend.MappingTest(ctx, d.User, sets)
	}); ran {
		if rep != nil {
			d.Report, d.Done = view.OnDemandView(rep, d.Names), "mapping test"
		}
		s.render(w, "mappings", p)
	}
	return nil
}

// trySets reads the overrides field: one FIELD=EXPRESSION a line, blank
// lines ignored.
func trySets(text string) ([]string, error) {
	var sets []string
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if !strings.Contains(line, "=") {
			return nil, fmt.Errorf("%q: write each override as FIELD=EXPRESSION, e.g. firstName=Left([givenName], 1)", view.Safe(line))
		}
		sets = append(sets, strings.TrimSpace(line))
	}
	if len(sets) > maxTrySets {
		return nil, fmt.Errorf("%d overrides: at most %d, one for each GoTo field", len(sets), maxTrySets)
	}
	return sets, nil
}
