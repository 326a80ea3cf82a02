package plan

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/g2msync/g2msync/pkg/address"
)

// Field names one attribute of a GoTo account's profile.
type Field uint8

// The profile fields g2msync maps, in the order they are shown.
const (
	FieldEmail Field = iota
	FieldFirstName
	FieldLastName
	FieldLocale
	FieldTimeZone
	numFields
)

// fieldNames is read-only: the names of the fields, indexed by Field.
var fieldNames = [numFields]string{"email", "firstName", "lastName", "locale", "timeZone"}

// String returns the field's name as GoTo and the configuration spell it.
func (f Field) String() string {
	if f < numFields {
		return fieldNames[f]
	}
	return "field(" + strconv.Itoa(int(f)) + ")"
}

// ParseField returns the field with the given name.
func ParseField(name string) (Field, bool) {
	for i, n := range fieldNames {
		if n == name {
			return Field(i), true
		}
	}
	return 0, false
}

// AllFields returns every profile field in display order.
func AllFields() []Field {
	fs := make([]Field, numFields)
	for i := range fs {
		fs[i] = Field(i)
	}
	return fs
}

// Profile is the mapped shape of a GoTo account. An empty field is not
// managed: the planner neither sets nor clears it.
type Profile struct {
	Email     string
	FirstName string
	LastName  string
	Locale    string
	TimeZone  string
}

// Get returns the value of field f.
func (p *Profile) Get(f Field) string {
	switch f {
	case FieldEmail:
		return p.Email
	case FieldFirstName:
		return p.FirstName
	case FieldLastName:
		return p.LastName
	case FieldLocale:
		return p.Locale
	case FieldTimeZone:
		return p.TimeZone
	}
	return ""
}

// Set sets field f to v.
func (p *Profile) Set(f Field, v string) {
	switch f {
	case FieldEmail:
		p.Email = v
	case FieldFirstName:
		p.FirstName = v
	case FieldLastName:
		p.LastName = v
	case FieldLocale:
		p.Locale = v
	case FieldTimeZone:
		p.TimeZone = v
	}
}

// Account is what the directory says one in-scope person's GoTo account should
// look like, or why it cannot be provisioned.
type Account struct {
	// EntraID is the person's immutable Entra object id, the key of everything.
	EntraID string
	// UPN is the userPrincipalName, for messages and reports.
	UPN string
	// Profile is the mapped target profile.
	Profile Profile
	// Licenses and AdminRoles are the union over the person's app roles.
	Licenses   []string
	AdminRoles []string
	// MatchEmails are the values of the configured matching attributes, in
	// precedence order, used to find an existing GoTo account to adopt.
	MatchEmails []string
	// Skip, when set, says why this in-scope person cannot be provisioned
	// (no mapped role, no email, ...). The planner then touches nothing of theirs.
	Skip string
	// OutOfScope, when set, says why a person the directory returned is not in
	// scope (account disabled in Entra, excluded by a scoping filter). They are
	// treated as absent; the reason explains the disable.
	OutOfScope string
	// Defaults are the fields a create sends when the mapping gives nothing
	// ("default value if null"): never used on an update. Nil when none
	// are configured; otherwise one Profile shared, read-only, by every
	// account of a mapping (a copy each was 7 MB at 100,000 people).
	Defaults *Profile
	// EmailCandidates, when the email mapping is a SelectUniqueValue, are
	// its values in order: a create takes the first that no other account
	// holds or is about to hold. Profile.Email is the first.
	EmailCandidates []string
}

// State is whether an owned account is in use or was disabled by g2msync.
type State string

// Owned account states.
const (
	StateActive   State = "active"
	StateDisabled State = "disabled"
)

// Origin says how g2msync came to own an account.
type Origin string

// Origins of owned accounts.
const (
	OriginCreated Origin = "created"
	OriginAdopted Origin = "adopted"
)

// Record is one account g2msync owns: what it last applied or observed.
type Record struct {
	EntraID    string
	UPN        string
	GoToKey    string
	Profile    Profile
	Licenses   []string
	AdminRoles []string
	State      State
	Origin     Origin
	// RemovedLicenses and RemovedAdminRoles are what the disable took away;
	// a re-enable gives back those the configuration does not manage.
	RemovedLicenses   []string
	RemovedAdminRoles []string
}

// Remote is an existing GoTo account that g2msync may adopt.
type Remote struct {
	Key        string
	Profile    Profile
	Licenses   []string
	AdminRoles []string
}

// Kind is the kind of a change.
type Kind string

// Change kinds, in the order they are applied: forgetting costs no call,
// disables first free seats for the creates, renames go before creates that
// may reuse an old address.
const (
	// KindForget drops the record of an owned account that no longer exists
	// in GoTo (deleted outside g2msync) and whose person is out of scope. It
	// makes no call.
	KindForget  Kind = "forget"
	KindDisable Kind = "disable"
	KindDelete  Kind = "delete"
	KindUpdate  Kind = "update"
	KindEnable  Kind = "enable"
	KindAdopt   Kind = "adopt"
	KindCreate  Kind = "create"
	KindSkip    Kind = "skip"

	numApply = 7 // kinds before KindSkip
)

// Kinds lists the change kinds in apply order.
func Kinds() []Kind {
	return []Kind{KindForget, KindDisable, KindDelete, KindUpdate, KindEnable, KindAdopt, KindCreate, KindSkip}
}

func (k Kind) rank() int {
	switch k {
	case KindForget:
		return 0
	case KindDisable:
		return 1
	case KindDelete:
		return 2
	case KindUpdate:
		return 3
	case KindEnable:
		return 4
	case KindAdopt:
		return 5
	case KindCreate:
		return 6
	}
	return 7
}

// Deprovisions reports whether the kind takes an account away from its person.
func (k Kind) Deprovisions() bool { return k == KindDisable || k == KindDelete }

// FieldChange is one profile field that changes.
type FieldChange struct {
	Field Field
	Old   string
	New   string
}

// ListChange is a licence or admin-role list that changes, as whole lists.
type ListChange struct {
	Old []string
	New []string
}

// Change is everything the engine needs to apply, gate, print and audit one
// decision about one person.
type Change struct {
	Kind    Kind
	EntraID string
	UPN     string
	// GoToKey is the account acted on; empty for creates.
	GoToKey string
	// Profile is the desired profile (creates send all of it).
	Profile Profile
	// Fields are the profile fields that change (updates, adoptions, enables).
	Fields []FieldChange
	// Licenses and AdminRoles are set when the lists change (for a create: the
	// lists to give).
	Licenses   *ListChange
	AdminRoles *ListChange
	// Reason says why, in words for an administrator.
	Reason string
	// Prior is the owned record the change starts from (nil for creates and
	// adoptions); Remote the adopted account (adoptions only).
	Prior  *Record
	Remote *Remote
	// Deferral, on the plan's Deferred changes, says why the change waits
	// and until when.
	Deferral *Deferral
	// Approved marks a disable or delete that passes the threshold gate
	// because a person approved exactly this change.
	Approved bool
	// Recovery, on the plan's Recovered changes, says that the change was
	// made by an earlier cycle that stopped before recording it: it is
	// recorded now, with no call.
	Recovery *Recovery
}

// Recovery is what an interrupted change that went through records.
type Recovery struct {
	CycleID string // the cycle that made the call
	// Record is the owned record to keep; nil for a delete, whose record
	// is dropped.
	Record *Record
}

// Fingerprint identifies what a change asks GoTo to do: its kind, the
// account, the values it sets and the lists it gives. Back-off and
// approvals are bound to it, so that a different change for the same
// person (the directory moved on, the policy now deletes) is neither held
// back by an old failure nor released by an old approval.
func (c *Change) Fingerprint() string {
	var b strings.Builder
	b.WriteString(string(c.Kind))
	b.WriteString("|" + c.GoToKey)
	for _, f := range c.Fields {
		b.WriteString("|" + f.Field.String() + "=" + f.New)
	}
	if c.Kind == KindCreate {
		b.WriteString("|" + c.Profile.Email)
	}
	b.WriteString("|l=")
	if c.Licenses != nil {
		b.WriteString(strings.Join(c.Licenses.New, ","))
	}
	b.WriteString("|r=")
	if c.AdminRoles != nil {
		b.WriteString(strings.Join(c.AdminRoles.New, ","))
	}
	return b.String()
}

// Cause names why a change is deferred, or what kind of failure an earlier
// attempt met. Its values are stable: they label metrics and JSON.
type Cause string

// Causes.
const (
	// CauseSeats: a licence the change adds has no free seat. Tried again in
	// the first cycle whose licence read shows one.
	CauseSeats Cause = "seats"
	// CauseLicenceMissing: a licence the change gives back no longer exists.
	CauseLicenceMissing Cause = "licence-missing"
	// CauseBackoff: the same change failed before; it waits for its next try.
	CauseBackoff Cause = "backoff"
	// CauseQuarantine: the same change failed too often; it waits for the
	// directory to change it or for `g2msync retry`.
	CauseQuarantine Cause = "quarantine"
	// CauseConflict (failures only): GoTo said another account holds the
	// address. Not retried on a timer: the next cycle looks the address up
	// and tries again as soon as no other account holds it.
	CauseConflict Cause = "conflict"
	// CauseOther (failures only): a failure g2msync cannot observe the end
	// of, retried with back-off.
	CauseOther Cause = "other"
)

// Deferral says why a planned change is not tried this cycle.
type Deferral struct {
	Cause Cause
	// Reason says what the change waits for, in words shared by everyone
	// who waits for the same thing, so summaries can group them.
	Reason string
	// Until is when the change is tried again; zero means in the first
	// cycle in which its cause is gone.
	Until time.Time
	// Attempts and LastError describe the earlier failures (back-off and
	// quarantine only).
	Attempts  int
	LastError string
	// License is the licence with no free seat that the change waits for
	// (cause seats only; "" otherwise).
	License string
}

// Failure is what the state file remembers of a change that failed: the
// input of the back-off and quarantine rules.
type Failure struct {
	EntraID     string
	Fingerprint string
	Cause       Cause
	Count       int
	FirstAt     time.Time
	NextAttempt time.Time
	Quarantined bool
	LastError   string
}

// License is a GoTo licence and how many of its seats are used.
type License struct {
	Key   string
	Seats int
	Used  int
}

// Email returns the target email of the change.
func (c *Change) Email() string {
	if c.Profile.Email != "" {
		return c.Profile.Email
	}
	if c.Prior != nil {
		return c.Prior.Profile.Email
	}
	return ""
}

// Writes reports whether applying the change calls the GoTo API.
func (c *Change) Writes() bool {
	switch c.Kind {
	case KindCreate, KindDisable, KindDelete, KindEnable:
		return true
	case KindUpdate, KindAdopt:
		return len(c.Fields) > 0 || c.Licenses != nil || c.AdminRoles != nil
	}
	return false // forget and skip
}

// Result returns the owned record after the change succeeded; key is the GoTo
// key the API returned for a create. Delete returns a zero Record.
func (c *Change) Result(key string) Record {
	var r Record
	switch {
	case c.Prior != nil:
		r = *c.Prior
	case c.Remote != nil:
		r = Record{GoToKey: c.Remote.Key, Profile: c.Remote.Profile,
			Licenses: c.Remote.Licenses, AdminRoles: c.Remote.AdminRoles, Origin: OriginAdopted}
	default:
		r = Record{GoToKey: key, Origin: OriginCreated}
	}
	r.EntraID, r.UPN = c.EntraID, c.UPN
	if c.Kind == KindCreate {
		r.GoToKey = key
		r.Profile = c.Profile
	}
	for _, fc := range c.Fields {
		r.Profile.Set(fc.Field, fc.New)
	}
	if c.Licenses != nil {
		r.Licenses = c.Licenses.New
	}
	if c.AdminRoles != nil {
		r.AdminRoles = c.AdminRoles.New
	}
	switch c.Kind {
	case KindForget:
		return Record{}
	case KindDisable:
		r.State = StateDisabled
		r.RemovedLicenses, r.RemovedAdminRoles = c.Licenses.Old, c.AdminRoles.Old
	case KindDelete:
		return Record{}
	default:
		r.State = StateActive
		r.RemovedLicenses, r.RemovedAdminRoles = nil, nil
	}
	return r
}

// Plan is the outcome of Compute.
type Plan struct {
	// Changes are to be applied, in apply order (kind, then Entra id).
	Changes []Change
	// Staged are disables the threshold gate held back for a person to release.
	Staged []Change
	// StageReason says why they were staged (which threshold, how far over,
	// how to release them), or "" when nothing was.
	StageReason string
	// Gate is the threshold the staged changes exceeded, with its numbers;
	// nil when no threshold was (nothing staged, or only changes an
	// operator kept staged).
	Gate *Gate
	// Kept is how many of Staged an operator kept staged: they wait for a
	// release, not for an approval, so they alone do not make the cycle's
	// outcome "staged" (a person has already decided about them).
	Kept int
	// Skips are people in scope, or owned, whom the plan leaves alone, each with a reason.
	Skips []Change
	// Recovered are interrupted creates, disables and deletes of earlier
	// cycles that GoTo shows went through: recorded before anything is
	// applied, with no call. Settled are the Entra ids of every intent the
	// plan was given, gone through or not: their intents are dropped.
	Recovered []Change
	Settled   []string
	// Deferred are changes not tried this cycle, each with its Deferral:
	// no free seat, waiting for a back-off, or quarantined. They cost no call.
	Deferred []Change
	// StaleApprovals are the Entra ids whose stored approval no longer
	// matches the change planned for them; the approval must be forgotten.
	StaleApprovals []string
	// Abort, when set, says why nothing may be applied this cycle.
	Abort string
	// InScope is the number of in-scope people; Owned and OwnedActive count the
	// owned records and those not disabled.
	InScope     int
	Owned       int
	OwnedActive int
	// Only is Input.Only: an on-demand plan decided for these people alone.
	Only map[string]bool
	// Reconciled says the plan was made from a listing of every GoTo
	// account (Input.Reconcile); Drift are the owned accounts it found
	// changed outside g2msync, each with its repair (held, not in Changes,
	// under goto.drift: report), in Entra id order.
	Reconciled bool
	Drift      []Drift
}

// Count returns the number of changes of kind k (skips and staged included
// under their own kinds: KindSkip, and KindDisable for Staged is not counted).
func (p *Plan) Count(k Kind) int {
	if k == KindSkip {
		return len(p.Skips)
	}
	n := 0
	for i := range p.Changes {
		if p.Changes[i].Kind == k {
			n++
		}
	}
	return n
}

// Empty reports whether the plan applies nothing and stages nothing.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 && len(p.Staged) == 0 }

// normalize returns s sorted and without duplicates or empty strings: s itself
// when it already is, else a new slice. Lists in plans are never modified.
func normalize(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	if isNormal(s) {
		return s
	}
	out := make([]string, 0, len(s))
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

// fold is the form of an email that matching compares: ASCII case folded
// only, so two different addresses never match (see package address).
func fold(email string) string { return address.Fold(email) }

// Held is how many seats of a licence owned accounts hold: active ones,
// and suspended ones (which should hold none).
type Held struct{ Active, Suspended int }

// Holders counts, per licence key, the seats owned accounts hold: the one
// count the licences view, the console and the seat metric share.
type Holders map[string]Held

// Add counts the licences an owned account with this state holds.
func (h Holders) Add(state State, licenses []string) { h.count(state, licenses, 1) }

// Remove takes back what Add counted for an account with this state and
// these licences, when a change replaces its record.
func (h Holders) Remove(state State, licenses []string) { h.count(state, licenses, -1) }

func (h Holders) count(state State, licenses []string, n int) {
	for _, k := range licenses {
		x := h[k]
		if state == StateDisabled {
			x.Suspended += n
		} else {
			x.Active += n
		}
		if x == (Held{}) {
			delete(h, k) // as if never counted
			continue
		}
		h[k] = x
	}
}
