package plan

import (
	"fmt"
	"slices"
	"strings"
)

// DriftPolicy is what a reconcile does with the drift it finds (goto.drift).
type DriftPolicy string

// Drift policies.
const (
	// DriftRepair plans the change that brings each drifted account back to
	// what it should be, as any other change.
	DriftRepair DriftPolicy = "repair"
	// DriftReport reports each drifted account and its repair, and writes
	// nothing to it: for administrators who want to be told first.
	DriftReport DriftPolicy = "report"
)

// ParseDriftPolicy returns the drift policy with the given name; "" is
// repair.
func ParseDriftPolicy(s string) (DriftPolicy, error) {
	switch d := DriftPolicy(s); d {
	case "":
		return DriftRepair, nil
	case DriftRepair, DriftReport:
		return d, nil
	}
	return "", fmt.Errorf("unknown drift policy %q (want repair or report)", s)
}

// Drift is an owned account that a reconcile found changed in GoTo outside
// g2msync, in a way the plan undoes: each part names what GoTo holds now
// against what g2msync last applied.
type Drift struct {
	EntraID string
	UPN     string
	GoToKey string
	// Deleted: the account no longer exists in GoTo.
	Deleted bool
	// Suspended: g2msync had disabled (suspended) the account, and it holds
	// licences or admin roles again.
	Suspended bool
	// Fields are the profile fields changed in GoTo (Old as recorded, New
	// as GoTo holds it) that the repair sets back.
	Fields []FieldChange
	// Licenses and AdminRoles are set when the repair changes a list that
	// GoTo holds otherwise than recorded (Old recorded, New in GoTo).
	Licenses   *ListChange
	AdminRoles *ListChange
	// Repair is the change that undoes the drift. Held says that goto.drift
	// is report: the change is shown and not applied.
	Repair Change
	Held   bool
}

// drifts finds, among the changes planned, those that undo drift (a
// reconcile's observation of an owned account that differs from its
// record), and returns them with the changes to apply: all of them under
// DriftRepair, the others under DriftReport. A disable or delete of an
// active account is the directory's doing, not a repair, and is never
// held; re-disabling an account g2msync had suspended is a repair.
func (c *computer) drifts(changes []Change) ([]Change, []Drift) {
	if !c.in.Reconcile || (len(c.stored) == 0 && len(c.gone) == 0) {
		return changes, nil
	}
	gone := make(map[string]*Record, len(c.gone))
	for _, r := range c.gone {
		gone[r.EntraID] = r
	}
	report := c.in.Policy.Drift == DriftReport
	var out []Drift
	kept := changes[:0:0]
	for i := range changes {
		ch := &changes[i]
		d, ok := c.drift(ch, gone[ch.EntraID])
		if !ok {
			kept = append(kept, *ch)
			continue
		}
		d.Held = report
		out = append(out, d)
		if !report {
			kept = append(kept, *ch)
		}
	}
	slices.SortFunc(out, func(a, b Drift) int { return strings.Compare(a.EntraID, b.EntraID) })
	return kept, out
}

// drift returns what of ch undoes drift, if anything; g is the person's
// record when their account was deleted in GoTo.
func (c *computer) drift(ch *Change, g *Record) (Drift, bool) {
	d := Drift{EntraID: ch.EntraID, UPN: ch.UPN, GoToKey: ch.GoToKey, Repair: *ch}
	if g != nil {
		if ch.Kind != KindCreate && ch.Kind != KindAdopt && ch.Kind != KindForget {
			return Drift{}, false
		}
		d.GoToKey, d.Deleted = g.GoToKey, true
		return d, true
	}
	was := c.stored[ch.EntraID]
	if was == nil || ch.Prior == nil || ch.Kind == KindDelete || (ch.Kind == KindDisable && was.State != StateDisabled) {
		return Drift{}, false
	}
	now := ch.Prior
	if ch.Kind == KindDisable {
		d.Suspended = true
	}
	for _, f := range ch.Fields {
		if o, n := was.Profile.Get(f.Field), now.Profile.Get(f.Field); o != n {
			d.Fields = append(d.Fields, FieldChange{Field: f.Field, Old: o, New: n})
		}
	}
	if ch.Licenses != nil && !slices.Equal(normalize(was.Licenses), now.Licenses) {
		d.Licenses = &ListChange{Old: normalize(was.Licenses), New: now.Licenses}
	}
	if ch.AdminRoles != nil && !slices.Equal(normalize(was.AdminRoles), now.AdminRoles) {
		d.AdminRoles = &ListChange{Old: normalize(was.AdminRoles), New: now.AdminRoles}
	}
	if !d.Suspended && d.Fields == nil && d.Licenses == nil && d.AdminRoles == nil {
		return Drift{}, false
	}
	return d, true
}
