package app

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/g2msync/g2msync/pkg/plan"
)

// A change's lists are {"old": [...], "new": [...]}, [] for none: `plan
// --output json` wrote Go's field names and null.
func TestJSONChangeListsAreSnakeCase(t *testing.T) {
	out, err := json.Marshal(JSONChanges([]plan.Change{{Kind: plan.KindUpdate, EntraID: "e1",
		Licenses: &plan.ListChange{New: []string{"L1"}}, AdminRoles: &plan.ListChange{Old: []string{"MANAGE_USERS"}}}}))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"licenses":{"old":[],"new":["L1"]}`, `"admin_roles":{"old":["MANAGE_USERS"],"new":[]}`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("%s lacks %s", out, want)
		}
	}
}
