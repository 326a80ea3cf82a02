package gotomeeting

import (
	"context"
	"errors"
)

// StatusSuspended is the status GoTo shows for an account with no licence and
// no admin role. Any other status value is treated as active or pending.
const StatusSuspended = "SUSPENDED"

// RoleSuperUser is the admin role of an account's super administrators.
const RoleSuperUser = "SUPER_USER"

// AdminRoles are the admin roles GoTo is known to grant (DESIGN §5.3). A
// configured role outside them is most likely a typo (MANAGE_USER).
func AdminRoles() []string { return []string{"MANAGE_ACCOUNT", "MANAGE_USERS", RoleSuperUser} }

// User is a GoTo account as the Admin API returns it.
type User struct {
	Key        string
	Email      string
	FirstName  string
	LastName   string
	Locale     string
	TimeZone   string
	Status     string
	Licenses   []string // licence keys
	AdminRoles []string
	Products   []string
}

// License is a licence of the GoTo account, with its seats.
type License struct {
	Key         string
	Description string
	Type        string
	Enabled     bool
	Seats       int
	UserCount   int
	Products    []string
}

// Free returns the number of unused seats.
func (l License) Free() int { return l.Seats - l.UserCount }

// Me is the identity behind the access token.
type Me struct {
	Key        string
	AccountKey string
	Email      string
	FirstName  string
	LastName   string
	Accounts   []Account
}

// Account is one GoTo account the identity administers.
type Account struct {
	Key  string
	Name string
}

// NewUser is one user of a bulk create.
type NewUser struct {
	Email     string
	FirstName string
	LastName  string
	Locale    string // optional
	TimeZone  string // optional
}

// CreateRequest is one bulk create call: every user in it gets the same
// licences and admin roles, as the Admin API applies them per request.
type CreateRequest struct {
	Users         []NewUser
	LicenseKeys   []string
	AdminRoles    []string
	SuppressEmail bool
}

// Created is the key GoTo returned for one email of a bulk create. Users that
// already existed are returned as well, with their existing key.
type Created struct {
	Key   string
	Email string
}

// Update is a partial update: nil fields are not sent. LicenseKeys and
// AdminRoles, when non-nil, replace the account's whole list; an empty non-nil
// slice removes them all, which is how an account is disabled.
type Update struct {
	Email       *string
	FirstName   *string
	LastName    *string
	Locale      *string
	TimeZone    *string
	LicenseKeys []string
	AdminRoles  []string
}

// Reader is the read side of the Admin API. Dry runs are given only a Reader,
// so no write is reachable from them.
type Reader interface {
	// ListUsers calls each for every user of the account, following paging
	// to the end; on an error, each has seen part of the list only.
	ListUsers(ctx context.Context, each func(User) error) error
	// FindUsersByEmail returns the users whose email equals email, ignoring case.
	FindUsersByEmail(ctx context.Context, email string) ([]User, error)
	// GetUser returns one user, or an error wrapping ErrNotFound.
	GetUser(ctx context.Context, key string) (User, error)
	// Licenses returns the account's licences with their seat counts.
	Licenses(ctx context.Context) ([]License, error)
}

// Writer is the write side of the Admin API.
type Writer interface {
	// CreateUsers makes one bulk create call. It is idempotent by email:
	// users that exist already come back with their key.
	CreateUsers(ctx context.Context, req CreateRequest) ([]Created, error)
	// UpdateUser sends the non-nil fields of u.
	UpdateUser(ctx context.Context, key string, u Update) error
	// DeleteUser deletes the account. Deleting an unknown key wraps ErrNotFound.
	DeleteUser(ctx context.Context, key string) error
}

// Errors that callers branch on. Client errors wrap one of these (or none, for
// failures that fit no class) inside an *APIError carrying the details.
var (
	ErrUnauthorized   = errors.New("unauthorized")  // 401, or a refused token
	ErrForbidden      = errors.New("forbidden")     // 403: the admin lacks a role or scope
	ErrNotFound       = errors.New("not found")     // 404
	ErrConflict       = errors.New("conflict")      // 409, e.g. email already used
	ErrThrottled      = errors.New("throttled")     // 429 that outlasted the retries
	ErrSeatsExhausted = errors.New("no free seats") // a licence has no seat left
	ErrUnavailable    = errors.New("unavailable")   // 5xx or timeout that outlasted the retries
	// ErrRefreshTokenRejected means GoTo refused the stored refresh token: a
	// person must run `g2msync login goto`. Nothing will work until then.
	ErrRefreshTokenRejected = errors.New("GoTo rejected the refresh token: run `g2msync login goto`")
)
