package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"

	"github.com/g2msync/g2msync/pkg/directory"
)

var _ directory.DeltaSource = (*Source)(nil)

// deltaFilterIDs is how many groups one groups/delta request may follow:
// Graph's limit on ids in its $filter.
const deltaFilterIDs = 50

// ReadChanges reads the directory by following what changed since prev:
// the assignments in full (Graph has no delta for them), then users/delta
// and groups/delta from the links prev holds, applied to a copy of prev's
// picture (to prev itself when pol.Consume gives it up), and the
// attributes of anyone newly reached. It reads in full when pol or the
// picture say so, when nested groups are expanded (group delta reports
// direct members only), and when Graph refuses a delta link (410 Gone,
// syncStateNotFound, any other 4xx) or sends a change it cannot take for
// certain.
func (s *Source) ReadChanges(ctx context.Context, prev *directory.Picture, pol directory.ReadPolicy) (*directory.Snapshot, *directory.Picture, error) {
	reason := directory.FullReason(prev, s.key(), pol)
	if reason == "" && s.cfg.NestedGroups {
		reason = "entra.nested_groups is on, and Graph's group delta reports direct members only"
	}
	picture := pol.MaxAge > 0 && !s.cfg.NestedGroups
	if reason == "" {
		snap, next, err := s.readDelta(ctx, prev, pol.Consume)
		if err == nil || !isDoubt(err) {
			return snap, next, err
		}
		reason = doubtReason(err)
		s.log.WarnContext(ctx, "delta read refused; reading in full", logError, err.Error())
	}
	return s.readFull(ctx, picture, reason)
}

// key names what a picture holds: another tenant, Graph, selection or
// group expansion makes it useless.
func (s *Source) key() string {
	return strings.Join([]string{s.cfg.TenantID, s.base, fmt.Sprint(s.cfg.NestedGroups), strings.Join(s.selects, ",")}, "|")
}

// doubtError is a delta reply g2msync will not build on: the next read is
// a full one.
type doubtError struct{ msg string }

func (e *doubtError) Error() string { return e.msg }

// isDoubt reports whether err means "read in full" rather than "fail the
// read": Graph refused the delta link or query (410 Gone with a reset,
// syncStateNotFound, another 4xx but 401 and 429), or sent something the
// delta reader cannot apply for certain. Outages, throttling and refused
// credentials fail the read, as they would fail a full one.
func isDoubt(err error) bool {
	var d *doubtError
	if errors.As(err, &d) {
		return true
	}
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusUnauthorized && e.Status != http.StatusTooManyRequests
}

// doubtReason says briefly why a delta read gave way to a full one.
func doubtReason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return strings.TrimSpace(fmt.Sprintf("Graph refused a delta link (%d %s) to %s", e.Status, e.Code, e.Op))
	}
	return "a delta reply could not be applied for certain: " + err.Error()
}

func (s *Source) usersDeltaURL() string {
	return s.base + "/users/delta?$select=" + url.QueryEscape(strings.Join(s.selects, ","))
}

func (s *Source) groupsDeltaURL(ids []string) string {
	f := make([]string, len(ids))
	for i, id := range ids {
		f[i] = "id eq '" + strings.ReplaceAll(id, "'", "''") + "'"
	}
	return s.base + "/groups/delta?$select=members&$filter=" + strings.ReplaceAll(url.QueryEscape(strings.Join(f, " or ")), "+", "%20")
}

// latest returns a deltaLink from now for a delta query, listing nothing
// ($deltatoken=latest).
func (s *Source) latest(ctx context.Context, c call, query string) (string, error) {
	return s.round(ctx, c, query+"&$deltatoken=latest", func(map[string]any) error { return nil })
}

// groupLinks takes deltaLinks from now for groups, 50 a link.
func (s *Source) groupLinks(ctx context.Context, groups []groupRef) ([]directory.GroupLink, error) {
	ids := make([]string, len(groups))
	for i, g := range groups {
		ids[i] = g.id
	}
	var out []directory.GroupLink
	for chunk := range slices.Chunk(ids, deltaFilterIDs) {
		c := call{op: fmt.Sprintf("start following the members of %d assigned groups (groups/delta from now)", len(chunk)), permission: permGroupMember}
		link, err := s.latest(ctx, c, s.groupsDeltaURL(chunk))
		if err != nil {
			return nil, err
		}
		out = append(out, directory.GroupLink{Groups: slices.Clone(chunk), Link: link})
	}
	return out, nil
}

// round follows a delta query or link through its pages to the deltaLink,
// giving fn each item, and returns the deltaLink. Every link is checked
// like a nextLink: same origin as Graph, no page twice, bounded.
func (s *Source) round(ctx context.Context, c call, link string, fn func(map[string]any) error) (string, error) {
	pg := s.pager()
	u, err := pg.follow(link)
	if err != nil {
		return "", fmt.Errorf("%s: %w", c.op, err)
	}
	req := abs.NewRequestInformation()
	req.Method = abs.GET
	req.SetUri(*u)
	// Delta pages take no $top; Graph's default for directory objects is
	// 100 a page, this asks for its maximum.
	last, err := s.pages(ctx, c, pg, req, fmt.Sprintf("odata.maxpagesize=%d", pageSize), fn)
	if err != nil {
		return "", err
	}
	delta, _ := scalar(last.data["@odata.deltaLink"])
	if delta == "" {
		return "", &doubtError{c.op + ": the last page has neither a nextLink nor a deltaLink"}
	}
	if _, err := pg.onOrigin("@odata.deltaLink", delta); err != nil {
		return "", fmt.Errorf("%s: %w", c.op, err)
	}
	return delta, nil
}

// readDelta is ReadChanges' delta read. It changes a copy of prev, so a
// failure leaves prev as it was, or prev itself when the caller gives it up
// (consume).
func (s *Source) readDelta(ctx context.Context, prev *directory.Picture, consume bool) (*directory.Snapshot, *directory.Picture, error) {
	readAt := time.Now()
	ctx, cancelRead, m := s.startRead(ctx)
	defer cancelRead()
	pic := prev
	if !consume {
		pic = prev.Clone()
	}
	appID := prev.AppID
	members := make(map[string]map[string]bool, len(pic.Members))
	for gid, ids := range pic.Members {
		members[gid] = setOf(ids)
	}
	touched := map[string]bool{}

	// The assignments, the user changes and the membership changes are
	// three independent reads: made together, the read takes as long as
	// the longest (the assignments' pages) rather than the sum. Each
	// changes only its own part of the picture; the first failure stops
	// the others and fails the read.
	together, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var userChanges, groupChanges int
	var wg sync.WaitGroup
	wg.Go(func() {
		var err error
		if userChanges, err = s.userChanges(together, pic); err != nil {
			cancel(err)
		}
	})
	wg.Go(func() {
		var err error
		if groupChanges, err = s.groupChanges(together, pic, members, touched); err != nil {
			cancel(err)
		}
	})
	app, assignments, err := s.readAppAssignments(together)
	if err != nil {
		cancel(err)
	}
	wg.Wait()
	if err := context.Cause(together); err != nil {
		return nil, nil, err // the first failure, not what it cancelled
	}
	if app.ID != appID {
		return nil, nil, &doubtError{fmt.Sprintf("the service principal is %s, the remembered read was of %s", app.ID, appID)}
	}
	changes := userChanges + groupChanges

	// Groups assigned since: read their members whole, following them from
	// a link taken first.
	groups := assignedGroups(assignments)
	var fresh []groupRef
	for _, g := range groups {
		if _, ok := members[g.id]; !ok {
			fresh = append(fresh, g)
		}
	}
	if len(fresh) > 0 {
		links, err := s.groupLinks(ctx, fresh)
		if err != nil {
			return nil, nil, err
		}
		users, read, err := s.readGroups(ctx, fresh)
		if err != nil {
			return nil, nil, err
		}
		for gid, ids := range read {
			members[gid] = setOf(ids)
			touched[gid] = true
			changes++
		}
		for id, u := range users {
			if _, ok := pic.Users[id]; !ok {
				pic.Users[id] = u
			}
		}
		pic.GroupLinks = append(pic.GroupLinks, links...)
	}
	// Links that follow only deleted groups are dropped.
	pic.GroupLinks = slices.DeleteFunc(pic.GroupLinks, func(gl directory.GroupLink) bool {
		return !slices.ContainsFunc(gl.Groups, func(id string) bool { _, ok := members[id]; return ok })
	})
	for gid := range touched {
		if set, ok := members[gid]; ok {
			pic.Members[gid] = slices.Sorted(maps.Keys(set))
		} else {
			delete(pic.Members, gid)
		}
	}

	// Everyone reached is read; no one else is kept.
	reached := map[string]bool{}
	for _, id := range directUsers(assignments) {
		reached[id] = true
	}
	for _, g := range groups {
		for _, id := range pic.Members[g.id] {
			reached[id] = true
		}
	}
	// The absent are asked for again every time, with the newly reached,
	// in the same getByIds call: a reply may leave out a user that exists
	// (replication lag), and users/delta never names them again unless they
	// change, so a new hire would otherwise wait for the next full read.
	var missing []string
	for id := range reached {
		if _, ok := pic.Users[id]; !ok {
			missing = append(missing, id)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		if err := s.readUsers(ctx, missing, pic.Users); err != nil {
			return nil, nil, err
		}
		for _, id := range missing {
			_, found := pic.Users[id]
			switch {
			case found && pic.Absent[id]: // the lag is over
				delete(pic.Absent, id)
				changes++
			case !found && !pic.Absent[id]: // reached, and no user
				pic.Absent[id] = true
				changes++
			case found: // reached for the first time
				changes++
			}
		}
	}
	for id := range pic.Users {
		if !reached[id] {
			delete(pic.Users, id)
			changes++
		}
	}
	for id := range pic.Absent {
		if !reached[id] {
			delete(pic.Absent, id)
			changes++
		}
	}

	if changes == 0 {
		if snap := s.last.reuse(prev, pic, app, assignments, readAt, int(m.calls.Load())); snap != nil {
			s.log.DebugContext(ctx, "directory delta read: nothing changed", slog.Int("users", len(snap.Users)),
				slog.Int("calls", snap.Calls), slog.Int64(logDuration, time.Since(readAt).Milliseconds()))
			return snap, pic, nil
		}
	}
	followed := make(map[string][]string, len(groups))
	for _, g := range groups {
		followed[g.id] = pic.Members[g.id]
	}
	snap, err := directory.Assemble(directory.Reading{
		App: app, Assignments: assignments, Members: followed, Users: pic.Users,
		ReadAt: readAt, Calls: int(m.calls.Load()),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read assignments of %q: %w", app.DisplayName, err)
	}
	s.last.keep(pic, app, assignments, snap)
	snap.Delta, snap.Changes = true, changes
	s.log.DebugContext(ctx, "directory delta read", slog.Int("users", len(snap.Users)), slog.Int("groups", len(snap.Groups)),
		slog.Int("changes", changes), slog.Int("calls", snap.Calls), slog.Int64(logDuration, time.Since(readAt).Milliseconds()))
	return snap, pic, nil
}

// userChanges applies users/delta to the people the picture holds. A
// change to anyone else does not matter until they are reached, and then
// they are read whole. It returns how many changes it applied.
func (s *Source) userChanges(ctx context.Context, pic *directory.Picture) (int, error) {
	changes := 0
	link, err := s.round(ctx, call{op: "read changes to users (users/delta)", permission: permUser}, pic.UserLink,
		func(it map[string]any) error {
			id, _ := scalar(it["id"])
			if id == "" {
				return &doubtError{"a user change has no id"}
			}
			if pic.Absent[id] {
				delete(pic.Absent, id) // named again: read it if reached
				changes++
			}
			u, held := pic.Users[id]
			if _, gone := it["@removed"]; gone {
				if held {
					delete(pic.Users, id)
					changes++
				}
				return nil
			}
			if !held {
				return nil
			}
			nu, err := s.merge(u, it)
			if err != nil {
				return &doubtError{err.Error()}
			}
			pic.Users[id] = nu
			changes++
			return nil
		})
	if err != nil {
		return 0, err
	}
	pic.UserLink = link
	return changes, nil
}

// groupChanges applies groups/delta to the members of every group the
// picture follows, link by link, and returns how many changes it applied.
func (s *Source) groupChanges(ctx context.Context, pic *directory.Picture, members map[string]map[string]bool, touched map[string]bool) (int, error) {
	changes := 0
	for i, gl := range pic.GroupLinks {
		c := call{op: fmt.Sprintf("read membership changes of %d groups (groups/delta)", len(gl.Groups)), permission: permGroupMember}
		link, err := s.round(ctx, c, gl.Link, func(it map[string]any) error {
			gid, _ := scalar(it["id"])
			set, followed := members[gid]
			if !followed {
				return nil // a group this link does not follow, or one already deleted
			}
			if _, gone := it["@removed"]; gone {
				delete(members, gid)
				touched[gid] = true
				changes++
				return nil
			}
			md, ok := it["members@delta"]
			if !ok || md == nil {
				return nil // a change to the group's own properties
			}
			list, ok := md.([]any)
			if !ok {
				return &doubtError{fmt.Sprintf("members@delta of group %s is not a list", gid)}
			}
			for _, e := range list {
				mem, ok := e.(map[string]any)
				if !ok {
					return &doubtError{fmt.Sprintf("an entry of members@delta of group %s is not an object", gid)}
				}
				if t, _ := scalar(mem["@odata.type"]); t != "" && t != "#microsoft.graph.user" {
					continue // groups, devices and service principals are not people
				}
				uid, _ := scalar(mem["id"])
				if uid == "" {
					return &doubtError{fmt.Sprintf("an entry of members@delta of group %s has no id", gid)}
				}
				_, removed := mem["@removed"]
				if set[uid] == !removed {
					continue // a replay
				}
				if removed {
					delete(set, uid)
				} else {
					set[uid] = true
				}
				touched[gid] = true
				changes++
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		pic.GroupLinks[i].Link = link
	}
	return changes, nil
}

func setOf(ids []string) map[string]bool {
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return set
}
