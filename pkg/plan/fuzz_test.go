package plan

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fuzzBytes hands out fuzz input a byte at a time, then zeros.
type fuzzBytes struct{ b []byte }

func (r *fuzzBytes) next() byte {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *fuzzBytes) n(k int) int        { return int(r.next()) % k }
func (r *fuzzBytes) flag() bool         { return r.next()&1 == 1 }
func pick[T any](r *fuzzBytes, s []T) T { return s[r.n(len(s))] }

// some returns the members of pool (at most 8) whose bit is set in the next byte.
func (r *fuzzBytes) some(pool []string) []string {
	mask := r.next()
	var out []string
	for i, v := range pool {
		if mask&(1<<i) != 0 {
			out = append(out, v)
		}
	}
	return out
}

// Small pools, so that shared emails, case variants, matches against owned
// accounts and super users are common.
var (
	fuzzIDs = []string{"e0", "e1", "e2", "e3", "e4", "e5", "e6"}
	// "\u212Aate" starts with the Kelvin sign, which Unicode folds to k:
	// it must never be taken for kate@x.com.
	fuzzEmails   = []string{"ann@x.com", "Ann@x.com", "bob@x.com", "BOB@X.COM", "cy@x.com", "kate@x.com", "\u212Aate@x.com", "eve@x.com"}
	fuzzFirst    = []string{"A", "B", ""}
	fuzzLocales  = []string{"", "en_US", "de_DE"}
	fuzzLicences = []string{"L1", "L2", "L3", "L-unmanaged"}
	fuzzRoles    = []string{"MANAGE_USERS", "RUN_REPORTS", "SUPER_USER"}
)

// decodeInput derives a planner input from fuzz bytes. It keeps what the
// rest of g2msync guarantees: unique Entra ids, valid non-empty emails for
// mappable people, at least one licence per mapped person, distinct
// trimmed match emails, normalised owned lists, unique GoTo keys, and one
// GoTo account per (case-folded) email.
func decodeInput(data []byte) (Input, *fuzzBytes) {
	r := &fuzzBytes{b: data}
	var in Input
	in.Policy.Mode = pick(r, []Mode{ModeSync, ModeCreateUpdate, ModeCreateOnly, ModeAdoptOnly})
	in.Policy.Deprovision = pick(r, []Deprovision{DeprovisionDisable, DeprovisionDelete})
	in.Policy.DisableSuperUsers = r.flag()
	in.Policy.MaxDisables = r.n(5) - 1
	in.Policy.MaxDisablesPercent = pick(r, []float64{0, 10, 25, 50, 99, 100})
	in.AllowDisables = r.flag()
	createOnly := r.next() & r.next()
	for _, f := range AllFields() {
		if createOnly&(1<<f) != 0 {
			in.Policy.CreateOnly = append(in.Policy.CreateOnly, f)
		}
	}

	goto_ := map[string]bool{} // folded emails GoTo holds
	keys := 0
	for _, id := range fuzzIDs {
		ctl := r.next()
		if dir := ctl % 4; dir > 0 { // 0 absent, 1 in scope, 2 out of scope, 3 not mappable
			email := pick(r, fuzzEmails)
			a := Account{EntraID: id, UPN: id + "@corp.example",
				Profile:  Profile{Email: email, FirstName: pick(r, fuzzFirst), LastName: "L", Locale: pick(r, fuzzLocales)},
				Licenses: r.some(fuzzLicences[:3]), AdminRoles: r.some(fuzzRoles)}
			if len(a.Licenses) == 0 {
				a.Licenses = []string{"L1"}
			}
			m := r.next()
			for i, cand := range []string{email, pick(r, fuzzEmails), a.UPN} {
				if m&(1<<i) != 0 && !slices.Contains(a.MatchEmails, cand) {
					a.MatchEmails = append(a.MatchEmails, cand)
				}
			}
			switch dir {
			case 2:
				a.OutOfScope = "excluded by the scoping filters"
			case 3:
				a.Skip = "no mapped app role"
			}
			in.Accounts = append(in.Accounts, a)
		}
		if rec := ctl / 4 % 3; rec > 0 { // 0 none, 1 active, 2 disabled
			email := pick(r, fuzzEmails)
			if goto_[fold(email)] {
				continue
			}
			goto_[fold(email)] = true
			keys++
			rd := Record{EntraID: id, UPN: id + "@corp.example", GoToKey: fmt.Sprintf("k%d", keys), State: StateActive,
				Origin:     pick(r, []Origin{OriginCreated, OriginAdopted}),
				Profile:    Profile{Email: email, FirstName: pick(r, fuzzFirst), LastName: "L"},
				Licenses:   normalize(r.some(fuzzLicences)),
				AdminRoles: normalize(r.some(fuzzRoles)),
			}
			if rec == 2 {
				rd.State, rd.RemovedLicenses, rd.RemovedAdminRoles, rd.Licenses, rd.AdminRoles = StateDisabled, rd.Licenses, rd.AdminRoles, nil, nil
			}
			in.Records = append(in.Records, rd)
			if r.flag() { // GoTo shows the owned account, perhaps edited out of band
				rm := Remote{Key: rd.GoToKey, Profile: rd.Profile, Licenses: rd.Licenses, AdminRoles: rd.AdminRoles}
				rm.Profile.FirstName = pick(r, fuzzFirst)
				in.Remotes = append(in.Remotes, rm)
			}
		}
	}
	for range r.n(4) {
		email := pick(r, fuzzEmails)
		if goto_[fold(email)] {
			continue
		}
		goto_[fold(email)] = true
		keys++
		in.Remotes = append(in.Remotes, Remote{Key: fmt.Sprintf("r%d", keys), Profile: Profile{Email: email, FirstName: pick(r, fuzzFirst)},
			Licenses: normalize(r.some(fuzzLicences)), AdminRoles: normalize(r.some(fuzzRoles))})
	}
	// The mapper manages every licence and role some app role gives, and
	// perhaps more.
	managedLic, managedRoles := r.some(fuzzLicences[:3]), r.some(fuzzRoles)
	for _, a := range in.Accounts {
		managedLic = append(managedLic, a.Licenses...)
		managedRoles = append(managedRoles, a.AdminRoles...)
	}
	in.Policy.ManagedLicenses, in.Policy.ManagedAdminRoles = normalize(managedLic), normalize(managedRoles)
	return in, r
}

// FuzzCompute derives a world from the fuzz input and checks the planner's
// invariants: nothing unowned is touched, the mode and the gates hold, every
// person is decided once and in apply order, the plan does not depend on the
// order of its inputs, and with the gates off applying a plan converges.
func FuzzCompute(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x00\x00\x00\x04\x00\x01\x00\x00\x05\x02\x01\x00\x00\x03\x01\x07\x00\x06\x01\x00\x02\x03\x00\x03"))
	f.Add([]byte{0, 1, 1, 4, 5, 1, 0, 0xff, 0xff, 5, 0, 2, 1, 1, 7, 0, 9, 0, 0, 0, 1, 0, 0, 6, 2, 0, 1, 0, 4, 0, 3, 1, 9, 1, 2, 3, 2, 1, 3, 3, 3, 3})
	f.Add([]byte{2, 0, 0, 1, 0, 0, 0, 0, 1, 3, 1, 1, 1, 2, 0, 1, 5, 0, 0, 0, 1, 1, 1, 1, 1, 1})
	f.Add([]byte{3, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 1, 1, 3, 0, 0, 9, 0, 1, 3, 3, 1, 1, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		in, rest := decodeInput(data)
		p := Compute(in)
		checkPlan(t, in, p)

		// The same input in another order gives the same plan.
		sh := in
		sh.Accounts = shuffle(rest, in.Accounts)
		sh.Records = shuffle(rest, in.Records)
		sh.Remotes = shuffle(rest, in.Remotes)
		for i := range sh.Accounts {
			sh.Accounts[i].Licenses = shuffle(rest, sh.Accounts[i].Licenses)
			sh.Accounts[i].AdminRoles = shuffle(rest, sh.Accounts[i].AdminRoles)
		}
		if d := cmp.Diff(p, Compute(sh)); d != "" {
			t.Fatalf("plan depends on input order (-given +shuffled):\n%s", d)
		}

		// With the gates off, applying the plan leaves nothing to do.
		off := in
		off.Policy.MaxDisables, off.Policy.MaxDisablesPercent, off.AllowDisables = -1, 100, true
		first := Compute(off)
		w := world{accounts: in.Accounts, records: in.Records, remotes: in.Remotes, policy: off.Policy}.apply(first)
		checkUnique(t, w, "the plan", first)
		again := w.input()
		again.AllowDisables = true
		second := Compute(again)
		checkUnique(t, w.apply(second), "the plan after it", second)
		if !second.Empty() {
			t.Fatalf("planning again after applying is not empty: %v\nfirst: %v", kinds(second), kinds(first))
		}
	})
}

// checkUnique fails if GoTo would hold two accounts with one address after
// the plan applied: GoTo refuses that, so such a change fails every cycle.
func checkUnique(t *testing.T, w world, which string, p *Plan) {
	t.Helper()
	seen := map[string]string{}
	for _, rm := range w.remotes {
		if k, dup := seen[fold(rm.Profile.Email)]; dup {
			t.Fatalf("after applying %s, GoTo accounts %s and %s share %s, which GoTo refuses\nplan: %v", which, k, rm.Key, rm.Profile.Email, kinds(p))
		}
		seen[fold(rm.Profile.Email)] = rm.Key
	}
}

// checkPlan checks the invariants that hold for any one plan.
func checkPlan(t *testing.T, in Input, p *Plan) {
	t.Helper()
	owner := map[string]string{} // GoTo key → Entra id
	records := map[string]*Record{}
	for i, r := range in.Records {
		owner[r.GoToKey] = r.EntraID
		records[r.EntraID] = &in.Records[i]
	}
	remotes := map[string]bool{}
	for _, rm := range in.Remotes {
		remotes[rm.Key] = true
	}
	pol := in.Policy

	decided := map[string]Kind{}
	for _, set := range [][]Change{p.Changes, p.Staged, p.Skips} {
		for _, c := range set {
			if k, dup := decided[c.EntraID]; dup {
				t.Fatalf("%s decided twice: %s and %s; plan %v", c.EntraID, k, c.Kind, kinds(p))
			}
			decided[c.EntraID] = c.Kind
		}
	}
	for _, c := range p.Skips {
		if c.Kind != KindSkip {
			t.Fatalf("skip list holds %s of %s", c.Kind, c.EntraID)
		}
	}

	for _, set := range [][]Change{p.Changes, p.Staged} {
		for _, c := range set {
			switch c.Kind {
			case KindSkip:
				t.Fatalf("skip of %s among the changes", c.EntraID)
			case KindCreate:
				if c.GoToKey != "" || records[c.EntraID] != nil {
					t.Fatalf("create of %s carries key %q or has a record", c.EntraID, c.GoToKey)
				}
			case KindAdopt:
				if o, ok := owner[c.GoToKey]; ok {
					t.Fatalf("%s adopts %s, owned by %s", c.EntraID, c.GoToKey, o)
				}
				if !remotes[c.GoToKey] || records[c.EntraID] != nil {
					t.Fatalf("%s adopts %s, which GoTo did not list, or already has a record", c.EntraID, c.GoToKey)
				}
			default:
				if owner[c.GoToKey] != c.EntraID || c.Prior == nil || c.Prior.GoToKey != c.GoToKey {
					t.Fatalf("%s of %s targets %s, owned by %q", c.Kind, c.EntraID, c.GoToKey, owner[c.GoToKey])
				}
				if (c.Kind == KindDisable || c.Kind == KindDelete) && !pol.DisableSuperUsers && slices.Contains(c.Prior.AdminRoles, superUserRole) {
					t.Fatalf("%s of super user %s", c.Kind, c.EntraID)
				}
			}
			switch pol.Mode {
			case ModeCreateOnly:
				if c.Kind != KindCreate && (c.Kind != KindAdopt || c.Writes()) {
					t.Fatalf("create-only plan has %s of %s (writes=%v)", c.Kind, c.EntraID, c.Writes())
				}
			case ModeAdoptOnly:
				if c.Kind != KindAdopt || c.Writes() {
					t.Fatalf("adopt-only plan has %s of %s (writes=%v)", c.Kind, c.EntraID, c.Writes())
				}
			case ModeCreateUpdate:
				if c.Kind == KindDisable || c.Kind == KindDelete {
					t.Fatalf("create-update plan has %s of %s", c.Kind, c.EntraID)
				}
			}
		}
	}

	// Apply order: kinds in rank order, Entra ids ascending within a kind;
	// creates by the lists they give first (one bulk call each), then by id.
	for i := 1; i < len(p.Changes); i++ {
		a, b := p.Changes[i-1], p.Changes[i]
		order := cmpInt(a.Kind.rank(), b.Kind.rank())
		if order == 0 && a.Kind == KindCreate {
			order = strings.Compare(listKeyOf(a.Licenses), listKeyOf(b.Licenses))
			if order == 0 {
				order = strings.Compare(listKeyOf(a.AdminRoles), listKeyOf(b.AdminRoles))
			}
		}
		if order == 0 {
			order = strings.Compare(a.EntraID, b.EntraID)
		}
		if order >= 0 {
			t.Fatalf("changes out of order: %s:%s before %s:%s", a.Kind, a.EntraID, b.Kind, b.EntraID)
		}
	}

	// The gates.
	if p.Abort != "" && len(p.Changes) > 0 {
		t.Fatalf("aborted plan (%s) still has %d changes", p.Abort, len(p.Changes))
	}
	if len(p.Staged) > 0 && in.AllowDisables {
		t.Fatalf("%d disables staged although allowed", len(p.Staged))
	}
	n := p.Count(KindDisable) + p.Count(KindDelete)
	if !in.AllowDisables && n > 0 {
		if pol.MaxDisables >= 0 && n > pol.MaxDisables {
			t.Fatalf("%d disables passed max_disables=%d", n, pol.MaxDisables)
		}
		// A percentage of no active accounts is no limit: the gate skips it,
		// and deletes of disabled accounts are bounded by the count alone.
		if pol.MaxDisablesPercent < 100 && p.OwnedActive > 0 && float64(n)*100 > pol.MaxDisablesPercent*float64(p.OwnedActive) {
			t.Fatalf("%d disables of %d owned active passed max_disables_percent=%g", n, p.OwnedActive, pol.MaxDisablesPercent)
		}
	}
}

// superUserRole is GoTo's super administrator role (the gotomeeting
// package's RoleSuperUser; plan imports nothing of g2msync).
const superUserRole = "SUPER_USER"

// shuffle returns a permutation of s chosen by the fuzz bytes left over.
func shuffle[T any](r *fuzzBytes, s []T) []T {
	out := slices.Clone(s)
	for i := len(out) - 1; i > 0; i-- {
		j := r.n(i + 1)
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
