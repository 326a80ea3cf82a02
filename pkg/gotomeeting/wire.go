package gotomeeting

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// flexKey decodes a key sent as a JSON string or as an integer JSON number
// of any length. GoTo documents 26-digit keys as bare numbers, which a
// float64 or int64 would corrupt, so the digits are kept as text.
type flexKey string

func (k *flexKey) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*k = ""
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("decode key: %w", err)
		}
		*k = flexKey(strings.TrimSpace(s))
		return nil
	}
	s := string(b)
	if strings.HasSuffix(s, ".0") { // an integer written as a decimal
		s = strings.TrimSuffix(s, ".0")
	}
	if !allDigits(s) {
		return fmt.Errorf("decode key: %s is not an integer", b)
	}
	*k = flexKey(s)
	return nil
}

func keys(in []flexKey) []string {
	if in == nil {
		return nil
	}
	out := make([]string, 0, len(in))
	for _, k := range in {
		if k != "" {
			out = append(out, string(k))
		}
	}
	return out
}

// optInt decodes an integer sent as a number or a string, remembering
// whether it was present at all.
type optInt struct {
	v  int
	ok bool
}

func (o *optInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	if s == "null" || s == "" {
		*o = optInt{}
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return fmt.Errorf("decode integer %s: %w", b, err)
		}
		n = int(f)
	}
	*o = optInt{v: n, ok: true}
	return nil
}

// jsonKeys renders keys for a request: all-digit keys as bare JSON numbers,
// the documented shape, and anything else as strings.
func jsonKeys(ks []string) []any {
	out := make([]any, 0, len(ks))
	for _, k := range ks {
		if allDigits(k) {
			out = append(out, json.Number(k))
		} else {
			out = append(out, k)
		}
	}
	return out
}

func allDigits(s string) bool {
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

type wireUser struct {
	Key         flexKey   `json:"key"`
	UserKey     flexKey   `json:"userKey"` // the prose of GoTo's guide calls it so
	Email       string    `json:"email"`
	FirstName   string    `json:"firstName"`
	LastName    string    `json:"lastName"`
	Locale      string    `json:"locale"`
	TimeZone    string    `json:"timeZone"`
	Status      string    `json:"status"`
	LicenseKeys []flexKey `json:"licenseKeys"`
	AdminRoles  []string  `json:"adminRoles"`
	Products    []string  `json:"products"`
}

func (w wireUser) user() User {
	key := w.Key
	if key == "" {
		key = w.UserKey
	}
	return User{
		Key: string(key), Email: w.Email, FirstName: w.FirstName, LastName: w.LastName,
		Locale: w.Locale, TimeZone: w.TimeZone, Status: w.Status,
		Licenses: keys(w.LicenseKeys), AdminRoles: w.AdminRoles, Products: w.Products,
	}
}

type wirePage struct {
	Results   []wireUser `json:"results"`
	FromIndex optInt     `json:"fromIndex"`
	ToIndex   optInt     `json:"toIndex"`
	Total     optInt     `json:"total"`
}

type wireLicense struct {
	Key         flexKey  `json:"key"`
	Seats       optInt   `json:"seats"`
	UserCount   optInt   `json:"userCount"`
	Enabled     *bool    `json:"enabled"`
	Description string   `json:"description"`
	Type        string   `json:"type"`
	Products    []string `json:"products"`
}

func (w wireLicense) license() License {
	return License{
		Key: string(w.Key), Description: w.Description, Type: w.Type,
		Enabled: w.Enabled == nil || *w.Enabled, // absent means usable
		Seats:   w.Seats.v, UserCount: w.UserCount.v, Products: w.Products,
	}
}

type wireMe struct {
	Key        flexKey `json:"key"`
	AccountKey flexKey `json:"accountKey"`
	Email      string  `json:"email"`
	FirstName  string  `json:"firstName"`
	LastName   string  `json:"lastName"`
	Accounts   []struct {
		Key  flexKey `json:"key"`
		Name string  `json:"name"`
	} `json:"accounts"`
}

type wireCreated struct {
	Key     flexKey `json:"key"`
	UserKey flexKey `json:"userKey"`
	Email   string  `json:"email"`
}

// decodeList accepts a bare array or an object holding it under one of names,
// as GoTo's replies differ between endpoints and versions.
func decodeList[T any](body []byte, names ...string) ([]T, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, nil
	}
	if body[0] == '[' {
		var out []T
		if err := json.Unmarshal(body, &out); err != nil {
			return nil, err
		}
		return out, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, err
	}
	for _, n := range names {
		if raw, ok := obj[n]; ok {
			var out []T
			if err := json.Unmarshal(raw, &out); err != nil {
				return nil, err
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("reply has none of %v", names)
}
