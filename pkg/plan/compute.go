package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/g2msync/g2msync/pkg/address"
)

// Input is everything a plan is computed from.
type Input struct {
	// Accounts are the people the directory returned, mapped. Entra ids are unique.
	Accounts []Account
	// Records are the accounts g2msync owns.
	Records []Record
	// Remotes are existing GoTo accounts that may be adopted: all of them on a
	// full sync, or those found by email for the people without a record.
	// Accounts already owned may appear too; they are never adopted twice.
	Remotes []Remote
	Policy  Policy
	// AllowDisables releases disables that the threshold gate would stage.
	AllowDisables bool

	// Observed is what GoTo holds now for owned accounts, by GoTo key: every
	// account a disable or delete may touch (Needs.Live), or every owned
	// account on a full sync. An owned record whose key is here is planned
	// from what GoTo holds, not from what g2msync last applied; a key mapped
	// to nil is an account that no longer exists.
	Observed map[string]*Remote
	// Licenses are the GoTo account's licences with their seats, read when
	// Needs.Licenses says so; nil means not read, and seats are not checked.
	Licenses []License
	// Failures are the changes that failed before, by person; with Now they
	// decide back-off and quarantine.
	Failures []Failure
	// Approvals are the disables and deletes a person approved: Entra id →
	// the change's Fingerprint.
	Approvals map[string]string
	// Kept are the people whose staged disable or delete an operator chose
	// to keep staged: it stays staged, whatever the thresholds and
	// AllowDisables say, until an operator releases it.
	Kept map[string]bool
	// Now is the time of the plan, for back-off.
	Now time.Time
	// Intents are the interrupted changes of earlier cycles, with what GoTo
	// shows of their accounts; the plan records those that went through
	// before deciding anything else (recover.go).
	Intents []Intent
	// Only, when set, restricts the plan to these people (Entra ids): an
	// on-demand provision. Everyone else is left as they are (no change,
	// skip, approval or forgotten record for them), but their records still
	// hold their accounts and addresses, so no one is adopted or renamed
	// onto someone else's account. A person asked for now is not held by
	// back-off or quarantine. The disable thresholds count every owned
	// account; the no-one-in-scope gate, which guards a full read, does not
	// apply to a read of named people.
	Only map[string]bool
	// Reconcile says that Observed holds every owned account, listed to
	// find drift: changes that undo what was changed in GoTo outside
	// g2msync are reported in Plan.Drift, and held there when the
	// policy's Drift is report.
	Reconcile bool
}

// Compute returns the plan that makes GoTo match the directory. It is a pure
// function: the same input, in any order, gives the same plan. The rules run
// in this order, each on what the previous ones left:
//
//	join        each person against their record (refreshed from Observed)
//	policy      the mode drops what it forbids
//	protect     no SUPER_USER is deprovisioned unless allowed
//	drift       on a reconcile, the changes that undo drift are noted, and held under goto.drift: report
//	licences    an unmanaged licence that no longer exists is not given back
//	back-off    a change that failed waits for its next try, or is quarantined
//	gate        no one in scope aborts; too many disables are staged unless approved
//	addresses   no change may leave two GoTo accounts with one address
//	seats       a licence with no free seat defers the changes that add it
//	addresses   again: a deferred rename keeps its old address
//
// The plan shares nothing with in's slices of records, accounts and GoTo
// accounts (see detach).
func Compute(in Input) *Plan {
	p := compute(in)
	p.detach()
	return p
}

func compute(in Input) *Plan {
	j := join(in)
	return j.c.plan(j.recovered)
}

// Joined is one input's people joined to their records, made once for
// Need and, when the reads from GoTo that Need asked for added nothing to
// the input, for Compute too. At 100,000 people a join takes a tenth of a
// second, and most of a daemon's cycles read nothing from GoTo, so they
// made the same join twice (docs/benchmarks.md).
type Joined struct {
	c         *computer
	recovered []Change
}

// Join joins in's people to their records as Need and Compute do, less
// what GoTo gives (Remotes, Observed, Licenses), which Need asks for.
func Join(in Input) *Joined {
	in.Remotes, in.Observed, in.Licenses = nil, nil, nil
	return join(in)
}

// join settles in's interrupted changes and joins its people to their
// records: the first step of every plan.
func join(in Input) *Joined {
	var recovered []Change
	in.Records, recovered = recoverIntents(in.Records, in.Intents)
	c := newComputer(in)
	c.join()
	return &Joined{c: c, recovered: recovered}
}

// Compute is plan.Compute(in), where in is the input given to Join plus
// what GoTo gave: from the join already made when GoTo gave nothing, and
// afresh otherwise. A Joined computes once.
func (j *Joined) Compute(in Input) *Plan {
	if in.Remotes != nil || in.Observed != nil || in.Licenses != nil || j.c == nil {
		return Compute(in)
	}
	c := j.c
	j.c = nil
	p := c.plan(j.recovered)
	p.detach()
	return p
}

// plan decides, from the join made, what the plan is.
func (c *computer) plan(recovered []Change) *Plan {
	in := c.in
	p := &Plan{InScope: c.inScope, Owned: len(c.records) + len(c.gone), Only: in.Only,
		Recovered: recovered, Settled: settled(in.Intents)}
	for _, r := range c.records {
		if r.State != StateDisabled {
			p.OwnedActive++
		}
	}
	changes := concat(c.byKind)
	skips := c.skips
	changes, skips = applyMode(in.Policy.Mode, changes, skips)
	changes, skips = protect(in.Policy, changes, skips)
	p.StaleApprovals = staleApprovals(in.Approvals, changes, in.Only)
	p.Reconciled = in.Reconcile
	changes, p.Drift = c.drifts(changes)
	if abort := c.trimMissing(changes); abort != "" {
		p.Abort, p.Skips = abort, sortedSkips(skips)
		return p
	}
	var deferred []Change
	changes, deferred = c.backOff(changes)
	p.Changes, p.Deferred = changes, deferred
	gate(p, in.Policy, in.AllowDisables, in.Approvals, in.Kept, in.Only)
	if p.Abort != "" {
		p.Skips = sortedSkips(skips)
		return p
	}
	// Addresses before seats, so that a change dropped for its address takes
	// no seat; and after, since a rename deferred for seats keeps its address.
	p.Changes, skips = c.resolveAddresses(p.Changes, skips)
	c.seats(p)
	p.Changes, skips = c.resolveAddresses(p.Changes, skips)
	p.Skips = sortedSkips(skips)
	sortCreates(p.Changes)
	return p
}

// detach gives the plan's changes their own copies of the records and GoTo
// accounts they start from, in place of pointers into the input's slices. A
// cycle executes its plan for minutes after the input is of no further
// use, and one pointer into a slice keeps the whole of it alive: one
// update's Prior held 100,000 records through a reconcile's three and a
// half minutes of calls (docs/benchmarks.md). Changes that shared a record
// share its copy; a drift's repair is a change too.
func (p *Plan) detach() {
	records := map[*Record]*Record{}
	remotes := map[*Remote]*Remote{}
	repairs := make([]Change, len(p.Drift))
	for i := range p.Drift {
		repairs[i] = p.Drift[i].Repair
	}
	for _, cs := range [][]Change{p.Changes, p.Staged, p.Skips, p.Recovered, p.Deferred, repairs} {
		for i := range cs {
			ch := &cs[i]
			if r := ch.Prior; r != nil {
				if records[r] == nil {
					cp := *r
					records[r] = &cp
				}
				ch.Prior = records[r]
			}
			if r := ch.Remote; r != nil {
				if remotes[r] == nil {
					cp := *r
					remotes[r] = &cp
				}
				ch.Remote = remotes[r]
			}
		}
	}
	for i := range p.Drift {
		p.Drift[i].Repair = repairs[i]
	}
}

func sortedSkips(skips []Change) []Change {
	slices.SortStableFunc(skips, func(a, b Change) int { return strings.Compare(a.EntraID, b.EntraID) })
	return skips
}

// InScope counts the people in scope, as a plan of accounts would.
func InScope(accounts []Account) int {
	n := 0
	for i := range accounts {
		if accounts[i].OutOfScope == "" {
			n++
		}
	}
	return n
}

type computer struct {
	in       Input
	accounts []*Account
	records  []*Record
	inScope  int
	// emails counts the in-scope people mapping to each folded target email,
	// so that two people sharing one address are both skipped; dups names them.
	emails map[string]int32
	dups   map[string][]string
	// lists shares one ListChange among creates that give the same lists
	// (the mapper hands out one slice per role set).
	lists map[listKey]*[2]ListChange
	// remotes and ownedKeys are built only when someone needs matching.
	remotes    map[string]*Remote
	ownedKeys  map[string]*Record
	byKind     [numApply][]Change
	skips      []Change
	createOnly [numFields]bool
	// gone are owned records whose account no longer exists in GoTo, and
	// renamed those whose GoTo address is no longer the one recorded (by
	// Entra id): both observed before planning.
	gone    []*Record
	renamed map[string]string
	// stored are the records as the state file holds them, by Entra id, of
	// the accounts a reconcile observed otherwise.
	stored map[string]*Record
	// failures are the earlier failures by Entra id.
	failures map[string]*Failure
	// ambiguous says, by Entra id, why a person's address is refused (see
	// refusedAddress); notes, what fit cut of their profile.
	ambiguous map[string]string
	notes     map[string]string
}

// GoTo's field limits (its support pages: first and last name at most 32
// characters, email at most 128).
const (
	maxNameLen  = 32
	maxEmailLen = 128
)

// fit returns a, or a copy whose names are cut to GoTo's limit: GoTo refuses
// a longer name, and one such person failed a whole bulk create. The cut is
// noted in the change's reason. An address cannot be cut; refusedAddress
// refuses it.
func (c *computer) fit(a *Account) *Account {
	var cut []string
	p := a.Profile
	for _, f := range []Field{FieldFirstName, FieldLastName} {
		if v := p.Get(f); utf8.RuneCountInString(v) > maxNameLen {
			p.Set(f, string([]rune(v)[:maxNameLen]))
			cut = append(cut, f.String())
		}
	}
	if cut == nil {
		return a
	}
	cp := *a
	cp.Profile = p
	if c.notes == nil {
		c.notes = map[string]string{}
	}
	c.notes[a.EntraID] = fmt.Sprintf("%s cut to GoTo's limit of %d characters", strings.Join(cut, " and "), maxNameLen)
	return &cp
}

// refusedAddress returns why a's target or matching address is refused, or
// "": an address longer than GoTo accepts; or one with a character that
// Unicode case folding changes or maps onto an ASCII letter (the Kelvin
// sign folds to k), which could let one person's address pass for another's
// in GoTo. g2msync neither matches, creates nor renames by such an address,
// and leaves the person's account alone.
func refusedAddress(a *Account) string {
	if n := utf8.RuneCountInString(a.Profile.Email); n > maxEmailLen {
		return fmt.Sprintf("email is %d characters long; GoTo accepts at most %d: shorten mail (or what the email mapping reads) in Entra", n, maxEmailLen)
	}
	for i := -1; i < len(a.MatchEmails); i++ { // the address, then the matching ones, with no slice of them made
		e := a.Profile.Email
		if i >= 0 {
			e = a.MatchEmails[i]
		}
		if r, ok := address.Ambiguous(e); ok {
			return fmt.Sprintf("address %q has the character %U (%q), which case folding may confuse with another letter; "+
				"g2msync does not match or provision by such an address: set mail and userPrincipalName in Entra to plain letters", e, r, r)
		}
	}
	return ""
}

func newComputer(in Input) *computer {
	c := &computer{in: in}
	c.accounts = make([]*Account, len(in.Accounts))
	for i := range in.Accounts {
		c.accounts[i] = c.fit(&in.Accounts[i])
	}
	slices.SortFunc(c.accounts, func(a, b *Account) int { return strings.Compare(a.EntraID, b.EntraID) })
	c.records = c.refresh(in.Records, in.Observed)
	slices.SortFunc(c.records, func(a, b *Record) int { return strings.Compare(a.EntraID, b.EntraID) })
	slices.SortFunc(c.gone, func(a, b *Record) int { return strings.Compare(a.EntraID, b.EntraID) })
	c.pickUnique()
	if len(in.Failures) > 0 {
		c.failures = make(map[string]*Failure, len(in.Failures))
		for i := range in.Failures {
			c.failures[in.Failures[i].EntraID] = &in.Failures[i]
		}
	}
	for _, f := range in.Policy.CreateOnly {
		if f < numFields {
			c.createOnly[f] = true
		}
	}
	c.emails = make(map[string]int32, len(c.accounts))
	for _, a := range c.accounts {
		if a.OutOfScope != "" {
			continue
		}
		c.inScope++
		if a.Skip != "" {
			continue
		}
		if reason := refusedAddress(a); reason != "" {
			if c.ambiguous == nil {
				c.ambiguous = map[string]string{}
			}
			c.ambiguous[a.EntraID] = reason
			continue
		}
		e := fold(a.Profile.Email)
		c.emails[e]++
		if c.emails[e] > 1 {
			if c.dups == nil {
				c.dups = map[string][]string{}
			}
			c.dups[e] = nil
		}
	}
	if c.dups != nil {
		for _, a := range c.accounts {
			if e := fold(a.Profile.Email); a.OutOfScope == "" && a.Skip == "" && c.ambiguous[a.EntraID] == "" && c.emails[e] > 1 {
				c.dups[e] = append(c.dups[e], a.EntraID)
			}
		}
	}
	c.presize()
	return c
}

// presize gives the create and disable lists their final capacity, counted by
// a cheap walk over the ids: at a million people, growing them by appending
// would allocate twice what they hold.
func (c *computer) presize() {
	unowned, gone := 0, 0
	i, j := 0, 0
	for i < len(c.accounts) || j < len(c.records) {
		switch {
		case j == len(c.records) || (i < len(c.accounts) && c.accounts[i].EntraID < c.records[j].EntraID):
			unowned++
			i++
		case i == len(c.accounts) || c.records[j].EntraID < c.accounts[i].EntraID:
			gone++
			j++
		default:
			i++
			j++
		}
	}
	c.byKind[KindCreate.rank()] = make([]Change, 0, unowned)
	c.byKind[KindDisable.rank()] = make([]Change, 0, gone)
}

// listKey identifies a pair of list slices by their backing arrays.
type listKey struct {
	lic, roles *string
	nl, nr     int
}

func first(s []string) *string {
	if len(s) == 0 {
		return nil
	}
	return &s[0]
}

// createLists returns the licence and role changes of a create, shared with
// every other create that starts from the same slices. Changes are read-only.
func (c *computer) createLists(a *Account) (*ListChange, *ListChange) {
	k := listKey{first(a.Licenses), first(a.AdminRoles), len(a.Licenses), len(a.AdminRoles)}
	if c.lists == nil {
		c.lists = map[listKey]*[2]ListChange{}
	}
	pair, ok := c.lists[k]
	if !ok {
		pair = &[2]ListChange{{New: normalize(a.Licenses)}, {New: normalize(a.AdminRoles)}}
		c.lists[k] = pair
	}
	return &pair[0], &pair[1]
}

// refresh returns the records to plan from: each one whose account was
// observed in GoTo replaced by what GoTo holds (so a disable takes away what
// the account really has, and SUPER_USER granted in GoTo protects it), and
// a disabled one that holds licences or roles again counted active (someone
// re-enabled it in GoTo). Records of accounts that no longer exist go to
// c.gone; those whose GoTo address differs from the recorded one are noted
// in c.renamed.
func (c *computer) refresh(records []Record, observed map[string]*Remote) []*Record {
	out := make([]*Record, 0, len(records))
	for i := range records {
		r := &records[i]
		o, seen := observed[r.GoToKey]
		switch {
		case !seen:
			out = append(out, r)
		case o == nil:
			c.gone = append(c.gone, r)
		case o.Profile == r.Profile && isNormal(o.Licenses) && isNormal(o.AdminRoles) && isNormal(r.Licenses) && isNormal(r.AdminRoles) &&
			slices.Equal(o.Licenses, r.Licenses) &&
			slices.Equal(o.AdminRoles, r.AdminRoles) && (r.State != StateDisabled || len(o.Licenses)+len(o.AdminRoles) == 0):
			// GoTo holds what was recorded (a reconcile observes every
			// owned account, nearly all of them so): the record stands,
			// not a copy of it (25 MB more at 100,000 people).
			out = append(out, r)
		default:
			nr := *r
			if fold(o.Profile.Email) != fold(r.Profile.Email) {
				if c.renamed == nil {
					c.renamed = map[string]string{}
				}
				c.renamed[r.EntraID] = o.Profile.Email
			}
			nr.Profile, nr.Licenses, nr.AdminRoles = o.Profile, normalize(o.Licenses), normalize(o.AdminRoles)
			if c.in.Reconcile && (nr.Profile != r.Profile || !slices.Equal(nr.Licenses, normalize(r.Licenses)) || !slices.Equal(nr.AdminRoles, normalize(r.AdminRoles))) {
				if c.stored == nil {
					c.stored = map[string]*Record{}
				}
				c.stored[r.EntraID] = r
			}
			if nr.State == StateDisabled && (len(nr.Licenses) > 0 || len(nr.AdminRoles) > 0) {
				nr.State = StateActive
			}
			out = append(out, &nr)
		}
	}
	return out
}

// forgetGone plans, for each owned account that no longer exists in GoTo,
// dropping its record, unless its person is provisioned afresh (join saw
// them without a record, so they get a create or adoption whose record
// replaces the old one).
func (c *computer) forgetGone() {
	for _, r := range c.gone {
		if c.in.Only != nil && !c.in.Only[r.EntraID] {
			continue
		}
		i, found := slices.BinarySearchFunc(c.accounts, r.EntraID, func(a *Account, id string) int { return strings.Compare(a.EntraID, id) })
		if found {
			if a := c.accounts[i]; a.OutOfScope == "" && a.Skip == "" && c.ambiguous[a.EntraID] == "" && c.emails[fold(a.Profile.Email)] <= 1 {
				continue
			}
		}
		c.add(Change{Kind: KindForget, EntraID: r.EntraID, UPN: r.UPN, GoToKey: r.GoToKey, Prior: r,
			Reason: "GoTo account " + r.GoToKey + " no longer exists (deleted outside g2msync); its record is dropped"})
	}
}

// join walks accounts and records, both sorted by Entra id, side by side.
func (c *computer) join() {
	defer c.forgetGone()
	i, j := 0, 0
	for i < len(c.accounts) || j < len(c.records) {
		switch {
		case j == len(c.records) || (i < len(c.accounts) && c.accounts[i].EntraID < c.records[j].EntraID):
			c.decide(c.accounts[i], nil)
			i++
		case i == len(c.accounts) || c.records[j].EntraID < c.accounts[i].EntraID:
			c.decide(nil, c.records[j])
			j++
		default:
			c.decide(c.accounts[i], c.records[j])
			i++
			j++
		}
	}
}

func (c *computer) add(ch Change) {
	if note := c.notes[ch.EntraID]; note != "" && (ch.Kind == KindCreate || len(ch.Fields) > 0) {
		ch.Reason += "; " + note
	}
	if ch.Kind == KindSkip {
		c.skips = append(c.skips, ch)
		return
	}
	r := ch.Kind.rank()
	c.byKind[r] = append(c.byKind[r], ch)
}

func (c *computer) decide(a *Account, r *Record) {
	if c.in.Only != nil {
		id := ""
		if a != nil {
			id = a.EntraID
		} else if r != nil {
			id = r.EntraID
		}
		if !c.in.Only[id] {
			return
		}
	}
	switch {
	case a == nil || a.OutOfScope != "":
		if r == nil {
			return
		}
		reason := "no longer assigned to the app"
		if a != nil {
			reason = a.OutOfScope
		}
		c.deprovision(r, reason)
	case a.Skip != "":
		c.add(skip(a, r, a.Skip))
	case c.ambiguous[a.EntraID] != "":
		c.add(skip(a, r, c.ambiguous[a.EntraID]))
	case c.emails[fold(a.Profile.Email)] > 1:
		others := slices.DeleteFunc(slices.Clone(c.dups[fold(a.Profile.Email)]), func(id string) bool { return id == a.EntraID })
		c.add(skip(a, r, fmt.Sprintf("email %s is also mapped from entra id %s; fix the directory so each person has their own address",
			a.Profile.Email, strings.Join(others, ", "))))
	case r == nil:
		c.provision(a)
	case r.State == StateDisabled:
		c.add(c.enable(a, r))
	default:
		if ch, ok := c.update(a, r); ok {
			c.add(ch)
		}
	}
}

func skip(a *Account, r *Record, reason string) Change {
	ch := Change{Kind: KindSkip, EntraID: a.EntraID, UPN: a.UPN, Profile: a.Profile, Reason: reason, Prior: r}
	if r != nil {
		ch.GoToKey = r.GoToKey
	}
	return ch
}

func (c *computer) deprovision(r *Record, reason string) {
	if now, ok := c.renamed[r.EntraID]; ok {
		// The key may point at someone else's account (a damaged state file)
		// or the account was renamed by hand: never take it away on a guess.
		c.add(Change{Kind: KindSkip, EntraID: r.EntraID, UPN: r.UPN, GoToKey: r.GoToKey, Prior: r,
			Reason: fmt.Sprintf("GoTo account %s now has the address %s, not %s as g2msync recorded (renamed in GoTo, or a damaged state file), "+
				"so it is not deprovisioned; check the account in GoTo Admin; would have: %s", r.GoToKey, now, r.Profile.Email, reason)})
		return
	}
	kind := KindDisable
	if c.in.Policy.Deprovision == DeprovisionDelete {
		kind = KindDelete
	} else if r.State == StateDisabled {
		return
	}
	ch := Change{Kind: kind, EntraID: r.EntraID, UPN: r.UPN, GoToKey: r.GoToKey, Reason: reason, Prior: r}
	if kind == KindDisable {
		ch.Licenses = &ListChange{Old: r.Licenses, New: []string{}}
		ch.AdminRoles = &ListChange{Old: r.AdminRoles, New: []string{}}
	}
	c.add(ch)
}

// update returns the changes that bring an active owned account to a.
func (c *computer) update(a *Account, r *Record) (Change, bool) {
	ch := Change{Kind: KindUpdate, EntraID: a.EntraID, UPN: a.UPN, GoToKey: r.GoToKey, Profile: a.Profile, Prior: r,
		Reason: "directory attributes changed"}
	ch.Fields = c.diff(&r.Profile, &a.Profile)
	ch.Licenses = listChange(r.Licenses, merge(r.Licenses, c.in.Policy.ManagedLicenses, a.Licenses))
	ch.AdminRoles = listChange(r.AdminRoles, merge(r.AdminRoles, c.in.Policy.ManagedAdminRoles, a.AdminRoles))
	if ch.Fields == nil && ch.Licenses == nil && ch.AdminRoles == nil {
		return Change{}, false
	}
	if ch.Fields == nil {
		ch.Reason = "app role changed"
	}
	return ch, true
}

// enable gives a disabled account its licences and roles back, and brings
// its profile up to date in the same call.
func (c *computer) enable(a *Account, r *Record) Change {
	ch := Change{Kind: KindEnable, EntraID: a.EntraID, UPN: a.UPN, GoToKey: r.GoToKey, Profile: a.Profile, Prior: r,
		Reason: "assigned to the app again"}
	ch.Fields = c.diff(&r.Profile, &a.Profile)
	ch.Licenses = &ListChange{Old: r.Licenses, New: merge(r.RemovedLicenses, c.in.Policy.ManagedLicenses, a.Licenses)}
	ch.AdminRoles = &ListChange{Old: r.AdminRoles, New: merge(r.RemovedAdminRoles, c.in.Policy.ManagedAdminRoles, a.AdminRoles)}
	return ch
}

// provision creates or adopts an account for a person g2msync does not own
// yet. Whether the address is free once the plan is applied is settled for
// every change at once, by resolveAddresses.
func (c *computer) provision(a *Account) {
	c.buildMatchIndex()
	for _, m := range a.MatchEmails {
		rm := c.remotes[fold(m)]
		if rm == nil || c.ownedKeys[rm.Key] != nil {
			continue // an account someone else owns is never adopted twice
		}
		ch := Change{Kind: KindAdopt, EntraID: a.EntraID, UPN: a.UPN, GoToKey: rm.Key, Profile: a.Profile, Remote: rm,
			Reason: fmt.Sprintf("existing GoTo account matched by %s", m)}
		ch.Fields = c.diff(&rm.Profile, &a.Profile)
		ch.Licenses = listChange(rm.Licenses, merge(rm.Licenses, c.in.Policy.ManagedLicenses, a.Licenses))
		ch.AdminRoles = listChange(rm.AdminRoles, merge(rm.AdminRoles, c.in.Policy.ManagedAdminRoles, a.AdminRoles))
		c.add(ch)
		return
	}
	lic, roles := c.createLists(a)
	prof := a.Profile
	for f := Field(0); f < numFields && a.Defaults != nil; f++ {
		if prof.Get(f) == "" {
			prof.Set(f, a.Defaults.Get(f))
		}
	}
	c.add(Change{Kind: KindCreate, EntraID: a.EntraID, UPN: a.UPN, Profile: prof, Reason: "assigned to the app",
		Licenses: lic, AdminRoles: roles})
}

// pickUnique gives each person whose email mapping is a SelectUniqueValue
// an address: an owned account keeps the one it has (the mapping applies on
// create only); anyone else takes the first candidate that no owned
// record, GoTo account or other person holds or takes first, in Entra id
// order, as Entra's SelectUniqueValue takes the first value unique in the
// target now. Someone whose every candidate is taken is left alone, as
// Entra escrows them, and tried again each cycle: an address this plan's
// rename frees is free for them on the next.
func (c *computer) pickUnique() {
	if !slices.ContainsFunc(c.accounts, func(a *Account) bool { return len(a.EmailCandidates) > 0 }) {
		return
	}
	taken := map[string]bool{}
	owned := make(map[string]*Record, len(c.records))
	ownedKeys := make(map[string]bool, len(c.records))
	for _, r := range c.records {
		taken[fold(r.Profile.Email)] = true
		owned[r.EntraID] = r
		ownedKeys[r.GoToKey] = true
	}
	adoptable := map[string]string{} // folded address → address of a GoTo account no one owns
	for i := range c.in.Remotes {
		rm := &c.in.Remotes[i]
		taken[fold(rm.Profile.Email)] = true
		if !ownedKeys[rm.Key] {
			adoptable[fold(rm.Profile.Email)] = rm.Profile.Email
		}
	}
	for _, a := range c.accounts {
		if len(a.EmailCandidates) == 0 && a.OutOfScope == "" && a.Skip == "" {
			taken[fold(a.Profile.Email)] = true
		}
	}
	for i, a := range c.accounts {
		if len(a.EmailCandidates) == 0 || a.OutOfScope != "" || a.Skip != "" {
			continue
		}
		cp := *a
		c.accounts[i] = &cp
		if r := owned[a.EntraID]; r != nil {
			cp.Profile.Email = r.Profile.Email
			continue
		}
		// Matching comes first, as in Entra: someone who will adopt an
		// existing account keeps its address; SelectUniqueValue is for creates.
		if i := slices.IndexFunc(a.MatchEmails, func(m string) bool { return adoptable[fold(m)] != "" }); i >= 0 {
			cp.Profile.Email = adoptable[fold(a.MatchEmails[i])]
			continue
		}
		cp.Skip = fmt.Sprintf("every SelectUniqueValue candidate for email (%s) is used by another account; add a rule to the mapping or free one",
			strings.Join(a.EmailCandidates, ", "))
		for _, e := range a.EmailCandidates {
			if !taken[fold(e)] {
				cp.Profile.Email, cp.Skip = e, ""
				taken[fold(e)] = true
				break
			}
		}
	}
}

// setsEmail returns the address a change gives its GoTo account, if it
// gives one: a create, or a change of the email field.
func setsEmail(ch *Change) (string, bool) {
	if ch.Kind == KindCreate {
		return ch.Profile.Email, true
	}
	for _, f := range ch.Fields {
		if f.Field == FieldEmail {
			return f.New, true
		}
	}
	return "", false
}

// holder is a GoTo account as it will be once the plan is applied.
type holder struct {
	key   string // GoTo key, or "" for an account the plan creates
	owner string // Entra id of the owner, or "" for an account g2msync does not manage
	ch    int    // index of the change that gives it the address, or -1
}

// resolveAddresses turns into skips the changes that would leave two GoTo
// accounts with one address once applied, which GoTo refuses: a create, an
// adoption or a rename onto an address another account keeps. Whether an
// account keeps its address is read from the changes that will really be
// applied (after policy and protection), so a rename that policy dropped, a
// create-only email or a skipped owner all count as keeping. Removing a
// change can give an address back to its old holder, so it repeats until
// nothing moves.
func (c *computer) resolveAddresses(changes, skips []Change) ([]Change, []Change) {
	sets := false
	for i := range changes {
		if _, ok := setsEmail(&changes[i]); ok {
			sets = true
			break
		}
	}
	if !sets {
		return changes, skips
	}
	c.buildMatchIndex()
	for {
		// Every account's final address, each holder once; first holds the
		// first holder of each address and clashes pairs it with later ones.
		hs := make([]holder, 0, len(changes)+len(c.records))
		first := make(map[string]int32, len(changes)+len(c.records))
		var clashes [][2]int32
		hold := func(email string, h holder) {
			i := int32(len(hs))
			hs = append(hs, h)
			e := fold(email)
			if j, ok := first[e]; ok {
				clashes = append(clashes, [2]int32{j, i})
			} else {
				first[e] = i
			}
		}
		moved := map[string]bool{} // GoTo keys whose address or existence a change decides
		for i := range changes {
			ch := &changes[i]
			if ch.Kind == KindDelete {
				moved[ch.GoToKey] = true
			} else if e, ok := setsEmail(ch); ok && ch.GoToKey != "" {
				moved[ch.GoToKey] = true
				hold(e, holder{key: ch.GoToKey, owner: ch.EntraID, ch: i})
			} else if ok {
				hold(e, holder{owner: ch.EntraID, ch: i})
			}
		}
		for _, r := range c.records {
			if !moved[r.GoToKey] {
				hold(r.Profile.Email, holder{key: r.GoToKey, owner: r.EntraID, ch: -1})
			}
		}
		for i := range c.in.Remotes {
			rm := &c.in.Remotes[i]
			if c.ownedKeys[rm.Key] == nil && !moved[rm.Key] && c.remotes[fold(rm.Profile.Email)] == rm {
				hold(rm.Profile.Email, holder{key: rm.Key, ch: -1})
			}
		}
		drop := map[int]string{}
		for _, pair := range clashes {
			for k, h := range []holder{hs[pair[0]], hs[pair[1]]} {
				if h.ch < 0 {
					continue
				}
				other := hs[pair[1-k]]
				ch := &changes[h.ch]
				e, _ := setsEmail(ch)
				drop[h.ch] = fmt.Sprintf("email %s is used by %s; GoTo refuses two accounts with one address, so the %s waits", e, describe(other), ch.Kind)
				if ch.Kind == KindCreate && other.owner == "" && other.key != "" {
					drop[h.ch] = fmt.Sprintf("GoTo account %s already uses %s but the matching attributes did not select it; "+
						"add the attribute to matching or rename that account", other.key, e)
				}
			}
		}
		if len(drop) == 0 {
			return changes, skips
		}
		kept := changes[:0:0]
		for i, ch := range changes {
			reason, ok := drop[i]
			if !ok {
				kept = append(kept, ch)
				continue
			}
			skips = append(skips, Change{Kind: KindSkip, EntraID: ch.EntraID, UPN: ch.UPN, GoToKey: ch.GoToKey, Profile: ch.Profile,
				Prior: ch.Prior, Reason: reason})
		}
		changes = kept
	}
}

func describe(h holder) string {
	switch {
	case h.key == "":
		return "the account being created for entra id " + h.owner
	case h.owner == "":
		return "GoTo account " + h.key + ", which g2msync does not manage"
	}
	return "GoTo account " + h.key + ", already linked to entra id " + h.owner
}

func (c *computer) buildMatchIndex() {
	if c.ownedKeys != nil {
		return
	}
	c.ownedKeys = make(map[string]*Record, len(c.records))
	for _, r := range c.records {
		c.ownedKeys[r.GoToKey] = r
	}
	c.remotes = make(map[string]*Remote, len(c.in.Remotes))
	for i := range c.in.Remotes {
		rm := &c.in.Remotes[i]
		e := fold(rm.Profile.Email)
		// Two GoTo accounts never share an email; if a reply ever did, prefer the
		// lower key so the choice does not depend on order.
		if prev := c.remotes[e]; prev == nil || rm.Key < prev.Key {
			c.remotes[e] = rm
		}
	}
}

// diff returns the mapped fields whose value differs, skipping unmapped (empty)
// and create-only fields. Emails compare without case: GoTo may store them
// lowercased, and a case-only change is not worth a call.
func (c *computer) diff(old, want *Profile) []FieldChange {
	var out []FieldChange
	for f := Field(0); f < numFields; f++ {
		n := want.Get(f)
		if n == "" || c.createOnly[f] {
			continue
		}
		o := old.Get(f)
		if o == n || (f == FieldEmail && fold(o) == fold(n)) {
			continue
		}
		out = append(out, FieldChange{Field: f, Old: o, New: n})
	}
	return out
}

// merge returns the list an account should hold: what it has that the
// configuration does not manage, plus what its roles want.
func merge(have, managed, want []string) []string {
	if isNormal(want) && subset(have, managed) {
		return want // the common case, without allocating
	}
	out := make([]string, 0, len(have)+len(want))
	for _, h := range have {
		if !slices.Contains(managed, h) {
			out = append(out, h)
		}
	}
	out = append(out, want...)
	return normalize(out)
}

// listChange returns the change from old to want, or nil when they hold the
// same items.
func listChange(old, want []string) *ListChange {
	if !isNormal(old) {
		old = normalize(old)
	}
	if slices.Equal(old, want) {
		return nil
	}
	if want == nil {
		want = []string{}
	}
	return &ListChange{Old: old, New: want}
}

func concat(byKind [numApply][]Change) []Change {
	n, nonEmpty := 0, -1
	for k, cs := range byKind {
		n += len(cs)
		if len(cs) > 0 {
			nonEmpty = k
		}
	}
	if nonEmpty >= 0 && len(byKind[nonEmpty]) == n {
		return byKind[nonEmpty] // one kind only: no copy
	}
	out := make([]Change, 0, n)
	for _, cs := range byKind {
		out = append(out, cs...)
	}
	return out
}

func subset(s, of []string) bool {
	for _, v := range s {
		if !slices.Contains(of, v) {
			return false
		}
	}
	return true
}

// isNormal reports whether s is sorted, without duplicates or empty strings,
// and nil when empty: the form normalize returns.
func isNormal(s []string) bool {
	if s != nil && len(s) == 0 {
		return false
	}
	for i, v := range s {
		if v == "" || (i > 0 && s[i-1] >= v) {
			return false
		}
	}
	return true
}
