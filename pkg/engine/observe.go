package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/g2msync/g2msync/pkg/address"
	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/intern"
	"github.com/g2msync/g2msync/pkg/logkey"
	"github.com/g2msync/g2msync/pkg/mapping"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// observe gathers every input of the plan, and reads nothing the plan does
// not use: the directory, the state file, the creates a crash interrupted,
// then from GoTo what plan.Need asks for. Any read error ends the cycle
// here, before anything is decided or written.
func (c *cycle) observe(ctx context.Context) (plan.Input, error) {
	c.phase(PhaseEntra)
	type recordsRead struct {
		records []plan.Record
		gen     string
		err     error
	}
	readRecords := func() recordsRead {
		records, gen, err := c.e.Records.read(c.e.Store)
		return recordsRead{records, gen, err}
	}
	// A daemon, which keeps the records between cycles, reads them from
	// the state file while Graph answers, when it must read them at all:
	// decoding 10,000 takes about as long as a Graph call. A cycle that
	// keeps nothing (`run --once`) reads them once the directory is mapped
	// and the snapshot let go: at 100,000 people the snapshot and the
	// records together were 107 MB of live heap, which the collector
	// doubled (docs/benchmarks.md).
	var prefetch chan recordsRead
	if !c.e.keepsNothing() {
		prefetch = make(chan recordsRead, 1)
		go func() { prefetch <- readRecords() }()
	}
	snap, only, err := c.readDirectory(ctx)
	var pre recordsRead
	if prefetch != nil {
		pre = <-prefetch
	}
	if err != nil {
		// Nothing has been written: a partial read is never a full picture.
		return plan.Input{}, fmt.Errorf("read directory: %w", err)
	}
	if c.opts.OnDemand == nil {
		c.res.Cycle.Read = describeRead(snap)
	}
	var accounts []plan.Account
	if c.opts.OnDemand != nil {
		accounts = c.e.Mapper.Map(snap) // a few named people: kept, they would evict everyone's
	} else {
		accounts = c.e.Mapped.mapped(c.e.Mapper, snap)
	}
	c.recordable = true
	c.res.Cycle.InScope = plan.InScope(accounts)
	if prefetch == nil {
		// The snapshot and the picture it came from are garbage now: give
		// their pages back before the records take their place, or the
		// process keeps both (at 100,000 people the no-change cycle's
		// peak was the records read beside the freed snapshot's 60 MB:
		// 259 MiB, 205-246 with this; docs/benchmarks.md).
		releaseMemory()
		pre = readRecords()
		shareStrings(pre.records, accounts)
	}
	records, err := pre.records, pre.err
	if err != nil {
		return plan.Input{}, err
	}
	if c.e.Records != nil {
		// Kept for the cache's advance at the end; otherwise the records
		// go with the plan's input once it is computed (a pointer here
		// held 100,000 of them through a cycle's calls).
		c.recordsRead, c.recordsGen = records, pre.gen
	}
	c.res.Cycle.Owned = len(records)
	c.owned = newOwnedTally(records)
	fs, err := c.e.Store.Failures()
	if err != nil {
		return plan.Input{}, fmt.Errorf("read failed changes: %w", err)
	}
	c.failures = make(map[string]state.Failure, len(fs))
	failures := make([]plan.Failure, len(fs))
	for i, f := range fs {
		c.failures[f.EntraID] = f
		failures[i] = toPlanFailure(f)
	}
	approvals, err := c.e.Store.Approvals()
	if err != nil {
		return plan.Input{}, err
	}
	keeps, err := c.e.Store.Kept()
	if err != nil {
		return plan.Input{}, err
	}
	kept := make(map[string]bool, len(keeps))
	for id := range keeps {
		kept[id] = true
	}
	intents, err := c.observeIntents(ctx, records)
	if err != nil {
		return plan.Input{}, err
	}
	pol := c.e.Policy
	if c.opts.AdoptOnly {
		pol.Mode = plan.ModeAdoptOnly
	}
	in := plan.Input{Accounts: accounts, Records: records, Policy: pol, AllowDisables: c.opts.AllowDisables,
		Failures: failures, Approvals: approvals, Kept: kept, Now: c.e.now(), Only: only, Intents: intents, Reconcile: c.opts.Reconcile && !c.opts.InitialSync}
	c.phase(PhaseGoTo)
	joined := plan.Join(in)
	need := joined.Need()
	if c.readsGoTo(need) {
		joined = nil // not held through the reads: Compute joins what they give
	}
	if err := c.readGoTo(ctx, &in, need); err != nil {
		return plan.Input{}, err
	}
	c.joined = joined
	c.listed = nil // in.Remotes holds it, as long as the input lives
	return in, nil
}

// readDirectory reads the whole directory, or on demand the people named
// and the set of their Entra ids, for plan.Input.Only.
func (c *cycle) readDirectory(ctx context.Context) (*directory.Snapshot, map[string]bool, error) {
	if c.opts.OnDemand == nil {
		if d, ok := c.e.Source.(directory.DeltaSource); ok {
			snap, err := c.readChanges(ctx, d)
			return snap, nil, err
		}
		snap, err := c.e.Source.Read(ctx)
		return snap, nil, err
	}
	if c.e.Finder == nil {
		return nil, nil, errors.New("engine has no Finder for an on-demand cycle")
	}
	found, err := c.e.Finder.Find(ctx, c.opts.OnDemand)
	if err != nil {
		return nil, nil, err
	}
	c.res.Found = found
	only := map[string]bool{}
	for _, m := range found.Matches {
		for _, id := range m.IDs {
			only[id] = true
		}
	}
	return found.Snapshot, only, nil
}

// PictureCache keeps the directory picture a cycle saved, decoded, for the
// next cycle of the same process: decoding 100,000 people from the state
// file takes most of a second. It is keyed by the stored links, which
// every save changes, so a picture another process saved since is read
// from the file. A nil cache keeps nothing.
//
// It also holds the snapshot the picture's read gave: a delta read that
// finds nothing changed gives that snapshot again rather than assembling
// it (the Graph reader remembers it only weakly, so that a process without
// a cache does not hold it).
type PictureCache struct {
	mu    sync.Mutex
	links []byte
	pic   *directory.Picture
	snap  *directory.Snapshot
}

func (pc *PictureCache) get(links []byte) *directory.Picture {
	if pc == nil {
		return nil
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.pic == nil || !bytes.Equal(pc.links, links) {
		return nil
	}
	return pc.pic // not given to ReadChanges to consume: it stays as it was
}

func (pc *PictureCache) set(links []byte, pic *directory.Picture, snap *directory.Snapshot) {
	if pc == nil {
		return
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	pc.links, pc.pic, pc.snap = links, pic, snap
}

// RecordCache keeps the owned records a cycle read, decoded, for the next
// cycle of the same process, with the generation they were read at
// (state.Store.RecordsSince): a cycle whose records nobody wrote since
// decodes none (100,000 cost a quarter of a second of CPU), and any write
// to them, by this process or another (`state rebuild`, `import`, a
// restored file), changes the generation, so that they are read again.
// The records are shared, never changed: neither the planner nor the
// engine writes into them. A nil cache keeps nothing.
type RecordCache struct {
	mu      sync.Mutex
	gen     string
	records []plan.Record
}

// MapCache keeps the accounts a mapper made of a snapshot's users. A delta
// read that found nothing changed gives a snapshot whose users are those
// of the last one, the same array (graph's assembled: a snapshot is read,
// never changed); the same users and app mapped by the same mapper give
// the same accounts, unless a mapping gives a new value at every
// evaluation (Now, Guid): then every cycle maps afresh. The accounts are
// shared, never changed: the planner copies an account it fits to GoTo's
// limits. A nil cache keeps nothing.
type MapCache struct {
	mu       sync.Mutex
	users    *directory.User // the first of the users mapped
	n        int
	app      directory.App
	mapper   *mapping.Mapper
	accounts []plan.Account
}

// mapped returns m's accounts of snap: those kept, when they are of the
// same users, app and mapper, or mapped afresh and kept.
func (mc *MapCache) mapped(m *mapping.Mapper, snap *directory.Snapshot) []plan.Account {
	if mc == nil || len(snap.Users) == 0 || m.Volatile() {
		return m.Map(snap)
	}
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.users == &snap.Users[0] && mc.n == len(snap.Users) && mc.mapper == m && reflect.DeepEqual(mc.app, snap.App) {
		return mc.accounts
	}
	mc.users, mc.n, mc.app, mc.mapper, mc.accounts = &snap.Users[0], len(snap.Users), snap.App, m, m.Map(snap)
	return mc.accounts
}

// recordsSince is a Store that can tell whether its records changed since
// a generation, and follow its own commits from one; one that cannot is
// read in full each time.
type recordsSince interface {
	RecordsSince(gen string) (records []plan.Record, cur string, same bool, err error)
	RecordsFollow(gen string) string
	RecordsGeneration() (string, error)
}

var _ recordsSince = (*state.Store)(nil)

// read returns st's records and their generation ("" when st cannot
// tell): those kept, when st's generation is still theirs, or read afresh
// and kept.
func (rc *RecordCache) read(st Store) ([]plan.Record, string, error) {
	rs, ok := st.(recordsSince)
	if rc == nil || !ok {
		records, err := st.Records()
		return records, "", err
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	records, gen, same, err := rs.RecordsSince(rc.gen)
	switch {
	case err != nil:
		rc.gen, rc.records = "", nil
		return nil, "", err
	case same:
		return rc.records, rc.gen, nil
	}
	rc.gen, rc.records = gen, records
	if gen == "" {
		rc.records = nil // no generation to tell a change by: nothing is kept
	}
	return records, gen, nil
}

// advance keeps, after a cycle, the records it read at gen with the
// records it committed since (edits, by Entra id: the new record, or nil
// for one deleted), when st says its own commits lead from gen to the
// file's generation: then nothing else wrote a record, and the records
// kept are the file's. Otherwise it keeps what it had, which the next
// read finds out of date. A cycle that changed records so spares the next
// one reading all of them.
func (rc *RecordCache) advance(st Store, gen string, read []plan.Record, edits map[string]*plan.Record) {
	rs, ok := st.(recordsSince)
	if rc == nil || !ok || len(edits) == 0 {
		return
	}
	cur, err := rs.RecordsGeneration()
	if err != nil || cur == "" || rs.RecordsFollow(gen) != cur {
		return
	}
	out := make([]plan.Record, 0, len(read)+len(edits))
	for _, r := range read {
		e, edited := edits[r.EntraID]
		switch {
		case !edited:
			out = append(out, r)
		case e != nil:
			out = append(out, *e)
		}
	}
	for id, e := range edits {
		if _, found := slices.BinarySearchFunc(read, id, func(r plan.Record, id string) int { return strings.Compare(r.EntraID, id) }); e != nil && !found {
			out = append(out, *e) // read is sorted by Entra id, as the file keeps them
		}
	}
	slices.SortFunc(out, func(a, b plan.Record) int { return strings.Compare(a.EntraID, b.EntraID) })
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.gen, rc.records = cur, out
}

// describeRead says how a snapshot was read, for the cycle's record.
func describeRead(snap *directory.Snapshot) string {
	switch {
	case snap.Delta:
		return fmt.Sprintf("delta: %d changes", snap.Changes)
	case snap.FullReason != "":
		return "full: " + snap.FullReason
	}
	return "full"
}

// readChanges reads the directory from the picture the last cycle kept,
// and keeps the new one (not in a dry run, which writes nothing: the next
// cycle follows from the same links again). A picture that cannot be
// decoded, or saved, costs a full read next time and nothing else.
func (c *cycle) readChanges(ctx context.Context, d directory.DeltaSource) (*directory.Snapshot, error) {
	// One read of the stored picture: its links say whether the daemon's
	// cached picture is still the stored one, and only if not is the body
	// decoded, from the file's pages. A picture decoded here is this read's
	// alone: the read may change it in place. The cache's is kept intact
	// for the cycle after a failure.
	var (
		links   []byte
		prev    *directory.Picture
		consume bool
		derr    error
	)
	if err := c.e.Store.ViewDirectoryPicture(func(l, body []byte) error {
		if l == nil {
			return nil
		}
		links = bytes.Clone(l)
		if prev = c.e.Pictures.get(l); prev == nil {
			consume = true
			prev, derr = directory.DecodePicture(l, body) // copies what it keeps
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if derr != nil {
		c.log.Warn("the directory picture in the state file cannot be read; reading in full", logkey.Error, derr.Error())
		prev = nil
	}
	snap, next, err := d.ReadChanges(ctx, prev, directory.ReadPolicy{Full: c.opts.InitialSync, MaxAge: c.e.FullReadInterval, Now: c.e.now(), Consume: consume})
	if err != nil {
		return nil, err
	}
	if c.opts.DryRun {
		return snap, nil
	}
	var saveErr error
	switch {
	case next == nil && links != nil:
		saveErr = c.e.Store.SaveDirectoryPicture(nil, nil)
		c.e.Pictures.set(nil, nil, nil)
	case next != nil:
		// A delta read that changed nothing leaves the body as stored.
		withBody := !snap.Delta || snap.Changes > 0
		if withBody {
			releaseMemory()
		}
		l, b, err := directory.EncodePicture(next, withBody)
		if err != nil {
			saveErr = err
			break
		}
		if saveErr = c.e.Store.SaveDirectoryPicture(l, b); saveErr == nil {
			c.e.Pictures.set(l, next, snap)
		}
		if withBody {
			releaseMemory()
		}
	}
	if saveErr != nil {
		c.log.Warn("keep the directory picture; the next cycle follows from the last one kept", logkey.Error, saveErr.Error())
	}
	return snap, nil
}

// shareStrings points each record's Entra id, UPN, address and names at
// the equal strings of its person's mapped account. A cycle that keeps
// nothing holds both through its plan, and the records' own copies were
// 13 MB of a reconcile's peak at 100,000 people (docs/benchmarks.md).
// Only such a cycle does it: a daemon keeps its records across cycles,
// and an account's strings point into its picture's body, which records
// sharing them would keep alive after the picture is replaced. Records
// are in Entra id order, as the state file gives them (any other order
// shares nothing); the accounts are in the snapshot's.
func shareStrings(records []plan.Record, accounts []plan.Account) {
	for i := 1; i < len(records); i++ {
		if records[i-1].EntraID >= records[i].EntraID {
			return
		}
	}
	order := make([]int32, len(accounts))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(accounts[a].EntraID, accounts[b].EntraID) })
	j := 0
	for i := range records {
		r := &records[i]
		for j < len(order) && accounts[order[j]].EntraID < r.EntraID {
			j++
		}
		if j == len(order) {
			return
		}
		a := &accounts[order[j]]
		if a.EntraID != r.EntraID {
			continue
		}
		r.EntraID = a.EntraID
		shareIfEqual(&r.UPN, a.UPN)
		shareIfEqual(&r.Profile.Email, a.Profile.Email)
		shareIfEqual(&r.Profile.FirstName, a.Profile.FirstName)
		shareIfEqual(&r.Profile.LastName, a.Profile.LastName)
	}
}

func shareIfEqual(dst *string, s string) {
	if *dst == s {
		*dst = s
	}
}

// releaseMemory collects garbage now and gives the free pages back to the
// system, around the one step of a cycle that allocates its largest
// buffers: encoding the directory picture and bbolt's copy of it as it
// writes (15 MB each at 100,000 people). Just before, the read has left
// its garbage (every page Graph sent, decoded) on the heap; if the
// collector ran by chance while the buffers were live, it set the heap's
// next target at twice that, and the process kept the pages. At 100,000
// people the initial sync's anonymous memory peaked between 197 and 266
// MiB from run to run; with a collection before and after the save, at
// 159-196 MiB over seven runs (docs/benchmarks.md). Each costs one
// collection, only in a cycle that rewrites the picture.
func releaseMemory() { debug.FreeOSMemory() }

func toPlanFailure(f state.Failure) plan.Failure {
	return plan.Failure{EntraID: f.EntraID, Fingerprint: f.Fingerprint, Cause: plan.Cause(f.Cause), Count: f.Count,
		FirstAt: f.FirstAt, NextAttempt: f.NextAttempt, Quarantined: f.Quarantined, LastError: f.LastError}
}

// readsGoTo says whether readGoTo reads anything from GoTo for need: not
// in most of a daemon's cycles, whose plan is then computed from the join
// Need made (plan.Joined).
func (c *cycle) readsGoTo(need plan.Needs) bool {
	return c.opts.InitialSync || c.opts.Reconcile || c.e.ReadSeats || need.Licenses || len(need.Lookups) > 0 || len(need.Live) > 0
}

// readGoTo reads what the plan needs from GoTo. A full sync or a reconcile
// lists every account, refreshes every owned record from the list and
// reads seats. Any other cycle lists every account too when that costs
// fewer calls than looking up each address and reading each account a
// disable may touch (a mass unassignment), and otherwise makes those calls.
func (c *cycle) readGoTo(ctx context.Context, in *plan.Input, need plan.Needs) error {
	if !c.readsGoTo(need) {
		return nil
	}
	full := c.opts.InitialSync || c.opts.Reconcile
	if !need.Licenses && !full && !c.e.ReadSeats {
		return c.readAccounts(ctx, in, need, full)
	}
	// The licences do not depend on the accounts: read them while the
	// accounts are read, one round trip less before the first change (at
	// 200 ms of latency, 2 % of a 10,000-person initial sync). The client's
	// one pace still spaces the two.
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lics []gotomeeting.License
	var lerr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		lics, lerr = c.e.Reader.Licenses(lctx)
	}()
	err := c.readAccounts(ctx, in, need, full)
	if err != nil {
		cancel()
	}
	<-done
	if err != nil {
		return err
	}
	switch {
	case errors.Is(lerr, gotomeeting.ErrForbidden):
		// Some admin roles may manage users without seeing licences: then
		// GoTo decides about seats, call by call.
		c.log.Warn("GoTo refused to list licences; seats are not checked before calls", logkey.Error, lerr.Error())
	case lerr != nil:
		return fmt.Errorf("read GoTo licences: %w", lerr)
	default:
		c.res.Licenses = lics
		in.Licenses = make([]plan.License, len(lics))
		for i, l := range lics {
			in.Licenses[i] = plan.License{Key: l.Key, Seats: l.Seats, Used: l.UserCount}
		}
	}
	return nil
}

// readAccounts reads the GoTo accounts the plan needs: the whole list, or
// lookups by address and the live state of owned accounts, whichever costs
// fewer calls.
func (c *cycle) readAccounts(ctx context.Context, in *plan.Input, need plan.Needs, full bool) error {
	if full || listIsCheaper(len(need.Lookups)+len(need.Live), len(in.Records)+len(need.Lookups)) {
		remotes, err := c.listUsers(ctx, len(in.Records))
		if err != nil {
			return err
		}
		in.Remotes = remotes
		byKey := make(map[string]*plan.Remote, len(in.Remotes))
		for i := range in.Remotes {
			byKey[in.Remotes[i].Key] = &in.Remotes[i]
		}
		keys := need.Live
		if full {
			keys = keys[:0:0]
			for _, r := range in.Records {
				keys = append(keys, r.GoToKey)
			}
		}
		in.Observed = make(map[string]*plan.Remote, len(keys))
		for _, k := range keys {
			if rm := byKey[k]; rm != nil {
				in.Observed[k] = rm
				continue
			}
			// Offset paging skips an account whenever one is deleted during
			// the listing: absent from the list is not yet gone.
			if err := c.observeOne(ctx, in.Observed, k); err != nil {
				return err
			}
		}
	} else {
		for _, m := range need.Lookups {
			users, err := c.e.Reader.FindUsersByEmail(ctx, m)
			if err != nil {
				return fmt.Errorf("look up GoTo user %s: %w", m, err)
			}
			in.Remotes = append(in.Remotes, toRemotes(users)...)
		}
		if len(need.Live) > 0 {
			in.Observed = make(map[string]*plan.Remote, len(need.Live))
		}
		for _, k := range need.Live {
			if err := c.observeOne(ctx, in.Observed, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// observeOne reads one owned account into observed: nil when GoTo says it
// no longer exists (404).
func (c *cycle) observeOne(ctx context.Context, observed map[string]*plan.Remote, key string) error {
	u, err := c.e.Reader.GetUser(ctx, key)
	switch {
	case errors.Is(err, gotomeeting.ErrNotFound):
		observed[key] = nil
	case err != nil:
		return fmt.Errorf("read GoTo user %s, which g2msync owns: %w", key, err)
	default:
		rm := toRemote(u)
		observed[key] = &rm
	}
	return nil
}

// listUsers lists every GoTo account, once per observation: intent
// recovery and matching share the list. It is kept as the plan's Remotes
// alone, made as the pages arrive: the client's Users, with their
// products and status, never exist as a list (at 100,000 accounts the two
// lists were 50 MB). owned, the number of owned records, sizes it: GoTo
// most often holds about as many accounts as g2msync owns, and a list
// grown by appending leaves as much again behind as garbage. The
// accounts share one copy of each locale, time zone and licence or role
// list, as the records read from the state file do (another 7 MB).
func (c *cycle) listUsers(ctx context.Context, owned int) ([]plan.Remote, error) {
	if c.listed != nil {
		return c.listed, nil
	}
	listed := make([]plan.Remote, 0, owned+owned/8)
	shared := intern.New()
	err := c.e.Reader.ListUsers(ctx, func(u gotomeeting.User) error {
		rm := toRemote(u)
		rm.Profile.Locale, rm.Profile.TimeZone = shared.String(rm.Profile.Locale), shared.String(rm.Profile.TimeZone)
		rm.Licenses, rm.AdminRoles = shared.List(rm.Licenses), shared.List(rm.AdminRoles)
		listed = append(listed, rm)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list GoTo users: %w", err)
	}
	c.listed = listed
	return c.listed, nil
}

func toRemote(u gotomeeting.User) plan.Remote {
	return plan.Remote{Key: u.Key, Profile: plan.Profile{Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		Locale: u.Locale, TimeZone: u.TimeZone}, Licenses: u.Licenses, AdminRoles: u.AdminRoles}
}

func toRemotes(us []gotomeeting.User) []plan.Remote {
	out := make([]plan.Remote, len(us))
	for i, u := range us {
		out[i] = toRemote(u)
	}
	return out
}

// observeIntents reads what GoTo shows of the accounts of interrupted
// changes (creates, disables, deletes whose call was sent but whose outcome
// was never committed), for the plan to settle them: the accounts with a
// create's address, and the live account of a disable or delete that a
// record still holds. It decides nothing.
func (c *cycle) observeIntents(ctx context.Context, records []plan.Record) ([]plan.Intent, error) {
	stored, err := c.e.Store.Intents()
	if err != nil || len(stored) == 0 {
		return nil, err
	}
	// A whole batch of intents is cheaper to settle from one list of every
	// account (which an initial sync needs anyway) than by one lookup each.
	var byEmail map[string][]plan.Remote
	if c.opts.InitialSync || c.opts.Reconcile || len(stored) > lookupLimit {
		all, err := c.listUsers(ctx, len(records))
		if err != nil {
			return nil, fmt.Errorf("recover %d interrupted changes: %w", len(stored), err)
		}
		byEmail = make(map[string][]plan.Remote, len(all))
		for _, u := range all {
			k := address.Fold(u.Profile.Email)
			byEmail[k] = append(byEmail[k], u)
		}
	}
	keyOf := make(map[string]string, len(records))
	for _, r := range records {
		keyOf[r.EntraID] = r.GoToKey
	}
	out := make([]plan.Intent, 0, len(stored))
	for _, in := range stored {
		pi := plan.Intent{Kind: in.Kind, EntraID: in.EntraID, UPN: in.UPN, Email: in.Email, GoToKey: in.GoToKey, CycleID: in.CycleID,
			Licenses: in.Licenses, AdminRoles: in.AdminRoles}
		switch {
		case in.Kind.Deprovisions():
			if keyOf[in.EntraID] != in.GoToKey {
				break // no record holds the account any more: nothing to read
			}
			live, err := c.liveAccount(ctx, in)
			if err != nil {
				return nil, err
			}
			pi.Live = live
		default:
			pi.Found = byEmail[address.Fold(in.Email)]
			if byEmail == nil {
				users, err := c.e.Reader.FindUsersByEmail(ctx, in.Email)
				if err != nil {
					return nil, fmt.Errorf("recover the interrupted create of %s: %w", in.Email, err)
				}
				pi.Found = toRemotes(users)
			}
		}
		out = append(out, pi)
	}
	return out, nil
}

// liveAccount is the account of an interrupted disable or delete as GoTo
// holds it now (from the cycle's listing, or asked for), or nil when GoTo no
// longer has it.
func (c *cycle) liveAccount(ctx context.Context, in state.Intent) (*plan.Remote, error) {
	for j := range c.listed {
		if c.listed[j].Key == in.GoToKey {
			rm := c.listed[j]
			return &rm, nil
		}
	}
	u, err := c.e.Reader.GetUser(ctx, in.GoToKey)
	switch {
	case errors.Is(err, gotomeeting.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("recover the interrupted %s of GoTo user %s: %w", in.Kind, in.GoToKey, err)
	}
	rm := toRemote(u)
	return &rm, nil
}
