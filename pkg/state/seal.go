package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/g2msync/g2msync/pkg/intern"
	"github.com/g2msync/g2msync/pkg/plan"
)

// An owned record is stored sealed: with a checksum over the record and
// the Entra id it is filed under. bbolt checks its meta pages but not the
// values it holds, and one changed digit in a stored GoTo key once made an
// approved disable suspend another person's account. A record whose
// checksum fails is refused, and so is a record moved under another
// person's id.
//
// Since schema 2 a record is stored compact:
//
//	0x01, 8 bytes of SHA-256 over (uvarint len(id), id, body), body
//
// where the body is the record's strings, each a uvarint length and its
// bytes, in the order of plan.Record (EntraID left out: it is the key),
// and its four lists, each a uvarint count plus one (0 for a nil list, so
// that nil and empty stay apart) and that many strings. The JSON form of
// schema 1 took 480 bytes for a typical record and a JSON decode to read;
// this one takes about 180 and a few copies: at 100,000 owned accounts the
// accounts bucket, most of what a cycle maps of the file, and the second
// of CPU a cycle spent decoding it, both shrink by more than half.
const compactTag = 0x01

// sumLen is how many bytes of the SHA-256 a record keeps: a check against
// damage and edits, not a signature.
const sumLen = 8

// fields is the one list of what the compact form stores of a record, in
// its order: seal writes it, openCompact reads it back into the same
// places. EntraID is not in it: it is the key.
func fields(r *plan.Record) (strs [9]*string, lists [4]*[]string) {
	return [9]*string{&r.UPN, &r.GoToKey, &r.Profile.Email, &r.Profile.FirstName, &r.Profile.LastName,
			&r.Profile.Locale, &r.Profile.TimeZone, (*string)(&r.State), (*string)(&r.Origin)},
		[4]*[]string{&r.Licenses, &r.AdminRoles, &r.RemovedLicenses, &r.RemovedAdminRoles}
}

// seal encodes r, filed under key, in the compact form.
func seal(key []byte, r *plan.Record) []byte {
	strs, lists := fields(r)
	v := make([]byte, 1+sumLen, 256) // a typical record takes about 180 bytes
	v[0] = compactTag
	for _, s := range strs {
		v = appendString(v, *s)
	}
	for _, l := range lists {
		v = appendList(v, *l)
	}
	copy(v[1:1+sumLen], compactSum(key, v[1+sumLen:]))
	return v
}

func appendString(v []byte, s string) []byte {
	v = binary.AppendUvarint(v, uint64(len(s)))
	return append(v, s...)
}

func appendList(v []byte, l []string) []byte {
	if l == nil {
		return append(v, 0)
	}
	v = binary.AppendUvarint(v, uint64(len(l))+1)
	for _, s := range l {
		v = appendString(v, s)
	}
	return v
}

func compactSum(key, body []byte) []byte {
	h := sha256.New()
	h.Write(binary.AppendUvarint(nil, uint64(len(key))))
	h.Write(key)
	h.Write(body)
	return h.Sum(nil)[:sumLen]
}

// errDamaged is what a compact record that does not decode reports; the
// caller names the file and the recovery.
var errDamaged = errors.New("damaged record")

// openCompact decodes a record in the compact form. It never reads past v
// nor allocates more than v can hold, whatever the bytes.
func openCompact(key, v []byte) (plan.Record, error) { return openShared(key, v, nil) }

// openShared is openCompact sharing, through sh, what the records of one
// read repeat (nil: nothing shared): the state, the origin, the locale
// and the time zone, and each licence or admin role list. At 100,000
// people the records were 49 MB of live heap, about a fifth of it these
// copies (docs/benchmarks.md).
func openShared(key, v []byte, sh *intern.Table) (plan.Record, error) {
	var r plan.Record
	if len(v) < 1+sumLen || v[0] != compactTag {
		return r, errDamaged
	}
	d := decoder{b: v[1+sumLen:]}
	if string(compactSum(key, d.b)) != string(v[1:1+sumLen]) {
		return r, errChecksum
	}
	r.EntraID = string(key)
	strs, lists := fields(&r)
	for i, s := range strs {
		switch b := d.bytes(); {
		case i == 2 && string(b) == r.UPN:
			*s = r.UPN // the address is most often the UPN
		case i >= 5:
			*s = sh.Bytes(b) // locale, time zone, state, origin
		default:
			*s = string(b)
		}
	}
	for _, l := range lists {
		*l = sh.List(d.list())
	}
	if d.bad || len(d.b) != 0 {
		return plan.Record{}, errDamaged
	}
	return r, nil
}

var errChecksum = errors.New("checksum fails")

// decoder reads the body of a compact record; a short or malformed body
// sets bad and yields zero values from then on.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) uvarint() uint64 {
	if d.bad {
		return 0
	}
	n, w := binary.Uvarint(d.b)
	if w <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[w:]
	return n
}

func (d *decoder) string() string { return string(d.bytes()) }

// bytes is the next string's bytes, in the record's buffer (valid only
// while it is).
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		return nil
	}
	b := d.b[:n]
	d.b = d.b[n:]
	return b
}

func (d *decoder) list() []string {
	n := d.uvarint()
	if d.bad || n == 0 {
		return nil
	}
	// Each string takes at least its length byte: a count beyond what is
	// left is damage, not a reason to allocate.
	if n-1 > uint64(len(d.b)) {
		d.bad = true
		return nil
	}
	l := make([]string, n-1)
	for i := range l {
		l[i] = d.string()
	}
	return l
}

// unseal decodes a stored record and checks its checksum. A file of schema
// 2 holds compact records only: its upgrade rewrote every record that
// could be read, so a record in JSON there was written outside g2msync.
// A file of schema 1, open read-only, is read as it was written: JSON with
// its checksum, or the bare JSON written before checksums existed.
func (s *Store) unseal(key, v []byte) (plan.Record, error) { return s.unsealShared(key, v, nil) }

// unsealShared is unseal sharing, through sh, what the records of one read
// repeat.
func (s *Store) unsealShared(key, v []byte, sh *intern.Table) (plan.Record, error) {
	if len(v) > 0 && v[0] == compactTag {
		r, err := openShared(key, v, sh)
		switch {
		case errors.Is(err, errChecksum):
			return r, s.checksumError(key)
		case err != nil:
			return r, fmt.Errorf("state file %s is %w: the record of entra id %s is damaged; g2msync will not act on it: %s", s.path, ErrCorrupt, key, recovery)
		}
		return r, nil
	}
	r, err := s.unsealJSON(key, v)
	if err == nil && s.schema >= 2 {
		return plan.Record{}, fmt.Errorf("state file %s is %w: the record of entra id %s is in the JSON of schema 1, in a file of schema %d "+
			"(written outside g2msync); g2msync will not act on it: %s", s.path, ErrCorrupt, key, s.schema, recovery)
	}
	return r, err
}

// sealedJSON is how schema 1 stored a record: its JSON with a checksum of it.
type sealedJSON struct {
	Sum    string          `json:"sum"`
	Record json.RawMessage `json:"record"`
}

func (s *Store) unsealJSON(key, v []byte) (plan.Record, error) {
	var r plan.Record
	var sl sealedJSON
	if err := json.Unmarshal(v, &sl); err == nil && sl.Record != nil {
		h := sha256.Sum256(sl.Record)
		if hex.EncodeToString(h[:sumLen]) != sl.Sum {
			return r, s.checksumError(key)
		}
		v = sl.Record
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return plan.Record{}, fmt.Errorf("state file %s is %w: decode the record of entra id %s: %v; %s", s.path, ErrCorrupt, key, err, recovery)
	}
	switch r.EntraID {
	case "":
		r.EntraID = string(key)
	case string(key):
	default:
		return plan.Record{}, fmt.Errorf("state file %s is %w: the record filed under entra id %s is of %s (moved outside g2msync); "+
			"g2msync will not act on it: %s", s.path, ErrCorrupt, key, r.EntraID, recovery)
	}
	return r, nil
}

func (s *Store) checksumError(key []byte) error {
	return fmt.Errorf("state file %s is %w: the record of entra id %s fails its checksum (changed outside g2msync, or damaged); "+
		"g2msync will not act on it: %s", s.path, ErrCorrupt, key, recovery)
}

func putRecord(b *bolt.Bucket, key []byte, r *plan.Record) error {
	if r.EntraID != string(key) {
		// The compact form keeps the id only as the key: a record filed
		// under another id would read back as that other person's.
		return fmt.Errorf("record of entra id %q filed under %q", r.EntraID, key)
	}
	return b.Put(key, seal(key, r))
}

// upgradeRecords rewrites the records of a schema-1 file in the compact
// form, in the transaction that sets schema 2: all of them or, if the
// commit fails, none. A record that does not decode is copied as it is,
// to be refused with its own message when a cycle reads it. The bucket is
// built anew, in key order and with full pages: rewritten in place, the
// shorter records would leave 100,000 accounts on three times the pages,
// all of which every cycle reads.
func (s *Store) upgradeRecords(tx *bolt.Tx) error {
	type kv struct{ k, v []byte }
	var all []kv
	if err := tx.Bucket(bucketAccounts).ForEach(func(k, v []byte) error {
		e := kv{k: bytes.Clone(k)}
		if r, err := s.unsealJSON(k, v); (len(v) == 0 || v[0] != compactTag) && err == nil {
			e.v = seal(k, &r)
		} else {
			e.v = bytes.Clone(v)
		}
		all = append(all, e)
		return nil
	}); err != nil {
		return err
	}
	if err := tx.DeleteBucket(bucketAccounts); err != nil {
		return err
	}
	b, err := tx.CreateBucket(bucketAccounts)
	if err != nil {
		return err
	}
	b.FillPercent = appendOnly // keys come in order
	for _, e := range all {
		if err := b.Put(e.k, e.v); err != nil {
			return err
		}
	}
	_, err = newRecordsGeneration(tx)
	return err
}
