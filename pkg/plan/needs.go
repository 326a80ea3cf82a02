package plan

import "slices"

// Needs is what the engine must read from GoTo before Compute, beyond the
// directory and the state file. Need works it out with the planner's own
// rules, so the engine reads nothing the plan does not use, and leaves
// unread nothing the plan depends on.
type Needs struct {
	// Lookups are the addresses to find GoTo accounts by: those of the people
	// g2msync may create or adopt, and the new address of a change GoTo
	// refused because another account held it. People whose change waits
	// for its back-off are not looked up.
	Lookups []string
	// Live are the GoTo keys of the owned accounts a disable or delete may
	// touch: their roles and licences are read before the plan decides.
	Live []string
	// Licenses says that a change may add a licence, so seats must be read.
	Licenses bool
}

// Need returns what the plan for in needs observed in GoTo. In's Remotes,
// Observed and Licenses are ignored: they are what it asks for.
func Need(in Input) Needs { return Join(in).Need() }

// Need returns what the plan for the joined input needs observed in GoTo.
// It leaves the join as it found it, for Compute.
func (j *Joined) Need() Needs {
	c, in := j.c, j.c.in
	var n Needs
	seen := map[string]bool{}
	look := func(e string) {
		if k := fold(e); e != "" && !seen[k] {
			seen[k] = true
			n.Lookups = append(n.Lookups, e)
		}
	}
	changes := concat(c.byKind)
	if c.failures != nil || (in.Policy.Mode != ModeSync && in.Policy.Mode != "") {
		// backOff and applyMode filter in place, and concat may return the
		// join's own changes: work on a copy then, and only then (an
		// initial sync of 100,000 people would copy 24 MB of creates).
		changes = slices.Clone(changes)
	}
	changes, _ = c.backOff(changes)
	byID := make(map[string]*Account, len(c.accounts))
	for _, a := range c.accounts {
		byID[a.EntraID] = a
	}
	for i := range changes {
		ch := &changes[i]
		if ch.Kind == KindCreate {
			// Not yet known whether create or adopt: whatever the mode, an
			// unowned person is matched against GoTo first.
			for _, m := range byID[ch.EntraID].MatchEmails {
				look(m)
			}
			look(ch.Profile.Email)
			// Which SelectUniqueValue candidate is free depends on GoTo.
			for _, e := range byID[ch.EntraID].EmailCandidates {
				look(e)
			}
		}
		if f := c.failures[ch.EntraID]; f != nil && f.Cause == CauseConflict && f.Fingerprint == ch.Fingerprint() {
			if e, ok := setsEmail(ch); ok {
				look(e)
			}
		}
	}
	changes, _ = applyMode(in.Policy.Mode, changes, nil)
	for i := range changes {
		ch := &changes[i]
		if ch.Kind.Deprovisions() {
			n.Live = append(n.Live, ch.GoToKey)
		}
		if ch.Licenses != nil && len(added(ch.Licenses.Old, ch.Licenses.New)) > 0 {
			n.Licenses = true
		}
	}
	return n
}
