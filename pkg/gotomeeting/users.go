package gotomeeting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/g2msync/g2msync/pkg/address"
)

// Me returns the identity behind the access token.
func (c *Client) Me(ctx context.Context) (Me, error) {
	var w wireMe
	err := c.do(ctx, request{op: "get me", method: "GET", path: "me", display: "me", decode: jsonInto(&w)})
	if err != nil {
		return Me{}, err
	}
	me := Me{
		Key: string(w.Key), AccountKey: string(w.AccountKey), Email: w.Email,
		FirstName: w.FirstName, LastName: w.LastName,
	}
	for _, a := range w.Accounts {
		me.Accounts = append(me.Accounts, Account{Key: string(a.Key), Name: a.Name})
	}
	return me, nil
}

// accountKey returns the configured account key, or asks /me once.
func (c *Client) accountKey(ctx context.Context) (string, error) {
	c.acctMu.Lock()
	defer c.acctMu.Unlock()
	if c.account != "" {
		return c.account, nil
	}
	me, err := c.Me(ctx)
	if err != nil {
		return "", fmt.Errorf("goto: find account key: %w", err)
	}
	switch {
	case me.AccountKey != "":
		c.account = me.AccountKey
	case len(me.Accounts) == 1:
		c.account = me.Accounts[0].Key
	default:
		return "", fmt.Errorf("goto: account key not configured and %s administers %d accounts: set goto.account_key", me.Email, len(me.Accounts))
	}
	return c.account, nil
}

func (c *Client) usersPath(ctx context.Context, key string) (path, display string, err error) {
	acct, err := c.accountKey(ctx)
	if err != nil {
		return "", "", err
	}
	path = "accounts/" + url.PathEscape(acct) + "/users"
	display = "users"
	if key != "" {
		path += "/" + url.PathEscape(key)
		display += "/" + key
	}
	return path, display, nil
}

// ListUsers calls each for every user of the account, page by page as
// they arrive, so that a caller keeping less than a User (the engine keeps
// a plan.Remote) never holds the whole list twice: at 100,000 accounts a
// list of Users was 33 MB beside what the caller made of it. It advances
// the offset by the number of results received, because sources disagree
// on whether toIndex is inclusive, and stops on an empty page or when the
// offset reaches total. A user already seen (offset paging repeats one
// when an account is added during the listing) is passed once. A page
// that brings only users already seen means the server ignores the
// offset; that is an error, never a silent partial list. On any error,
// each has seen part of the list and the caller must drop it; an error
// from each ends the listing and is returned as it is.
func (c *Client) ListUsers(ctx context.Context, each func(User) error) error {
	return c.listUsers(ctx, "list users", "", each)
}

// FindUsersByEmail returns the users whose email equals email, ignoring
// case, using the API's filter and checking its answer.
func (c *Client) FindUsersByEmail(ctx context.Context, email string) ([]User, error) {
	var out []User
	err := c.listUsers(ctx, "find users by email", filterEmail(email), func(u User) error {
		if address.Equal(u.Email, email) {
			out = append(out, u)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// filterEmail builds `email eq "…"`, escaping backslashes and quotes.
func filterEmail(email string) string {
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(email)
	return `email eq "` + esc + `"`
}

func (c *Client) listUsers(ctx context.Context, op, filter string, each func(User) error) error {
	path, display, err := c.usersPath(ctx, "")
	if err != nil {
		return err
	}
	seen := map[string]struct{}{}
	for offset, pages := 0, 0; ; pages++ {
		if pages == c.cfg.MaxListPages {
			return fmt.Errorf("goto: %s: more than %d pages of users and no end in sight; refusing to read on (goto.api_base_url may not be GoTo's)",
				op, c.cfg.MaxListPages)
		}
		q := url.Values{"pageSize": {strconv.Itoa(c.cfg.PageSize)}, "offset": {strconv.Itoa(offset)}}
		if filter != "" {
			q.Set("filter", filter)
		}
		var page wirePage
		err := c.do(ctx, request{op: op, method: "GET", path: path, display: display, query: q, decode: jsonInto(&page)})
		if err != nil {
			return err
		}
		if len(page.Results) == 0 {
			return nil
		}
		fresh := 0
		for _, w := range page.Results {
			u := w.user()
			if u.Key == "" {
				// Without a key the account cannot be owned or changed, and
				// paging cannot be checked for progress: refuse the reply.
				return fmt.Errorf("goto: %s: page at offset %d lists a user without a key (%s)", op, offset, u.Email)
			}
			if _, dup := seen[u.Key]; dup {
				continue
			}
			seen[u.Key] = struct{}{}
			if err := each(u); err != nil {
				return err
			}
			fresh++
		}
		if fresh == 0 {
			return fmt.Errorf("goto: %s: page at offset %d repeats earlier users: paging does not advance", op, offset)
		}
		offset += len(page.Results)
		if page.Total.ok && offset >= page.Total.v {
			return nil
		}
	}
}

// GetUser returns one user, or an error wrapping ErrNotFound.
func (c *Client) GetUser(ctx context.Context, key string) (User, error) {
	path, display, err := c.usersPath(ctx, key)
	if err != nil {
		return User{}, err
	}
	var w wireUser
	if err := c.do(ctx, request{op: "get user", method: "GET", path: path, display: display, decode: jsonInto(&w)}); err != nil {
		return User{}, err
	}
	u := w.user()
	if u.Key == "" {
		u.Key = key
	}
	return u, nil
}

// Licenses returns the account's licences with their seat counts.
func (c *Client) Licenses(ctx context.Context) ([]License, error) {
	acct, err := c.accountKey(ctx)
	if err != nil {
		return nil, err
	}
	var ws []wireLicense
	err = c.do(ctx, request{
		op: "list licences", method: "GET", path: "accounts/" + url.PathEscape(acct) + "/licenses", display: "licenses",
		decode: func(b []byte) (err error) {
			if len(bytes.TrimSpace(b)) == 0 {
				return errors.New("empty reply")
			}
			ws, err = decodeList[wireLicense](b, "results", "licenses")
			return err
		},
	})
	if err != nil {
		return nil, err
	}
	out := make([]License, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.license())
	}
	return out, nil
}

// CreateUsers makes one bulk create call for req.Users with req's licences
// and roles; splitting into batches is the caller's business. Users that
// existed already come back with their key. Should GoTo leave a key out (its
// legacy behaviour for existing emails), the key is looked up by email.
func (c *Client) CreateUsers(ctx context.Context, req CreateRequest) ([]Created, error) {
	if len(req.Users) == 0 {
		return nil, nil
	}
	path, display, err := c.usersPath(ctx, "")
	if err != nil {
		return nil, err
	}
	type newUser struct {
		Email     string `json:"email"`
		FirstName string `json:"firstName"`
		LastName  string `json:"lastName"`
		Locale    string `json:"locale,omitempty"`
		TimeZone  string `json:"timeZone,omitempty"`
	}
	body := struct {
		Users         []newUser `json:"users"`
		LicenseKeys   []any     `json:"licenseKeys,omitempty"`
		AdminRoles    []string  `json:"adminRoles,omitempty"`
		SuppressEmail bool      `json:"suppressEmail"`
	}{LicenseKeys: jsonKeys(req.LicenseKeys), AdminRoles: req.AdminRoles, SuppressEmail: req.SuppressEmail}
	for _, u := range req.Users {
		body.Users = append(body.Users, newUser(u))
	}
	var ws []wireCreated
	err = c.do(ctx, request{
		op: "create users", method: "POST", path: path, display: display, body: body,
		decode: func(b []byte) (err error) {
			if len(bytes.TrimSpace(b)) == 0 {
				return errors.New("empty reply")
			}
			ws, err = decodeList[wireCreated](b, "results", "users")
			return err
		},
	})
	if err != nil {
		return nil, err
	}
	out := make([]Created, 0, len(ws))
	for _, w := range ws {
		key := w.Key
		if key == "" {
			key = w.UserKey
		}
		cr := Created{Key: string(key), Email: w.Email}
		if cr.Key == "" && cr.Email != "" {
			found, err := c.FindUsersByEmail(ctx, cr.Email)
			if err != nil {
				return nil, fmt.Errorf("goto: create users: look up key of existing %s: %w", cr.Email, err)
			}
			if len(found) == 1 {
				cr.Key = found[0].Key
			}
		}
		out = append(out, cr)
	}
	return out, nil
}

// UpdateUser sends the non-nil fields of u; an update with none makes no
// call. Empty non-nil slices are sent as [], which removes them all.
func (c *Client) UpdateUser(ctx context.Context, key string, u Update) error {
	body := map[string]any{}
	for name, v := range map[string]*string{
		"email": u.Email, "firstName": u.FirstName, "lastName": u.LastName,
		"locale": u.Locale, "timeZone": u.TimeZone,
	} {
		if v != nil {
			body[name] = *v
		}
	}
	if u.LicenseKeys != nil {
		body["licenseKeys"] = jsonKeys(u.LicenseKeys)
	}
	if u.AdminRoles != nil {
		body["adminRoles"] = append([]string{}, u.AdminRoles...)
	}
	if len(body) == 0 {
		return nil
	}
	path, display, err := c.usersPath(ctx, key)
	if err != nil {
		return err
	}
	return c.do(ctx, request{op: "update user", method: "PUT", path: path, display: display, body: body})
}

// Disable removes every licence and admin role, which GoTo shows as SUSPENDED.
func (c *Client) Disable(ctx context.Context, key string) error {
	return c.UpdateUser(ctx, key, Update{LicenseKeys: []string{}, AdminRoles: []string{}})
}

// Enable gives a disabled account its licences and admin roles back. Both
// lists are sent, empty ones as [].
func (c *Client) Enable(ctx context.Context, key string, licenseKeys, adminRoles []string) error {
	return c.UpdateUser(ctx, key, Update{
		LicenseKeys: append([]string{}, licenseKeys...),
		AdminRoles:  append([]string{}, adminRoles...),
	})
}

// DeleteUser deletes the account. Deleting an unknown key wraps ErrNotFound,
// except when an earlier attempt of this call may have deleted it already.
func (c *Client) DeleteUser(ctx context.Context, key string) error {
	path, display, err := c.usersPath(ctx, key)
	if err != nil {
		return err
	}
	return c.do(ctx, request{op: "delete user", method: "DELETE", path: path, display: display, goneOK: true})
}

// jsonInto decodes a required JSON reply into v, starting from the zero
// value on each attempt so a broken earlier reply leaves nothing behind.
func jsonInto[T any](v *T) func([]byte) error {
	return func(b []byte) error {
		var zero T
		*v = zero
		if len(bytes.TrimSpace(b)) == 0 {
			return errors.New("empty reply")
		}
		return json.Unmarshal(b, v)
	}
}
