package state

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/g2msync/g2msync/pkg/address"
	"github.com/g2msync/g2msync/pkg/intern"
	"github.com/g2msync/g2msync/pkg/plan"
)

// Intent is written before a create call, so that a crash between the call
// and its commit is recovered by finding the account rather than creating it twice.
//
// A disable or delete writes one too, holding what the account had before
// (GoToKey, Licenses, AdminRoles), so a crash between the call and its commit
// loses nothing: recovery records the account as disabled with what was
// taken away, and a re-enable gives it all back.
type Intent struct {
	EntraID string    `json:"entra_id"`
	UPN     string    `json:"upn"`
	Email   string    `json:"email"`
	Kind    plan.Kind `json:"kind"`
	CycleID string    `json:"cycle_id"`
	At      time.Time `json:"at"`
	// GoToKey is the account a disable or delete acts on.
	GoToKey string `json:"goto_key,omitempty"`
	// Licenses and AdminRoles are, for a create, the lists it gives; for a
	// disable or delete, the lists the account held before the call.
	Licenses   []string     `json:"licenses,omitempty"`
	AdminRoles []string     `json:"admin_roles,omitempty"`
	Profile    plan.Profile `json:"profile"`
}

// Failure is an account whose last change failed.
type Failure struct {
	EntraID     string    `json:"entra_id"`
	UPN         string    `json:"upn"`
	Email       string    `json:"email,omitempty"`
	GoToKey     string    `json:"goto_key,omitempty"`
	Kind        plan.Kind `json:"kind"`
	Count       int       `json:"count"`
	FirstAt     time.Time `json:"first_at"`
	LastAt      time.Time `json:"last_at"`
	NextAttempt time.Time `json:"next_attempt"`
	LastError   string    `json:"last_error"`
	Quarantined bool      `json:"quarantined,omitempty"`
	// Fingerprint identifies the change that failed; a different change for
	// the same person (the directory moved on) starts the count afresh.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Cause is what kind of failure it was (plan.Cause): seats and address
	// conflicts are retried when the next cycle sees the cause gone, others
	// after their back-off.
	Cause string `json:"cause,omitempty"`
}

// Deferred is a change the last cycle planned but did not try: no free
// seat, waiting for its back-off, or quarantined.
type Deferred struct {
	EntraID string    `json:"entra_id"`
	UPN     string    `json:"upn"`
	GoToKey string    `json:"goto_key,omitempty"`
	Email   string    `json:"email,omitempty"`
	Kind    plan.Kind `json:"kind"`
	Cause   string    `json:"cause"`
	Reason  string    `json:"reason"`
	// Until is when it is tried again; zero: in the first cycle whose reads
	// show the cause gone.
	Until     time.Time `json:"until,omitzero"`
	Attempts  int       `json:"attempts,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	Since     time.Time `json:"since"`
	// License is the licence with no free seat the change waits for (cause
	// seats only); "" in files written before it was recorded, until the
	// next cycle records the deferral again.
	License string `json:"license,omitempty"`
}

// Staged is a disable held back by the threshold gate.
type Staged struct {
	EntraID string    `json:"entra_id"`
	UPN     string    `json:"upn"`
	GoToKey string    `json:"goto_key"`
	Email   string    `json:"email"`
	Kind    plan.Kind `json:"kind,omitempty"`
	Reason  string    `json:"reason"`
	Since   time.Time `json:"since"`
	// Fingerprint is the staged change's plan fingerprint: an approval is
	// bound to it, so it never releases another change.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Gate is the threshold the cycle that staged it exceeded, with its
	// numbers; nil in files written before it was recorded, and for a
	// change staged only because an operator kept it.
	Gate *plan.Gate `json:"gate,omitempty"`
}

// Keep is an operator's decision that a staged change must not go: no
// approval releases it, and it stays staged whatever the thresholds say,
// until an operator releases it. It lapses when the change is no longer
// staged (the person was assigned again), so that it never holds back a
// later, unrelated disable.
type Keep struct {
	EntraID string    `json:"entra_id"`
	At      time.Time `json:"at"`
	// By is who kept it (the console's operator, or the OS user), as an
	// approval records it.
	By     string `json:"by"`
	Reason string `json:"reason,omitempty"`
}

// Approval is a person's release of one staged disable or delete.
type Approval struct {
	EntraID     string    `json:"entra_id"`
	Fingerprint string    `json:"fingerprint"`
	At          time.Time `json:"at"`
	// By is who approved (the OS user), for the provisioning log.
	By string `json:"by,omitempty"`
}

// PropertyChange is one modified property in an audit entry.
type PropertyChange struct {
	Name string `json:"name"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

// Audit results.
const (
	ResultSuccess  = "success"
	ResultFailure  = "failure"
	ResultSkipped  = "skipped"
	ResultStaged   = "staged"
	ResultDeferred = "deferred"
)

// AuditEntry is one line of the provisioning log.
type AuditEntry struct {
	Seq     uint64           `json:"seq"`
	Time    time.Time        `json:"time"`
	CycleID string           `json:"cycle_id"`
	EntraID string           `json:"entra_id"`
	UPN     string           `json:"upn"`
	GoToKey string           `json:"goto_key,omitempty"`
	Email   string           `json:"email,omitempty"`
	Action  string           `json:"action"`
	Result  string           `json:"result"`
	Reason  string           `json:"reason,omitempty"`
	Changes []PropertyChange `json:"changes,omitempty"`
	Error   string           `json:"error,omitempty"`
	// OnDemand marks a change `g2msync provision` made for a person named.
	OnDemand bool `json:"on_demand,omitempty"`
	// Operator and Address say who took an operator's action (approve,
	// retry, pause, resume) and from where: the console's operator and
	// their IP address, or the OS user and host of a command.
	Operator string `json:"operator,omitempty"`
	// OperatorID is the Entra object id of an operator who signed in to
	// the console with Entra (Operator is then their UPN).
	OperatorID string `json:"operator_id,omitempty"`
	Address    string `json:"address,omitempty"`
	// Door is where an operator's action came in: "console" or "cli".
	Door string `json:"door,omitempty"`
}

// Cycle is the summary of one provisioning cycle.
type Cycle struct {
	ID      string    `json:"id"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Mode    string    `json:"mode"`
	Outcome string    `json:"outcome"`
	Error   string    `json:"error,omitempty"`
	InScope int       `json:"in_scope"`
	Owned   int       `json:"owned"`
	// Planned counts changes by kind; Applied and Failed by kind.
	Planned map[string]int `json:"planned,omitempty"`
	Applied map[string]int `json:"applied,omitempty"`
	Failed  map[string]int `json:"failed,omitempty"`
	Skipped int            `json:"skipped"`
	Staged  int            `json:"staged"`
	// Deferred counts changes not tried this cycle (no free seat, waiting
	// for their back-off, quarantined); DeferredBy counts them by cause.
	Deferred   int              `json:"deferred,omitempty"`
	DeferredBy map[string]int   `json:"deferred_by_cause,omitempty"`
	Calls      map[string]int64 `json:"calls,omitempty"` // API requests by API (graph, goto)
	// GoToThrottled counts GoTo's 429 replies during the cycle (each was
	// retried); GoToPace is the requests per second the GoTo client paced
	// at when the cycle ended: the limit less the margin, lower while it
	// recovers from 429s; 0 when unknown or unpaced.
	GoToThrottled int64   `json:"goto_throttled,omitempty"`
	GoToPace      float64 `json:"goto_pace,omitempty"`
	// Read says how the directory was read: "delta: N changes", or
	// "full: why" (a first read, a requested full sync, the interval, a
	// refused delta link).
	Read string `json:"read,omitempty"`
	// Problems group the failed and deferred changes by cause, each cause
	// said once.
	Problems []Problem `json:"problems,omitempty"`
	// Reconcile, on a cycle that listed GoTo to find drift, counts what
	// it found; nil on other cycles.
	Reconcile *Reconcile `json:"reconcile,omitempty"`
}

// Reconcile counts the drift one reconcile found: owned accounts changed in
// GoTo outside g2msync, those whose repair was applied, and those only
// reported (goto.drift: report).
type Reconcile struct {
	Drifted  int `json:"drifted"`
	Repaired int `json:"repaired"`
	Reported int `json:"reported"`
}

// Problem is a group of changes of one kind that failed, or were deferred,
// for one cause.
type Problem struct {
	Result string `json:"result"` // ResultFailure or ResultDeferred
	Action string `json:"action"`
	Cause  string `json:"cause"`
	// Reason says the cause and what to do, once for the whole group.
	Reason string `json:"reason"`
	Count  int    `json:"count"`
	// People are the first few people concerned (email, UPN or Entra id).
	People []string `json:"people"`
}

// Outcome is everything one finished change writes, committed at once.
type Outcome struct {
	EntraID string
	// Record, when set, replaces the owned record; DeleteRecord removes it.
	Record       *plan.Record
	DeleteRecord bool
	// ClearIntent removes the write-ahead intent.
	ClearIntent bool
	// Failure, when set, replaces the failure record; ClearFailure removes it.
	Failure      *Failure
	ClearFailure bool
	// ClearApproval removes the person's approval once it has been used.
	ClearApproval bool
	// Audit, when its Action is set, is appended to the provisioning log.
	Audit AuditEntry
}

// Records returns every owned record, sorted by Entra id.
func (s *Store) Records() ([]plan.Record, error) {
	out, _, _, err := s.RecordsSince("") // "" is no generation: every record is read
	return out, err
}

// RecordsSince returns every owned record, as Records does, and the
// records' generation: a token that every transaction writing a record
// replaces (RecordsGeneration). When gen is that generation, the records
// are those the caller read with it: RecordsSince reports same and decodes
// nothing. A daemon keeps the records decoded from one cycle to the next
// that way; decoding 100,000 takes a quarter of a second of CPU. A
// generation is random, not a count, so that a file restored from a
// backup, or written by another process in between, never matches a
// generation kept from another file or another history. A file whose
// records were last written by an older version has none (""), and ""
// never matches.
func (s *Store) RecordsSince(gen string) (records []plan.Record, cur string, same bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) (err error) {
		cur = string(tx.Bucket(bucketKV).Get([]byte(keyRecordsGeneration)))
		if same = cur != "" && cur == gen; same {
			return nil
		}
		records, err = s.records(tx)
		return err
	})
	if !same {
		s.releasePages()
	}
	if err != nil {
		return nil, "", false, fmt.Errorf("read owned accounts: %w", err)
	}
	return records, cur, same, nil
}

func (s *Store) records(tx *bolt.Tx) ([]plan.Record, error) {
	b := tx.Bucket(bucketAccounts)
	// Sized from the last cycle's count of owned accounts, not from
	// b.Stats(): counting the keys walks every leaf before the records are
	// read, and maps them all at once (80 MiB of a 100,000-person file),
	// which releasing as the read goes cannot undo. Growing the slice
	// instead would copy it a dozen times.
	n := lastOwned(tx)
	out := make([]plan.Record, 0, n+n/16)
	sh := intern.New()
	err := b.ForEach(func(k, v []byte) error {
		r, err := s.unsealShared(k, v, sh)
		if err != nil {
			return err
		}
		out = append(out, r)
		if len(out)%releaseEvery == 0 {
			s.releaseMapped(tx)
		}
		return nil
	})
	return out, err
}

// lastOwned is how many owned accounts the last cycle left, 0 when none
// recorded it: the accounts it started with (its summary's owned) and
// those its creates and adoptions added. It is a size to start from, not
// a count to trust. The creates count: the first cycle after an initial
// sync, which started with none, otherwise grew the slice of 100,000
// records from nothing, holding the last two copies at once (the
// no-change cycle's peak, 25 MiB in one step; docs/benchmarks.md). It is
// bounded by what the file could hold (a record takes more than 128 bytes
// of it), so that a damaged or edited summary cannot make a read allocate
// more than the file is worth.
func lastOwned(tx *bolt.Tx) int {
	_, v := tx.Bucket(bucketCycles).Cursor().Last()
	var c struct {
		Owned   int `json:"owned"`
		Applied struct {
			Create int `json:"create"` // plan.KindCreate
			Adopt  int `json:"adopt"`  // plan.KindAdopt
		} `json:"applied"` // the two counts alone: a summary has no checksum
	}
	if v == nil || json.Unmarshal(v, &c) != nil {
		return 0
	}
	n := int64(c.Owned) + int64(c.Applied.Create) + int64(c.Applied.Adopt)
	return int(max(0, min(n, tx.Size()/128)))
}

// releaseCommits is how many commits pass between two releases of the
// pages they mapped (releasePages): bbolt reads the pages each commit
// changes through its mapping, and at 100,000 people an initial sync's
// 1,000 commits otherwise left the whole file resident by its end. At 100
// changes a commit, 16 of them map about half a megabyte; a release costs
// a read of /proc/self/maps.
const releaseCommits = 16

// releaseEvery is how many records a read of all of them decodes between
// two releases of the pages it mapped (releasePages): about 100 leaves,
// which fault-around makes up to 6 MiB resident.
const releaseEvery = 2048

// keyRecordsGeneration is where the records' generation is kept (in kv).
const keyRecordsGeneration = "accounts.generation"

// newRecordsGeneration gives the records a new generation, in the
// transaction that writes them (RecordsSince), and returns it.
func newRecordsGeneration(tx *bolt.Tx) (string, error) {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail
	gen := hex.EncodeToString(b[:])
	return gen, tx.Bucket(bucketKV).Put([]byte(keyRecordsGeneration), []byte(gen))
}

// OwnedCounts counts the owned records by state, for a cycle's report and
// /status, without keeping them. A record that fails its checksum is an
// error, as in Records.
func (s *Store) OwnedCounts() (active, disabled int, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAccounts).ForEach(func(k, v []byte) error {
			r, err := s.unseal(k, v)
			if err != nil {
				return err
			}
			if r.State == plan.StateDisabled {
				disabled++
			} else {
				active++
			}
			return nil
		})
	})
	s.releasePages()
	if err != nil {
		return 0, 0, fmt.Errorf("count owned accounts: %w", err)
	}
	return active, disabled, nil
}

// Commit writes outcomes in one transaction.
func (s *Store) Commit(outcomes ...Outcome) error {
	var before, after string
	err := s.db.Update(func(tx *bolt.Tx) error {
		records := false
		for i := range outcomes {
			if err := s.commit(tx, &outcomes[i]); err != nil {
				return err
			}
			records = records || outcomes[i].DeleteRecord || outcomes[i].Record != nil
		}
		if !records {
			return nil
		}
		before = string(tx.Bucket(bucketKV).Get([]byte(keyRecordsGeneration)))
		var err error
		after, err = newRecordsGeneration(tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("commit to state file %s: %w", s.path, err)
	}
	if s.commits.Add(1)%releaseCommits == 0 {
		s.releasePages()
	}
	if after != "" {
		s.gensMu.Lock()
		if s.gens == nil {
			s.gens = map[string]string{}
		}
		s.gens[before] = after
		s.gensMu.Unlock()
	}
	return nil
}

// RecordsFollow returns the records generation that this Store's own
// commits led to from gen: gen itself when none of them wrote a record
// since. When it is the file's generation (RecordsGeneration), the records
// are those of gen with exactly the records this Store committed since,
// and nothing else wrote any: what lets a daemon keep the records of a
// cycle that changed some without reading them all again.
func (s *Store) RecordsFollow(gen string) string {
	s.gensMu.Lock()
	defer s.gensMu.Unlock()
	for range len(s.gens) {
		next, ok := s.gens[gen]
		if !ok {
			break
		}
		gen = next
	}
	return gen
}

// RecordsGeneration returns the records' generation (RecordsSince), ""
// when the file has none.
func (s *Store) RecordsGeneration() (string, error) {
	var gen string
	err := s.db.View(func(tx *bolt.Tx) error {
		gen = string(tx.Bucket(bucketKV).Get([]byte(keyRecordsGeneration)))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("read the records' generation in %s: %w", s.path, err)
	}
	return gen, nil
}

func (s *Store) commit(tx *bolt.Tx, o *Outcome) error {
	id := []byte(o.EntraID)
	switch {
	case o.DeleteRecord:
		if err := tx.Bucket(bucketAccounts).Delete(id); err != nil {
			return err
		}
	case o.Record != nil:
		if err := putRecord(tx.Bucket(bucketAccounts), id, o.Record); err != nil {
			return err
		}
	}
	if o.ClearIntent {
		if err := tx.Bucket(bucketIntents).Delete(id); err != nil {
			return err
		}
	}
	switch {
	case o.Failure != nil:
		if err := putJSON(tx.Bucket(bucketFailures), id, o.Failure); err != nil {
			return err
		}
	case o.ClearFailure:
		if err := tx.Bucket(bucketFailures).Delete(id); err != nil {
			return err
		}
	}
	if o.ClearApproval {
		if err := tx.Bucket(bucketApprovals).Delete(id); err != nil {
			return err
		}
	}
	if o.Audit.Action != "" {
		b := tx.Bucket(bucketAudit)
		b.FillPercent = appendOnly
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		e := o.Audit
		e.Seq = seq
		if e.Time.IsZero() {
			e.Time = s.now()
		}
		if err := putJSON(b, u64(seq), e); err != nil {
			return err
		}
	}
	return nil
}

// WriteIntents records intents before their calls are made.
func (s *Store) WriteIntents(intents []Intent) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIntents)
		for i := range intents {
			if err := putJSON(b, []byte(intents[i].EntraID), intents[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write intents to %s: %w", s.path, err)
	}
	return nil
}

// Intents returns the intents left by calls whose outcome was never committed.
func (s *Store) Intents() ([]Intent, error) {
	var out []Intent
	err := s.db.View(func(tx *bolt.Tx) error {
		return each(tx, bucketIntents, func(_ []byte, v *Intent) error {
			out = append(out, *v)
			return nil
		})
	})
	return out, err
}

// Failures returns the accounts whose last change failed, sorted by Entra id.
func (s *Store) Failures() ([]Failure, error) {
	var out []Failure
	err := s.db.View(func(tx *bolt.Tx) error {
		return each(tx, bucketFailures, func(_ []byte, v *Failure) error {
			out = append(out, *v)
			return nil
		})
	})
	return out, err
}

// ClearFailures removes the failure records of the people matched by who,
// as Tx.ClearFailures does, in a transaction of its own. It returns what it
// cleared.
func (s *Store) ClearFailures(who string) ([]Failure, error) {
	var cleared []Failure
	err := s.Update(func(tx *Tx) (err error) { cleared, err = tx.ClearFailures(who); return err })
	if err != nil {
		return nil, fmt.Errorf("clear failures in %s: %w", s.path, err)
	}
	return cleared, nil
}

// EveryFailure, given to ClearFailures, clears every failure record, in
// back-off or quarantined: `g2msync retry --all`, as the portal's Restart
// clears its escrows.
const EveryFailure = "\x00all"

// Skips returns the last skip reason of each person skipped, by Entra id.
func (s *Store) Skips() (map[string]string, error) {
	out := map[string]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSkips).ForEach(func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	})
	return out, err
}

// SetSkips replaces the remembered skip reasons.
func (s *Store) SetSkips(skips map[string]string) error {
	return s.replace(bucketSkips, func(b *bolt.Bucket) error {
		for id, reason := range skips {
			if err := b.Put([]byte(id), []byte(reason)); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetStaged replaces the staged disables, and lets the keeps of changes no
// longer staged lapse, in the same transaction.
func (s *Store) SetStaged(staged []Staged) error {
	return s.replace(bucketStaged, func(b *bolt.Bucket) error {
		for i := range staged {
			if err := putJSON(b, []byte(staged[i].EntraID), staged[i]); err != nil {
				return err
			}
		}
		kept := b.Tx().Bucket(bucketKept)
		if kept == nil {
			return nil
		}
		var lapsed [][]byte
		err := kept.ForEach(func(k, _ []byte) error {
			if b.Get(k) == nil {
				lapsed = append(lapsed, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range lapsed {
			if err := kept.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// Kept returns the operators' keeps of staged changes, by Entra id.
func (s *Store) Kept() (map[string]Keep, error) {
	var out map[string]Keep
	err := s.db.View(func(tx *bolt.Tx) (err error) { out, err = kept(tx); return err })
	if err != nil {
		return nil, fmt.Errorf("read kept staged changes: %w", err)
	}
	return out, nil
}

func kept(tx *bolt.Tx) (map[string]Keep, error) {
	out := map[string]Keep{}
	err := each(tx, bucketKept, func(_ []byte, k *Keep) error {
		out[k.EntraID] = *k
		return nil
	})
	return out, err
}

// ApproveShown approves the staged changes a person saw (Entra id → the
// fingerprint shown), as Tx.Approve does, in a transaction of its own: a
// change staged since, or changed since it was shown, is not approved,
// however the console's form was sent. There is no "approve whatever is
// staged": an approval is always of rows someone listed.
func (s *Store) ApproveShown(by string, shown map[string]string) ([]Staged, error) {
	var staged []Staged
	err := s.Update(func(tx *Tx) (err error) { staged, err = tx.Approve(by, shown); return err })
	if err != nil {
		return nil, fmt.Errorf("record approval in %s: %w", s.path, err)
	}
	return staged, nil
}

// Approvals returns the approved changes: Entra id → plan fingerprint.
func (s *Store) Approvals() (map[string]string, error) {
	out := map[string]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return each(tx, bucketApprovals, func(_ []byte, a *Approval) error {
			out[a.EntraID] = a.Fingerprint
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read approvals: %w", err)
	}
	return out, nil
}

// ForgetApprovals removes the approvals of these people.
func (s *Store) ForgetApprovals(ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, id := range ids {
			if err := tx.Bucket(bucketApprovals).Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget approvals in %s: %w", s.path, err)
	}
	return nil
}

// SetDeferred replaces the deferred changes.
func (s *Store) SetDeferred(ds []Deferred) error {
	return s.replace(bucketDeferred, func(b *bolt.Bucket) error {
		for i := range ds {
			if err := putJSON(b, []byte(ds[i].EntraID), ds[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Deferred returns the changes the last cycle deferred, sorted by Entra id.
func (s *Store) Deferred() ([]Deferred, error) {
	var out []Deferred
	err := s.db.View(func(tx *bolt.Tx) error {
		return each(tx, bucketDeferred, func(_ []byte, v *Deferred) error {
			out = append(out, *v)
			return nil
		})
	})
	return out, err
}

// Staged returns the disables waiting for approval.
func (s *Store) Staged() ([]Staged, error) {
	var out []Staged
	err := s.db.View(func(tx *bolt.Tx) error {
		return each(tx, bucketStaged, func(_ []byte, v *Staged) error {
			out = append(out, *v)
			return nil
		})
	})
	return out, err
}

func (s *Store) replace(bucket []byte, fill func(*bolt.Bucket) error) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucket); err != nil {
			return err
		}
		b, err := tx.CreateBucket(bucket)
		if err != nil {
			return err
		}
		return fill(b)
	})
	if err != nil {
		return fmt.Errorf("write %s to %s: %w", bucket, s.path, err)
	}
	return nil
}

// SaveCycle records a cycle's summary.
func (s *Store) SaveCycle(c Cycle) error {
	key := append(u64(uint64(c.Start.UnixNano())), c.ID...)
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCycles)
		b.FillPercent = appendOnly
		return putJSON(b, key, c)
	})
	if err != nil {
		return fmt.Errorf("record cycle in %s: %w", s.path, err)
	}
	return nil
}

// Cycles returns up to limit cycles, newest first (limit <= 0: all).
func (s *Store) Cycles(limit int) ([]Cycle, error) {
	var out []Cycle
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketCycles).Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			var cy Cycle
			if err := json.Unmarshal(v, &cy); err != nil {
				return fmt.Errorf("decode cycle: %w", err)
			}
			out = append(out, cy)
		}
		return nil
	})
	return out, err
}

// AuditFilter selects provisioning log entries; zero fields match everything.
type AuditFilter struct {
	CycleID string
	// User matches an Entra id, UPN, email or GoTo key, ignoring case.
	User string
	// Search matches the entries whose UPN, email, Entra id or GoTo key,
	// or a value one of its changes set, contains it (ignoring case), and
	// every other entry of the same people: a part of a name finds a
	// person's whole history, across a rename (the console's search).
	Search string
	Action string
	Result string
	Since  time.Time
	// Until, when set, leaves out entries after it.
	Until time.Time
	// Limit keeps the newest Limit entries (0: all).
	Limit int
}

func (f *AuditFilter) match(e *AuditEntry) bool {
	if f.CycleID != "" && e.CycleID != f.CycleID {
		return false
	}
	if f.Action != "" && e.Action != f.Action {
		return false
	}
	if f.Result != "" && e.Result != f.Result {
		return false
	}
	if !f.Since.IsZero() && e.Time.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && e.Time.After(f.Until) {
		return false
	}
	if f.User != "" {
		u := address.Fold(f.User)
		if u != address.Fold(e.EntraID) && u != address.Fold(e.UPN) && u != address.Fold(e.Email) && u != e.GoToKey {
			return false
		}
	}
	return true
}

// mentions reports whether e names the folded text q: its person or a
// value one of its changes set.
func mentions(e *AuditEntry, q string) bool {
	for _, v := range []string{e.EntraID, e.UPN, e.Email, e.GoToKey} {
		if strings.Contains(address.Fold(v), q) {
			return true
		}
	}
	for _, c := range e.Changes {
		if strings.Contains(address.Fold(c.Old), q) || strings.Contains(address.Fold(c.New), q) {
			return true
		}
	}
	return false
}

// DamagedEntries is the error Audit returns, together with every entry it
// could read, when some entries of the provisioning log cannot be decoded:
// one damaged entry must not hide the rest of the log. Callers show the
// entries and this notice.
type DamagedEntries struct {
	Path  string
	Seqs  []uint64 // the damaged entries' sequence numbers, newest first
	First error    // why the first of them could not be read
}

func (e *DamagedEntries) Error() string {
	seqs := make([]string, 0, min(len(e.Seqs), 5))
	for _, s := range e.Seqs[:min(len(e.Seqs), 5)] {
		seqs = append(seqs, strconv.FormatUint(s, 10))
	}
	more := ""
	if len(e.Seqs) > 5 {
		more = fmt.Sprintf(" and %d more", len(e.Seqs)-5)
	}
	return fmt.Sprintf("state file %s: %d provisioning log entries are damaged and left out (entry %s%s: %v); "+
		"the others are shown, nothing else depends on them, and they are pruned with the log after audit_retention",
		e.Path, len(e.Seqs), strings.Join(seqs, ", "), more, e.First)
}

// Audit returns the matching provisioning log entries, oldest first. If
// some entries are damaged it returns the others and a *DamagedEntries.
func (s *Store) Audit(f AuditFilter) ([]AuditEntry, error) {
	var out []AuditEntry
	var dmg *DamagedEntries
	err := s.db.View(func(tx *bolt.Tx) error {
		// A search first finds the people it names, in the whole log.
		var people map[string]bool
		q := address.Fold(strings.TrimSpace(f.Search))
		if q != "" {
			people = map[string]bool{}
			_ = tx.Bucket(bucketAudit).ForEach(func(_, v []byte) error {
				var e AuditEntry
				if json.Unmarshal(v, &e) == nil && e.EntraID != "" && mentions(&e, q) {
					people[e.EntraID] = true
				}
				return nil
			})
		}
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Last(); k != nil && (f.Limit <= 0 || len(out) < f.Limit); k, v = c.Prev() {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				if dmg == nil {
					dmg = &DamagedEntries{Path: s.path, First: err}
				}
				dmg.Seqs = append(dmg.Seqs, seqOf(k))
				continue
			}
			if f.match(&e) && (q == "" || people[e.EntraID] || mentions(&e, q)) {
				out = append(out, e)
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	if err == nil && dmg != nil {
		return out, dmg
	}
	return out, err
}

// seqOf reads an audit key; a damaged key reads as 0.
func seqOf(k []byte) uint64 {
	if len(k) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(k)
}

// PruneAudit deletes provisioning log entries and cycles older than before.
// It writes only when there is something to delete.
func (s *Store) PruneAudit(before time.Time) (int, error) {
	old := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var e AuditEntry
			if json.Unmarshal(v, &e) == nil { // the oldest entry that can be read
				old = e.Time.Before(before)
				break
			}
		}
		if k, _ := tx.Bucket(bucketCycles).Cursor().First(); k != nil && bytes.Compare(k[:8], u64(uint64(before.UnixNano()))) < 0 {
			old = true
		}
		return nil
	})
	if !old {
		return 0, nil
	}
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		// Entries are in time order, so a damaged entry is as old as the
		// next one that can be read: it goes when that one goes, and does
		// not stop the pruning of the log behind it.
		var damaged, gone [][]byte
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				damaged = append(damaged, bytes.Clone(k))
				continue
			}
			if !e.Time.Before(before) {
				break
			}
			gone = append(append(gone, damaged...), bytes.Clone(k))
			damaged = damaged[:0]
		}
		for _, k := range gone {
			if err := tx.Bucket(bucketAudit).Delete(k); err != nil {
				return err
			}
			n++
		}
		cc := tx.Bucket(bucketCycles).Cursor()
		limit := u64(uint64(before.UnixNano()))
		for k, _ := cc.First(); k != nil && bytes.Compare(k[:8], limit) < 0; k, _ = cc.Next() {
			if err := cc.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// Get returns a small value by name, or nil.
func (s *Store) Get(name string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketKV).Get([]byte(name)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}

// Put stores a small value by name.
func (s *Store) Put(name string, value []byte) error {
	err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketKV).Put([]byte(name), value) })
	if err != nil {
		return fmt.Errorf("write %s to %s: %w", name, s.path, err)
	}
	return nil
}

const keyGoToRefreshToken = "goto.refresh_token"

// RefreshToken returns the stored GoTo refresh token, or "" if none.
func (s *Store) RefreshToken(context.Context) (string, error) {
	v, err := s.Get(keyGoToRefreshToken)
	return string(v), err
}

// SaveRefreshToken stores a rotated GoTo refresh token. It is committed
// (fsynced) before it returns, so the new token is never lost once used.
func (s *Store) SaveRefreshToken(_ context.Context, token string) error {
	return s.Put(keyGoToRefreshToken, []byte(token))
}

const keyPause = "paused"

// Pause is a stop of provisioning that a person asked for (`g2msync
// pause`): while it stands, cycles change nothing; everything else the
// file holds (records, deltas, approvals, back-off) stays as it is.
type Pause struct {
	Since  time.Time `json:"since"`
	By     string    `json:"by"`
	Reason string    `json:"reason,omitempty"`
}

// SetPause records a pause, or lifts it when p is nil.
func (s *Store) SetPause(p *Pause) error { return setKV(s, keyPause, p) }

// Paused returns the pause in force, or nil.
func (s *Store) Paused() (*Pause, error) { return getKV[Pause](s, keyPause) }

const keyFullSync = "full_sync_requested"

// FullSyncRequest asks that the daemon's next cycle be a full sync (every
// GoTo account listed, owned records refreshed, everyone re-matched): the
// portal's "Restart provisioning" with a full reset, while the daemon runs
// and holds the lock a full sync run by hand would need.
type FullSyncRequest struct {
	At time.Time `json:"at"`
	By string    `json:"by"`
}

// RequestFullSync records the request, or withdraws it when r is nil (the
// cycle that honoured it succeeded).
func (s *Store) RequestFullSync(r *FullSyncRequest) error { return setKV(s, keyFullSync, r) }

// FullSyncRequested returns the pending request, or nil.
func (s *Store) FullSyncRequested() (*FullSyncRequest, error) {
	return getKV[FullSyncRequest](s, keyFullSync)
}

const keyReconciled = "reconciled"

// Reconciled is the last cycle that listed every GoTo account and planned
// each owned one from what GoTo holds (a reconcile or a full sync), and
// succeeded: goto.reconcile_interval runs from its start.
type Reconciled struct {
	At      time.Time `json:"at"`
	CycleID string    `json:"cycle_id"`
}

// SetReconciled records the last successful reconcile.
func (s *Store) SetReconciled(r Reconciled) error { return setKV(s, keyReconciled, &r) }

// LastReconciled returns the last successful reconcile, or nil when none
// was recorded.
func (s *Store) LastReconciled() (*Reconciled, error) { return getKV[Reconciled](s, keyReconciled) }

// setKV stores v as JSON under key, or deletes the key when v is nil.
func setKV[T any](s *Store, key string, v *T) error {
	if v == nil {
		err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketKV).Delete([]byte(key)) })
		if err != nil {
			return fmt.Errorf("clear %s in %s: %w", key, s.path, err)
		}
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.Put(key, raw)
}

// getKV returns the JSON value under key, or nil.
func getKV[T any](s *Store, key string) (*T, error) {
	raw, err := s.Get(key)
	if err != nil || raw == nil {
		return nil, err
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("read %s in %s: %w", key, s.path, err)
	}
	return &v, nil
}

// Text says what the pause is, for every place that reports it.
func (p *Pause) Text() string {
	s := fmt.Sprintf("provisioning is paused since %s by %s", p.Since.UTC().Format("2006-01-02 15:04 UTC"), p.By)
	if p.Reason != "" {
		s += " (" + p.Reason + ")"
	}
	return s + "; `g2msync resume` resumes"
}

// Where the directory picture a delta-following reader keeps is stored:
// its links, changed by every read, in the kv bucket; its body, changed
// only when the directory is, in a bucket of its own. bbolt rewrites a
// whole leaf node when one of its keys changes, and a body beside the links
// would be rewritten with them: 25 MB at 100,000 people, every cycle.
const (
	keyPictureLinks   = "directory.picture.links"
	bucketPictureBody = "directory.picture" // nested in kv
	keyPictureBody    = "body"
)

// ViewDirectoryPicture calls fn with the stored picture's two parts
// (directory.EncodePicture) as they lie in the file's mapped pages, both
// nil when none is stored.
// They are valid only during fn: fn decodes them, it does not keep them.
// A cycle that follows from the picture decodes it here rather than from
// a copy: at 100,000 people the copy was 15 MB of fresh memory, 0.15–0.27
// s of a no-change cycle on the benchmark machine.
func (s *Store) ViewDirectoryPicture(fn func(links, body []byte) error) error {
	err := s.db.View(func(tx *bolt.Tx) error {
		kv := tx.Bucket(bucketKV)
		var body []byte
		if b := kv.Bucket([]byte(bucketPictureBody)); b != nil {
			body = b.Get([]byte(keyPictureBody))
		}
		return fn(kv.Get([]byte(keyPictureLinks)), body)
	})
	s.releasePages() // the body: 15 MB at 100,000 people
	if err != nil {
		return fmt.Errorf("read the directory picture in %s: %w", s.path, err)
	}
	return nil
}

// SaveDirectoryPicture stores the picture's links and, unless body is nil,
// its body, in one transaction: links never get ahead of the body they
// follow from. Nil links clear both.
func (s *Store) SaveDirectoryPicture(links, body []byte) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		kv := tx.Bucket(bucketKV)
		if links == nil {
			err := kv.Delete([]byte(keyPictureLinks))
			if kv.Bucket([]byte(bucketPictureBody)) != nil {
				err = errors.Join(err, kv.DeleteBucket([]byte(bucketPictureBody)))
			}
			return err
		}
		if body != nil {
			b, err := kv.CreateBucketIfNotExists([]byte(bucketPictureBody))
			if err != nil {
				return err
			}
			if err := b.Put([]byte(keyPictureBody), body); err != nil {
				return err
			}
		}
		return kv.Put([]byte(keyPictureLinks), links)
	})
	if err != nil {
		return fmt.Errorf("save the directory picture in %s: %w", s.path, err)
	}
	return nil
}
