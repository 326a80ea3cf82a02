package plan

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// person returns an in-scope account with the User licence.
func person(id, email string) Account {
	first, _, _ := strings.Cut(email, "@")
	return Account{EntraID: id, UPN: email, Profile: Profile{Email: email, FirstName: first, LastName: "Doe"},
		Licenses: []string{"L-user"}, MatchEmails: []string{email}}
}

// owned returns the active record of an account created from a.
func owned(a Account, key string) Record {
	return Record{EntraID: a.EntraID, UPN: a.UPN, GoToKey: key, Profile: a.Profile, Licenses: normalize(a.Licenses),
		AdminRoles: normalize(a.AdminRoles), State: StateActive, Origin: OriginCreated}
}

func testPolicy() Policy {
	p := DefaultPolicy()
	p.ManagedLicenses = []string{"L-admin", "L-user"}
	p.ManagedAdminRoles = []string{"MANAGE_USERS"}
	return p
}

// kinds summarises a plan as "kind:entraID" strings, in order.
func kinds(p *Plan) []string {
	var out []string
	for _, c := range p.Changes {
		out = append(out, string(c.Kind)+":"+c.EntraID)
	}
	for _, c := range p.Staged {
		out = append(out, "staged-"+string(c.Kind)+":"+c.EntraID)
	}
	for _, c := range p.Skips {
		out = append(out, "skip:"+c.EntraID)
	}
	return out
}

func find(t *testing.T, p *Plan, id string) Change {
	t.Helper()
	for _, cs := range [][]Change{p.Changes, p.Staged, p.Skips} {
		for _, c := range cs {
			if c.EntraID == id {
				return c
			}
		}
	}
	t.Fatalf("no change for %s in plan %v", id, kinds(p))
	return Change{}
}

func TestFirstSyncCreatesEveryone(t *testing.T) {
	a, b := person("a", "ann@x.com"), person("b", "bob@x.com")
	a.AdminRoles = []string{"MANAGE_USERS"}
	p := Compute(Input{Accounts: []Account{b, a}, Policy: testPolicy()})
	// Creates stand grouped by what they give (one bulk call each): bob's
	// no-role create before ann's MANAGE_USERS one.
	if got, want := kinds(p), []string{"create:b", "create:a"}; !cmp.Equal(got, want) {
		t.Fatalf("kinds = %v, want %v", got, want)
	}
	c := p.Changes[1]
	if c.Profile.Email != "ann@x.com" || !cmp.Equal(c.Licenses.New, []string{"L-user"}) || !cmp.Equal(c.AdminRoles.New, []string{"MANAGE_USERS"}) {
		t.Errorf("create = %+v, want ann@x.com with L-user and MANAGE_USERS", c)
	}
}

func TestSecondSyncIsEmpty(t *testing.T) {
	a := person("a", "ann@x.com")
	p := Compute(Input{Accounts: []Account{a}, Records: []Record{owned(a, "1")}, Policy: testPolicy()})
	if !p.Empty() || len(p.Skips) != 0 {
		t.Fatalf("plan = %v, want empty", kinds(p))
	}
}

func TestKeyedByObjectID(t *testing.T) {
	// Same email, different object id: a different person. The old one is
	// disabled, the new one cannot take the address while the old keeps it.
	old := person("old", "sam@x.com")
	newcomer := person("new", "sam@x.com")
	p := Compute(Input{Accounts: []Account{newcomer}, Records: []Record{owned(old, "1")}, Policy: testPolicy(), AllowDisables: true})
	if got := find(t, p, "old").Kind; got != KindDisable {
		t.Errorf("old person: %s, want disable", got)
	}
	// The old record keeps the address (it is being disabled, not renamed).
	if got := find(t, p, "new"); got.Kind != KindSkip || !strings.Contains(got.Reason, "linked to entra id old") {
		t.Errorf("new person: %s %q, want skip naming the owner", got.Kind, got.Reason)
	}
}

func TestRenameIsAnUpdate(t *testing.T) {
	a := person("a", "ann@x.com")
	renamed := a
	renamed.UPN, renamed.Profile.Email, renamed.MatchEmails = "ann.lee@x.com", "ann.lee@x.com", []string{"ann.lee@x.com"}
	renamed.Profile.LastName = "Lee"
	p := Compute(Input{Accounts: []Account{renamed}, Records: []Record{owned(a, "1")}, Policy: testPolicy()})
	if got, want := kinds(p), []string{"update:a"}; !cmp.Equal(got, want) {
		t.Fatalf("kinds = %v, want %v", got, want)
	}
	want := []FieldChange{{FieldEmail, "ann@x.com", "ann.lee@x.com"}, {FieldLastName, "Doe", "Lee"}}
	if d := cmp.Diff(want, p.Changes[0].Fields); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
	if p.Changes[0].Licenses != nil || p.Changes[0].AdminRoles != nil {
		t.Errorf("rename changed lists: %+v %+v", p.Changes[0].Licenses, p.Changes[0].AdminRoles)
	}
}

func TestUpdateCarriesOnlyChangedFields(t *testing.T) {
	a := person("a", "ann@x.com")
	b := a
	b.Profile.FirstName = "Annie"
	p := Compute(Input{Accounts: []Account{b}, Records: []Record{owned(a, "1")}, Policy: testPolicy()})
	if d := cmp.Diff([]FieldChange{{FieldFirstName, "ann", "Annie"}}, p.Changes[0].Fields); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
}

func TestEmailCaseChangeIsNotAnUpdate(t *testing.T) {
	a := person("a", "ann@x.com")
	b := a
	b.Profile.Email = "Ann@X.com"
	p := Compute(Input{Accounts: []Account{b}, Records: []Record{owned(a, "1")}, Policy: testPolicy()})
	if !p.Empty() {
		t.Errorf("plan = %v, want empty", kinds(p))
	}
}

func TestUnmappedFieldIsLeftAlone(t *testing.T) {
	a := person("a", "ann@x.com")
	rec := owned(a, "1")
	rec.Profile.Locale = "fr_FR" // set in GoTo; locale is not mapped
	p := Compute(Input{Accounts: []Account{a}, Records: []Record{rec}, Policy: testPolicy()})
	if !p.Empty() {
		t.Errorf("plan = %v, want empty", kinds(p))
	}
}

func TestCreateOnlyFieldsAreNeverUpdated(t *testing.T) {
	a := person("a", "ann@x.com")
	a.Profile.Locale = "en_US"
	rec := owned(a, "1")
	b := a
	b.Profile.Locale, b.Profile.FirstName = "de_DE", "Anna"
	pol := testPolicy()
	pol.CreateOnly = []Field{FieldLocale}
	p := Compute(Input{Accounts: []Account{b}, Records: []Record{rec}, Policy: pol})
	if d := cmp.Diff([]FieldChange{{FieldFirstName, "ann", "Anna"}}, p.Changes[0].Fields); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
	// ...but they are sent on create.
	p = Compute(Input{Accounts: []Account{b}, Policy: pol})
	if p.Changes[0].Kind != KindCreate || p.Changes[0].Profile.Locale != "de_DE" {
		t.Errorf("create = %+v, want locale de_DE", p.Changes[0])
	}
}

func TestMatchingIsCaseInsensitive(t *testing.T) {
	a := person("a", "ann@x.com")
	remote := Remote{Key: "900", Profile: Profile{Email: "ANN@X.COM", FirstName: "ann", LastName: "Doe"}, Licenses: []string{"L-user"}}
	p := Compute(Input{Accounts: []Account{a}, Remotes: []Remote{remote}, Policy: testPolicy()})
	c := find(t, p, "a")
	if c.Kind != KindAdopt || c.GoToKey != "900" {
		t.Fatalf("got %s %s, want adopt of 900", c.Kind, c.GoToKey)
	}
	if c.Fields != nil || c.Licenses != nil {
		t.Errorf("adopt of an identical account changes %+v %+v, want nothing", c.Fields, c.Licenses)
	}
}

func TestMatchingFollowsConfiguredPrecedence(t *testing.T) {
	a := person("a", "ann@x.com")
	a.MatchEmails = []string{"ann.mail@x.com", "ann.upn@x.com"} // mail, then userPrincipalName
	byUPN := Remote{Key: "1", Profile: Profile{Email: "ann.upn@x.com"}}
	byMail := Remote{Key: "2", Profile: Profile{Email: "ann.mail@x.com"}}
	p := Compute(Input{Accounts: []Account{a}, Remotes: []Remote{byUPN, byMail}, Policy: testPolicy()})
	if c := find(t, p, "a"); c.Kind != KindAdopt || c.GoToKey != "2" {
		t.Fatalf("got %s of %s, want adopt of 2 (matched by the first attribute)", c.Kind, c.GoToKey)
	}
	a.MatchEmails = []string{"nobody@x.com", "ann.upn@x.com"}
	p = Compute(Input{Accounts: []Account{a}, Remotes: []Remote{byUPN, byMail}, Policy: testPolicy()})
	if c := find(t, p, "a"); c.Kind != KindAdopt || c.GoToKey != "1" {
		t.Fatalf("got %s of %s, want adopt of 1 (matched by the second attribute)", c.Kind, c.GoToKey)
	}
}

func TestAdoptionUpdatesChangedFieldsAndManagedLicences(t *testing.T) {
	a := person("a", "ann@x.com")
	remote := Remote{Key: "9", Profile: Profile{Email: "ann@x.com", FirstName: "A", LastName: "Doe"},
		Licenses: []string{"L-other", "L-admin"}, AdminRoles: []string{"SUPER_USER"}}
	p := Compute(Input{Accounts: []Account{a}, Remotes: []Remote{remote}, Policy: testPolicy()})
	c := find(t, p, "a")
	if d := cmp.Diff([]FieldChange{{FieldFirstName, "A", "ann"}}, c.Fields); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
	// L-admin is managed and not wanted: removed. L-other is not managed: kept.
	if d := cmp.Diff(&ListChange{Old: []string{"L-admin", "L-other"}, New: []string{"L-other", "L-user"}}, c.Licenses); d != "" {
		t.Errorf("licences (-want +got):\n%s", d)
	}
	if c.AdminRoles != nil {
		t.Errorf("admin roles changed: %+v; SUPER_USER is not managed and must stay", c.AdminRoles)
	}
}

func TestTargetEmailTakenByUnmatchedAccountIsSkipped(t *testing.T) {
	a := person("a", "ann@x.com")
	a.MatchEmails = []string{"ann.upn@x.com"}
	p := Compute(Input{Accounts: []Account{a}, Remotes: []Remote{{Key: "7", Profile: Profile{Email: "ann@x.com"}}}, Policy: testPolicy()})
	if c := find(t, p, "a"); c.Kind != KindSkip || !strings.Contains(c.Reason, "matching attributes did not select") {
		t.Errorf("got %s %q, want skip", c.Kind, c.Reason)
	}
}

func TestOwnedAccountIsNotAdoptedTwice(t *testing.T) {
	a := person("a", "ann@x.com")
	b := person("b", "bob@x.com")
	b.MatchEmails = []string{"ann@x.com", "bob@x.com"}
	remote := Remote{Key: "1", Profile: a.Profile}
	p := Compute(Input{Accounts: []Account{a, b}, Records: []Record{owned(a, "1")}, Remotes: []Remote{remote}, Policy: testPolicy()})
	if c := find(t, p, "b"); c.Kind != KindCreate || c.Profile.Email != "bob@x.com" {
		t.Errorf("got %s %+v, want a create of bob's own address: a's account is never adopted twice", c.Kind, c)
	}
	// Had a left, with the account disabled but keeping its address, and b
	// wanted that address, the create would wait, naming the owner.
	b.Profile.Email = "ann@x.com"
	left := owned(a, "1")
	left.State = StateDisabled
	p = Compute(Input{Accounts: []Account{b}, Records: []Record{left}, Remotes: []Remote{remote}, Policy: testPolicy()})
	if c := find(t, p, "b"); c.Kind != KindSkip || !strings.Contains(c.Reason, "already linked to entra id a") {
		t.Errorf("got %s %q, want skip naming the owner", c.Kind, c.Reason)
	}
}

func TestRenameFreesAddressForNewHire(t *testing.T) {
	a := person("a", "sam@x.com")
	rec := owned(a, "1")
	a.Profile.Email, a.MatchEmails = "sam.old@x.com", []string{"sam.old@x.com"}
	hire := person("h", "sam@x.com")
	p := Compute(Input{Accounts: []Account{a, hire}, Records: []Record{rec},
		Remotes: []Remote{{Key: "1", Profile: rec.Profile}}, Policy: testPolicy()})
	if got, want := kinds(p), []string{"update:a", "create:h"}; !cmp.Equal(got, want) {
		t.Errorf("kinds = %v, want %v (the rename is applied before the create)", got, want)
	}
}

func TestDuplicateEmailSkipsBoth(t *testing.T) {
	a, b := person("a", "team@x.com"), person("b", "Team@x.com")
	p := Compute(Input{Accounts: []Account{a, b, person("c", "c@x.com")}, Policy: testPolicy()})
	if got, want := kinds(p), []string{"create:c", "skip:a", "skip:b"}; !cmp.Equal(got, want) {
		t.Fatalf("kinds = %v, want %v", got, want)
	}
	if r := find(t, p, "a").Reason; !strings.Contains(r, "also mapped from entra id b") {
		t.Errorf("reason %q does not name the other person", r)
	}
}

func TestSkippedPersonKeepsOwnedAccount(t *testing.T) {
	a := person("a", "ann@x.com")
	rec := owned(a, "1")
	a.Skip = "assigned only with the default access role, which roles does not map"
	p := Compute(Input{Accounts: []Account{a}, Records: []Record{rec}, Policy: testPolicy()})
	if got, want := kinds(p), []string{"skip:a"}; !cmp.Equal(got, want) {
		t.Fatalf("kinds = %v, want %v", got, want)
	}
}

func TestUnassignedDisables(t *testing.T) {
	a, b := person("a", "ann@x.com"), person("b", "bob@x.com")
	rec := owned(a, "1")
	rec.AdminRoles = []string{"MANAGE_USERS"}
	p := Compute(Input{Accounts: []Account{b}, Records: []Record{rec, owned(b, "2")}, Policy: testPolicy(), AllowDisables: true})
	c := find(t, p, "a")
	if c.Kind != KindDisable || c.GoToKey != "1" || c.Reason != "no longer assigned to the app" {
		t.Fatalf("got %+v, want disable of 1", c)
	}
	if d := cmp.Diff(&ListChange{Old: []string{"L-user"}, New: []string{}}, c.Licenses); d != "" {
		t.Errorf("licences (-want +got):\n%s", d)
	}
	if d := cmp.Diff(&ListChange{Old: []string{"MANAGE_USERS"}, New: []string{}}, c.AdminRoles); d != "" {
		t.Errorf("admin roles (-want +got):\n%s", d)
	}
	after := c.Result("")
	if after.State != StateDisabled || len(after.Licenses) != 0 || !cmp.Equal(after.RemovedAdminRoles, []string{"MANAGE_USERS"}) {
		t.Errorf("record after disable = %+v", after)
	}
}

func TestOutOfScopeDisablesWithReason(t *testing.T) {
	a := person("a", "ann@x.com")
	rec := owned(a, "1")
	a.OutOfScope = "account disabled in Entra"
	p := Compute(Input{Accounts: []Account{a, person("b", "b@x.com")}, Records: []Record{rec}, Policy: testPolicy(), AllowDisables: true})
	if c := find(t, p, "a"); c.Kind != KindDisable || c.Reason != "account disabled in Entra" {
		t.Errorf("got %s %q", c.Kind, c.Reason)
	}
	if p.InScope != 1 {
		t.Errorf("in scope = %d, want 1", p.InScope)
	}
}

func TestReassignReenablesWithLicencesBack(t *testing.T) {
	a := person("a", "ann@x.com")
	rec := owned(a, "1")
	rec.State, rec.Licenses, rec.RemovedLicenses = StateDisabled, nil, []string{"L-user", "L-webinar"}
	p := Compute(Input{Accounts: []Account{a}, Records: []Record{rec}, Policy: testPolicy()})
	c := find(t, p, "a")
	if c.Kind != KindEnable {
		t.Fatalf("kind %s, want enable", c.Kind)
	}
	// L-webinar is not managed: what the disable took, the enable gives back.
	if d := cmp.Diff([]string{"L-user", "L-webinar"}, c.Licenses.New); d != "" {
		t.Errorf("licences (-want +got):\n%s", d)
	}
	if r := c.Result(""); r.State != StateActive || r.RemovedLicenses != nil {
		t.Errorf("record after enable = %+v", r)
	}
}

func TestDisabledAccountStaysDisabled(t *testing.T) {
	a := person("a", "ann@x.com")
	rec := owned(a, "1")
	rec.State = StateDisabled
	p := Compute(Input{Accounts: []Account{person("b", "b@x.com")}, Records: []Record{rec, owned(person("b", "b@x.com"), "2")}, Policy: testPolicy()})
	if !p.Empty() {
		t.Errorf("plan = %v, want empty", kinds(p))
	}
}

func TestUnownedAccountsAreNeverTouched(t *testing.T) {
	// A GoTo account nobody in scope matches is not disabled: g2msync does not own it.
	p := Compute(Input{Accounts: []Account{person("a", "ann@x.com")}, Records: []Record{owned(person("a", "ann@x.com"), "1")},
		Remotes: []Remote{{Key: "5", Profile: Profile{Email: "stranger@x.com"}}}, Policy: testPolicy()})
	if !p.Empty() {
		t.Errorf("plan = %v, want empty", kinds(p))
	}
}

func TestSuperUserIsNeverDisabledUnlessAllowed(t *testing.T) {
	admin := owned(person("adm", "admin@x.com"), "1")
	admin.AdminRoles = []string{"SUPER_USER"}
	in := Input{Accounts: []Account{person("b", "b@x.com")}, Records: []Record{admin, owned(person("b", "b@x.com"), "2")},
		Policy: testPolicy(), AllowDisables: true}
	p := Compute(in)
	if c := find(t, p, "adm"); c.Kind != KindSkip || !strings.Contains(c.Reason, "SUPER_USER") {
		t.Errorf("got %s %q, want skip naming SUPER_USER", c.Kind, c.Reason)
	}
	in.Policy.DisableSuperUsers = true
	if c := find(t, Compute(in), "adm"); c.Kind != KindDisable {
		t.Errorf("with disable_super_users: %s, want disable", c.Kind)
	}
}

func TestLicencesAreTheUnionOfWantedAndUnmanaged(t *testing.T) {
	a := person("a", "ann@x.com")
	rec := owned(a, "1")
	rec.Licenses = []string{"L-user", "L-legacy"}
	a.Licenses = []string{"L-user", "L-admin", "L-user"}
	p := Compute(Input{Accounts: []Account{a}, Records: []Record{rec}, Policy: testPolicy()})
	c := find(t, p, "a")
	if c.Kind != KindUpdate || c.Reason != "app role changed" {
		t.Fatalf("got %s %q", c.Kind, c.Reason)
	}
	if d := cmp.Diff([]string{"L-admin", "L-legacy", "L-user"}, c.Licenses.New); d != "" {
		t.Errorf("licences (-want +got):\n%s", d)
	}
}

func TestPolicies(t *testing.T) {
	a, b, c, d := person("a", "a@x.com"), person("b", "b@x.com"), person("c", "c@x.com"), person("d", "d@x.com")
	recB := owned(b, "2")
	b.Profile.FirstName = "Bee"
	recD := owned(d, "4")
	recD.State, recD.Licenses, recD.RemovedLicenses = StateDisabled, nil, []string{"L-user"}
	e := person("e", "e@x.com")
	remoteE := Remote{Key: "5", Profile: Profile{Email: "e@x.com", FirstName: "old"}}
	in := Input{
		Accounts:      []Account{a, b, d, e},               // a new, b renamed, d reassigned, e adoptable
		Records:       []Record{recB, owned(c, "3"), recD}, // c unassigned
		Remotes:       []Remote{remoteE},
		AllowDisables: true,
	}
	tests := []struct {
		mode  Mode
		want  []string
		skips int
	}{
		{ModeSync, []string{"disable:c", "update:b", "enable:d", "adopt:e", "create:a"}, 0},
		{ModeCreateUpdate, []string{"update:b", "enable:d", "adopt:e", "create:a", "skip:c"}, 1},
		{ModeCreateOnly, []string{"adopt:e", "create:a", "skip:b", "skip:c", "skip:d"}, 3},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			in := in
			in.Policy = testPolicy()
			in.Policy.Mode = tt.mode
			p := Compute(in)
			if got := kinds(p); !cmp.Equal(got, tt.want) {
				t.Errorf("kinds = %v, want %v", got, tt.want)
			}
			if tt.mode == ModeCreateOnly {
				if adopt := find(t, p, "e"); adopt.Writes() {
					t.Errorf("create-only adoption writes: %+v", adopt)
				}
			}
		})
	}
}

func TestDeleteWhenPolicyAsks(t *testing.T) {
	gone := owned(person("g", "g@x.com"), "1")
	wasDisabled := owned(person("w", "w@x.com"), "2")
	wasDisabled.State = StateDisabled
	pol := testPolicy()
	pol.Deprovision = DeprovisionDelete
	p := Compute(Input{Accounts: []Account{person("b", "b@x.com")}, Records: []Record{gone, wasDisabled, owned(person("b", "b@x.com"), "3")},
		Policy: pol, AllowDisables: true})
	if got, want := kinds(p), []string{"delete:g", "delete:w"}; !cmp.Equal(got, want) {
		t.Errorf("kinds = %v, want %v", got, want)
	}
}

func TestEmptySourceAborts(t *testing.T) {
	recs := []Record{owned(person("a", "a@x.com"), "1"), owned(person("b", "b@x.com"), "2")}
	for _, accounts := range [][]Account{nil, {{EntraID: "a", OutOfScope: "account disabled in Entra"}}} {
		p := Compute(Input{Records: recs, Accounts: accounts, Policy: testPolicy(), AllowDisables: true})
		if p.Abort == "" || len(p.Changes) != 0 || len(p.Staged) != 0 {
			t.Errorf("accounts %v: abort %q, changes %v; want abort with nothing to apply", accounts, p.Abort, kinds(p))
		}
		if !strings.Contains(p.Abort, "manages 2 active accounts") {
			t.Errorf("abort message %q does not say how many accounts it protects", p.Abort)
		}
	}
	// Nothing owned yet: an empty directory is just an empty plan.
	if p := Compute(Input{Policy: testPolicy()}); p.Abort != "" || !p.Empty() {
		t.Errorf("empty start: abort %q", p.Abort)
	}
}

func TestDisableThresholds(t *testing.T) {
	var accounts []Account
	var records []Record
	for i := range 100 {
		a := person(string(rune('A'+i/26))+string(rune('a'+i%26)), strings.Repeat("x", i+1)+"@x.com")
		records = append(records, owned(a, a.EntraID))
		accounts = append(accounts, a)
	}
	tests := []struct {
		name       string
		unassign   int
		maxCount   int
		maxPercent float64
		allow      bool
		staged     int
	}{
		{"under both", 10, 50, 20, false, 0},
		{"at count limit", 20, 20, 100, false, 0},
		{"over count", 21, 20, 100, false, 21},
		{"over percent", 30, 50, 20, false, 30},
		{"at percent limit", 20, 50, 20, false, 0},
		{"released", 30, 50, 20, true, 0},
		{"no limits", 90, -1, 100, false, 0},
		{"zero means every disable needs approval", 1, 0, 100, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := testPolicy()
			pol.MaxDisables, pol.MaxDisablesPercent = tt.maxCount, tt.maxPercent
			extra := person("new", "new@x.com")
			p := Compute(Input{Accounts: append(append([]Account{}, accounts[tt.unassign:]...), extra), Records: records,
				Policy: pol, AllowDisables: tt.allow})
			if len(p.Staged) != tt.staged {
				t.Errorf("staged %d, want %d", len(p.Staged), tt.staged)
			}
			if got := p.Count(KindDisable); got != tt.unassign-tt.staged {
				t.Errorf("disables to apply %d, want %d", got, tt.unassign-tt.staged)
			}
			if p.Count(KindCreate) != 1 {
				t.Errorf("creates %d, want 1: staging disables must not hold back creates", p.Count(KindCreate))
			}
			if (p.StageReason != "") != (tt.staged > 0) {
				t.Errorf("stage reason %q with %d staged", p.StageReason, tt.staged)
			}
		})
	}
}

func TestAdoptOnlyRecordsOwnershipAndChangesNothing(t *testing.T) {
	a, b, c := person("a", "a@x.com"), person("b", "b@x.com"), person("c", "c@x.com")
	remoteA := Remote{Key: "1", Profile: Profile{Email: "A@x.com", FirstName: "old"}}
	pol := testPolicy()
	pol.Mode = ModeAdoptOnly
	p := Compute(Input{Accounts: []Account{a, b}, Records: []Record{owned(c, "3")}, Remotes: []Remote{remoteA}, Policy: pol, AllowDisables: true})
	if got, want := kinds(p), []string{"adopt:a", "skip:b", "skip:c"}; !cmp.Equal(got, want) {
		t.Fatalf("kinds = %v, want %v", got, want)
	}
	if p.Changes[0].Writes() {
		t.Errorf("adopt-only adoption writes: %+v", p.Changes[0])
	}
}
