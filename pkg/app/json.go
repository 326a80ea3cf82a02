package app

import (
	"time"

	"github.com/g2msync/g2msync/pkg/plan"
)

// JSONChange is the stable JSON shape of a change, in `plan --output json`,
// provision and explain. Fields are added, never renamed or removed.
type JSONChange struct {
	Action     string            `json:"action"`
	EntraID    string            `json:"entra_id"`
	UPN        string            `json:"upn,omitempty"`
	Email      string            `json:"email,omitempty"`
	GoToKey    string            `json:"goto_key,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	Fields     []JSONField       `json:"fields,omitempty"`
	Licenses   *JSONList         `json:"licenses,omitempty"`
	AdminRoles *JSONList         `json:"admin_roles,omitempty"`
	Profile    map[string]string `json:"profile,omitempty"`
	// Approved marks a disable or delete released by a person's approval.
	Approved bool `json:"approved,omitempty"`
	// Deferred says why a deferred change waits (deferred list only).
	Deferred *JSONDeferral `json:"deferral,omitempty"`
}

// JSONDeferral says why a deferred change waits.
type JSONDeferral struct {
	Cause     string    `json:"cause"`
	Reason    string    `json:"reason"`
	Until     time.Time `json:"until,omitzero"`
	Attempts  int       `json:"attempts,omitempty"`
	LastError string    `json:"last_error,omitempty"`
}

// JSONField is one field a change sets.
type JSONField struct {
	Name string `json:"name"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

// JSONPlan is the stable JSON shape of a plan.
type JSONPlan struct {
	InScope     int          `json:"in_scope"`
	Owned       int          `json:"owned"`
	OwnedActive int          `json:"owned_active"`
	Abort       string       `json:"abort,omitempty"`
	Changes     []JSONChange `json:"changes"`
	Staged      []JSONChange `json:"staged"`
	Deferred    []JSONChange `json:"deferred"`
	Skips       []JSONChange `json:"skips"`
	// Reconcile is set when the plan listed every GoTo account to find
	// drift; Drift are the accounts it found changed outside g2msync.
	Reconcile bool        `json:"reconcile,omitempty"`
	Drift     []JSONDrift `json:"drift,omitempty"`
}

// JSONDrift is an owned account changed in GoTo outside g2msync: what GoTo
// holds against what g2msync recorded (old), and the change that repairs
// it, held (not applied) under goto.drift: report.
type JSONDrift struct {
	EntraID    string      `json:"entra_id"`
	UPN        string      `json:"upn,omitempty"`
	GoToKey    string      `json:"goto_key"`
	Deleted    bool        `json:"deleted,omitempty"`
	Suspended  bool        `json:"suspended,omitempty"`
	Fields     []JSONField `json:"fields,omitempty"`
	Licenses   *JSONList   `json:"licenses,omitempty"`
	AdminRoles *JSONList   `json:"admin_roles,omitempty"`
	Repair     JSONChange  `json:"repair"`
	Held       bool        `json:"held,omitempty"`
}

// JSONDrifts gives the JSON shape of ds.
func JSONDrifts(ds []plan.Drift) []JSONDrift {
	out := make([]JSONDrift, 0, len(ds))
	for i := range ds {
		d := &ds[i]
		j := JSONDrift{EntraID: d.EntraID, UPN: d.UPN, GoToKey: d.GoToKey, Deleted: d.Deleted, Suspended: d.Suspended,
			Licenses: jsonList(d.Licenses), AdminRoles: jsonList(d.AdminRoles), Repair: JSONChanges([]plan.Change{d.Repair})[0], Held: d.Held}
		for _, f := range d.Fields {
			j.Fields = append(j.Fields, JSONField{Name: f.Field.String(), Old: f.Old, New: f.New})
		}
		out = append(out, j)
	}
	return out
}

// JSONChanges gives the JSON shape of cs.
func JSONChanges(cs []plan.Change) []JSONChange {
	out := make([]JSONChange, 0, len(cs))
	for i := range cs {
		c := &cs[i]
		j := JSONChange{Action: string(c.Kind), EntraID: c.EntraID, UPN: c.UPN, Email: c.Email(), GoToKey: c.GoToKey,
			Reason: c.Reason, Licenses: jsonList(c.Licenses), AdminRoles: jsonList(c.AdminRoles), Approved: c.Approved}
		if d := c.Deferral; d != nil {
			j.Deferred = &JSONDeferral{Cause: string(d.Cause), Reason: d.Reason, Until: d.Until, Attempts: d.Attempts, LastError: d.LastError}
		}
		for _, f := range c.Fields {
			j.Fields = append(j.Fields, JSONField{Name: f.Field.String(), Old: f.Old, New: f.New})
		}
		if c.Kind == plan.KindCreate {
			j.Profile = map[string]string{}
			for _, f := range plan.AllFields() {
				if v := c.Profile.Get(f); v != "" {
					j.Profile[f.String()] = v
				}
			}
		}
		out = append(out, j)
	}
	return out
}

// JSONList is the JSON shape of a list a change sets: what it held and
// what it will hold, [] for none, in the snake_case every JSON output uses.
type JSONList struct {
	Old []string `json:"old"`
	New []string `json:"new"`
}

func jsonList(l *plan.ListChange) *JSONList {
	if l == nil {
		return nil
	}
	j := &JSONList{Old: l.Old, New: l.New}
	if j.Old == nil {
		j.Old = []string{}
	}
	if j.New == nil {
		j.New = []string{}
	}
	return j
}
