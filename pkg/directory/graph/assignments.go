package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/g2msync/g2msync/pkg/directory"
)

// assignmentPage is one page of appRoleAssignedTo, as far as a read uses
// it. The SDK's request builder still makes the call (its URL, retries,
// authentication and error mapping); only the reply is decoded here,
// straight into these fields. Every cycle reads all the assignments (Graph
// has no delta for them), and kiota's generic JSON tree and typed models
// for them were the largest part of a cycle that changed nothing: 0.28 s
// of CPU for 31 pages at 100,000 people, one page after the other, so on
// the cycle's critical path (docs/benchmarks.md).
type assignmentPage struct {
	// Value is a pointer so that a reply without a collection is told
	// from an empty one: a page that lists nothing would look like
	// everyone's unassignment.
	Value    *[]assignmentRow `json:"value"`
	NextLink string           `json:"@odata.nextLink"`
}

// assignmentRow is one appRoleAssignment; null and absent are both "", as
// kiota's models gave them.
type assignmentRow struct {
	PrincipalID          string `json:"principalId"`
	PrincipalType        string `json:"principalType"`
	PrincipalDisplayName string `json:"principalDisplayName"`
	AppRoleID            string `json:"appRoleId"`
}

// decodeAssignments decodes one page of assignments, appends its rows to
// out and returns them with the page's nextLink. Ids are GUIDs, given in
// the canonical lower-case form whatever form Graph wrote them in (as the
// SDK's models did); one that is not a GUID fails the page, as it failed
// the SDK's parse.
func decodeAssignments(body []byte, out []directory.AppAssignment) ([]directory.AppAssignment, string, error) {
	var p assignmentPage
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, "", fmt.Errorf("the reply is not a page of assignments: %w", err)
	}
	if p.Value == nil {
		return nil, "", errors.New("the reply has no value collection")
	}
	out = slices.Grow(out, len(*p.Value))
	for i, r := range *p.Value {
		row := directory.AppAssignment{PrincipalType: r.PrincipalType, PrincipalDisplayName: r.PrincipalDisplayName}
		var err error
		if row.PrincipalID, err = canonicalID(r.PrincipalID); err != nil {
			return nil, "", fmt.Errorf("assignment %d of the page: principalId: %w", i+1, err)
		}
		if row.AppRoleID, err = canonicalID(r.AppRoleID); err != nil {
			return nil, "", fmt.Errorf("assignment %d of the page: appRoleId: %w", i+1, err)
		}
		out = append(out, row)
	}
	return out, p.NextLink, nil
}

// canonicalID returns a GUID in its canonical form, "" for "".
func canonicalID(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%.40q is not a GUID", s)
	}
	if canonical(s) {
		return s, nil // as Graph writes them: no second string
	}
	return id.String(), nil
}

// canonical reports whether a GUID that parsed is written as
// uuid.UUID.String writes it: 36 characters, lower-case hex.
func canonical(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && c != '-' {
			return false
		}
	}
	return true
}
