package graphsim

import (
	"regexp"
	"slices"
	"strings"
)

// userFilterClause is one comparison the simulator's user list accepts:
// Graph's default (non-advanced) $filter on users supports eq on id,
// userPrincipalName and mail, joined by "or". String comparison ignores
// case, as Graph's does; a quote inside a literal is doubled.
var userFilterClause = regexp.MustCompile(`^(?i)\s*(id|userPrincipalName|mail)\s+eq\s+'((?:[^']|'')*)'\s*$`)

// parseUserFilter splits a $filter into (property, value) pairs, or
// returns ok false for anything the simulator does not support.
func parseUserFilter(raw string) (clauses [][2]string, ok bool) {
	for _, part := range splitOr(raw) {
		m := userFilterClause.FindStringSubmatch(part)
		if m == nil {
			return nil, false
		}
		prop, _ := canonicalProp(m[1], userProps)
		clauses = append(clauses, [2]string{prop, strings.ReplaceAll(m[2], "''", "'")})
	}
	return clauses, len(clauses) > 0
}

// splitOr splits at " or " outside string literals.
func splitOr(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\'':
			quoted = !quoted
		case !quoted && i+4 <= len(s) && strings.EqualFold(s[i:i+4], " or "):
			out = append(out, s[start:i])
			start = i + 4
			i += 3
		}
	}
	return append(out, s[start:])
}

// handleUsers lists users, all of them or those a $filter selects.
func (s *Server) handleUsers(c *call) *resp {
	if bad := unsupported(c.r); bad != nil {
		return bad
	}
	sel, bad := parseSelect(c.r, userProps, "user")
	if bad != nil {
		return bad
	}
	top, bad := parseTop(c.r)
	if bad != nil {
		return bad
	}
	var clauses [][2]string
	if raw := queryValue(c.r.URL.Query(), "filter"); raw != "" {
		var ok bool
		if clauses, ok = parseUserFilter(raw); !ok {
			return badRequest(c.r, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property of resource 'User'.")
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := []string{}
	for id, u := range s.t.users {
		if u.softDeleted {
			continue
		}
		if clauses == nil || slices.ContainsFunc(clauses, func(cl [2]string) bool {
			v := id
			if cl[0] != "id" {
				v, _ = u.props[cl[0]].(string)
			}
			return strings.EqualFold(v, cl[1])
		}) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return pageOf(c.r, ids, top, metadataContext(c.r, "users", sel), func(id string) map[string]any {
		return userJSON(s.t.users[id], sel)
	})
}

// handleMemberOf lists the groups a user is a direct member of, or a
// member of through nesting too (transitiveMemberOf). Directory roles and
// administrative units, which Graph lists here as well, the simulator does
// not model. Without a group read permission, groups come back with only
// @odata.type and id, as Graph returns inaccessible objects.
func (s *Server) handleMemberOf(c *call, key string, transitive bool) *resp {
	if bad := unsupported(c.r); bad != nil {
		return bad
	}
	sel, bad := parseSelect(c.r, groupProps, "directoryObject")
	if bad != nil {
		return bad
	}
	top, bad := parseTop(c.r)
	if bad != nil {
		return bad
	}
	readGroups := c.claims.hasAny(permGroups)
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.t.visibleUser(key)
	if u == nil {
		return notFound(c.r, key)
	}
	ids := []string{}
	for gid, g := range s.t.groups {
		if g.members[u.id] || (transitive && slices.Contains(s.t.transitiveMembers(g), u.id)) {
			ids = append(ids, gid)
		}
	}
	slices.Sort(ids)
	return pageOf(c.r, ids, top, metadataContext(c.r, "directoryObjects", sel), func(id string) map[string]any {
		if !readGroups {
			return map[string]any{"@odata.type": "#microsoft.graph.group", "id": id}
		}
		out := groupJSON(s.t.groups[id], sel)
		out["@odata.type"] = "#microsoft.graph.group"
		return out
	})
}
