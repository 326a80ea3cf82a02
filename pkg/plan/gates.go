package plan

import (
	"fmt"
	"math"
	"slices"
)

// protect turns disables and deletes of accounts holding SUPER_USER into
// skips, unless the policy allows them: an administrator losing their own
// super user to a mistaken unassignment is the outage nobody can undo. The
// roles are what GoTo holds when the account was observed (Input.Observed),
// so a SUPER_USER granted in the GoTo portal is protected too.
func protect(p Policy, changes, skips []Change) ([]Change, []Change) {
	if p.DisableSuperUsers {
		return changes, skips
	}
	kept := changes[:0]
	for _, c := range changes {
		if c.Kind.Deprovisions() && c.Prior != nil && slices.Contains(c.Prior.AdminRoles, "SUPER_USER") {
			c.Kind, c.Licenses, c.AdminRoles = KindSkip, nil, nil
			c.Reason = fmt.Sprintf("holds SUPER_USER, so it is not deprovisioned (set safety.disable_super_users to allow); would have: %s", c.Reason)
			skips = append(skips, c)
			continue
		}
		kept = append(kept, c)
	}
	return kept, skips
}

// gate applies the safety gates of DESIGN §4 to a plan that policy and
// protection have already filtered. A disable or delete a person approved
// (its fingerprint is in approvals) passes; the others are counted against
// the thresholds on their own, and all of them staged when they exceed them.
// A disable or delete an operator kept staged (kept) is staged whatever the
// thresholds and allowDisables say: "not this one" holds until released.
func gate(p *Plan, pol Policy, allowDisables bool, approvals map[string]string, kept, only map[string]bool) {
	if p.InScope == 0 && p.OwnedActive > 0 && only == nil {
		p.Abort = fmt.Sprintf("the directory returned no in-scope users while g2msync manages %d active accounts; "+
			"refusing to deprovision them all: check the app's assignments and g2msync's Graph permissions", p.OwnedActive)
		p.Changes = nil
		return
	}
	g := Gate{OwnedActive: p.OwnedActive, MaxDisables: pol.MaxDisables, MaxDisablesPercent: pol.MaxDisablesPercent}
	held := 0
	for i := range p.Changes {
		c := &p.Changes[i]
		if !c.Kind.Deprovisions() {
			continue
		}
		if kept[c.EntraID] {
			held++
		} else if fp, ok := approvals[c.EntraID]; ok && fp == c.Fingerprint() {
			c.Approved = true
			continue
		}
		if c.Kind == KindDelete {
			g.Deletes++
		} else {
			g.Disables++
		}
	}
	n := g.Disables + g.Deletes
	if n == 0 {
		return
	}
	g.OverCount = pol.MaxDisables >= 0 && n > pol.MaxDisables
	g.OverPercent = pol.MaxDisablesPercent < 100 && p.OwnedActive > 0 &&
		float64(n)*100 > pol.MaxDisablesPercent*float64(p.OwnedActive)
	over := (g.OverCount || g.OverPercent) && !allowDisables
	if !over && held == 0 {
		return
	}
	rest := p.Changes[:0]
	for _, c := range p.Changes {
		if c.Kind.Deprovisions() && (kept[c.EntraID] || (over && !c.Approved)) {
			p.Staged = append(p.Staged, c)
			continue
		}
		rest = append(rest, c)
	}
	p.Changes = rest
	p.Kept = held
	if over {
		p.Gate = &g
		p.StageReason = stageReason(p, pol)
		return
	}
	p.StageReason = fmt.Sprintf("%d kept staged by an operator; release them with `g2msync approve --release USER`, then approve them", held)
}

// Gate is the safety threshold a cycle's disables and deletes exceeded,
// with the numbers it weighed: what the approvals page groups staged
// changes by, so that no door rebuilds the policy to say which limit was
// passed and by how much.
type Gate struct {
	// Disables and Deletes are the deprovisions the cycle planned that no
	// person had approved (the kept ones included).
	Disables int `json:"disables"`
	Deletes  int `json:"deletes"`
	// OwnedActive is the number of owned accounts not disabled, which
	// MaxDisablesPercent is a share of.
	OwnedActive int `json:"owned_active"`
	// MaxDisables and MaxDisablesPercent are the limits in force
	// (safety.max_disables, -1 for none; safety.max_disables_percent, 100
	// for none); OverCount and OverPercent say which were exceeded.
	MaxDisables        int     `json:"max_disables"`
	MaxDisablesPercent float64 `json:"max_disables_percent"`
	OverCount          bool    `json:"over_count,omitempty"`
	OverPercent        bool    `json:"over_percent,omitempty"`
}

// PercentLimit is the most deprovisions max_disables_percent allows in one
// cycle: the gate stages n when n is over MaxDisablesPercent of OwnedActive.
func (g Gate) PercentLimit() int {
	return int(math.Floor(g.MaxDisablesPercent * float64(g.OwnedActive) / 100))
}

// Text says which limit the cycle went over and by how much, e.g. "14
// disables in one cycle, over the limit of 10 (safety.max_disables)".
func (g Gate) Text() string {
	var what string
	switch {
	case g.Deletes == 0:
		what = plural(g.Disables, "disable")
	case g.Disables == 0:
		what = plural(g.Deletes, "delete")
	default:
		what = fmt.Sprintf("%s and %s", plural(g.Disables, "disable"), plural(g.Deletes, "delete"))
	}
	count := fmt.Sprintf("%d (safety.max_disables)", g.MaxDisables)
	pct := fmt.Sprintf("%d (%g %% of %d owned active accounts, safety.max_disables_percent)", g.PercentLimit(), g.MaxDisablesPercent, g.OwnedActive)
	switch {
	case g.OverCount && g.OverPercent && g.PercentLimit() < g.MaxDisables:
		return fmt.Sprintf("%s in one cycle, over the limit of %s and of %s", what, pct, count)
	case g.OverCount && g.OverPercent:
		return fmt.Sprintf("%s in one cycle, over the limit of %s and of %s", what, count, pct)
	case g.OverCount:
		return fmt.Sprintf("%s in one cycle, over the limit of %s", what, count)
	case g.OverPercent:
		return fmt.Sprintf("%s in one cycle, over the limit of %s", what, pct)
	}
	return what + " in one cycle, within the limits"
}

func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// stageReason says why a plan's disables were staged, in the words every
// door prints: the plan carries it, so no caller rebuilds the policy to
// word it again.
func stageReason(p *Plan, pol Policy) string {
	pct := 0.0
	if p.OwnedActive > 0 {
		pct = float64(len(p.Staged)) * 100 / float64(p.OwnedActive)
	}
	return fmt.Sprintf("%d disables (%.0f%% of %d owned active accounts) exceed safety.max_disables=%d or safety.max_disables_percent=%g; "+
		"review them with `g2msync plan`, then approve them with `g2msync approve --all` (or one by one with `g2msync approve USER`) for the next cycle, or approve and apply them at once with `g2msync run --once --allow-disables`",
		len(p.Staged), pct, p.OwnedActive, pol.MaxDisables, pol.MaxDisablesPercent)
}
