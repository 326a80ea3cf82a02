package gotosim

import (
	"fmt"
	"slices"
	"strings"
)

// Statuses the simulator derives. GoTo has no writable status: an account
// with no licence and no admin role shows SUSPENDED.
const (
	StatusActive    = "ACTIVE"
	StatusSuspended = "SUSPENDED"
)

// User is an account user as the Go API shows it. Status and Products are
// derived from the licences and admin roles unless EditUser overrode Status.
type User struct {
	Key              string
	Email            string
	FirstName        string
	LastName         string
	Locale           string
	TimeZone         string
	Status           string
	LicenseKeys      []string
	AdminRoles       []string
	Products         []string
	IdentityReadOnly bool
	// WelcomeEmail records whether a create call asked GoTo to send the
	// welcome email (suppressEmail false).
	WelcomeEmail bool
}

// License is a licence of the account. UserCount and UserKeys are derived.
type License struct {
	Key         string
	Description string
	Type        string
	Enabled     bool
	Seats       int
	Products    []string
	UserCount   int
	UserKeys    []string
}

type user struct {
	key, email, firstName, lastName, locale, timeZone string
	licenses, roles                                   []string
	identityReadOnly, welcomeEmail                    bool
	statusOverride                                    string
}

type license struct {
	key, description, typ string
	enabled               bool
	seats                 int
	products              []string
}

// AddLicense adds a licence and returns its key. An empty Key gets a
// generated 22-digit one; Products defaults to ["G2M"].
func (s *Server) AddLicense(l License) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l.Key == "" {
		l.Key = s.nextKeyLocked("51")
	}
	if !digits(l.Key) {
		return "", fmt.Errorf("gotosim: add licence: key %q is not all digits", l.Key)
	}
	if _, dup := s.licByKey[l.Key]; dup {
		return "", fmt.Errorf("gotosim: add licence: key %s exists", l.Key)
	}
	if l.Products == nil {
		l.Products = []string{"G2M"}
	}
	lic := &license{key: l.Key, description: l.Description, typ: l.Type, enabled: l.Enabled, seats: l.Seats, products: slices.Clone(l.Products)}
	s.licenses = append(s.licenses, lic)
	s.licByKey[lic.key] = lic
	return lic.key, nil
}

// SetSeats changes a licence's seat count, as buying or releasing seats
// would. Users above the new count keep their licence; new assignments fail.
func (s *Server) SetSeats(key string, seats int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.licByKey[key]
	if !ok {
		return fmt.Errorf("gotosim: set seats: no licence %s", key)
	}
	l.seats = seats
	return nil
}

// AddUser adds a pre-existing user and returns its key. An empty Key gets a
// generated 26-digit one. The email must be unused (ignoring case) and the
// licences must exist and have a free seat.
func (s *Server) AddUser(u User) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.Email == "" {
		return "", fmt.Errorf("gotosim: add user: email is required")
	}
	if s.userByEmailLocked(u.Email) != nil {
		return "", fmt.Errorf("gotosim: add user %s: email exists", u.Email)
	}
	if u.Key == "" {
		u.Key = s.nextKeyLocked("7888888")
	}
	if !digits(u.Key) {
		return "", fmt.Errorf("gotosim: add user %s: key %q is not all digits", u.Email, u.Key)
	}
	if _, dup := s.byKey[u.Key]; dup {
		return "", fmt.Errorf("gotosim: add user %s: key %s exists", u.Email, u.Key)
	}
	lics := dedupe(u.LicenseKeys)
	if e := s.checkLicensesLocked(lics, 1, nil); e != nil {
		return "", fmt.Errorf("gotosim: add user %s: %s %s", u.Email, e.code, e.value)
	}
	nu := &user{
		key: u.Key, email: u.Email, firstName: u.FirstName, lastName: u.LastName,
		locale: u.Locale, timeZone: u.TimeZone, licenses: lics, roles: dedupe(u.AdminRoles),
		identityReadOnly: u.IdentityReadOnly, welcomeEmail: u.WelcomeEmail,
	}
	s.insertLocked(nu)
	return nu.key, nil
}

// Users returns copies of every user in list order.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, s.exportLocked(u))
	}
	return out
}

// User returns a copy of one user.
func (s *Server) User(key string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byKey[key]
	if !ok {
		return User{}, false
	}
	return s.exportLocked(u), true
}

// UserByEmail returns a copy of the user with this email, ignoring case.
func (s *Server) UserByEmail(email string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userByEmailLocked(email)
	if u == nil {
		return User{}, false
	}
	return s.exportLocked(u), true
}

// Licenses returns copies of every licence with its seat use.
func (s *Server) Licenses() []License {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]License, 0, len(s.licenses))
	for _, l := range s.licenses {
		out = append(out, s.exportLicenseLocked(l))
	}
	return out
}

// EditUser changes a user out of band, as an administrator in the GoTo
// portal would. fn gets a copy; its changes to the key, Products and
// WelcomeEmail are ignored, and seats are not checked. Setting Status to a
// value other than the derived one pins it (to exercise unknown statuses);
// setting it back to "" or the derived value unpins it.
func (s *Server) EditUser(key string, fn func(*User)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byKey[key]
	if !ok {
		return fmt.Errorf("gotosim: edit user %s: no such user", key)
	}
	c := s.exportLocked(u)
	derived := s.derivedStatusLocked(u)
	fn(&c)
	if other := s.userByEmailLocked(c.Email); c.Email == "" || (other != nil && other != u) {
		return fmt.Errorf("gotosim: edit user %s: email %q is empty or used", key, c.Email)
	}
	s.setEmailLocked(u, c.Email)
	u.firstName, u.lastName = c.FirstName, c.LastName
	u.locale, u.timeZone = c.Locale, c.TimeZone
	u.licenses, u.roles = dedupe(c.LicenseKeys), dedupe(c.AdminRoles)
	u.identityReadOnly = c.IdentityReadOnly
	u.statusOverride = ""
	if c.Status != "" && c.Status != derived {
		u.statusOverride = c.Status
	}
	return nil
}

// DeleteUser removes a user out of band and reports whether it existed.
func (s *Server) DeleteUser(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteLocked(key)
}

func (s *Server) insertLocked(u *user) {
	s.users = append(s.users, u)
	s.byKey[u.key] = u
	s.byEmail[strings.ToLower(u.email)] = u
}

// setEmailLocked changes a user's email and keeps the email index right.
func (s *Server) setEmailLocked(u *user, email string) {
	delete(s.byEmail, strings.ToLower(u.email))
	u.email = email
	s.byEmail[strings.ToLower(email)] = u
}

func (s *Server) deleteLocked(key string) bool {
	u, ok := s.byKey[key]
	if !ok {
		return false
	}
	delete(s.byKey, key)
	delete(s.byEmail, strings.ToLower(u.email))
	s.users = slices.DeleteFunc(s.users, func(x *user) bool { return x == u })
	return true
}

func (s *Server) userByEmailLocked(email string) *user {
	return s.byEmail[strings.ToLower(email)]
}

// nextKeyLocked makes a deterministic key: prefix then a zero-padded
// sequence, 26 digits for users ("7888888…") and 22 for licences ("51…").
func (s *Server) nextKeyLocked(prefix string) string {
	s.seq++
	width := 19
	if prefix == "51" {
		width = 20
	}
	return fmt.Sprintf("%s%0*d", prefix, width, s.seq)
}

func (s *Server) derivedStatusLocked(u *user) string {
	if len(u.licenses) == 0 && len(u.roles) == 0 {
		return StatusSuspended
	}
	return StatusActive
}

func (s *Server) statusLocked(u *user) string {
	if u.statusOverride != "" {
		return u.statusOverride
	}
	return s.derivedStatusLocked(u)
}

func (s *Server) productsLocked(u *user) []string {
	out := []string{}
	for _, k := range u.licenses {
		if l, ok := s.licByKey[k]; ok {
			for _, p := range l.products {
				if !slices.Contains(out, p) {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

func (s *Server) exportLocked(u *user) User {
	return User{
		Key: u.key, Email: u.email, FirstName: u.firstName, LastName: u.lastName,
		Locale: u.locale, TimeZone: u.timeZone, Status: s.statusLocked(u),
		LicenseKeys: slices.Clone(u.licenses), AdminRoles: slices.Clone(u.roles),
		Products: s.productsLocked(u), IdentityReadOnly: u.identityReadOnly, WelcomeEmail: u.welcomeEmail,
	}
}

func (s *Server) licenseUsersLocked(key string) []string {
	var keys []string
	for _, u := range s.users {
		if slices.Contains(u.licenses, key) {
			keys = append(keys, u.key)
		}
	}
	return keys
}

// licenseHoldersLocked counts the users holding the licence without
// listing them: a bulk create checks the seats of each licence it gives,
// and listing 100,000 holders for each of 1,000 creates made the simulator
// the slowest part of a large benchmark.
func (s *Server) licenseHoldersLocked(key string) int {
	n := 0
	for _, u := range s.users {
		if slices.Contains(u.licenses, key) {
			n++
		}
	}
	return n
}

func (s *Server) exportLicenseLocked(l *license) License {
	keys := s.licenseUsersLocked(l.key)
	return License{
		Key: l.key, Description: l.description, Type: l.typ, Enabled: l.enabled, Seats: l.seats,
		Products: slices.Clone(l.products), UserCount: len(keys), UserKeys: keys,
	}
}

// checkLicensesLocked verifies that every licence exists and can take
// adding more users; holder, if set, already counts against the licences
// it holds and is not counted twice.
func (s *Server) checkLicensesLocked(keys []string, adding int, holder *user) *apiErr {
	for _, k := range keys {
		l, ok := s.licByKey[k]
		if !ok {
			return &apiErr{status: 400, code: "license.not.found", value: k}
		}
		if holder != nil && slices.Contains(holder.licenses, k) {
			continue
		}
		if s.licenseHoldersLocked(k)+adding > l.seats {
			return &apiErr{status: 409, code: "license.seats.exceeded", value: k}
		}
	}
	return nil
}

func dedupe(in []string) []string {
	out := []string{}
	for _, v := range in {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
