package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/gotomeeting"
)

// fakeSource is an in-memory directory. The Graph simulator replaces it in
// end-to-end tests; here it lets engine rules be tested in milliseconds.
type fakeSource struct {
	mu   sync.Mutex
	snap directory.Snapshot
	err  error
	// hang makes Read wait for its context, as a read retrying a throttled
	// Graph does.
	hang bool
}

func (s *fakeSource) Read(ctx context.Context) (*directory.Snapshot, error) {
	if s.hang {
		<-ctx.Done()
		return nil, fmt.Errorf("list assignments: %w", ctx.Err())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	cp := s.snap
	cp.Users = append([]directory.User(nil), s.snap.Users...)
	return &cp, nil
}

const roleUser = "a0000000-0000-0000-0000-000000000001"

func (s *fakeSource) add(id, email string) {
	s.snap.Users = append(s.snap.Users, directory.User{ID: id, UserPrincipalName: email, AccountEnabled: true,
		Attributes:  map[string]string{"mail": email, "givenName": "G" + id, "surname": "S"},
		Assignments: []directory.Assignment{{AppRoleID: roleUser}}})
}

func (s *fakeSource) remove(id string) {
	for i, u := range s.snap.Users {
		if u.ID == id {
			s.snap.Users = append(s.snap.Users[:i], s.snap.Users[i+1:]...)
			return
		}
	}
}

func (s *fakeSource) edit(id string, fn func(*directory.User)) {
	for i := range s.snap.Users {
		if s.snap.Users[i].ID == id {
			fn(&s.snap.Users[i])
		}
	}
}

// fakeTarget is an in-memory GoTo account recording every call.
type fakeTarget struct {
	mu      sync.Mutex
	users   map[string]*gotomeeting.User // by key
	seats   map[string]int               // licence key → seats
	next    int
	calls   map[string]int
	updates map[string][]gotomeeting.Update // by key
	// fail makes every write for these emails (or keys) fail with the error.
	fail map[string]error
	// log lists every call in order, as "op:detail".
	log []string
	// readErr, when set, fails every read.
	readErr error
	// unlisted accounts are left out of ListUsers, as offset paging skips
	// an account when another is deleted during the listing.
	unlisted map[string]bool
}

func newFakeTarget() *fakeTarget {
	return &fakeTarget{users: map[string]*gotomeeting.User{}, seats: map[string]int{"1001": 10000}, next: 1e6,
		calls: map[string]int{}, updates: map[string][]gotomeeting.Update{}, fail: map[string]error{}}
}

var _ gotomeeting.Reader = (*fakeTarget)(nil)
var _ gotomeeting.Writer = (*fakeTarget)(nil)

func (t *fakeTarget) count(name string, detail ...string) {
	t.mu.Lock()
	t.calls[name]++
	t.log = append(t.log, name+":"+strings.Join(detail, ","))
	t.mu.Unlock()
}

func (t *fakeTarget) total() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, c := range t.calls {
		n += c
	}
	return n
}

func (t *fakeTarget) writes() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.calls["create"] + t.calls["update"] + t.calls["delete"]
}

func (t *fakeTarget) reset() {
	t.mu.Lock()
	t.calls = map[string]int{}
	t.updates = map[string][]gotomeeting.Update{}
	t.log = nil
	t.mu.Unlock()
}

func (t *fakeTarget) ListUsers(_ context.Context, each func(gotomeeting.User) error) error {
	t.count("list")
	t.mu.Lock()
	var out []gotomeeting.User
	for _, u := range t.users {
		if !t.unlisted[u.Key] {
			out = append(out, *u)
		}
	}
	t.mu.Unlock()
	for _, u := range out {
		if err := each(u); err != nil {
			return err
		}
	}
	return nil
}

func (t *fakeTarget) FindUsersByEmail(_ context.Context, email string) ([]gotomeeting.User, error) {
	t.count("find", email)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.readErr != nil {
		return nil, t.readErr
	}
	var out []gotomeeting.User
	for _, u := range t.users {
		if strings.EqualFold(u.Email, email) {
			out = append(out, *u)
		}
	}
	return out, nil
}

func (t *fakeTarget) GetUser(_ context.Context, key string) (gotomeeting.User, error) {
	t.count("get", key)
	t.mu.Lock()
	defer t.mu.Unlock()
	if u, ok := t.users[key]; ok {
		return *u, nil
	}
	return gotomeeting.User{}, gotomeeting.ErrNotFound
}

func (t *fakeTarget) Licenses(context.Context) ([]gotomeeting.License, error) {
	t.count("licenses")
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []gotomeeting.License
	for k, seats := range t.seats {
		used := 0
		for _, u := range t.users {
			for _, l := range u.Licenses {
				if l == k {
					used++
				}
			}
		}
		out = append(out, gotomeeting.License{Key: k, Seats: seats, UserCount: used, Enabled: true})
	}
	return out, nil
}

func (t *fakeTarget) CreateUsers(_ context.Context, req gotomeeting.CreateRequest) ([]gotomeeting.Created, error) {
	emails := make([]string, len(req.Users))
	for i, u := range req.Users {
		emails[i] = u.Email
	}
	t.count("create", emails...)
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, nu := range req.Users {
		if err := t.fail[strings.ToLower(nu.Email)]; err != nil {
			return nil, err
		}
	}
	var out []gotomeeting.Created
	for _, nu := range req.Users {
		var found *gotomeeting.User
		for _, u := range t.users {
			if strings.EqualFold(u.Email, nu.Email) {
				found = u
			}
		}
		if found == nil {
			t.next++
			found = &gotomeeting.User{Key: fmt.Sprint(t.next) + "0000000000000", Email: nu.Email, FirstName: nu.FirstName, LastName: nu.LastName,
				Licenses: req.LicenseKeys, AdminRoles: req.AdminRoles}
			t.users[found.Key] = found
		}
		out = append(out, gotomeeting.Created{Key: found.Key, Email: found.Email})
	}
	return out, nil
}

func (t *fakeTarget) UpdateUser(_ context.Context, key string, up gotomeeting.Update) error {
	t.count("update", key)
	t.mu.Lock()
	defer t.mu.Unlock()
	u, ok := t.users[key]
	if !ok {
		return fmt.Errorf("goto: 404 user.not.found: %w", gotomeeting.ErrNotFound)
	}
	if err := t.fail[strings.ToLower(u.Email)]; err != nil {
		return err
	}
	if err := t.fail[key]; err != nil {
		return err
	}
	t.updates[key] = append(t.updates[key], up)
	if up.Email != nil {
		u.Email = *up.Email
	}
	if up.FirstName != nil {
		u.FirstName = *up.FirstName
	}
	if up.LastName != nil {
		u.LastName = *up.LastName
	}
	if up.LicenseKeys != nil {
		u.Licenses = up.LicenseKeys
	}
	if up.AdminRoles != nil {
		u.AdminRoles = up.AdminRoles
	}
	return nil
}

func (t *fakeTarget) DeleteUser(_ context.Context, key string) error {
	t.count("delete", key)
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.users[key]; !ok {
		return fmt.Errorf("goto: 404 user.not.found: %w", gotomeeting.ErrNotFound)
	}
	if err := t.fail[key]; err != nil {
		return err
	}
	delete(t.users, key)
	return nil
}

func (t *fakeTarget) byEmail(email string) *gotomeeting.User {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, u := range t.users {
		if strings.EqualFold(u.Email, email) {
			return u
		}
	}
	return nil
}
