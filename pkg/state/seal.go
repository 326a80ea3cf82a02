package state

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/g2msync/g2msync/pkg/plan"
)

// sealed is how an owned record is stored: with a checksum of its JSON.
// bbolt checks its meta pages but not the values it holds, and one changed
// digit in a stored GoTo key once made an approved disable suspend another
// person's account. A record whose checksum fails is refused.
type sealed struct {
	Sum    string          `json:"sum"`
	Record json.RawMessage `json:"record"`
}

func seal(r *plan.Record) ([]byte, error) {
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return json.Marshal(sealed{Sum: sum(raw), Record: raw})
}

func sum(raw []byte) string {
	h := sha256.Sum256(raw)
	return hex.EncodeToString(h[:8])
}

// unseal decodes a stored record and checks its checksum. A record written
// before checksums existed (no "record" field) is read as it is.
func (s *Store) unseal(key, v []byte) (plan.Record, error) {
	var r plan.Record
	var sl sealed
	if err := json.Unmarshal(v, &sl); err == nil && sl.Record != nil {
		if sum(sl.Record) != sl.Sum {
			return r, fmt.Errorf("state file %s is %w: the record of entra id %s fails its checksum (changed outside g2msync, or damaged); "+
				"g2msync will not act on it: %s", s.path, ErrCorrupt, key, recovery)
		}
		v = sl.Record
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("state file %s is %w: decode the record of entra id %s: %v; %s", s.path, ErrCorrupt, key, err, recovery)
	}
	return r, nil
}

func putRecord(b *bolt.Bucket, key []byte, r *plan.Record) error {
	v, err := seal(r)
	if err != nil {
		return fmt.Errorf("encode record %s: %w", key, err)
	}
	return b.Put(key, v)
}
