package entrajob

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/directory"
)

// DefaultAccessRoleID is Entra's Default Access role, which no GoTo
// account is given for.
const DefaultAccessRoleID = "00000000-0000-0000-0000-000000000000"

// Origin says where a schema came from, for the written file's header.
type Origin struct {
	// Job is the job read from Graph; nil for a schema file.
	Job *Job
	// File is the schema file read; "" when read from Graph.
	File string
	// Schema is the schema's id and version.
	SchemaID, SchemaVersion string
	// When is the time of the import, as the header writes it.
	When string
}

// Render writes a whole g2msync configuration: the connection settings of
// conn (the configuration import runs with: Entra tenant, client and
// credential references, service principal, GoTo account and client,
// state path), one roles entry per app role of app with its licences to
// fill in, then r's mapping, matching, scope and policy. Secrets are
// referenced (*_file keys), never written. Every value goes through the
// YAML encoder, and every name from Entra in a comment is quoted, so no
// name or expression can add a key.
func Render(r *Result, conn *config.Config, app directory.App, o Origin) ([]byte, error) {
	doc := &yaml.Node{Kind: yaml.MappingNode}
	add := func(key string, v any, comment string) error {
		var n yaml.Node
		if err := n.Encode(v); err != nil {
			return fmt.Errorf("write %s: %w", key, err)
		}
		k := &yaml.Node{Kind: yaml.ScalarNode, Value: key, HeadComment: comment}
		doc.Content = append(doc.Content, k, &n)
		return nil
	}
	steps := []struct {
		key     string
		v       any
		comment string
	}{
		{"state_path", conn.StatePath, header(r, o)},
		{"entra", entraOf(&conn.Entra), "Connection settings, from the configuration the import ran with. Secrets are not written here:\n" +
			"they come, as before, from the *_file keys, the G2MSYNC_ variables or the systemd credentials."},
		{"goto", gotoOf(&conn.GoTo), gotoComment(conn)},
	}
	for _, s := range steps {
		if err := add(s.key, s.v, s.comment); err != nil {
			return nil, err
		}
	}
	doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "roles",
		HeadComment: "One entry per app role of the enterprise app " + quote(app.DisplayName) + ". Entra's job holds no licence keys:\n" +
			"fill in each role's licences; `g2msync check` prints this block with the GoTo account's\n" +
			"licences (name, key, free seats). Delete a role whose people should get no GoTo account."},
		RolesNode(app.Roles, nil))
	mapComment := "Imported from the object mapping " + quote(r.Object) + ":"
	for _, f := range fieldOrder(r.Fields) {
		mapComment += "\n  " + f + " <- " + quote(r.From[f])
	}
	for _, s := range []struct {
		key     string
		v       any
		comment string
	}{
		{"mapping", orderedFields(r.Fields), mapComment},
		{"matching", r.Matching, "The matching attributes of Entra's job, lowest matchingPriority first."},
		{"scope", map[string]any{"filters": filtersOrEmpty(r.Filters)}, "Entra's scoping filters: groups ORed, clauses ANDed."},
		{"policy", r.Policy, "From the object mapping's flow types."},
	} {
		if err := add(s.key, s.v, s.comment); err != nil {
			return nil, err
		}
	}
	out, err := encode(doc)
	if err != nil {
		return nil, fmt.Errorf("write the configuration: %w", err)
	}
	return out, nil
}

// encode writes a YAML document indented by two, as the example configuration is.
func encode(doc *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func header(r *Result, o Origin) string {
	var b strings.Builder
	b.WriteString("g2msync configuration imported from Entra's provisioning job")
	switch {
	case o.Job != nil:
		fmt.Fprintf(&b, " %s (template %s)", quote(o.Job.ID), quote(o.Job.TemplateID))
	case o.File != "":
		fmt.Fprintf(&b, " schema file %s", quote(o.File))
	}
	if o.When != "" {
		b.WriteString(" on " + o.When)
	}
	b.WriteString(".\n")
	if o.SchemaID != "" || o.SchemaVersion != "" {
		fmt.Fprintf(&b, "Schema %s, version %s.\n", quote(o.SchemaID), quote(o.SchemaVersion))
	}
	if o.Job != nil {
		b.WriteString("The job: " + o.Job.Summary() + ".\n")
	}
	b.WriteString("Pause Entra's job before g2msync's first sync: two writers would fight (docs/migrate-from-entra.md).\n" +
		"Next: fill in the licences under roles, run `g2msync check`, then `g2msync plan`.")
	if len(r.Unsupported) > 0 {
		b.WriteString("\n\nNot carried over:")
		for _, it := range r.Unsupported {
			b.WriteString("\n  - " + it.Part + ": " + it.Reason)
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n\nCarried over with a difference:")
		for _, it := range r.Notes {
			b.WriteString("\n  - " + it.Part + ": " + it.Reason)
		}
	}
	return oneLineEach(b.String())
}

// oneLineEach keeps a comment's lines as lines and nothing else: every
// other control character, line separator included, is escaped.
func oneLineEach(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.ContainsFunc(l, func(r rune) bool { return !strconv.IsGraphic(r) && r != ' ' }) {
			q := strconv.QuoteToGraphic(l)
			lines[i] = q[1 : len(q)-1]
		}
	}
	return strings.Join(lines, "\n")
}

func gotoComment(conn *config.Config) string {
	if conn.GoTo.AccountKey == "" {
		return "goto.account_key is not set yet: `g2msync check` lists the GoTo accounts the admin manages."
	}
	return ""
}

type entraOut struct {
	TenantID                string `yaml:"tenant_id"`
	ClientID                string `yaml:"client_id,omitempty"`
	Auth                    string `yaml:"auth,omitempty"`
	ClientSecretFile        string `yaml:"client_secret_file,omitempty"`
	CertificateFile         string `yaml:"certificate_file,omitempty"`
	CertificatePasswordFile string `yaml:"certificate_password_file,omitempty"`
	ManagedIdentityClientID string `yaml:"managed_identity_client_id,omitempty"`
	FederatedTokenFile      string `yaml:"federated_token_file,omitempty"`
	ServicePrincipalID      string `yaml:"service_principal_id,omitempty"`
	AppID                   string `yaml:"app_id,omitempty"`
	Cloud                   string `yaml:"cloud"`
	AuthorityHost           string `yaml:"authority_host,omitempty"`
	GraphBaseURL            string `yaml:"graph_base_url,omitempty"`
	NestedGroups            bool   `yaml:"nested_groups,omitempty"`
}

func entraOf(e *config.Entra) entraOut {
	return entraOut{TenantID: e.TenantID, ClientID: e.ClientID, Auth: e.Auth, ClientSecretFile: e.ClientSecretFile,
		CertificateFile: e.CertificateFile, CertificatePasswordFile: e.CertificatePasswordFile,
		ManagedIdentityClientID: e.ManagedIdentityClientID, FederatedTokenFile: e.FederatedTokenFile,
		ServicePrincipalID: e.ServicePrincipalID, AppID: e.AppID, Cloud: e.Cloud, AuthorityHost: e.AuthorityHost,
		GraphBaseURL: e.GraphBaseURL, NestedGroups: e.NestedGroups}
}

type gotoOut struct {
	AccountKey              string `yaml:"account_key"`
	ClientID                string `yaml:"client_id"`
	ClientSecretFile        string `yaml:"client_secret_file,omitempty"`
	RefreshTokenFile        string `yaml:"refresh_token_file,omitempty"`
	PersonalAccessTokenFile string `yaml:"personal_access_token_file,omitempty"`
	Username                string `yaml:"username,omitempty"`
	PasswordFile            string `yaml:"password_file,omitempty"`
	AuthURL                 string `yaml:"auth_url"`
	APIBaseURL              string `yaml:"api_base_url"`
}

func gotoOf(g *config.GoTo) gotoOut {
	return gotoOut{AccountKey: g.AccountKey, ClientID: g.ClientID, ClientSecretFile: g.ClientSecretFile,
		RefreshTokenFile: g.RefreshTokenFile, PersonalAccessTokenFile: g.PersonalAccessTokenFile, Username: g.Username,
		PasswordFile: g.PasswordFile, AuthURL: g.AuthURL, APIBaseURL: g.APIBaseURL}
}

// License is a GoTo licence as the roles block lists it.
type License struct {
	Key, Name   string
	Seats, Free int
}

// RolesNode is the roles block: one entry per enabled app role (Default
// Access left out), keyed by its value (or its id when it has none), with
// the app role's id and display name in a comment. Each role lists every
// licence, each with its name and free seats in a comment, to keep those
// the role should give; with no licences, licenses is empty, to fill in.
func RolesNode(roles []directory.AppRole, lics []License) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, r := range roles {
		if !r.Enabled || r.ID == DefaultAccessRoleID {
			continue
		}
		key := r.Value
		if key == "" {
			key = r.ID
		}
		ln := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		if len(lics) > 0 {
			ln.Style = 0
			for _, l := range lics {
				ln.Content = append(ln.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: l.Key, Style: yaml.DoubleQuotedStyle,
					LineComment: oneLineEach(fmt.Sprintf("%s: %d of %d seats free", quote(l.Name), l.Free, l.Seats))})
			}
		}
		body := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Value: "licenses", HeadComment: licComment(lics)}, ln}}
		n.Content = append(n.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Value: key, Style: yaml.DoubleQuotedStyle,
				HeadComment: oneLineEach(fmt.Sprintf("app role %s: id %s, display name %s", quote(r.Value), quote(r.ID), quote(r.DisplayName)))},
			body)
	}
	return n
}

func licComment(lics []License) string {
	if len(lics) == 0 {
		return "fill in: GoTo licence keys (`g2msync check` lists them)"
	}
	return "keep the licences this role gives"
}

// RolesBlock renders RolesNode as YAML ready to paste under a configuration.
func RolesBlock(roles []directory.AppRole, lics []License) (string, error) {
	doc := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: "roles"}, RolesNode(roles, lics)}}
	out, err := encode(doc)
	return string(out), err
}

func fieldOrder(fields map[string]config.FieldMapping) []string {
	var out []string
	for _, t := range targets {
		if _, ok := fields[t.field]; ok {
			out = append(out, t.field)
		}
	}
	return out
}

// orderedFields writes the mapping in GoTo's field order.
func orderedFields(fields map[string]config.FieldMapping) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, f := range fieldOrder(fields) {
		var v yaml.Node
		_ = v.Encode(fields[f]) // strings and a map of strings
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: f}, &v)
	}
	return n
}

func filtersOrEmpty(fs []config.Filter) []map[string]any {
	out := []map[string]any{}
	for _, f := range fs {
		cls := make([]map[string]string, 0, len(f.Clauses))
		for _, c := range f.Clauses {
			m := map[string]string{"attribute": c.Attribute, "op": c.Op}
			if c.Value != "" {
				m["value"] = c.Value
			}
			cls = append(cls, m)
		}
		out = append(out, map[string]any{"name": f.Name, "clauses": cls})
	}
	return out
}

// Summary says how the job fares: its status code, its last run, its
// quarantine, in a line.
func (j *Job) Summary() string {
	if j.Status == nil {
		return "no status"
	}
	s := "status " + quote(j.Status.Code)
	if e := j.Status.LastExecution; e != nil {
		s += fmt.Sprintf(", last run %s (began %s, ended %s)", quote(e.State), quote(e.TimeBegan), quote(e.TimeEnded))
		if e.Error != nil && (e.Error.Code != "" || e.Error.Message != "") {
			s += fmt.Sprintf(", error %s: %s", quote(e.Error.Code), quote(e.Error.Message))
		}
	}
	if q := j.Status.Quarantine; q != nil && q.Reason != "" {
		s += ", quarantined: " + quote(q.Reason)
	}
	if j.Schedule != nil && j.Schedule.Interval != "" {
		s += fmt.Sprintf(", every %s (schedule %s)", quote(j.Schedule.Interval), quote(j.Schedule.State))
	}
	return s
}

// Running reports whether Entra's job still provisions: active, not yet
// run once, or quarantined (which Entra retries less often).
func (j *Job) Running() bool {
	if j.Status == nil {
		return false
	}
	return slices.Contains([]string{"active", "notrun", "quarantine"}, strings.ToLower(j.Status.Code))
}
