package plan

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// world is a random directory, snapshot and GoTo account, drawn from small
// pools so that collisions (shared emails, case variants, owned matches) are common.
type world struct {
	accounts []Account
	records  []Record
	remotes  []Remote
	policy   Policy
}

var (
	licencePool = []string{"L1", "L2", "L3"}
	rolePool    = []string{"MANAGE_USERS", "RUN_REPORTS"}
)

func drawEmail(t *rapid.T, label string) string {
	name := rapid.SampledFrom([]string{"ann", "bob", "cy", "dee", "eve", "fay", "gus", "hal"}).Draw(t, label)
	if rapid.Bool().Draw(t, label+"-upper") {
		name = strings.ToUpper(name[:1]) + name[1:]
	}
	return name + "@x.com"
}

func drawWorld(t *rapid.T) world {
	var w world
	w.policy = testPolicy()
	w.policy.ManagedLicenses = licencePool
	w.policy.ManagedAdminRoles = rolePool
	w.policy.MaxDisables, w.policy.MaxDisablesPercent = -1, 100
	w.policy.DisableSuperUsers = rapid.Bool().Draw(t, "disableSuper")
	n := rapid.IntRange(0, 12).Draw(t, "people")
	key := 100
	for i := range n {
		id := fmt.Sprintf("id%02d", i)
		inDir := rapid.IntRange(0, 3).Draw(t, "inDir") // 0 absent, 1 in scope, 2 out of scope, 3 skip
		if inDir > 0 {
			email := drawEmail(t, "email")
			a := Account{EntraID: id, UPN: strings.ToLower(email), Profile: Profile{Email: email,
				FirstName: rapid.SampledFrom([]string{"A", "B"}).Draw(t, "first"), LastName: "L"},
				Licenses:   rapid.SliceOfNDistinct(rapid.SampledFrom(licencePool), 1, 2, rapid.ID[string]).Draw(t, "lic"),
				AdminRoles: rapid.SliceOfNDistinct(rapid.SampledFrom(rolePool), 0, 1, rapid.ID[string]).Draw(t, "roles"),
			}
			a.MatchEmails = []string{email}
			if rapid.Bool().Draw(t, "upnMatch") {
				a.MatchEmails = append(a.MatchEmails, a.UPN)
			}
			if rapid.IntRange(0, 3).Draw(t, "selectUnique") == 0 {
				// SelectUniqueValue: the first candidate is the profile's.
				a.EmailCandidates = []string{email, drawEmail(t, "candidate"), drawEmail(t, "candidate")}
			}
			switch inDir {
			case 2:
				a.OutOfScope = "account disabled in Entra"
			case 3:
				a.Skip = "no mapped app role"
			}
			w.accounts = append(w.accounts, a)
		}
		switch rapid.IntRange(0, 2).Draw(t, "record") { // 0 none, 1 active, 2 disabled
		case 1, 2:
			key++
			r := Record{EntraID: id, UPN: id + "@x.com", GoToKey: fmt.Sprint(key), Origin: OriginCreated, State: StateActive,
				Profile:    Profile{Email: drawEmail(t, "recEmail"), FirstName: "A", LastName: "L"},
				Licenses:   normalize(rapid.SliceOfNDistinct(rapid.SampledFrom(append(licencePool, "L-unmanaged")), 0, 2, rapid.ID[string]).Draw(t, "recLic")),
				AdminRoles: normalize(rapid.SliceOfNDistinct(rapid.SampledFrom(append(rolePool, "SUPER_USER")), 0, 1, rapid.ID[string]).Draw(t, "recRoles")),
			}
			if rapid.IntRange(0, 2).Draw(t, "record") == 2 {
				r.State, r.RemovedLicenses, r.Licenses, r.AdminRoles = StateDisabled, r.Licenses, nil, nil
			}
			w.records = append(w.records, r)
			w.remotes = append(w.remotes, Remote{Key: r.GoToKey, Profile: r.Profile, Licenses: r.Licenses, AdminRoles: r.AdminRoles})
		}
	}
	// Unowned GoTo accounts, some of which collide with owned emails.
	for range rapid.IntRange(0, 4).Draw(t, "remotes") {
		key++
		rm := Remote{Key: fmt.Sprint(key), Profile: Profile{Email: drawEmail(t, "remoteEmail"), FirstName: "R"},
			Licenses: normalize(rapid.SliceOfNDistinct(rapid.SampledFrom(licencePool), 0, 1, rapid.ID[string]).Draw(t, "remoteLic"))}
		taken := slices.ContainsFunc(w.remotes, func(o Remote) bool { return fold(o.Profile.Email) == fold(rm.Profile.Email) })
		if !taken { // GoTo never holds two accounts with one email
			w.remotes = append(w.remotes, rm)
		}
	}
	// Owned records with one email: GoTo would not allow it either.
	seen := map[string]bool{}
	w.records = slices.DeleteFunc(w.records, func(r Record) bool {
		e := fold(r.Profile.Email)
		dup := seen[e]
		seen[e] = true
		return dup
	})
	w.remotes = slices.DeleteFunc(w.remotes, func(rm Remote) bool {
		return !slices.ContainsFunc(w.records, func(r Record) bool { return r.GoToKey == rm.Key }) && seen[fold(rm.Profile.Email)]
	})
	return w
}

func (w world) input() Input {
	return Input{Accounts: w.accounts, Records: w.records, Remotes: w.remotes, Policy: w.policy}
}

// apply plays a plan against the world as a faultless engine and GoTo would.
func (w world) apply(p *Plan) world {
	recs := map[string]Record{}
	for _, r := range w.records {
		recs[r.EntraID] = r
	}
	remotes := map[string]Remote{}
	for _, rm := range w.remotes {
		remotes[rm.Key] = rm
	}
	for _, c := range p.Changes {
		key := c.GoToKey
		if c.Kind == KindCreate {
			key = "new-" + c.EntraID
		}
		r := c.Result(key)
		if c.Kind == KindDelete {
			delete(recs, c.EntraID)
			delete(remotes, key)
			continue
		}
		recs[c.EntraID] = r
		remotes[key] = Remote{Key: key, Profile: r.Profile, Licenses: r.Licenses, AdminRoles: r.AdminRoles}
	}
	next := w
	next.records, next.remotes = nil, nil
	for _, r := range recs {
		next.records = append(next.records, r)
	}
	for _, rm := range remotes {
		next.remotes = append(next.remotes, rm)
	}
	return next
}

func TestPropertyPlanningAgainAfterApplyingIsEmpty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := drawWorld(t)
		first := Compute(w.input())
		w = w.apply(first)
		second := Compute(w.input())
		if retriesUnique(first, second) {
			second = Compute(w.apply(second).input())
		}
		if !second.Empty() {
			t.Fatalf("second plan not empty: %v\nfirst: %v", kinds(second), kinds(first))
		}
	})
}

func TestPropertyNothingUnownedIsTouched(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := drawWorld(t)
		w.policy.Mode = rapid.SampledFrom([]Mode{ModeSync, ModeCreateUpdate, ModeCreateOnly}).Draw(t, "mode")
		owned := map[string]string{} // GoTo key → Entra id
		for _, r := range w.records {
			owned[r.GoToKey] = r.EntraID
		}
		p := Compute(w.input())
		for _, c := range append(slices.Clone(p.Changes), p.Staged...) {
			switch c.Kind {
			case KindCreate:
				if c.GoToKey != "" {
					t.Fatalf("create carries key %s", c.GoToKey)
				}
			case KindAdopt:
				if _, ok := owned[c.GoToKey]; ok {
					t.Fatalf("adopts owned account %s", c.GoToKey)
				}
			default:
				if owned[c.GoToKey] != c.EntraID {
					t.Fatalf("%s of %s targets account %s, which %s does not own", c.Kind, c.EntraID, c.GoToKey, c.EntraID)
				}
			}
		}
	})
}

func TestPropertyCreateOnlyNeverUpdatesOrDisables(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := drawWorld(t)
		w.policy.Mode = ModeCreateOnly
		p := Compute(w.input())
		for _, c := range append(slices.Clone(p.Changes), p.Staged...) {
			if c.Kind != KindCreate && (c.Kind != KindAdopt || c.Writes()) {
				t.Fatalf("create-only plan has %s of %s (writes=%v)", c.Kind, c.EntraID, c.Writes())
			}
		}
	})
}

func TestPropertyRenameNeverDisables(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := drawWorld(t)
		w = w.apply(Compute(w.input())) // a converged world
		owned := map[string]bool{}
		for _, r := range w.records {
			owned[r.EntraID] = r.State == StateActive
		}
		// Rename some in-scope owners: new UPN and email.
		renamed := map[string]bool{}
		for i := range w.accounts {
			a := &w.accounts[i]
			if owned[a.EntraID] && a.OutOfScope == "" && a.Skip == "" && rapid.Bool().Draw(t, "rename") {
				a.UPN = "renamed-" + a.EntraID + "@y.com"
				a.Profile.Email, a.MatchEmails = a.UPN, []string{a.UPN}
				renamed[a.EntraID] = true
			}
		}
		p := Compute(w.input())
		for _, c := range append(slices.Clone(p.Changes), p.Staged...) {
			if renamed[c.EntraID] && c.Kind != KindUpdate {
				t.Fatalf("rename of %s gave %s; want an update", c.EntraID, c.Kind)
			}
		}
	})
}

func TestPropertyPlanIgnoresInputOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := drawWorld(t)
		shuffled := w
		shuffled.accounts = permute(t, w.accounts, "accounts")
		shuffled.records = permute(t, w.records, "records")
		shuffled.remotes = permute(t, w.remotes, "remotes")
		for i := range shuffled.accounts {
			a := &shuffled.accounts[i]
			a.Licenses = permute(t, a.Licenses, "lic")
		}
		want, got := Compute(w.input()), Compute(shuffled.input())
		opt := cmp.Transformer("summary", func(c Change) string {
			return fmt.Sprintf("%s %s %s %+v %v %v %v %q", c.Kind, c.EntraID, c.GoToKey, c.Profile, c.Fields, c.Licenses, c.AdminRoles, c.Reason)
		})
		if d := cmp.Diff(want, got, opt); d != "" {
			t.Fatalf("plan depends on input order (-sorted +shuffled):\n%s", d)
		}
	})
}

func TestPropertyDisablesNeverPassTheGate(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := drawWorld(t)
		w.policy.MaxDisables = rapid.IntRange(0, 3).Draw(t, "max")
		w.policy.MaxDisablesPercent = float64(rapid.IntRange(0, 100).Draw(t, "pct"))
		p := Compute(w.input())
		n := p.Count(KindDisable) + p.Count(KindDelete)
		if n > w.policy.MaxDisables || (w.policy.MaxDisablesPercent < 100 && float64(n)*100 > w.policy.MaxDisablesPercent*float64(p.OwnedActive)) {
			t.Fatalf("%d disables passed the gate (max %d, %g%% of %d)", n, w.policy.MaxDisables, w.policy.MaxDisablesPercent, p.OwnedActive)
		}
	})
}

func permute[T any](t *rapid.T, s []T, label string) []T {
	out := slices.Clone(s)
	for i := len(out) - 1; i > 0; i-- {
		j := rapid.IntRange(0, i).Draw(t, label)
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// retriesUnique reports whether next creates someone whom prev left alone
// because every SelectUniqueValue candidate was taken: a rename in prev may
// have freed one, so that person converges a plan later.
func retriesUnique(prev, next *Plan) bool {
	waited := map[string]bool{}
	for _, c := range prev.Skips {
		if strings.Contains(c.Reason, "every SelectUniqueValue candidate") {
			waited[c.EntraID] = true
		}
	}
	return slices.ContainsFunc(next.Changes, func(c Change) bool { return c.Kind == KindCreate && waited[c.EntraID] })
}
