package plan

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// deferredKinds summarises a plan's deferred changes as "kind:id:cause".
func deferredKinds(p *Plan) []string {
	var out []string
	for _, c := range p.Deferred {
		out = append(out, string(c.Kind)+":"+c.EntraID+":"+string(c.Deferral.Cause))
	}
	return out
}

func TestLiveRolesDecideProtection(t *testing.T) {
	a := person("a", "ann@x.com")
	rec := owned(a, "K1")
	for _, tc := range []struct {
		name     string
		observed map[string]*Remote
		want     []string
	}{
		{"not observed: the record decides", nil, []string{"disable:a"}},
		{"SUPER_USER granted in GoTo", map[string]*Remote{"K1": {Key: "K1", Profile: a.Profile, Licenses: []string{"L-user"}, AdminRoles: []string{"SUPER_USER"}}},
			[]string{"skip:a"}},
		{"gone from GoTo", map[string]*Remote{"K1": nil}, []string{"forget:a"}},
		{"renamed in GoTo", map[string]*Remote{"K1": {Key: "K1", Profile: Profile{Email: "victim@x.com"}, Licenses: []string{"L-user"}}},
			[]string{"skip:a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Compute(Input{Accounts: []Account{person("b", "bob@x.com")}, Records: []Record{rec, owned(person("b", "bob@x.com"), "K2")},
				Observed: tc.observed, Policy: testPolicy(), AllowDisables: true})
			if got := kinds(p); !cmp.Equal(got, tc.want) {
				t.Errorf("kinds = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDisableTakesWhatGoToHolds(t *testing.T) {
	a := person("a", "ann@x.com")
	live := &Remote{Key: "K1", Profile: a.Profile, Licenses: []string{"L-user", "L-hand"}, AdminRoles: []string{"MANAGE_USERS"}}
	p := Compute(Input{Accounts: []Account{person("b", "b@x.com")}, Records: []Record{owned(a, "K1"), owned(person("b", "b@x.com"), "K2")},
		Observed: map[string]*Remote{"K1": live}, Policy: testPolicy(), AllowDisables: true})
	c := find(t, p, "a")
	if c.Kind != KindDisable || !cmp.Equal(c.Licenses.Old, []string{"L-hand", "L-user"}) || !cmp.Equal(c.AdminRoles.Old, []string{"MANAGE_USERS"}) {
		t.Fatalf("change = %+v, want a disable from what GoTo holds", c)
	}
	if r := c.Result(""); !cmp.Equal(r.RemovedLicenses, []string{"L-hand", "L-user"}) {
		t.Errorf("removed = %v", r.RemovedLicenses)
	}
}

func TestGoneAccountOfInScopePersonIsCreatedAgain(t *testing.T) {
	a := person("a", "ann@x.com")
	p := Compute(Input{Accounts: []Account{a}, Records: []Record{owned(a, "K1")}, Observed: map[string]*Remote{"K1": nil}, Policy: testPolicy()})
	if got, want := kinds(p), []string{"create:a"}; !cmp.Equal(got, want) {
		t.Fatalf("kinds = %v, want %v (the create's record replaces the lost one)", got, want)
	}
}

func TestAccountReenabledInGoToIsActive(t *testing.T) {
	a := person("a", "ann@x.com")
	r := owned(a, "K1")
	r.State, r.RemovedLicenses, r.Licenses = StateDisabled, r.Licenses, nil
	live := &Remote{Key: "K1", Profile: a.Profile, Licenses: []string{"L-user"}}
	p := Compute(Input{Accounts: []Account{a}, Records: []Record{r}, Observed: map[string]*Remote{"K1": live}, Policy: testPolicy()})
	if !p.Empty() {
		t.Errorf("kinds = %v: an account re-enabled in GoTo with what it should have needs nothing", kinds(p))
	}
}

func TestSeats(t *testing.T) {
	ann, bob, cy := person("a", "ann@x.com"), person("b", "bob@x.com"), person("c", "cy@x.com")
	gone := owned(person("z", "zed@x.com"), "KZ")
	for _, tc := range []struct {
		name      string
		records   []Record
		licenses  []License
		want      []string
		deferred  []string
		reason    string
		abortText string
	}{
		{name: "not read: not checked", want: []string{"create:a", "create:b", "create:c"}},
		{name: "enough seats", licenses: []License{{Key: "L-user", Seats: 3}}, want: []string{"create:a", "create:b", "create:c"}},
		{name: "beyond the free seats in apply order", licenses: []License{{Key: "L-user", Seats: 5, Used: 4}},
			want: []string{"create:a"}, deferred: []string{"create:b:seats", "create:c:seats"},
			reason: "licence L-user has no free seat (5 of 5 used); add seats in GoTo Admin or free some"},
		{name: "a disable frees its seat first", records: []Record{gone}, licenses: []License{{Key: "L-user", Seats: 2, Used: 2}},
			want: []string{"disable:z", "create:a"}, deferred: []string{"create:b:seats", "create:c:seats"}},
		{name: "a licence the configuration gives that GoTo lacks aborts", licenses: []License{{Key: "L-other", Seats: 9}},
			abortText: "licence L-user, which the configuration's roles give, does not exist in the GoTo account"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Compute(Input{Accounts: []Account{ann, bob, cy}, Records: tc.records, Licenses: tc.licenses, Policy: testPolicy(), AllowDisables: true})
			if tc.abortText != "" {
				if !strings.Contains(p.Abort, tc.abortText) || len(p.Changes) != 0 {
					t.Fatalf("abort = %q with %d changes, want %q and none", p.Abort, len(p.Changes), tc.abortText)
				}
				return
			}
			if got := kinds(p); !cmp.Equal(got, tc.want) {
				t.Errorf("kinds = %v, want %v", got, tc.want)
			}
			if got := deferredKinds(p); !cmp.Equal(got, tc.deferred) {
				t.Errorf("deferred = %v, want %v", got, tc.deferred)
			}
			if tc.reason != "" && p.Deferred[0].Deferral.Reason != tc.reason {
				t.Errorf("reason = %q, want %q", p.Deferred[0].Deferral.Reason, tc.reason)
			}
			for _, d := range p.Deferred {
				if d.Deferral.License != "L-user" {
					t.Errorf("deferred %s waits for licence %q, want L-user", d.EntraID, d.Deferral.License)
				}
			}
		})
	}
}

func TestReenableDropsAnUnmanagedLicenceThatNoLongerExists(t *testing.T) {
	a := person("a", "ann@x.com")
	r := owned(a, "K1")
	r.State, r.RemovedLicenses, r.Licenses = StateDisabled, []string{"L-gone", "L-user"}, nil
	p := Compute(Input{Accounts: []Account{a}, Records: []Record{r}, Licenses: []License{{Key: "L-user", Seats: 9}}, Policy: testPolicy()})
	if c := find(t, p, "a"); c.Kind != KindEnable || !cmp.Equal(c.Licenses.New, []string{"L-user"}) {
		t.Errorf("change = %+v, want an enable giving L-user only", c)
	}
}

func TestBackOff(t *testing.T) {
	a := person("a", "ann@x.com")
	create := Compute(Input{Accounts: []Account{a}, Policy: testPolicy()}).Changes[0]
	fp := create.Fingerprint()
	for _, tc := range []struct {
		name    string
		failure Failure
		want    []string
		defer_  []string
	}{
		{"due again", Failure{Fingerprint: fp, Count: 2, NextAttempt: t0}, []string{"create:a"}, nil},
		{"waiting", Failure{Fingerprint: fp, Count: 2, NextAttempt: t0.Add(time.Minute)}, nil, []string{"create:a:backoff"}},
		{"quarantined", Failure{Fingerprint: fp, Count: 5, Quarantined: true}, nil, []string{"create:a:quarantine"}},
		{"another change", Failure{Fingerprint: "update|K9|l=|r=", Count: 5, Quarantined: true, NextAttempt: t0.Add(time.Hour)}, []string{"create:a"}, nil},
		{"seats are observed, not waited for", Failure{Fingerprint: fp, Cause: CauseSeats, Count: 1, NextAttempt: t0.Add(time.Hour)}, []string{"create:a"}, nil},
		{"a refused address is looked up, not waited for", Failure{Fingerprint: fp, Cause: CauseConflict, Count: 1, NextAttempt: t0.Add(time.Hour)}, []string{"create:a"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.failure
			f.EntraID = "a"
			p := Compute(Input{Accounts: []Account{a}, Failures: []Failure{f}, Now: t0, Policy: testPolicy()})
			if got := kinds(p); !cmp.Equal(got, tc.want) {
				t.Errorf("kinds = %v, want %v", got, tc.want)
			}
			if got := deferredKinds(p); !cmp.Equal(got, tc.defer_) {
				t.Errorf("deferred = %v, want %v", got, tc.defer_)
			}
		})
	}
}

func TestRetryPolicy(t *testing.T) {
	r := RetryPolicy{QuarantineAfter: 3}
	ch := &Change{Kind: KindUpdate, EntraID: "a", GoToKey: "K"}
	var prev *Failure
	var waits []time.Duration
	for i := range 3 {
		f := r.Failed(prev, ch, CauseOther, true, t0, "boom")
		waits = append(waits, f.NextAttempt.Sub(t0))
		if f.Count != i+1 || f.Quarantined != (i == 2) {
			t.Fatalf("failure %d = %+v", i+1, f)
		}
		prev = &f
	}
	if want := []time.Duration{10 * time.Minute, 20 * time.Minute, 40 * time.Minute}; !cmp.Equal(waits, want) {
		t.Errorf("waits = %v, want %v", waits, want)
	}
	other := &Change{Kind: KindUpdate, EntraID: "a", GoToKey: "K", Fields: []FieldChange{{Field: FieldLastName, New: "X"}}}
	if f := r.Failed(prev, other, CauseOther, true, t0, "boom"); f.Count != 1 {
		t.Errorf("a different change counts afresh: %+v", f)
	}
	if f := r.Failed(prev, ch, CauseOther, false, t0, "boom"); f.Quarantined {
		t.Errorf("a failure no retry can fix is not quarantined: %+v", f)
	}
}

func TestApprovalsAreBoundToTheExactChange(t *testing.T) {
	var people []Account
	var records []Record
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		p := person(id, id+"@x.com")
		people = append(people, p)
		records = append(records, owned(p, "K"+id))
	}
	pol := testPolicy()
	pol.MaxDisables = 1
	staged := Compute(Input{Accounts: people[3:], Records: records, Policy: pol})
	if len(staged.Staged) != 3 {
		t.Fatalf("staged %v", kinds(staged))
	}
	approve := func(cs []Change) map[string]string {
		m := map[string]string{}
		for _, c := range cs {
			m[c.EntraID] = c.Fingerprint()
		}
		return m
	}
	t.Run("approved disables pass", func(t *testing.T) {
		p := Compute(Input{Accounts: people[3:], Records: records, Policy: pol, Approvals: approve(staged.Staged)})
		if got, want := kinds(p), []string{"disable:a", "disable:b", "disable:c"}; !cmp.Equal(got, want) || len(p.StaleApprovals) != 0 {
			t.Errorf("kinds = %v, stale %v; want %v", got, p.StaleApprovals, want)
		}
		for _, c := range p.Changes {
			if !c.Approved {
				t.Errorf("%s not marked approved", c.EntraID)
			}
		}
	})
	t.Run("an approved disable never runs as a delete", func(t *testing.T) {
		del := pol
		del.Deprovision = DeprovisionDelete
		p := Compute(Input{Accounts: people[3:], Records: records, Policy: del, Approvals: approve(staged.Staged)})
		if len(p.Changes) != 0 || len(p.Staged) != 3 || !cmp.Equal(p.StaleApprovals, []string{"a", "b", "c"}) {
			t.Errorf("kinds = %v stale %v: the deletes need their own approval", kinds(p), p.StaleApprovals)
		}
	})
	t.Run("an approval of a change that changed does not carry over", func(t *testing.T) {
		recs := slices.Clone(records)
		recs[0].GoToKey = "K-other"
		none := pol
		none.MaxDisables = 0 // any disable not approved is staged
		p := Compute(Input{Accounts: people[3:], Records: recs, Policy: none, Approvals: approve(staged.Staged)})
		if got := kinds(p); !slices.Contains(got, "staged-disable:a") || !cmp.Equal(p.StaleApprovals, []string{"a"}) {
			t.Errorf("kinds = %v stale %v", got, p.StaleApprovals)
		}
	})
	t.Run("approvals do not release new disables beyond the threshold", func(t *testing.T) {
		p := Compute(Input{Accounts: people[4:], Records: records, Policy: pol, Approvals: approve(staged.Staged[:1])})
		if got, want := kinds(p), []string{"disable:a", "staged-disable:b", "staged-disable:c", "staged-disable:d"}; !cmp.Equal(got, want) {
			t.Errorf("kinds = %v, want %v", got, want)
		}
	})
}

func TestNeed(t *testing.T) {
	ann, bob, cy := person("a", "ann@x.com"), person("b", "bob@x.com"), person("c", "cy@x.com")
	ann.MatchEmails = []string{"ann@x.com", "a.upn@x.com"}
	recB, recZ := owned(bob, "KB"), owned(person("z", "zed@x.com"), "KZ")
	waitingCreate := Compute(Input{Accounts: []Account{cy}, Policy: testPolicy()}).Changes[0]
	in := Input{Accounts: []Account{ann, bob, cy}, Records: []Record{recB, recZ}, Policy: testPolicy(), Now: t0,
		Failures: []Failure{{EntraID: "c", Fingerprint: waitingCreate.Fingerprint(), Count: 1, NextAttempt: t0.Add(time.Hour)}}}
	n := Need(in)
	want := Needs{Lookups: []string{"ann@x.com", "a.upn@x.com"}, Live: []string{"KZ"}, Licenses: true}
	if !cmp.Equal(n, want) {
		t.Errorf("Need = %+v, want %+v (cy waits for her back-off: no call for her)", n, want)
	}
	in.Policy.Mode = ModeCreateUpdate
	if n := Need(in); len(n.Live) != 0 {
		t.Errorf("create-update never disables, yet Live = %v", n.Live)
	}
	in.Accounts, in.Failures = []Account{bob}, nil
	in.Policy.Mode = ModeSync
	if n := Need(in); n.Licenses || len(n.Lookups) != 0 {
		t.Errorf("nothing adds a licence or needs matching, yet %+v", n)
	}
}

func TestRenameRefusedForAConflictLooksTheAddressUp(t *testing.T) {
	a := person("a", "ann@x.com")
	r := owned(a, "K1")
	a.Profile.Email = "ann.new@x.com"
	ch := Compute(Input{Accounts: []Account{a}, Records: []Record{r}, Policy: testPolicy()}).Changes[0]
	n := Need(Input{Accounts: []Account{a}, Records: []Record{r}, Policy: testPolicy(),
		Failures: []Failure{{EntraID: "a", Fingerprint: ch.Fingerprint(), Cause: CauseConflict, Count: 1}}})
	if !cmp.Equal(n.Lookups, []string{"ann.new@x.com"}) {
		t.Errorf("lookups = %v", n.Lookups)
	}
}

// TestLookAlikeAddressTakesNoAccount is the security review's attack: an
// Entra user who sets mail to "\u212Aate.victim@…" (KELVIN SIGN) must not
// adopt, rename or later suspend kate.victim's unmanaged GoTo account.
func TestLookAlikeAddressTakesNoAccount(t *testing.T) {
	victim := Remote{Key: "V1", Profile: Profile{Email: "kate.victim@contoso.example", FirstName: "Kate"}, Licenses: []string{"L-user"}}
	attacker := person("m", "\u212Aate.victim@contoso.example")
	p := Compute(Input{Accounts: []Account{attacker}, Remotes: []Remote{victim}, Policy: testPolicy()})
	if got := kinds(p); !cmp.Equal(got, []string{"skip:m"}) || !strings.Contains(p.Skips[0].Reason, "U+212A") {
		t.Fatalf("kinds = %v (%v): the look-alike must be skipped, naming the character", got, p.Skips)
	}
	// Nor may an owner rename their account onto a look-alike address.
	owner := person("o", "olga@contoso.example")
	rec := owned(owner, "K9")
	owner.Profile.Email, owner.MatchEmails = "\u212Aate.victim@contoso.example", []string{"\u212Aate.victim@contoso.example"}
	p = Compute(Input{Accounts: []Account{owner}, Records: []Record{rec}, Remotes: []Remote{victim}, Policy: testPolicy()})
	if got := kinds(p); !cmp.Equal(got, []string{"skip:o"}) {
		t.Fatalf("kinds = %v: no rename onto a look-alike address", got)
	}
	// Plain case differences still match, as GoTo stores addresses lowercased.
	p = Compute(Input{Accounts: []Account{person("k", "Kate.Victim@Contoso.example")}, Remotes: []Remote{victim}, Policy: testPolicy()})
	if got := kinds(p); !cmp.Equal(got, []string{"adopt:k"}) {
		t.Errorf("kinds = %v, want the ASCII case variant adopted", got)
	}
}

func TestGoToFieldLimits(t *testing.T) {
	long := person("l", "long@x.com")
	long.Profile.FirstName = strings.Repeat("Ä", 100000)
	huge := person("h", strings.Repeat("a", 130)+"@x.com")
	p := Compute(Input{Accounts: []Account{long, huge}, Policy: testPolicy()})
	if got := kinds(p); !cmp.Equal(got, []string{"create:l", "skip:h"}) {
		t.Fatalf("kinds = %v", got)
	}
	c := p.Changes[0]
	if c.Profile.FirstName != strings.Repeat("Ä", 32) || !strings.Contains(c.Reason, "firstName cut to GoTo's limit of 32 characters") {
		t.Errorf("create: firstName of %d runes, reason %q", len([]rune(c.Profile.FirstName)), c.Reason)
	}
	if !strings.Contains(p.Skips[0].Reason, "GoTo accepts at most 128") {
		t.Errorf("skip reason %q", p.Skips[0].Reason)
	}
	// Once created with the cut name, the next plan is empty.
	rec := c.Result("K1")
	if p := Compute(Input{Accounts: []Account{long}, Records: []Record{rec}, Policy: testPolicy()}); !p.Empty() {
		t.Errorf("the cut name is planned again: %v", kinds(p))
	}
}

// A create dropped for its address took a seat: another person was
// deferred for "no free seat" while GoTo had one.
func TestAChangeDroppedForItsAddressTakesNoSeat(t *testing.T) {
	ann, bob := person("a", "ann@x.com"), person("b", "bob@x.com")
	squatter := Remote{Key: "S", Profile: Profile{Email: "ann@x.com"}}
	ann.MatchEmails = nil // the matching attributes do not select the squatter
	p := Compute(Input{Accounts: []Account{ann, bob}, Remotes: []Remote{squatter}, Licenses: []License{{Key: "L-user", Seats: 1}}, Policy: testPolicy()})
	if got := kinds(p); !cmp.Equal(got, []string{"create:b", "skip:a"}) || len(p.Deferred) != 0 {
		t.Errorf("kinds %v deferred %v", got, deferredKinds(p))
	}
}

// Back-off and quarantine compared a failure with the change before a
// missing unmanaged licence was left out of it, so they never matched.
func TestBackOffMatchesTheChangeAsSent(t *testing.T) {
	a := person("a", "ann@x.com")
	r := owned(a, "K1")
	r.State, r.RemovedLicenses, r.Licenses = StateDisabled, []string{"L-gone", "L-user"}, nil
	in := Input{Accounts: []Account{a}, Records: []Record{r}, Licenses: []License{{Key: "L-user", Seats: 9}}, Policy: testPolicy(), Now: t0}
	sent := Compute(in).Changes[0]
	in.Failures = []Failure{{EntraID: "a", Fingerprint: sent.Fingerprint(), Count: 5, Quarantined: true}}
	if p := Compute(in); len(p.Changes) != 0 || len(p.Deferred) != 1 {
		t.Errorf("kinds %v deferred %v: the quarantined re-enable must wait", kinds(p), deferredKinds(p))
	}
}

// On demand, one unassigned person is disabled although the read returned
// no one in scope (that gate guards full reads); the thresholds still count
// every owned account; a named person in back-off is tried now.
func TestOnDemandGates(t *testing.T) {
	var recs []Record
	for i, e := range []string{"a@x.com", "b@x.com", "c@x.com", "d@x.com"} {
		recs = append(recs, owned(person(string(rune('a'+i)), e), "K"+e))
	}
	pol := testPolicy()
	pol.MaxDisables, pol.MaxDisablesPercent = 1, 100
	p := Compute(Input{Records: recs, Policy: pol, Only: map[string]bool{"a": true}})
	if p.Abort != "" || !cmp.Equal(kinds(p), []string{"disable:a"}) {
		t.Fatalf("abort %q, kinds %v; want a's disable alone", p.Abort, kinds(p))
	}
	if p := Compute(Input{Records: recs, Policy: pol}); p.Abort == "" {
		t.Fatal("a full read with no one in scope must abort")
	}
	p = Compute(Input{Records: recs, Policy: pol, Only: map[string]bool{"a": true, "b": true}})
	if len(p.Staged) != 2 || len(p.Changes) != 0 {
		t.Errorf("two disables over max_disables=1: staged %d, changes %v", len(p.Staged), kinds(p))
	}
	hire := person("e", "e@x.com")
	first := Compute(Input{Accounts: []Account{hire}, Policy: testPolicy()})
	fail := Failure{EntraID: "e", Fingerprint: first.Changes[0].Fingerprint(), Count: 5, Quarantined: true}
	if p := Compute(Input{Accounts: []Account{hire}, Policy: testPolicy(), Failures: []Failure{fail}}); len(p.Deferred) != 1 {
		t.Fatalf("quarantined create not deferred in a regular plan: %v", kinds(p))
	}
	if p := Compute(Input{Accounts: []Account{hire}, Policy: testPolicy(), Failures: []Failure{fail}, Only: map[string]bool{"e": true}}); !cmp.Equal(kinds(p), []string{"create:e"}) {
		t.Errorf("named person in quarantine: %v, want the create tried now", kinds(p))
	}
}

// SelectUniqueValue: each new person takes the first candidate no one else
// holds or takes first; an owned account keeps its address; when every
// candidate is taken, the person is left alone; every candidate is looked up.
func TestSelectUniqueValueCandidates(t *testing.T) {
	smith := func(id string) Account {
		a := person(id, "john.smith@x.com")
		a.EmailCandidates = []string{"john.smith@x.com", "j.smith@x.com", "jo.smith@x.com"}
		a.MatchEmails = []string{id + "@corp.x.com"}
		return a
	}
	emails := func(p *Plan) []string {
		var out []string
		for _, c := range p.Changes {
			out = append(out, c.EntraID+"="+c.Profile.Email)
		}
		for _, c := range p.Skips {
			out = append(out, c.EntraID+" skipped")
		}
		return out
	}
	p := Compute(Input{Accounts: []Account{smith("b"), smith("a")}, Policy: testPolicy()})
	if got := emails(p); !cmp.Equal(got, []string{"a=john.smith@x.com", "b=j.smith@x.com"}) {
		t.Errorf("two John Smiths: %v", got)
	}
	owner := smith("a")
	rec := owned(owner, "K1")
	p = Compute(Input{Accounts: []Account{owner, smith("b")}, Records: []Record{rec}, Policy: testPolicy(),
		Remotes: []Remote{{Key: "K9", Profile: Profile{Email: "J.Smith@x.com"}}}})
	if got := emails(p); !cmp.Equal(got, []string{"b=jo.smith@x.com"}) {
		t.Errorf("one owned, one taken in GoTo: %v", got)
	}
	p = Compute(Input{Accounts: []Account{smith("a"), smith("b"), smith("c"), smith("d")}, Policy: testPolicy()})
	if got := emails(p); !cmp.Equal(got, []string{"a=john.smith@x.com", "b=j.smith@x.com", "c=jo.smith@x.com", "d skipped"}) ||
		!strings.Contains(p.Skips[0].Reason, "every SelectUniqueValue candidate") {
		t.Errorf("candidates run out: %v %v", got, p.Skips)
	}
	// Matching comes first: an existing account found by a matching
	// attribute is adopted with its address, whatever the candidates.
	matched := smith("a")
	matched.MatchEmails = []string{"john.smith@x.com"}
	p = Compute(Input{Accounts: []Account{matched}, Policy: testPolicy(), Remotes: []Remote{{Key: "K7", Profile: Profile{Email: "John.Smith@x.com"}}}})
	if len(p.Changes) != 1 || p.Changes[0].Kind != KindAdopt || p.Changes[0].GoToKey != "K7" {
		t.Errorf("matched by address: %v", kinds(p))
	}
	n := Need(Input{Accounts: []Account{smith("a")}, Policy: testPolicy()})
	for _, e := range []string{"john.smith@x.com", "j.smith@x.com", "jo.smith@x.com", "a@corp.x.com"} {
		if !slices.Contains(n.Lookups, e) {
			t.Errorf("lookups %v lack %s", n.Lookups, e)
		}
	}
}

// A default applies to a create only, as Entra's "default value if null".
func TestDefaultsOnlyOnCreate(t *testing.T) {
	a := person("a", "ann@x.com")
	a.Profile.FirstName = ""
	a.Defaults = &Profile{FirstName: "-"}
	p := Compute(Input{Accounts: []Account{a}, Policy: testPolicy()})
	if len(p.Changes) != 1 || p.Changes[0].Profile.FirstName != "-" {
		t.Fatalf("create: %+v", p.Changes)
	}
	rec := owned(person("a", "ann@x.com"), "K1")
	rec.Profile.FirstName = "Ann"
	if p := Compute(Input{Accounts: []Account{a}, Records: []Record{rec}, Policy: testPolicy()}); len(p.Changes) != 0 {
		t.Errorf("update with an empty mapping and a default: %+v", p.Changes)
	}
}
