package plan

import (
	"slices"
	"testing"
)

// Interrupted changes are settled by the plan, so that `plan` shows what the
// next run records: one row per rule of recoverIntents.
func TestInterruptedChangesAreSettledByThePlan(t *testing.T) {
	ann, bob := person("a", "ann@x.com"), person("b", "bob@x.com")
	annAt := Remote{Key: "K9", Profile: ann.Profile, Licenses: []string{"L-user"}}
	stripped := Remote{Key: "K2", Profile: bob.Profile}
	licensed := Remote{Key: "K2", Profile: bob.Profile, Licenses: []string{"L-user"}}
	bobRec := owned(bob, "K2")
	// ann is in scope throughout: created unless her create is recovered;
	// bob is not, and his account is disabled unless recovery settles it.
	for _, tc := range []struct {
		name      string
		records   []Record
		intent    Intent
		recovered string // "kind:id" recorded, or ""
		changes   []string
	}{
		{"a create GoTo holds: recorded, not created again", nil,
			Intent{Kind: KindCreate, EntraID: "a", Email: "ann@x.com", CycleID: "c1", Found: []Remote{annAt}},
			"create:a", nil},
		{"a create GoTo does not hold: created again", nil,
			Intent{Kind: KindCreate, EntraID: "a", Email: "ann@x.com", CycleID: "c1"},
			"", []string{"create:a"}},
		{"two accounts with the address: not taken for either", nil,
			Intent{Kind: KindCreate, EntraID: "a", Email: "ann@x.com", Found: []Remote{annAt, {Key: "K8", Profile: ann.Profile}}},
			"", []string{"create:a"}},
		{"the account found has another address (a look-alike)", nil,
			Intent{Kind: KindCreate, EntraID: "a", Email: "kate@x.com", Found: []Remote{{Key: "K9", Profile: Profile{Email: "\u212aate@x.com"}}}},
			"", []string{"create:a"}},
		{"the account found is owned by someone else", []Record{{EntraID: "z", GoToKey: "K9", State: StateActive, Profile: Profile{Email: "zed@x.com"}}},
			Intent{Kind: KindCreate, EntraID: "a", Email: "ann@x.com", Found: []Remote{annAt}},
			"", []string{"create:a"}},
		{"a disable GoTo shows done: recorded disabled", []Record{bobRec},
			Intent{Kind: KindDisable, EntraID: "b", GoToKey: "K2", Licenses: []string{"L-user"}, Live: &stripped},
			"disable:b", []string{"create:a"}},
		{"a disable that did not go through: decided afresh", []Record{bobRec},
			Intent{Kind: KindDisable, EntraID: "b", GoToKey: "K2", Licenses: []string{"L-user"}, Live: &licensed},
			"", []string{"disable:b", "create:a"}},
		{"a delete GoTo shows done: the record is dropped", []Record{bobRec},
			Intent{Kind: KindDelete, EntraID: "b", GoToKey: "K2"},
			"delete:b", []string{"create:a"}},
		{"a delete of an account now held under another key: nothing", []Record{owned(bob, "K3")},
			Intent{Kind: KindDelete, EntraID: "b", GoToKey: "K2"},
			"", []string{"disable:b", "create:a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Accounts: []Account{ann}, Records: tc.records, Intents: []Intent{tc.intent}, Policy: testPolicy(), AllowDisables: true}
			p := Compute(in)
			var got string
			for _, c := range p.Recovered {
				got = string(c.Kind) + ":" + c.EntraID
				if c.Recovery == nil || c.Reason == "" {
					t.Errorf("recovered change without its recovery or reason: %+v", c)
				}
			}
			if got != tc.recovered || len(p.Recovered) > 1 {
				t.Errorf("recovered %v, want %q", p.Recovered, tc.recovered)
			}
			if !slices.Equal(p.Settled, []string{tc.intent.EntraID}) {
				t.Errorf("settled %v: every intent is settled", p.Settled)
			}
			var changes []string
			for _, c := range p.Changes {
				if c.EntraID != "z" {
					changes = append(changes, string(c.Kind)+":"+c.EntraID)
				}
			}
			if !slices.Equal(changes, tc.changes) {
				t.Errorf("then planned %v, want %v", changes, tc.changes)
			}
			if tc.intent.Kind == KindDisable && got != "" {
				rec := p.Recovered[0].Recovery.Record
				if rec.State != StateDisabled || !slices.Equal(rec.RemovedLicenses, []string{"L-user"}) {
					t.Errorf("recorded %+v: want disabled with what it held, for a re-enable", rec)
				}
			}
			// Need plans its reads from the same records the plan starts from.
			if n := Need(in); tc.recovered == "create:a" && slices.Contains(n.Lookups, "ann@x.com") {
				t.Errorf("Need looks up ann, whom the plan records from the interrupted create: %v", n.Lookups)
			}
		})
	}
}
