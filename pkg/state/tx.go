package state

import (
	"encoding/json"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/g2msync/g2msync/pkg/address"
)

// Tx is one write transaction on the state file, for an operator's action:
// the change it makes (a pause, an approval, a released failure) and the
// provisioning-log entries that say who made it land together or not at
// all. A Tx is valid only inside the function given to Store.Update.
type Tx struct {
	s  *Store
	tx *bolt.Tx
}

// Update runs fn in one write transaction. When fn returns an error nothing
// it did is kept, log entries included; that error is returned as is.
func (s *Store) Update(fn func(tx *Tx) error) error {
	var fnErr error
	err := s.db.Update(func(tx *bolt.Tx) error {
		fnErr = fn(&Tx{s: s, tx: tx})
		return fnErr
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("write to state file %s: %w", s.path, err)
	}
	return nil
}

// Log appends e to the provisioning log; a zero Time is the store's now.
func (t *Tx) Log(e AuditEntry) error {
	if e.Action == "" {
		return fmt.Errorf("a provisioning-log entry needs an action")
	}
	return t.s.commit(t.tx, &Outcome{Audit: e})
}

// Paused returns the pause in force, or nil.
func (t *Tx) Paused() (*Pause, error) {
	raw := t.tx.Bucket(bucketKV).Get([]byte(keyPause))
	if raw == nil {
		return nil, nil
	}
	var p Pause
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("read %s in %s: %w", keyPause, t.s.path, err)
	}
	return &p, nil
}

// SetPause records a pause, or lifts it when p is nil.
func (t *Tx) SetPause(p *Pause) error {
	b := t.tx.Bucket(bucketKV)
	if p == nil {
		return b.Delete([]byte(keyPause))
	}
	return putJSON(b, []byte(keyPause), p)
}

// RequestFullSync records a request that the next cycle be a full sync.
func (t *Tx) RequestFullSync(r FullSyncRequest) error {
	return putJSON(t.tx.Bucket(bucketKV), []byte(keyFullSync), &r)
}

// Staged returns the changes waiting for approval, sorted by Entra id.
func (t *Tx) Staged() ([]Staged, error) {
	var out []Staged
	err := each(t.tx, bucketStaged, func(_ []byte, v *Staged) error {
		out = append(out, *v)
		return nil
	})
	return out, err
}

// Approve approves the staged changes a person saw (Entra id → the
// fingerprint shown), recording by as who approved: a change staged since,
// changed since it was shown, or kept staged by an operator, is not
// approved. It returns what it approved.
func (t *Tx) Approve(by string, shown map[string]string) ([]Staged, error) {
	staged, keeps, err := t.stagedAndKept()
	if err != nil {
		return nil, err
	}
	staged = slices.DeleteFunc(staged, func(st Staged) bool {
		fp, ok := shown[st.EntraID]
		_, held := keeps[st.EntraID]
		return !ok || fp != st.Fingerprint || held
	})
	now := t.s.now()
	b := t.tx.Bucket(bucketApprovals)
	for _, st := range staged {
		if err := putJSON(b, []byte(st.EntraID), Approval{EntraID: st.EntraID, Fingerprint: st.Fingerprint, At: now, By: by}); err != nil {
			return nil, err
		}
	}
	if len(staged) == 0 {
		return nil, nil
	}
	return staged, nil
}

// Kept returns the operators' keeps of staged changes, by Entra id.
func (t *Tx) Kept() (map[string]Keep, error) { return kept(t.tx) }

func (t *Tx) stagedAndKept() ([]Staged, map[string]Keep, error) {
	staged, err := t.Staged()
	if err != nil {
		return nil, nil, err
	}
	keeps, err := t.Kept()
	return staged, keeps, err
}

// Keep records by's decision that the staged changes of ids must not go,
// for reason: no approval releases them until Release. It withdraws any
// approval they had, and returns the staged changes it kept; an id not
// staged now, or already kept, is left out.
func (t *Tx) Keep(by, reason string, ids []string) ([]Staged, error) {
	staged, keeps, err := t.stagedAndKept()
	if err != nil {
		return nil, err
	}
	b, err := t.tx.CreateBucketIfNotExists(bucketKept)
	if err != nil {
		return nil, err
	}
	now := t.s.now()
	var out []Staged
	for _, st := range staged {
		if _, held := keeps[st.EntraID]; held || !slices.Contains(ids, st.EntraID) {
			continue
		}
		if err := putJSON(b, []byte(st.EntraID), Keep{EntraID: st.EntraID, At: now, By: by, Reason: reason}); err != nil {
			return nil, err
		}
		if err := t.tx.Bucket(bucketApprovals).Delete([]byte(st.EntraID)); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// Release lifts the keeps of ids, so that their staged changes may be
// approved again (each still needs its approval). It returns the keeps it
// lifted.
func (t *Tx) Release(ids []string) ([]Keep, error) {
	keeps, err := t.Kept()
	if err != nil {
		return nil, err
	}
	b := t.tx.Bucket(bucketKept)
	var out []Keep
	for _, id := range ids {
		k, ok := keeps[id]
		if !ok {
			continue
		}
		if err := b.Delete([]byte(id)); err != nil {
			return nil, err
		}
		delete(keeps, id)
		out = append(out, k)
	}
	return out, nil
}

// ClearFailures removes the failure records of the people matched by who
// (an Entra id, UPN or email compared as pkg/address folds them, or a GoTo
// key), of every quarantined account when who is "", or of everyone failing
// when who is EveryFailure, so the next cycle tries them again. It returns
// what it cleared.
func (t *Tx) ClearFailures(who string) ([]Failure, error) {
	var cleared []Failure
	var keys [][]byte
	w := address.Fold(who)
	err := each(t.tx, bucketFailures, func(k []byte, f *Failure) error {
		match := (who == "" && f.Quarantined) || who == EveryFailure || (who != "" && (w == address.Fold(f.EntraID) || w == address.Fold(f.UPN) ||
			w == address.Fold(f.Email) || who == f.GoToKey))
		if match {
			keys = append(keys, append([]byte(nil), k...))
			cleared = append(cleared, *f)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	b := t.tx.Bucket(bucketFailures)
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return nil, err
		}
	}
	return cleared, nil
}
