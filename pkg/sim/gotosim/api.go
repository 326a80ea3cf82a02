package gotosim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// apiErr is a refusal in the errors shape.
type apiErr struct {
	status      int
	code, value string
}

func (s *Server) writeErrors(w http.ResponseWriter, status int, code, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeErrorsLocked(w, status, code, value)
}

func (s *Server) writeErrorsLocked(w http.ResponseWriter, status int, code, value string) {
	s.incidents++
	writeJSON(w, status, map[string]any{
		"incidentId": fmt.Sprintf("gotosim-%08d", s.incidents),
		"errors":     []map[string]string{{"code": code, "value": value}},
	})
}

func (s *Server) writeErrLocked(w http.ResponseWriter, e *apiErr) {
	s.writeErrorsLocked(w, e.status, e.code, e.value)
}

// jsonKey renders a key as the documented big JSON number, or as a string.
func (s *Server) jsonKey(k string) any {
	if s.keysAsStrings {
		return k
	}
	return json.Number(k)
}

func (s *Server) jsonKeys(ks []string) []any {
	out := make([]any, 0, len(ks))
	for _, k := range ks {
		out = append(out, s.jsonKey(k))
	}
	return out
}

func (s *Server) userJSONLocked(u *user) map[string]any {
	return map[string]any{
		"key":              s.jsonKey(u.key),
		"email":            u.email,
		"firstName":        u.firstName,
		"lastName":         u.lastName,
		"locale":           u.locale,
		"timeZone":         u.timeZone,
		"status":           s.statusLocked(u),
		"licenseKeys":      s.jsonKeys(u.licenses),
		"adminRoles":       dedupe(u.roles),
		"products":         s.productsLocked(u),
		"identityReadOnly": u.identityReadOnly,
	}
}

func (s *Server) handleMe(w http.ResponseWriter, principal string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first, last := "GoTo", "Admin"
	var key string
	if u := s.userByEmailLocked(principal); u != nil {
		key, first, last = u.key, u.firstName, u.lastName
	} else {
		key = s.principals[strings.ToLower(principal)]
		if key == "" {
			key = s.nextKeyLocked("7888888")
			s.principals[strings.ToLower(principal)] = key
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"key":        s.jsonKey(key),
		"accountKey": s.accountKey,
		"email":      principal,
		"firstName":  first,
		"lastName":   last,
		"accounts":   []map[string]string{{"key": s.accountKey, "name": s.accountName}},
	})
}

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	pageSize, offset := s.defaultPage, 0
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.writeErrorsLocked(w, http.StatusBadRequest, "invalid.request", "pageSize")
			return
		}
		pageSize = n
	}
	if s.maxPage > 0 {
		pageSize = min(pageSize, s.maxPage)
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.writeErrorsLocked(w, http.StatusBadRequest, "invalid.request", "offset")
			return
		}
		offset = n
	}
	matches := s.users
	if f := q.Get("filter"); f != "" {
		email, err := parseFilter(f)
		if err != nil {
			s.writeErrorsLocked(w, http.StatusBadRequest, "invalid.filter", f)
			return
		}
		matches = nil
		for _, u := range s.users {
			if strings.EqualFold(u.email, email) {
				matches = append(matches, u)
			}
		}
	}
	total := len(matches)
	from := min(offset, total)
	to := min(offset+pageSize, total)
	results := make([]any, 0, to-from)
	for _, u := range matches[from:to] {
		results = append(results, s.userJSONLocked(u))
	}
	toIndex := offset + len(results)
	if s.toIndexIncl {
		toIndex--
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"results":   results,
		"fromIndex": offset,
		"toIndex":   toIndex,
		"total":     total,
	})
}

// parseFilter accepts exactly `email eq "value"`, with \" and \\ escapes.
func parseFilter(f string) (string, error) {
	f = strings.TrimSpace(f)
	fields := strings.Fields(f)
	if len(fields) < 3 || !strings.EqualFold(fields[0], "email") || !strings.EqualFold(fields[1], "eq") {
		return "", fmt.Errorf("unsupported filter %q", f)
	}
	rest := strings.TrimSpace(f[strings.Index(strings.ToLower(f), "eq")+2:])
	if len(rest) < 2 || rest[0] != '"' || rest[len(rest)-1] != '"' {
		return "", fmt.Errorf("filter value must be double-quoted: %q", f)
	}
	var b strings.Builder
	in := rest[1 : len(rest)-1]
	for i := 0; i < len(in); i++ {
		switch c := in[i]; {
		case c == '\\' && i+1 < len(in):
			i++
			b.WriteByte(in[i])
		case c == '"':
			return "", fmt.Errorf("unescaped quote in filter %q", f)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func (s *Server) handleGetUser(w http.ResponseWriter, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byKey[key]
	if !ok {
		s.writeErrorsLocked(w, http.StatusNotFound, "user.not.found", key)
		return
	}
	writeJSON(w, http.StatusOK, s.userJSONLocked(u))
}

// flexKey accepts a key as a JSON string or an integer JSON number of any
// length, as GoTo's Java services coerce both.
type flexKey string

func (k *flexKey) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*k = flexKey(s)
		return nil
	}
	if !digits(string(b)) {
		return fmt.Errorf("key %s is not an integer", b)
	}
	*k = flexKey(b)
	return nil
}

func flexKeys(in []flexKey) []string {
	out := make([]string, 0, len(in))
	for _, k := range in {
		out = append(out, string(k))
	}
	return dedupe(out)
}

// decodeStrict decodes a JSON body and refuses unknown fields and trailing data.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return fmt.Errorf("empty body")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after JSON body")
	}
	return nil
}

type createBody struct {
	Users []struct {
		Email     string `json:"email"`
		FirstName string `json:"firstName"`
		LastName  string `json:"lastName"`
		Locale    string `json:"locale"`
		TimeZone  string `json:"timeZone"`
	} `json:"users"`
	LicenseKeys   []flexKey `json:"licenseKeys"`
	AdminRoles    []string  `json:"adminRoles"`
	SuppressEmail bool      `json:"suppressEmail"`
	// Documented in the legacy reference, accepted and ignored here.
	GroupKey     json.RawMessage `json:"groupKey"`
	EmailContent json.RawMessage `json:"emailContent"`
}

func (s *Server) handleCreateUsers(w http.ResponseWriter, r *http.Request, body []byte) {
	var req createBody
	if err := decodeStrict(body, &req); err != nil {
		s.writeErrors(w, http.StatusBadRequest, "invalid.request", err.Error())
		return
	}
	allOrNothing := r.URL.Query().Get("allOrNothing") == "true"
	s.mu.Lock()
	defer s.mu.Unlock()

	if len(req.Users) == 0 {
		s.writeErrorsLocked(w, http.StatusBadRequest, "invalid.request", "users")
		return
	}
	lics, roles := flexKeys(req.LicenseKeys), dedupe(req.AdminRoles)
	if len(lics) == 0 && len(roles) == 0 {
		s.writeErrorsLocked(w, http.StatusBadRequest, "invalid.request", "licenseKeys or adminRoles required")
		return
	}
	seen := map[string]bool{}
	var fresh []int // indexes of request users to create
	for i, nu := range req.Users {
		switch {
		case !strings.Contains(nu.Email, "@"):
			s.writeErrorsLocked(w, http.StatusBadRequest, "invalid.request", fmt.Sprintf("users[%d].email", i))
			return
		case strings.TrimSpace(nu.FirstName) == "":
			s.writeErrorsLocked(w, http.StatusBadRequest, "invalid.request", fmt.Sprintf("users[%d].firstName", i))
			return
		case strings.TrimSpace(nu.LastName) == "":
			s.writeErrorsLocked(w, http.StatusBadRequest, "invalid.request", fmt.Sprintf("users[%d].lastName", i))
			return
		}
		lower := strings.ToLower(nu.Email)
		if seen[lower] {
			continue
		}
		seen[lower] = true
		if s.userByEmailLocked(nu.Email) != nil {
			if allOrNothing {
				s.writeErrorsLocked(w, http.StatusConflict, "user.email.exists", nu.Email)
				return
			}
			continue
		}
		fresh = append(fresh, i)
	}
	if e := s.checkLicensesLocked(lics, len(fresh), nil); e != nil {
		s.writeErrLocked(w, e)
		return
	}
	created := map[*user]bool{}
	for _, i := range fresh {
		nu := req.Users[i]
		u := &user{
			key: s.nextKeyLocked("7888888"), email: nu.Email, firstName: nu.FirstName, lastName: nu.LastName,
			locale: nu.Locale, timeZone: nu.TimeZone, licenses: lics, roles: roles,
			welcomeEmail: !req.SuppressEmail,
		}
		s.insertLocked(u)
		created[u] = true
		s.wroteLocked(Write{Op: WriteCreate, Key: u.key, Email: u.email, Licenses: u.licenses})
	}
	reply := make([]map[string]any, 0, len(req.Users))
	for _, nu := range req.Users {
		u := s.userByEmailLocked(nu.Email)
		entry := map[string]any{"email": nu.Email} // echoed as sent
		if created[u] || !s.omitExisting {
			entry["key"] = s.jsonKey(u.key)
		}
		reply = append(reply, entry)
	}
	writeJSON(w, http.StatusOK, reply)
}

type updateBody struct {
	Email       *string    `json:"email"`
	FirstName   *string    `json:"firstName"`
	LastName    *string    `json:"lastName"`
	Locale      *string    `json:"locale"`
	TimeZone    *string    `json:"timeZone"`
	LicenseKeys *[]flexKey `json:"licenseKeys"`
	AdminRoles  *[]string  `json:"adminRoles"`
	// Documented in the legacy reference, accepted and ignored here.
	Admin            json.RawMessage `json:"admin"`
	ManagedGroupKeys json.RawMessage `json:"managedGroupKeys"`
}

func (s *Server) handleUpdateUser(w http.ResponseWriter, key string, body []byte) {
	var req updateBody
	if err := decodeStrict(body, &req); err != nil {
		s.writeErrors(w, http.StatusBadRequest, "invalid.request", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byKey[key]
	if !ok {
		s.writeErrorsLocked(w, http.StatusNotFound, "user.not.found", key)
		return
	}
	changes := func(p *string, cur string) bool { return p != nil && *p != cur }
	if u.identityReadOnly && (changes(req.Email, u.email) || changes(req.FirstName, u.firstName) ||
		changes(req.LastName, u.lastName) || changes(req.Locale, u.locale)) {
		s.writeErrorsLocked(w, http.StatusForbidden, "user.identity.read.only", key)
		return
	}
	if req.Email != nil {
		if !strings.Contains(*req.Email, "@") {
			s.writeErrorsLocked(w, http.StatusBadRequest, "invalid.request", "email")
			return
		}
		if other := s.userByEmailLocked(*req.Email); other != nil && other != u {
			s.writeErrorsLocked(w, http.StatusConflict, "user.email.exists", *req.Email)
			return
		}
	}
	for _, f := range []struct {
		p    *string
		name string
	}{{req.FirstName, "firstName"}, {req.LastName, "lastName"}} {
		if f.p != nil && strings.TrimSpace(*f.p) == "" {
			s.writeErrorsLocked(w, http.StatusBadRequest, "invalid.request", f.name)
			return
		}
	}
	var lics []string
	if req.LicenseKeys != nil {
		lics = flexKeys(*req.LicenseKeys)
		if e := s.checkLicensesLocked(lics, 1, u); e != nil {
			s.writeErrLocked(w, e)
			return
		}
	}
	set := func(dst *string, p *string) {
		if p != nil {
			*dst = *p
		}
	}
	if req.Email != nil {
		s.setEmailLocked(u, *req.Email)
	}
	set(&u.firstName, req.FirstName)
	set(&u.lastName, req.LastName)
	set(&u.locale, req.Locale)
	set(&u.timeZone, req.TimeZone)
	if req.LicenseKeys != nil {
		u.licenses = lics
	}
	if req.AdminRoles != nil {
		u.roles = dedupe(*req.AdminRoles)
	}
	s.wroteLocked(Write{Op: WriteUpdate, Key: u.key, Email: u.email, Licenses: u.licenses})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleDeleteUser(w http.ResponseWriter, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.deleteLocked(key) {
		s.writeErrorsLocked(w, http.StatusNotFound, "user.not.found", key)
		return
	}
	s.wroteLocked(Write{Op: WriteDelete, Key: key})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleListLicenses(w http.ResponseWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	results := make([]any, 0, len(s.licenses))
	for _, l := range s.licenses {
		e := s.exportLicenseLocked(l)
		results = append(results, map[string]any{
			"key":         s.jsonKey(e.Key),
			"seats":       e.Seats,
			"userCount":   e.UserCount,
			"enabled":     e.Enabled,
			"description": e.Description,
			"type":        e.Type,
			"products":    e.Products,
			"userKeys":    s.jsonKeys(e.UserKeys),
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}
