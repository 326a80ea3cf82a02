package console

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/g2msync/g2msync/pkg/app"
)

// approvalsData is the approvals page: the staged changes grouped by the
// cause that holds them, each group with its own form.
type approvalsData struct {
	Groups []approvalGroup
	// Total counts the staged rows of every group.
	Total int
}

type approvalGroup struct {
	app.ApprovalGroup
	// ID anchors the group on the page ("g1") and names it in ?select=.
	ID string
	// Common is the rows' own reason when they all share it: said once
	// above the table instead of on every row.
	Common string
	// Selected ticks every approvable row (the "select all" link): a page
	// without script selects by reloading.
	Selected bool
}

func (s *Server) approvals(w http.ResponseWriter, r *http.Request, p *page) error {
	groups, err := s.opts.Backend.Approvals(r.Context())
	if err != nil {
		return err
	}
	d := approvalsData{}
	sel := r.URL.Query().Get("select")
	for i, g := range groups {
		ag := approvalGroup{ApprovalGroup: g, ID: "g" + strconv.Itoa(i+1)}
		ag.Selected = sel == ag.ID && g.Approvable > 0
		ag.Common = g.Rows[0].Reason
		for _, row := range g.Rows {
			if row.Reason != ag.Common {
				ag.Common = ""
				break
			}
		}
		d.Total += len(g.Rows)
		d.Groups = append(d.Groups, ag)
	}
	p.Title, p.Nav, p.Data = "Approvals", "approvals", d
	s.render(w, "approvals", p)
	return nil
}

// selectAll ticks every approvable row of a group: the page has no
// script, so its "Select all" button posts here and comes back with the
// group's boxes ticked (a button, not a link, keeps the CSRF token out of
// the address). It changes nothing.
// The form is the group's, every row in it, so it may be as large as an
// approval.
func (s *Server) selectAll(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r, maxApprovalBytes) {
		return
	}
	to := "/approvals"
	if g := r.PostFormValue("select"); groupID.MatchString(g) {
		to += "?select=" + g + "#" + g
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// groupID is a group's anchor on the approvals page.
var groupID = regexp.MustCompile(`^g[0-9]{1,6}$`)

// picked reads the rows a form names, each "entra-id|fingerprint" as
// shown; an id with no fingerprint is refused, so a form from elsewhere
// cannot name rows it never saw.
func picked(values []string) (map[string]string, error) {
	shown := map[string]string{}
	for _, v := range values {
		id, fp, ok := strings.Cut(v, "|")
		if !ok || id == "" {
			return nil, fmt.Errorf("the form is malformed; reload the page")
		}
		shown[id] = fp
	}
	return shown, nil
}

// approve approves what the operator saw: each row of the form carries
// the staged change's fingerprint, and "all" means every row of the group
// shown, never what a cycle staged since the page was loaded. Kept rows
// are never approved, whatever the form says.
func (s *Server) approve(ctx context.Context, r *http.Request, op Operator) (string, error) {
	values := r.PostForm["id"]
	if r.PostFormValue("all") != "" {
		values = r.PostForm["shown"]
	}
	if len(values) == 0 {
		return "nothing selected: tick the disables to approve, or approve all", nil
	}
	shown, err := picked(values)
	if err != nil {
		return "", err
	}
	n, err := s.opts.Backend.Approve(ctx, op, shown)
	if err != nil {
		return "", err
	}
	msg := fmt.Sprintf("approved %d staged disables; the next cycle applies them (each only as it was staged)", n)
	if n < len(shown) {
		msg += fmt.Sprintf("; %d had changed since the page was shown, or are kept staged, and wait", len(shown)-n)
	}
	return msg, nil
}

// keep keeps the ticked rows staged, with the operator's reason.
func (s *Server) keep(ctx context.Context, r *http.Request, op Operator) (string, error) {
	shown, err := picked(r.PostForm["id"])
	if err != nil {
		return "", err
	}
	if len(shown) == 0 {
		return "nothing selected: tick the rows to keep staged", nil
	}
	ids := make([]string, 0, len(shown))
	for id := range shown {
		ids = append(ids, id)
	}
	n, err := s.opts.Backend.Keep(ctx, op, ids, strings.TrimSpace(r.PostFormValue("reason")))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("kept %s staged: no approval releases them until an operator does", plural(n, "change")), nil
}

// release lifts the keep of the row whose button was pressed.
func (s *Server) release(ctx context.Context, r *http.Request, op Operator) (string, error) {
	ids := r.PostForm["release"]
	if len(ids) == 0 {
		return "nothing to release", nil
	}
	n, err := s.opts.Backend.Release(ctx, op, ids)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("released %s: approve it when it should go", plural(n, "kept change")), nil
}
