package plan

import (
	"fmt"
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
func gate(p *Plan, pol Policy, allowDisables bool, approvals map[string]string, only map[string]bool) {
	if p.InScope == 0 && p.OwnedActive > 0 && only == nil {
		p.Abort = fmt.Sprintf("the directory returned no in-scope users while g2msync manages %d active accounts; "+
			"refusing to deprovision them all: check the app's assignments and g2msync's Graph permissions", p.OwnedActive)
		p.Changes = nil
		return
	}
	n := 0
	for i := range p.Changes {
		c := &p.Changes[i]
		if !c.Kind.Deprovisions() {
			continue
		}
		if fp, ok := approvals[c.EntraID]; ok && fp == c.Fingerprint() {
			c.Approved = true
			continue
		}
		n++
	}
	if n == 0 || allowDisables {
		return
	}
	overCount := pol.MaxDisables >= 0 && n > pol.MaxDisables
	overPercent := pol.MaxDisablesPercent < 100 && p.OwnedActive > 0 &&
		float64(n)*100 > pol.MaxDisablesPercent*float64(p.OwnedActive)
	if !overCount && !overPercent {
		return
	}
	kept := p.Changes[:0]
	for _, c := range p.Changes {
		if c.Kind.Deprovisions() && !c.Approved {
			p.Staged = append(p.Staged, c)
			continue
		}
		kept = append(kept, c)
	}
	p.Changes = kept
	p.StageReason = stageReason(p, pol)
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
