package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout this code reads and writes. Schema 2 stores
// owned records compact (seal.go); a schema-1 file is upgraded when it is
// first opened for writing, and still read as it is when opened read-only.
// A g2msync that reads only schema 1 refuses a schema-2 file and says to
// upgrade, rather than take its records for damage.
const SchemaVersion = 2

var (
	bucketMeta      = []byte("meta")
	bucketAccounts  = []byte("accounts")  // Entra id → record
	bucketIntents   = []byte("intents")   // Entra id → intent
	bucketFailures  = []byte("failures")  // Entra id → failure
	bucketSkips     = []byte("skips")     // Entra id → last skip reason
	bucketStaged    = []byte("staged")    // Entra id → staged disable
	bucketCycles    = []byte("cycles")    // start time + id → cycle
	bucketAudit     = []byte("audit")     // sequence → audit entry
	bucketKV        = []byte("kv")        // name → value
	bucketApprovals = []byte("approvals") // Entra id → approval
	bucketDeferred  = []byte("deferred")  // Entra id → deferred change
	bucketKept      = []byte("kept")      // Entra id → an operator's keep of a staged change

	keySchema  = []byte("schema")
	keyBinding = []byte("binding")
	// keyBindingSum holds the SHA-256 of the binding's JSON: a flipped
	// character in an account key would otherwise read as another
	// account's file. Files written before it have none until their next
	// open for writing.
	keyBindingSum = []byte("binding_sum")
	// keyTokensOnly marks a file that `check` or `plan` created before the
	// first sync, only to keep a refresh token GoTo rotated: it is not a
	// state file yet, and a regular cycle must not take it for one.
	keyTokensOnly = []byte("tokens_only")

	allBuckets = [][]byte{bucketMeta, bucketAccounts, bucketIntents, bucketFailures, bucketSkips, bucketStaged, bucketCycles, bucketAudit, bucketKV, bucketApprovals, bucketDeferred, bucketKept}
)

// Errors that callers branch on.
var (
	ErrInUse   = errors.New("in use by another g2msync process")
	ErrCorrupt = errors.New("not a readable g2msync state file")
	ErrNoState = errors.New("no state file")
)

// BindingError says the state file belongs to another tenant, app or GoTo account.
type BindingError struct {
	Path      string
	Stored    Binding
	Requested Binding
}

func (e *BindingError) Error() string {
	var diffs []string
	add := func(name, stored, requested string) {
		if stored != requested {
			diffs = append(diffs, fmt.Sprintf("%s %q (this configuration: %q)", name, stored, requested))
		}
	}
	add("tenant", e.Stored.TenantID, e.Requested.TenantID)
	add("app", e.Stored.App, e.Requested.App)
	add("GoTo account", e.Stored.GoToAccount, e.Requested.GoToAccount)
	return fmt.Sprintf("state file %s belongs to %s; refusing to mix two setups in one file: set state_path to another file "+
		"(or G2MSYNC_STATE_PATH, which the systemd unit and the container image set); if the file was bound by mistake "+
		"and owns no account, `g2msync state rebuild --force` moves it aside", e.Path, strings.Join(diffs, ", "))
}

// Binding names the setup a state file belongs to.
type Binding struct {
	TenantID    string `json:"tenant_id"`
	App         string `json:"app"` // service principal object id, or "appId:" + application id
	GoToAccount string `json:"goto_account"`
}

// Options configure Open.
type Options struct {
	// ReadOnly opens with a shared lock and never writes.
	ReadOnly bool
	// Timeout is how long to wait for another process's lock; zero means 2 s.
	Timeout time.Duration
	// Binding, when set, is checked against the file's, and recorded in a new file.
	Binding *Binding
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MustExist refuses to create the file. A regular cycle sets it: a
	// missing file there means a lost one (an unmounted volume, a wrong
	// path), and starting afresh would silently re-adopt everyone.
	MustExist bool
	// CheckOnly opens an existing file for `check` and `plan`: the binding
	// is compared but never recorded, and opening writes nothing (no
	// bucket, no binding). The file may still be written through the Store,
	// which those commands do only to keep a refresh token GoTo rotated.
	// It implies MustExist.
	CheckOnly bool
	// TokensOnly creates the file if it is missing, only to keep a refresh
	// token that GoTo rotated while `check` or `plan` ran before the first
	// sync; it binds nothing. Until the first sync (or `login goto`, or
	// `state rebuild`) opens it for good, a cycle that needs an existing
	// state file (MustExist) refuses it as ErrNoState.
	TokensOnly bool
}

// Store is an open state file.
type Store struct {
	db   *bolt.DB
	path string
	now  func() time.Time
	// schema is the file's schema once it is open: a read-only open of an
	// older file reads its records as that schema wrote them.
	schema uint64
	// gens maps each records generation this Store's commits replaced to
	// the one they wrote (RecordsFollow).
	gensMu sync.Mutex
	gens   map[string]string
	// commits counts Commit's transactions, so that every releaseCommits
	// of them give back the pages they mapped.
	commits atomic.Int64
}

// appendOnly is the FillPercent of the buckets whose keys only grow (the
// provisioning log's sequence, the cycles' start times). bbolt splits a
// full page in half by default, which suits keys that land anywhere; keys
// that only grow would leave every page half empty behind them, and the
// provisioning log of an initial sync of 100,000 people twice its size.
const appendOnly = 1.0

// recovery is what an administrator does about a damaged file.
const recovery = "move it aside and run `g2msync state rebuild` to re-adopt the accounts GoTo holds (`state rebuild --force` moves it aside for you)"

// Open opens or creates the state file at path with mode 0600. It never
// follows a symbolic link: the state directory belongs to the service user,
// and an administrator's `sudo g2msync-admin …` must not be led to write
// through a link planted there. A damaged file is refused with ErrCorrupt
// and the recovery, never with a panic.
func Open(path string, opts Options) (st *Store, err error) {
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	fi, lerr := os.Lstat(path)
	switch {
	case lerr == nil && fi.Mode()&os.ModeSymlink != 0:
		return nil, fmt.Errorf("state file %s is a symbolic link; g2msync does not follow links there: replace it with the file itself", path)
	case lerr == nil && !fi.Mode().IsRegular():
		return nil, fmt.Errorf("state file %s is not a regular file (%s)", path, fi.Mode().Type())
	case lerr != nil && !errors.Is(lerr, os.ErrNotExist):
		return nil, fmt.Errorf("state file %s: %w", path, lerr)
	}
	if opts.CheckOnly {
		opts.MustExist = true
	}
	if opts.ReadOnly || opts.MustExist {
		if lerr != nil {
			return nil, fmt.Errorf("state file %s does not exist: %w; for the first run use `g2msync run --once --initial-sync`; "+
				"if the file was lost, `g2msync state rebuild` re-adopts the accounts GoTo holds", path, ErrNoState)
		}
		if fi.Size() == 0 {
			// bbolt would take an empty file for a new one: the records of
			// everyone g2msync owns, the log and the token would be gone
			// without a word.
			return nil, fmt.Errorf("state file %s is %w: it is empty (0 bytes), a lost file rather than a new one; %s", path, ErrCorrupt, recovery)
		}
	}
	if lerr == nil && fi.Size() > 0 {
		if err := checkSize(path, fi.Size()); err != nil {
			return nil, err
		}
	}
	defer func() {
		// bbolt panics on some damaged pages ("page expected to be …"):
		// that is a damaged file, and it has a documented recovery.
		if r := recover(); r != nil {
			if st != nil {
				st.db.Close()
			}
			st, err = nil, fmt.Errorf("state file %s is %w (%v); %s", path, ErrCorrupt, r, recovery)
		}
	}()
	if !opts.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create state directory: %w", err)
		}
	}
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, ReadOnly: opts.ReadOnly,
		// The Lstat above tells a link apart with a message; openChecked's
		// O_NOFOLLOW closes the window between it and the open. It checks
		// every page before bbolt reads one (pages.go).
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			return openChecked(name, flag, perm, opts.Timeout)
		}})
	var dmg *damage
	switch {
	case errors.As(err, &dmg):
		return nil, fmt.Errorf("state file %s is %w (%v); %s", path, ErrCorrupt, dmg, recovery)
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("state file %s is %w; wait for its cycle to end or stop the other process", path, ErrInUse)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum), errors.Is(err, bolterrors.ErrVersionMismatch),
		err != nil && strings.Contains(err.Error(), "file size too small"):
		return nil, fmt.Errorf("state file %s is %w (%v); %s", path, ErrCorrupt, err, recovery)
	case err != nil:
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	s := &Store{db: db, path: path, now: opts.Now}
	st = s // for the recover above
	if !created {
		err := s.verify()
		s.releasePages() // the check walked every page
		if err != nil {
			db.Close()
			return nil, err
		}
		if err := s.checkBuckets(); err != nil {
			db.Close()
			return nil, err
		}
	}
	if created {
		giveToDirOwner(path)
	}
	if opts.TokensOnly {
		if err := s.initTokensOnly(created); err != nil {
			db.Close()
			return nil, err
		}
		s.readSchema()
		return s, nil
	}
	if opts.MustExist && !opts.CheckOnly && s.tokensOnly() {
		db.Close()
		return nil, fmt.Errorf("state file %s holds only a GoTo refresh token kept by `check` or `plan` before the first sync: %w; "+
			"for the first run use `g2msync run --once --initial-sync`", path, ErrNoState)
	}
	if !opts.ReadOnly && !opts.CheckOnly {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			_ = os.Chmod(path, 0o600) // it holds a refresh token: owner only
		}
		if err := s.init(opts.Binding); err != nil {
			db.Close()
			return nil, err
		}
	} else if err := s.check(opts.Binding); err != nil {
		db.Close()
		return nil, err
	}
	s.readSchema()
	return s, nil
}

// readSchema notes the file's schema once Open has upgraded it or not.
func (s *Store) readSchema() {
	_ = s.db.View(func(tx *bolt.Tx) error {
		s.schema = schemaOf(tx)
		return nil
	})
}

// tokensOnly reports whether the file holds only a kept refresh token.
func (s *Store) tokensOnly() bool {
	only := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		if m := tx.Bucket(bucketMeta); m != nil {
			only = m.Get(keyTokensOnly) != nil
		}
		return nil
	})
	return only
}

// initTokensOnly prepares a file created only to keep a refresh token.
func (s *Store) initTokensOnly(created bool) error {
	if !created {
		if !s.tokensOnly() {
			// A real state file (maybe another tenant's, which check or plan
			// refused for its binding): a token is never written into it here.
			return fmt.Errorf("state file %s exists and is not this command's to write: the rotated GoTo refresh token is not kept; "+
				"check the configuration's state_path, then `g2msync login goto`", s.path)
		}
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := createBuckets(tx); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keySchema, u64(SchemaVersion)); err != nil {
			return err
		}
		return meta.Put(keyTokensOnly, []byte{1})
	})
}

// createBuckets creates every bucket the file lacks.
func createBuckets(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

func (s *Store) init(b *Binding) error {
	// Write only when something is missing or the schema is older: opening
	// must not change the file, so a cycle that fails before applying
	// anything leaves it byte-for-byte. The one exception is the upgrade to
	// this schema, made once, in one transaction.
	ready := false
	if err := s.db.View(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				return nil
			}
		}
		if tx.Bucket(bucketMeta).Get(keyTokensOnly) != nil {
			return nil // becomes a state file now
		}
		if err := s.checkTx(tx, b); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		ready = (b == nil || meta.Get(keyBinding) != nil) && (meta.Get(keyBinding) == nil || meta.Get(keyBindingSum) != nil) &&
			schemaOf(tx) == SchemaVersion
		return nil
	}); err != nil {
		return err
	}
	if ready {
		return nil
	}
	upgrading := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		existing := tx.Bucket(bucketAccounts) != nil
		if err := createBuckets(tx); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Delete(keyTokensOnly); err != nil {
			return err
		}
		if err := s.checkTx(tx, b); err != nil {
			return err
		}
		if schemaOf(tx) < SchemaVersion {
			upgrading = existing
			if err := s.upgradeRecords(tx); err != nil {
				return err
			}
			if err := meta.Put(keySchema, u64(SchemaVersion)); err != nil {
				return err
			}
		}
		if b != nil && meta.Get(keyBinding) == nil {
			if err := putJSON(meta, keyBinding, b); err != nil {
				return err
			}
		}
		if raw := meta.Get(keyBinding); raw != nil && meta.Get(keyBindingSum) == nil {
			sum := sha256.Sum256(raw)
			return meta.Put(keyBindingSum, sum[:])
		}
		return nil
	})
	if err != nil && upgrading {
		// A full disk shows here, from the commit: the transaction is
		// rolled back and the file still reads as the older schema.
		return fmt.Errorf("upgrade state file %s to schema %d: %w; nothing was changed: fix that and run again", s.path, SchemaVersion, err)
	}
	return err
}

// schemaOf is the file's schema: 1 for a file written before the schema
// was recorded.
func schemaOf(tx *bolt.Tx) uint64 {
	if m := tx.Bucket(bucketMeta); m != nil {
		if v := m.Get(keySchema); len(v) == 8 {
			return binary.BigEndian.Uint64(v)
		}
	}
	return 1
}

// verify walks every page of the file (bbolt's consistency check), so that
// damage shows as ErrCorrupt when the file is opened, not as a panic or a
// wrong record halfway through a cycle. State files are small: at 10,000
// owned accounts this takes milliseconds.
func (s *Store) verify() error {
	return s.db.View(func(tx *bolt.Tx) error {
		// Drain the channel: its goroutine walks the pages until it is done,
		// and returning early would let Open unmap the file under it.
		var first error
		for err := range tx.Check() {
			if first == nil {
				first = err
			}
		}
		if first != nil {
			return fmt.Errorf("state file %s is %w (%v); %s", s.path, ErrCorrupt, first, recovery)
		}
		return nil
	})
}

// schemaOneBuckets are the buckets every state file has had since schema
// 1; those added later (approvals, deferred, kept) are created by the first open
// for writing, and their readers take a missing one for an empty one.
var schemaOneBuckets = [][]byte{bucketMeta, bucketAccounts, bucketIntents, bucketFailures, bucketSkips, bucketStaged, bucketCycles, bucketAudit, bucketKV}

// checkBuckets refuses a state file that lacks a bucket it must have: a
// damaged name or flag makes bbolt find no bucket there, and a file taken
// for one without its owned records, or its log, would lose them in
// silence (a write would create the bucket afresh).
func (s *Store) checkBuckets() error {
	return s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			return nil // checkTx names it; a new file gets every bucket with it
		}
		for _, name := range schemaOneBuckets {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("state file %s is %w: its %q bucket is missing; %s", s.path, ErrCorrupt, name, recovery)
			}
		}
		// A later bucket may be missing (created on the next open for
		// writing), but not stand there as a plain value: the cursor gives
		// a bucket a nil value.
		for _, name := range allBuckets {
			if k, v := tx.Cursor().Seek(name); bytes.Equal(k, name) && v != nil {
				return fmt.Errorf("state file %s is %w: its %q bucket is a plain value; %s", s.path, ErrCorrupt, name, recovery)
			}
		}
		return nil
	})
}

func (s *Store) check(b *Binding) error {
	return s.db.View(func(tx *bolt.Tx) error { return s.checkTx(tx, b) })
}

func (s *Store) checkTx(tx *bolt.Tx, b *Binding) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return fmt.Errorf("state file %s is %w: it has no g2msync metadata", s.path, ErrCorrupt)
	}
	if v := meta.Get(keySchema); len(v) == 8 && binary.BigEndian.Uint64(v) > SchemaVersion {
		return fmt.Errorf("state file %s has schema %d, written by a newer g2msync; this one reads %d: upgrade g2msync",
			s.path, binary.BigEndian.Uint64(v), SchemaVersion)
	}
	if b == nil {
		return nil
	}
	if raw := meta.Get(keyBinding); raw != nil {
		// A damaged binding must not read as another tenant's or account's
		// (a mismatch says "set state_path to another file"): one that
		// fails its checksum, or, in a file from before the checksum, is
		// anything but the three names, each plausible, is damage.
		var stored Binding
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		sum := sha256.Sum256(raw)
		if want := meta.Get(keyBindingSum); want != nil && !bytes.Equal(want, sum[:]) ||
			dec.Decode(&stored) != nil || !plausible(stored.TenantID) || !plausible(stored.App) || !plausible(stored.GoToAccount) {
			return fmt.Errorf("state file %s is %w: its binding to a tenant, app and GoTo account is damaged (%q); %s", s.path, ErrCorrupt, raw, recovery)
		}
		if stored != *b {
			return &BindingError{Path: s.path, Stored: stored, Requested: *b}
		}
	}
	return nil
}

// plausible reports whether v could be a tenant id, app or GoTo account key
// that a configuration gave: not empty, valid UTF-8, no control character.
// A file written before the binding had its checksum is checked this far.
func plausible(v string) bool {
	// JSON decoding turns invalid UTF-8 into U+FFFD: a key never holds it.
	if v == "" || !utf8.ValidString(v) || strings.ContainsRune(v, utf8.RuneError) {
		return false
	}
	return !strings.ContainsFunc(v, unicode.IsControl)
}

// Path returns the file's path.
func (s *Store) Path() string { return s.path }

// Close closes the file and releases its lock.
func (s *Store) Close() error { return s.db.Close() }

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return b.Put(key, raw)
}

// each decodes every value of bucket into a fresh T and calls fn. A bucket
// that a file written by an older g2msync lacks is empty.
func each[T any](tx *bolt.Tx, bucket []byte, fn func(k []byte, v *T) error) error {
	b := tx.Bucket(bucket)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, raw []byte) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("decode %s/%s: %w", bucket, k, err)
		}
		return fn(k, &v)
	})
}

// giveToDirOwner hands a state file that root just created (`g2msync login
// goto` or an initial sync run by an administrator) to the owner of its
// directory, the service's user, which could not open it otherwise.
func giveToDirOwner(path string) {
	if os.Geteuid() != 0 {
		return
	}
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
		_ = os.Lchown(path, int(st.Uid), int(st.Gid)) // never through a link
	}
}
