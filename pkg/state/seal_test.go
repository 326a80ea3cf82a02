package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"pgregory.net/rapid"

	"github.com/g2msync/g2msync/pkg/plan"
)

// drawRecord fills every string and string list of a plan.Record, found
// by reflection: a field added to Record is drawn too, and the round trip
// below fails until seal stores it. A field of another kind fails at once.
func drawRecord(t *rapid.T) plan.Record {
	var r plan.Record
	var fill func(v reflect.Value, path string)
	fill = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Struct:
			for i := range v.NumField() {
				fill(v.Field(i), path+"."+v.Type().Field(i).Name)
			}
		case reflect.String:
			v.SetString(rapid.OneOf(rapid.Just(""), rapid.String(), rapid.StringMatching(`[\x00-\xff]{0,200}`)).Draw(t, path))
		case reflect.Slice:
			if v.Type().Elem().Kind() != reflect.String {
				t.Fatalf("%s is a %s: teach seal (and this test) to store it", path, v.Type())
			}
			switch rapid.IntRange(0, 2).Draw(t, path+" form") {
			case 0: // nil
			case 1:
				v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			default:
				v.Set(reflect.ValueOf(rapid.SliceOfN(rapid.String(), 1, 5).Draw(t, path)))
			}
		default:
			t.Fatalf("%s is a %s: teach seal (and this test) to store it", path, v.Type())
		}
	}
	fill(reflect.ValueOf(&r).Elem(), "Record")
	r.EntraID = rapid.StringMatching(`[0-9a-f-]{1,36}`).Draw(t, "id")
	return r
}

// TestPropertyCompactRecordsRoundTrip: a sealed record reads back exactly,
// nil and empty lists apart; any one byte changed, or the record filed
// under another id, is refused.
func TestPropertyCompactRecordsRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := drawRecord(t)
		key := []byte(r.EntraID)
		v := seal(key, &r)
		got, err := openCompact(key, v)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		if d := cmp.Diff(r, got); d != "" {
			t.Fatalf("round trip (-sealed +read):\n%s", d)
		}
		i := rapid.IntRange(0, len(v)-1).Draw(t, "byte")
		changed := bytes.Clone(v)
		changed[i] ^= byte(rapid.IntRange(1, 255).Draw(t, "xor"))
		if _, err := openCompact(key, changed); err == nil {
			t.Fatalf("byte %d changed and the record still opens", i)
		}
		if _, err := openCompact(append(bytes.Clone(key), 'x'), v); !errors.Is(err, errChecksum) {
			t.Fatalf("filed under another id: %v, want the checksum to fail", err)
		}
	})
}

// FuzzCompactBody: any body, however damaged, decodes without a panic, a
// list that counts more strings than bytes are left is refused before
// anything is allocated (a seed below claims 2^40), and what decodes seals
// back to itself.
func FuzzCompactBody(f *testing.F) {
	r := plan.Record{EntraID: "e1", UPN: "a@contoso.com", GoToKey: "k1", Licenses: []string{"1001"}, AdminRoles: []string{},
		Profile: plan.Profile{Email: `quote" and } brace`, FirstName: "Zoë"}, State: plan.StateActive, Origin: plan.OriginCreated}
	f.Add(seal([]byte("e1"), &r)[1+sumLen:])
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 20))
	f.Add(binary.AppendUvarint(make([]byte, 9), 1<<40)) // nine empty strings, then a list of 2^40
	f.Fuzz(func(t *testing.T, body []byte) {
		key := []byte("e1")
		v := append([]byte{compactTag}, compactSum(key, body)...)
		v = append(v, body...)
		got, err := openCompact(key, v)
		if err != nil {
			if !errors.Is(err, errDamaged) {
				t.Fatalf("a body with a good checksum: %v", err)
			}
			return
		}
		again, err := openCompact(key, seal(key, &got))
		if err != nil || !cmp.Equal(got, again) {
			t.Fatalf("resealed: %+v, %v; first read %+v", again, err, got)
		}
	})
}

// sealV1 writes a record as schema 1 did: its JSON with a checksum of it.
func sealV1(t *testing.T, r *plan.Record) []byte {
	t.Helper()
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(raw)
	v, err := json.Marshal(sealedJSON{Sum: hex.EncodeToString(h[:8]), Record: raw})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSchemaOneFileIsUpgraded: a file of schema 1 is read as it is when
// opened read-only; opened for writing, its records are rewritten compact,
// equal to what they were, and its schema becomes 2; a record that fails
// its checksum is left as it was and still refused. Opening it again then
// changes nothing.
func TestSchemaOneFileIsUpgraded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	open(t, path, Options{Binding: binding}).Close()
	want := []plan.Record{
		{EntraID: "e1", UPN: "a@contoso.com", GoToKey: "7001", Profile: plan.Profile{Email: "a@contoso.com", FirstName: "Ann"},
			Licenses: []string{"L1"}, AdminRoles: []string{}, State: plan.StateActive, Origin: plan.OriginCreated},
		{EntraID: "e2", GoToKey: "7002", State: plan.StateDisabled, Origin: plan.OriginAdopted, RemovedLicenses: []string{"L1", "L2"}},
		{EntraID: "e3", GoToKey: "7003", State: plan.StateActive}, // bare JSON, from before checksums
	}
	bad := plan.Record{EntraID: "e4", GoToKey: "7004", State: plan.StateActive}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	badV1 := bytes.Replace(sealV1(t, &bad), []byte("7004"), []byte("7005"), 1)
	if err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		bare, _ := json.Marshal(want[2])
		for k, v := range map[string][]byte{"e1": sealV1(t, &want[0]), "e2": sealV1(t, &want[1]), "e3": bare, "e4": badV1} {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		for i := range 2000 {
			r := plan.Record{EntraID: fmt.Sprintf("f%05d", i), UPN: fmt.Sprintf("p%d@contoso.com", i), GoToKey: fmt.Sprint(8000 + i),
				Licenses: []string{"L1"}, State: plan.StateActive, Origin: plan.OriginCreated}
			if err := b.Put([]byte(r.EntraID), sealV1(t, &r)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, u64(1))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	readAll := func(st *Store) []plan.Record {
		t.Helper()
		var got []plan.Record
		if err := st.db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketAccounts).ForEach(func(k, v []byte) error {
				if k[0] == 'f' {
					return nil
				}
				if string(k) == "e4" {
					if _, err := st.unseal(k, v); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "fails its checksum") {
						t.Errorf("the changed schema-1 record: %v, want it refused", err)
					}
					if !bytes.Equal(v, badV1) {
						t.Errorf("the changed schema-1 record was rewritten: %q", v)
					}
					return nil
				}
				r, err := st.unseal(k, v)
				got = append(got, r)
				return err
			})
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	before, _ := os.ReadFile(path)
	ro := open(t, path, Options{ReadOnly: true, Binding: binding})
	if d := cmp.Diff(want, readAll(ro)); d != "" {
		t.Errorf("schema 1 read-only (-want +got):\n%s", d)
	}
	ro.Close()
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("a read-only open changed a schema-1 file")
	}

	st := open(t, path, Options{Binding: binding})
	if d := cmp.Diff(want, readAll(st)); d != "" {
		t.Errorf("after the upgrade (-want +got):\n%s", d)
	}
	if err := st.db.View(func(tx *bolt.Tx) error {
		if v := schemaOf(tx); v != 2 {
			t.Errorf("schema %d after a writing open, want 2", v)
		}
		for _, k := range []string{"e1", "e2", "e3", "f01999"} {
			if v := tx.Bucket(bucketAccounts).Get([]byte(k)); len(v) == 0 || v[0] != compactTag || len(v) > 120 {
				t.Errorf("record %s after the upgrade: %q, want it compact", k, v)
			}
		}
		// Rewritten in place, the shorter records would leave their pages
		// a third full.
		if s := tx.Bucket(bucketAccounts).Stats(); s.KeyN != 2004 || float64(s.LeafInuse) < 0.85*float64(s.LeafAlloc) {
			t.Errorf("accounts after the upgrade: %d records, %d of %d leaf bytes in use", s.KeyN, s.LeafInuse, s.LeafAlloc)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	upgraded, _ := os.ReadFile(path)
	open(t, path, Options{Binding: binding}).Close()
	if again, _ := os.ReadFile(path); !bytes.Equal(upgraded, again) {
		t.Error("opening an upgraded file changed it")
	}
}

// TestRecordUnderAnotherIDIsRefused: the compact form keeps the Entra id
// only as the key, so a record is never filed under another person's id.
func TestRecordUnderAnotherIDIsRefused(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "state.db"), Options{Binding: binding})
	r := plan.Record{EntraID: "e1", GoToKey: "7001", State: plan.StateActive}
	if err := st.Commit(Outcome{EntraID: "e2", Record: &r}); err == nil {
		t.Fatal("a record of e1 was filed under e2")
	}
	if recs, err := st.Records(); err != nil || len(recs) != 0 {
		t.Fatalf("records %+v, %v: want none", recs, err)
	}
}

// A read of every record shares among them one copy of what they repeat
// (state, origin, locale, time zone, the licence and role lists, the
// address when it is the UPN), and confuses no two lists that join alike.
func TestRecordsShareWhatTheyRepeat(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lists := [][]string{{"L1"}, {"L1"}, {"a\x00b"}, {"a", "b"}}
	var outs []Outcome
	for i, l := range lists {
		id := fmt.Sprintf("e%d", i)
		upn := id + "@x.com"
		rec := plan.Record{EntraID: id, UPN: upn, GoToKey: fmt.Sprint(i), Profile: plan.Profile{Email: upn, Locale: "en_US", TimeZone: "Europe/Berlin"},
			Licenses: l, State: plan.StateActive, Origin: plan.OriginCreated}
		outs = append(outs, Outcome{EntraID: id, Record: &rec})
	}
	if err := s.Commit(outs...); err != nil {
		t.Fatal(err)
	}
	rs, err := s.Records()
	if err != nil || len(rs) != len(lists) {
		t.Fatalf("records: %d, %v", len(rs), err)
	}
	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
	for i, r := range rs {
		if !slices.Equal(r.Licenses, lists[i]) || r.Profile.Email != r.UPN || r.Profile.Locale != "en_US" {
			t.Errorf("record %d read back as %+v", i, r)
		}
		if !same(r.Profile.Email, r.UPN) {
			t.Errorf("record %d: its address, the UPN, is a copy of its own", i)
		}
		if i > 0 && (!same(string(r.State), string(rs[0].State)) || !same(string(r.Origin), string(rs[0].Origin)) ||
			!same(r.Profile.Locale, rs[0].Profile.Locale) || !same(r.Profile.TimeZone, rs[0].Profile.TimeZone)) {
			t.Errorf("record %d: state, origin, locale or time zone is a copy of its own", i)
		}
	}
	if &rs[0].Licenses[0] != &rs[1].Licenses[0] {
		t.Error("two records with the licence list L1 hold a copy each")
	}
}
