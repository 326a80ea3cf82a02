package graphsim

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// Application permissions that allow each kind of read, least privileged
// first. The tables are read-only.
var (
	permApplication = []string{"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permAssignments = []string{"Application.Read.All", "Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permGroups      = []string{"GroupMember.Read.All", "Group.Read.All", "GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permUsers       = []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)

// route is what a request resolved to.
type route struct {
	key    string // counter key
	graph  bool   // needs an access token; throttled
	cost   int    // base resource units
	perms  []string
	handle func(*call) *resp
}

var spByAppID = regexp.MustCompile(`^(?i)servicePrincipals\(appId='([^']*)'\)$`)

func (s *Server) match(r *http.Request) route {
	if rest, ok := trimPrefixFold(r.URL.Path, "/v1.0/"); ok {
		return s.matchGraph(r, strings.Split(strings.Trim(rest, "/"), "/"))
	}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(segs) == 4 && segs[1] == "v2.0" && segs[2] == ".well-known" && segs[3] == "openid-configuration":
		return route{key: routeDiscovery, handle: func(c *call) *resp { return s.handleDiscovery(c, segs[0]) }}
	case len(segs) == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "token":
		return route{key: routeToken, handle: func(c *call) *resp { return s.handleToken(c, segs[0]) }}
	case len(segs) == 4 && segs[1] == "discovery" && segs[2] == "v2.0" && segs[3] == "keys":
		return route{key: routeKeys, handle: func(c *call) *resp { return s.handleKeys(c, segs[0]) }}
	case len(segs) == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "authorize" && r.Method == http.MethodGet:
		return route{key: routeAuthorize, handle: func(c *call) *resp { return s.handleAuthorize(c, segs[0]) }}
	case len(segs) == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "authorize" && r.Method == http.MethodPost:
		return route{key: routeAuthorizePost, handle: func(c *call) *resp { return s.handleAuthorize(c, segs[0]) }}
	case len(segs) == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "logout":
		return route{key: routeLogout, handle: func(c *call) *resp { return s.handleLogout(c, segs[0]) }}
	}
	return route{key: r.Method + " (unknown)", handle: func(c *call) *resp {
		return graphError(c.r, http.StatusNotFound, "NotFound", "The requested resource does not exist: "+c.r.URL.Path)
	}}
}

func isDelta(seg string) bool {
	seg = strings.TrimPrefix(strings.ToLower(seg), "microsoft.graph.")
	return seg == "delta" || seg == "delta()"
}

// castType returns the type named by a cast segment ("graph.user",
// "microsoft.graph.user"), or "" if seg is not a cast.
func castType(seg string) string {
	low := strings.ToLower(seg)
	for _, p := range []string{"microsoft.graph.", "graph."} {
		if t, ok := strings.CutPrefix(low, p); ok {
			switch t {
			case "user":
				return "user"
			case "group":
				return "group"
			case "serviceprincipal":
				return "servicePrincipal"
			}
			return "?"
		}
	}
	return ""
}

func (s *Server) matchGraph(r *http.Request, segs []string) route {
	get := func(key string, cost int, perms []string, h func(*call) *resp) route {
		return s.method(r, http.MethodGet, route{key: key, graph: true, cost: cost, perms: perms, handle: h})
	}
	switch {
	case len(segs) == 1 && strings.EqualFold(segs[0], "servicePrincipals"):
		return get("GET /servicePrincipals", 1, permApplication, s.handleSPList)
	case len(segs) == 1 && spByAppID.MatchString(segs[0]):
		appID := spByAppID.FindStringSubmatch(segs[0])[1]
		return get("GET /servicePrincipals(appId='{appId}')", 1, permApplication, func(c *call) *resp { return s.handleSPByAppID(c, appID) })
	case len(segs) == 2 && strings.EqualFold(segs[0], "servicePrincipals"):
		return get("GET /servicePrincipals/{id}", 1, permApplication, func(c *call) *resp { return s.handleSP(c, segs[1]) })
	case len(segs) == 3 && strings.EqualFold(segs[0], "servicePrincipals") && strings.EqualFold(segs[2], "appRoleAssignedTo"):
		return get("GET /servicePrincipals/{id}/appRoleAssignedTo", 1, permAssignments, func(c *call) *resp { return s.handleAssignedTo(c, segs[1]) })
	case len(segs) >= 4 && len(segs) <= 6 && strings.EqualFold(segs[0], "servicePrincipals") && strings.EqualFold(segs[2], "synchronization") &&
		strings.EqualFold(segs[3], "jobs"):
		return s.matchSynchronization(r, segs)
	case len(segs) == 2 && strings.EqualFold(segs[0], "users") && isDelta(segs[1]):
		return get("GET /users/delta", 1, permUsers, func(c *call) *resp { return s.handleDelta(c, "user") })
	case len(segs) == 2 && strings.EqualFold(segs[0], "groups") && isDelta(segs[1]):
		return get("GET /groups/delta", 1, permGroups, func(c *call) *resp { return s.handleDelta(c, "group") })
	case len(segs) == 1 && strings.EqualFold(segs[0], "users"):
		return get("GET /users", 1, permUsers, s.handleUsers)
	case len(segs) == 2 && strings.EqualFold(segs[0], "users"):
		return get("GET /users/{id}", 1, permUsers, func(c *call) *resp { return s.handleUser(c, segs[1]) })
	case len(segs) == 3 && strings.EqualFold(segs[0], "users") &&
		(strings.EqualFold(segs[2], "memberOf") || strings.EqualFold(segs[2], "transitiveMemberOf")):
		transitive := strings.EqualFold(segs[2], "transitiveMemberOf")
		key, cost := "GET /users/{id}/memberOf", 1
		if transitive {
			key, cost = "GET /users/{id}/transitiveMemberOf", 2
		}
		return get(key, cost, permUsers, func(c *call) *resp { return s.handleMemberOf(c, segs[1], transitive) })
	case len(segs) == 2 && strings.EqualFold(segs[0], "groups"):
		return get("GET /groups/{id}", 1, permGroups, func(c *call) *resp { return s.handleGroup(c, segs[1]) })
	case (len(segs) == 3 || len(segs) == 4) && strings.EqualFold(segs[0], "groups") &&
		(strings.EqualFold(segs[2], "members") || strings.EqualFold(segs[2], "transitiveMembers")):
		transitive := strings.EqualFold(segs[2], "transitiveMembers")
		cast := ""
		if len(segs) == 4 {
			cast = castType(segs[3])
			if cast == "" || cast == "?" {
				return badSegment(r, segs[3])
			}
		}
		key, cost := "GET /groups/{id}/members", 3
		if transitive {
			key, cost = "GET /groups/{id}/transitiveMembers", 5
		}
		return get(key, cost, permGroups, func(c *call) *resp { return s.handleMembers(c, segs[1], transitive, cast) })
	case len(segs) == 2 && strings.EqualFold(segs[0], "directoryObjects") &&
		(strings.EqualFold(segs[1], "getByIds") || strings.EqualFold(segs[1], "microsoft.graph.getByIds")):
		return s.method(r, http.MethodPost, route{key: "POST /directoryObjects/getByIds", graph: true, cost: 3, perms: permUsers, handle: s.handleGetByIds})
	}
	last := ""
	if len(segs) > 0 {
		last = segs[len(segs)-1]
	}
	return badSegment(r, last)
}

func badSegment(r *http.Request, seg string) route {
	return route{key: r.Method + " (unknown)", graph: true, handle: func(c *call) *resp {
		return badRequest(c.r, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", seg))
	}}
}

func (s *Server) method(r *http.Request, want string, rt route) route {
	if r.Method == want {
		return rt
	}
	rt.perms = nil
	rt.handle = func(c *call) *resp {
		return graphError(c.r, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
	}
	return rt
}

func (s *Server) handleSP(c *call, id string) *resp {
	sel, bad := parseSelect(c.r, spProps, "servicePrincipal")
	if bad != nil {
		return bad
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	sp := s.t.sps[id]
	if sp == nil {
		return notFound(c.r, id)
	}
	return s.spEntity(c, sp, sel)
}

func (s *Server) spEntity(c *call, sp *servicePrincipal, sel []string) *resp {
	out := spJSON(sp, sel)
	out["@odata.context"] = metadataContext(c.r, "servicePrincipals", sel) + "/$entity"
	return jsonResp(http.StatusOK, out)
}

func (s *Server) handleSPByAppID(c *call, appID string) *resp {
	sel, bad := parseSelect(c.r, spProps, "servicePrincipal")
	if bad != nil {
		return bad
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, sp := range s.t.sps {
		if strings.EqualFold(sp.AppID, appID) {
			return s.spEntity(c, sp, sel)
		}
	}
	return notFound(c.r, appID)
}

var appIDFilter = regexp.MustCompile(`^(?i)\s*appId\s+eq\s+'([^']*)'\s*$`)

func (s *Server) handleSPList(c *call) *resp {
	sel, bad := parseSelect(c.r, spProps, "servicePrincipal")
	if bad != nil {
		return bad
	}
	m := appIDFilter.FindStringSubmatch(queryValue(c.r.URL.Query(), "filter"))
	if m == nil {
		return badRequest(c.r, "Request_UnsupportedQuery", "The simulator lists service principals only with $filter=appId eq '…'.")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	value := []map[string]any{}
	for _, sp := range s.t.sps {
		if strings.EqualFold(sp.AppID, m[1]) {
			value = append(value, spJSON(sp, sel))
		}
	}
	return jsonResp(http.StatusOK, map[string]any{
		"@odata.context": metadataContext(c.r, "servicePrincipals", sel),
		"value":          value,
	})
}

func (s *Server) handleAssignedTo(c *call, id string) *resp {
	if bad := unsupported(c.r); bad != nil {
		return bad
	}
	sel, bad := parseSelect(c.r, assignmentProps, "appRoleAssignment")
	if bad != nil {
		return bad
	}
	top, bad := parseTop(c.r)
	if bad != nil {
		return bad
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.t.sps[id] == nil {
		return notFound(c.r, id)
	}
	ids, byID := s.assignedTo(id)
	ctx := originOf(c.r) + "/v1.0/$metadata#servicePrincipals('" + id + "')/appRoleAssignedTo"
	if sel != nil {
		ctx += "(" + strings.Join(sel, ",") + ")"
	}
	return pageOf(c.r, ids, top, ctx, func(aid string) map[string]any {
		return s.t.assignmentJSON(byID[aid], sel)
	})
}

// assignedTo lists the visible assignments of a service principal, sorted
// by id. The list is kept until the assignments change: rebuilding and
// sorting 30,000 of them for each of their 31 pages made the simulator,
// not g2msync, the cost of a benchmark's no-change cycle. The caller holds
// s.mu for reading.
func (s *Server) assignedTo(sp string) ([]string, map[string]*assignment) {
	s.assignedMu.Lock()
	defer s.assignedMu.Unlock()
	if c := s.assigned; c != nil && c.sp == sp && c.gen == s.t.assignGen {
		return c.ids, c.byID
	}
	byID := map[string]*assignment{}
	ids := []string{}
	for _, a := range s.t.assignments {
		if a.resourceID != sp {
			continue
		}
		if u := s.t.users[a.principalID]; u != nil && u.softDeleted {
			continue // deleted users vanish from assignments until restored
		}
		byID[a.id] = a
		ids = append(ids, a.id)
	}
	slices.Sort(ids)
	s.assigned = &assignedList{sp: sp, gen: s.t.assignGen, ids: ids, byID: byID}
	return ids, byID
}

// assignedList is the last list assignedTo built.
type assignedList struct {
	sp   string
	gen  int64
	ids  []string
	byID map[string]*assignment
}

func (s *Server) handleGroup(c *call, id string) *resp {
	sel, bad := parseSelect(c.r, groupProps, "group")
	if bad != nil {
		return bad
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	g := s.t.groups[id]
	if g == nil {
		return notFound(c.r, id)
	}
	out := groupJSON(g, sel)
	out["@odata.context"] = metadataContext(c.r, "groups", sel) + "/$entity"
	return jsonResp(http.StatusOK, out)
}

// handleMembers lists members or transitiveMembers, optionally cast to one
// type. Users the app may not read come back with only @odata.type and id.
func (s *Server) handleMembers(c *call, gid string, transitive bool, cast string) *resp {
	if bad := unsupported(c.r); bad != nil {
		return bad
	}
	known := slices.Concat(userProps, groupProps, spProps)
	typeName := "directoryObject"
	switch cast {
	case "user":
		known, typeName = userProps, "user"
	case "group":
		known, typeName = groupProps, "group"
	case "servicePrincipal":
		known, typeName = spProps, "servicePrincipal"
	}
	sel, bad := parseSelect(c.r, known, typeName)
	if bad != nil {
		return bad
	}
	top, bad := parseTop(c.r)
	if bad != nil {
		return bad
	}
	readUsers := c.claims.hasAny(permUsers)
	s.mu.RLock()
	defer s.mu.RUnlock()
	g := s.t.groups[gid]
	if g == nil {
		return notFound(c.r, gid)
	}
	var ids []string
	if transitive {
		ids = s.t.transitiveMembers(g)
	} else {
		ids = s.t.directMembers(g)
	}
	if cast != "" {
		ids = slices.DeleteFunc(ids, func(id string) bool { return s.t.objectType(id) != cast })
	}
	set := "directoryObjects"
	if cast != "" {
		set = cast + "s"
	}
	return pageOf(c.r, ids, top, metadataContext(c.r, set, sel), func(id string) map[string]any {
		return s.directoryObjectJSON(id, sel, readUsers, cast == "")
	})
}

// directoryObjectJSON renders a user, group or service principal with the
// properties of sel that its type has.
func (s *Server) directoryObjectJSON(id string, sel []string, readUsers, withType bool) map[string]any {
	var out map[string]any
	typ := s.t.objectType(id)
	pick := func(known []string) []string {
		if sel == nil {
			return nil
		}
		return slices.DeleteFunc(slices.Clone(sel), func(p string) bool {
			_, ok := canonicalProp(p, known)
			return !ok
		})
	}
	switch typ {
	case "user":
		if !readUsers {
			return map[string]any{"@odata.type": "#microsoft.graph.user", "id": id}
		}
		out = userJSON(s.t.users[id], pick(userProps))
	case "group":
		out = groupJSON(s.t.groups[id], pick(groupProps))
	case "servicePrincipal":
		out = spJSON(s.t.sps[id], pick(spProps))
	default:
		return nil
	}
	if withType {
		out["@odata.type"] = "#microsoft.graph." + typ
	}
	return out
}

func (s *Server) handleUser(c *call, key string) *resp {
	sel, bad := parseSelect(c.r, userProps, "user")
	if bad != nil {
		return bad
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.t.visibleUser(key)
	if u == nil {
		for _, o := range s.t.users {
			if !o.softDeleted && strings.EqualFold(o.upn(), key) {
				u = o
				break
			}
		}
	}
	if u == nil {
		return notFound(c.r, key)
	}
	out := userJSON(u, sel)
	out["@odata.context"] = metadataContext(c.r, "users", sel) + "/$entity"
	return jsonResp(http.StatusOK, out)
}

// maxGetByIDs is getByIds' documented limit.
const maxGetByIDs = 1000

func (s *Server) handleGetByIds(c *call) *resp {
	var body io.Reader = http.MaxBytesReader(nil, c.r.Body, 4<<20)
	if strings.EqualFold(c.r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(body)
		if err != nil {
			return badRequest(c.r, "BadRequest", "The request body is not valid gzip.")
		}
		defer zr.Close()
		body = zr
	}
	var in struct {
		IDs   []string `json:"ids"`
		Types []string `json:"types"`
	}
	if err := json.NewDecoder(body).Decode(&in); err != nil {
		return badRequest(c.r, "BadRequest", "Invalid request body: "+err.Error())
	}
	if len(in.IDs) == 0 {
		return badRequest(c.r, "Request_BadRequest", "The value of the 'ids' parameter must not be empty.")
	}
	if len(in.IDs) > maxGetByIDs {
		return badRequest(c.r, "Request_BadRequest", fmt.Sprintf("The number of ids in the request (%d) exceeds the maximum of %d.", len(in.IDs), maxGetByIDs))
	}
	types := map[string]bool{}
	for _, t := range in.Types {
		switch tl := strings.ToLower(strings.TrimPrefix(strings.ToLower(t), "microsoft.graph.")); tl {
		case "user", "group", "serviceprincipal", "directoryobject":
			types[tl] = true
		default:
			return badRequest(c.r, "Request_BadRequest", fmt.Sprintf("Invalid object type '%s'.", t))
		}
	}
	all := len(types) == 0 || types["directoryobject"]
	known := slices.Concat(userProps, groupProps, spProps)
	if !all && len(types) == 1 && types["user"] {
		known = userProps
	}
	sel, bad := parseSelect(c.r, known, "directoryObject")
	if bad != nil {
		return bad
	}
	lagging := s.lagging(in.IDs) // before s.mu: ctl is never taken under it here
	s.mu.RLock()
	defer s.mu.RUnlock()
	value := make([]map[string]any, 0, len(in.IDs))
	seen := map[string]bool{}
	for _, id := range in.IDs {
		if seen[id] || lagging[id] {
			continue
		}
		seen[id] = true
		typ := s.t.objectType(id)
		if typ == "" || (!all && !types[strings.ToLower(typ)]) {
			continue
		}
		if typ == "user" && s.t.users[id].softDeleted {
			continue
		}
		if v := s.directoryObjectJSON(id, sel, true, true); v != nil {
			value = append(value, v)
		}
	}
	return jsonResp(http.StatusOK, map[string]any{
		"@odata.context": metadataContext(c.r, "directoryObjects", nil),
		"value":          value,
	})
}
