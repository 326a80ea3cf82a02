package mapping

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/g2msync/g2msync/pkg/directory"
)

// Expr is a parsed mapping expression.
type Expr struct {
	src   string
	terms []term
}

type term struct {
	attr     string // directory attribute, or "" for a constant
	constant string
}

// Parse parses src: terms separated by "??", each an attribute name or a
// string constant in double quotes.
func Parse(src string) (Expr, error) {
	e := Expr{src: strings.TrimSpace(src)}
	if e.src == "" {
		return Expr{}, fmt.Errorf("empty expression")
	}
	for i, part := range strings.Split(e.src, "??") {
		p := strings.TrimSpace(part)
		switch {
		case p == "":
			return Expr{}, fmt.Errorf("term %d of %q is empty", i+1, e.src)
		case strings.HasPrefix(p, `"`):
			if len(p) < 2 || !strings.HasSuffix(p, `"`) || strings.Contains(p[1:len(p)-1], `"`) {
				return Expr{}, fmt.Errorf("constant %s is not closed by one double quote", p)
			}
			e.terms = append(e.terms, term{constant: p[1 : len(p)-1]})
		default:
			if !KnownAttribute(p) {
				return Expr{}, fmt.Errorf("unknown directory attribute %q (known: %s, extension_<appId>_<name>, onPremisesExtensionAttributes.extensionAttribute1..15)",
					p, strings.Join(knownAttributes, ", "))
			}
			e.terms = append(e.terms, term{attr: p})
		}
	}
	return e, nil
}

// MustParse is Parse for expressions known to be valid, such as defaults.
func MustParse(src string) Expr {
	e, err := Parse(src)
	if err != nil {
		panic(fmt.Sprintf("mapping: %v", err))
	}
	return e
}

// String returns the expression as written.
func (e Expr) String() string { return e.src }

// IsZero reports whether e is the zero Expr (no mapping).
func (e Expr) IsZero() bool { return len(e.terms) == 0 }

// Eval returns the first non-empty term's value for u, trimmed of spaces.
func (e Expr) Eval(u *directory.User) string {
	for _, t := range e.terms {
		v := t.constant
		if t.attr != "" {
			v = strings.TrimSpace(u.Attr(t.attr))
		}
		if v != "" {
			return v
		}
	}
	return ""
}

// Attributes returns the directory attributes the expression reads.
func (e Expr) Attributes() []string {
	var out []string
	for _, t := range e.terms {
		if t.attr != "" {
			out = append(out, t.attr)
		}
	}
	return out
}

// knownAttributes are the Graph user properties a mapping may name; Graph
// returns most of them only when selected, which the reader does.
var knownAttributes = []string{
	"accountEnabled", "businessPhones", "city", "companyName", "country", "department", "displayName",
	"employeeHireDate", "employeeId", "employeeType", "faxNumber", "givenName", "id", "jobTitle", "mail",
	"mailNickname", "mobilePhone", "officeLocation", "onPremisesDomainName", "onPremisesImmutableId",
	"onPremisesSamAccountName", "onPremisesUserPrincipalName", "postalCode", "preferredLanguage",
	"state", "streetAddress", "surname", "usageLocation", "userPrincipalName", "userType",
}

var extensionAttr = regexp.MustCompile(`^(extension_[0-9a-fA-F]{32}_[A-Za-z0-9_]+|onPremisesExtensionAttributes\.extensionAttribute([1-9]|1[0-5]))$`)

// KnownAttribute reports whether name is a directory attribute mappings may read.
func KnownAttribute(name string) bool {
	return slices.Contains(knownAttributes, name) || extensionAttr.MatchString(name)
}
