package graphsim

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// deltaState is what a delta token stands for: which objects and properties
// are tracked and the change sequence number it was issued at.
type deltaState struct {
	kind       string   // "user" or "group"
	sel        []string // nil = default properties
	filter     []string // object ids; nil = all
	seq        int64
	issued     time.Time
	initialURL string // where a reset sends the client (410 Location)
	expired    bool   // ExpireDeltaTokens
	reset      bool   // ForceDeltaReset
}

// deltaCursor holds the rest of a delta round between pages.
type deltaCursor struct {
	path    string
	items   []map[string]any
	next    *deltaState
	created time.Time
}

// deltaPageSize is used when the client sends no Prefer: odata.maxpagesize.
const deltaPageSize = 100

// maxDeltaFilterIDs is the documented cap on ids in a delta $filter.
const maxDeltaFilterIDs = 50

// ExpireDeltaTokens makes every delta link issued so far answer 400
// syncStateNotFound, as if its seven days had passed.
func (s *Server) ExpireDeltaTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.deltas {
		st.expired = true
	}
}

// ForceDeltaReset makes every delta link issued so far answer 410 Gone with
// a Location header holding the initial query: Graph's synchronization reset.
func (s *Server) ForceDeltaReset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.deltas {
		st.reset = true
	}
}

var (
	idEq    = regexp.MustCompile(`^(?i)id\s+eq\s+'([^']+)'$`)
	orSplit = regexp.MustCompile(`(?i)\s+or\s+`)
)

// parseIDFilter reads "id eq 'a' or id eq 'b'".
func parseIDFilter(raw string) ([]string, bool) {
	var ids []string
	for _, part := range orSplit.Split(strings.TrimSpace(raw), -1) {
		m := idEq.FindStringSubmatch(strings.TrimSpace(part))
		if m == nil {
			return nil, false
		}
		ids = append(ids, m[1])
	}
	return ids, true
}

func maxPageSize(r *http.Request) int {
	for _, pref := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(pref, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(k, "odata.maxpagesize") {
				if n, err := strconv.Atoi(v); err == nil && n > 0 {
					return min(n, 999)
				}
			}
		}
	}
	return deltaPageSize
}

func (s *Server) handleDelta(c *call, kind string) *resp {
	q := c.r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if tok := queryValue(q, "skiptoken"); tok != "" {
		cur := s.cursor[tok]
		if cur == nil || cur.path != c.r.URL.Path {
			return badRequest(c.r, "Request_BadRequest", "The specified page token value has expired and can no longer be included in your request.")
		}
		delete(s.cursor, tok)
		return s.deltaPage(c, cur, maxPageSize(c.r), now)
	}
	var st *deltaState
	if tok := queryValue(q, "deltatoken"); tok != "" && tok != "latest" {
		prev := s.deltas[tok]
		switch {
		case prev == nil || prev.kind != kind || prev.expired || now.Sub(prev.issued) > s.opts.DeltaTokenTTL:
			return badRequest(c.r, "syncStateNotFound", "The sync state generation is not found. The delta token is expired and data must be synchronized again.")
		case prev.reset:
			out := graphError(c.r, http.StatusGone, "resyncRequired", "A synchronization reset is required. Restart with the initial delta query.")
			out.header.Set("Location", prev.initialURL)
			return out
		}
		st = prev
	} else {
		known := userProps
		if kind == "group" {
			known = groupProps
		}
		sel, bad := parseSelect(c.r, known, kind)
		if bad != nil {
			return bad
		}
		var filter []string
		if raw := queryValue(q, "filter"); raw != "" {
			ids, ok := parseIDFilter(raw)
			if !ok {
				return badRequest(c.r, "Request_UnsupportedQuery", "Delta queries support only $filter=id eq '…' or id eq '…'.")
			}
			if len(ids) > maxDeltaFilterIDs {
				return badRequest(c.r, "Request_UnsupportedQuery", fmt.Sprintf("The $filter names %d ids; at most %d are supported.", len(ids), maxDeltaFilterIDs))
			}
			filter = ids
		}
		st = &deltaState{kind: kind, sel: sel, filter: filter, seq: -1, initialURL: withQuery(c.r, "deltatoken", "")}
		if tok == "latest" {
			// $deltatoken=latest: no objects, only a deltaLink from now on.
			next := &deltaState{kind: kind, sel: sel, filter: filter, seq: s.t.seq, issued: now, initialURL: st.initialURL}
			return s.deltaPage(c, &deltaCursor{path: c.r.URL.Path, items: []map[string]any{}, next: next, created: now}, maxPageSize(c.r), now)
		}
	}
	items := s.deltaItems(st)
	next := &deltaState{kind: kind, sel: st.sel, filter: st.filter, seq: s.t.seq, issued: now, initialURL: st.initialURL}
	s.purge(now)
	return s.deltaPage(c, &deltaCursor{path: c.r.URL.Path, items: items, next: next, created: now}, maxPageSize(c.r), now)
}

func (s *Server) purge(now time.Time) {
	for k, st := range s.deltas {
		if now.Sub(st.issued) > s.opts.DeltaTokenTTL+24*time.Hour {
			delete(s.deltas, k)
		}
	}
	for k, cur := range s.cursor {
		if now.Sub(cur.created) > time.Hour {
			delete(s.cursor, k)
		}
	}
}

// deltaPage serves the next page of a round: a nextLink while items remain,
// the deltaLink with a fresh token after the last.
func (s *Server) deltaPage(c *call, cur *deltaCursor, size int, now time.Time) *resp {
	n := min(size, len(cur.items))
	body := map[string]any{
		"@odata.context": metadataContext(c.r, cur.next.kind+"s", cur.next.sel) + "/delta",
		"value":          append([]map[string]any{}, cur.items[:n]...), // [] when nothing changed, never null
	}
	base := originOf(c.r) + c.r.URL.EscapedPath()
	if n < len(cur.items) {
		tok := newRequestID()
		s.cursor[tok] = &deltaCursor{path: cur.path, items: cur.items[n:], next: cur.next, created: now}
		body["@odata.nextLink"] = base + "?$skiptoken=" + tok
	} else {
		tok := newRequestID()
		s.deltas[tok] = cur.next
		body["@odata.deltaLink"] = base + "?$deltatoken=" + tok
	}
	return jsonResp(http.StatusOK, body)
}

// deltaItems renders the changes after st.seq (everything when seq is -1).
func (s *Server) deltaItems(st *deltaState) []map[string]any {
	initial := st.seq < 0
	want := func(id string) bool { return st.filter == nil || slices.Contains(st.filter, id) }
	var items []map[string]any
	removed := func(id, reason string) map[string]any {
		return map[string]any{"id": id, "@removed": map[string]any{"reason": reason}}
	}
	if st.kind == "user" {
		ids := make([]string, 0, len(s.t.users))
		for id := range s.t.users {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			u := s.t.users[id]
			if !want(id) || (!initial && u.changed <= st.seq) {
				continue
			}
			switch {
			case u.softDeleted && initial:
			case u.softDeleted:
				items = append(items, removed(id, "changed"))
			case initial || u.whole > st.seq:
				out := userJSON(u, st.sel)
				out["id"] = id // delta always identifies the object
				items = append(items, out)
			default:
				// An update: the id and the selected properties changed
				// since the token, nothing else.
				out := map[string]any{"id": id}
				for k, v := range userJSON(u, st.sel) {
					if u.propChanged[k] > st.seq {
						out[k] = v
					}
				}
				if len(out) > 1 {
					items = append(items, out)
				}
			}
		}
	} else {
		members := st.sel != nil && slices.Contains(st.sel, "members")
		ids := make([]string, 0, len(s.t.groups))
		for id := range s.t.groups {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			g := s.t.groups[id]
			if !want(id) {
				continue
			}
			var md []map[string]any
			if members {
				md = s.membersDelta(g, st.seq)
			}
			if !initial && g.changed <= st.seq && len(md) == 0 {
				continue
			}
			out := groupJSON(g, st.sel)
			out["id"] = id
			if members {
				out["members@delta"] = md
			}
			items = append(items, out)
		}
	}
	if !initial {
		ids := make([]string, 0, len(s.t.tombs))
		for id, tb := range s.t.tombs {
			if tb.kind == st.kind && tb.seq > st.seq && want(id) {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		for _, id := range ids {
			items = append(items, removed(id, "deleted"))
		}
	}
	return items
}

// membersDelta lists the group's members (initial round) or the membership
// changes after seq, the last change per member winning.
func (s *Server) membersDelta(g *group, seq int64) []map[string]any {
	entry := func(id string) map[string]any {
		typ := s.t.objectType(id)
		if typ == "" {
			typ = "user"
		}
		return map[string]any{"@odata.type": "#microsoft.graph." + typ, "id": id}
	}
	out := []map[string]any{}
	if seq < 0 {
		for _, id := range s.t.directMembers(g) {
			out = append(out, entry(id))
		}
		return out
	}
	last := map[string]bool{}
	var order []string
	for _, ev := range g.log {
		if ev.seq <= seq {
			continue
		}
		if _, ok := last[ev.member]; !ok {
			order = append(order, ev.member)
		}
		last[ev.member] = ev.added
	}
	slices.Sort(order)
	for _, id := range order {
		e := entry(id)
		if !last[id] {
			e["@removed"] = map[string]any{"reason": "deleted"}
		}
		out = append(out, e)
	}
	return out
}
