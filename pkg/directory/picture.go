package directory

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"time"
)

// DeltaSource is a Source that can follow changes from what it read before
// instead of reading everything again. It still returns a complete Snapshot:
// the changes update a Picture of the directory, and the Snapshot is
// assembled from that picture exactly as a full read's would be.
type DeltaSource interface {
	Source
	// ReadChanges reads the directory from prev (nil: nothing remembered),
	// in full when FullReason says so, and returns the snapshot and the
	// picture to remember for the next read. It never changes prev, so a
	// failed read leaves the caller's picture as it was, unless
	// pol.Consume gives prev up.
	ReadChanges(ctx context.Context, prev *Picture, pol ReadPolicy) (*Snapshot, *Picture, error)
}

// ReadPolicy says when a delta-following reader must read in full.
type ReadPolicy struct {
	// Full asks for a full read: a full sync was requested.
	Full bool
	// MaxAge is the longest time between full reads, so that a change the
	// deltas missed heals; 0 reads in full every time.
	MaxAge time.Duration
	// Now is the time of the read.
	Now time.Time
	// Consume gives prev to the read, which may change it in place rather
	// than copy it; the caller does not use prev again, whatever the
	// outcome. For a picture decoded for this read alone: the copy would
	// be 19 MB more live heap at 100,000 people, for nothing.
	Consume bool
}

// FullReason says why a read from prev, by a reader whose picture key is
// key, must be a full read, or "" when following changes will do.
func FullReason(prev *Picture, key string, pol ReadPolicy) string {
	switch {
	case pol.MaxAge <= 0:
		return "delta reads are off (entra.full_read_interval is 0)"
	case pol.Full:
		return "a full sync was requested"
	case prev == nil:
		return "no earlier read is remembered"
	case prev.Version != PictureVersion:
		return "the remembered read is from another version of g2msync"
	case prev.Key != key:
		return "the configuration changed what is read (tenant, app, attributes or nested groups)"
	case prev.FullAt.After(pol.Now):
		// A clock set back, or an edited file: the interval cannot be
		// counted from a time still to come.
		return fmt.Sprintf("the last full read is dated %s, after now", prev.FullAt.UTC().Format(time.RFC3339))
	case pol.Now.Sub(prev.FullAt) >= pol.MaxAge:
		return fmt.Sprintf("the last full read was at %s, %s or more ago (entra.full_read_interval)",
			prev.FullAt.UTC().Format(time.RFC3339), pol.MaxAge)
	}
	return ""
}

// PictureVersion is the layout of Picture; a picture of another version is
// not used. 2: the body in its own layout (picturebody.go) instead of gob.
const PictureVersion = 2

// Picture is what a delta-following reader keeps of the directory between
// reads: the people reached and the members of assigned groups, with the
// links from which Graph reports what changed since. The app and its
// assignments are not kept: Graph has no delta for them, so every read
// lists them in full.
type Picture struct {
	Version int
	// Key names what the picture was read for (tenant, Graph base URL,
	// selected attributes, nested groups). A reader with another key reads
	// in full.
	Key string
	// FullAt is when the last full read started.
	FullAt time.Time
	// AppID is the service principal whose assignments were read.
	AppID string

	// Members maps each assigned group's id to its user members' ids.
	Members map[string][]string
	// Users holds every user reached, by id (Assignments empty).
	Users map[string]User
	// Absent holds ids reached (assigned, or a group's members) that read
	// as no user: deleted since, not a user, or left out of a reply by
	// Graph's replication lag. Every delta read asks for them again, in the
	// getByIds call it makes for the newly reached (one per 1,000 ids).
	Absent map[string]bool

	// UserLink is the users/delta deltaLink.
	UserLink string
	// GroupLinks are the groups/delta deltaLinks, each for up to 50 groups.
	GroupLinks []GroupLink

	// BodySum is the checksum of the encoded body, kept with the links so
	// that a damaged or edited body is refused rather than followed.
	BodySum string
}

// GroupLink is a groups/delta deltaLink and the groups it follows.
type GroupLink struct {
	Groups []string
	Link   string
}

// Clone returns a copy that shares no map or slice with p, so that a read
// can change it and be thrown away on failure.
func (p *Picture) Clone() *Picture {
	c := *p
	c.Members = make(map[string][]string, len(p.Members))
	for id, m := range p.Members {
		c.Members[id] = append([]string(nil), m...)
	}
	c.Users = maps.Clone(p.Users) // User values are replaced, never changed in place
	if c.Users == nil {
		c.Users = map[string]User{}
	}
	c.Absent = maps.Clone(p.Absent)
	if c.Absent == nil {
		c.Absent = map[string]bool{}
	}
	c.GroupLinks = make([]GroupLink, len(p.GroupLinks))
	for i, l := range p.GroupLinks {
		c.GroupLinks[i] = GroupLink{Groups: append([]string(nil), l.Groups...), Link: l.Link}
	}
	return &c
}

// pictureLinks and pictureBody are the two parts a picture is stored in:
// the links change every read, the body only when the directory does.
type pictureLinks struct {
	Version    int
	Key        string
	FullAt     time.Time
	AppID      string
	UserLink   string
	GroupLinks []GroupLink
	BodySum    string
}

// EncodePicture encodes p in two parts for a store: links, small and
// changed by every read, and, when withBody, the body, large and changed
// only when the directory is (nil otherwise: encoding 100,000 people costs
// more than the rest of a cycle that changed nothing). It records the
// body's checksum in p.BodySum and in the links.
func EncodePicture(p *Picture, withBody bool) (links, body []byte, err error) {
	if withBody {
		body = encodeBody(pictureBody{p.Members, p.Users, p.Absent})
		p.BodySum = bodySum(body)
	}
	var lb bytes.Buffer
	if err := gob.NewEncoder(&lb).Encode(pictureLinks{p.Version, p.Key, p.FullAt, p.AppID, p.UserLink, p.GroupLinks, p.BodySum}); err != nil {
		return nil, nil, fmt.Errorf("encode directory picture links: %w", err)
	}
	return lb.Bytes(), body, nil
}

func bodySum(body []byte) string {
	h := sha256.Sum256(body)
	return hex.EncodeToString(h[:])
}

// DecodePicture decodes what EncodePicture wrote. A picture this version
// cannot read is an error; the caller then reads in full. The picture
// keeps no reference to links or body, so they may be a store's mapped
// pages, valid only for the call.
func DecodePicture(links, body []byte) (*Picture, error) {
	if len(links) == 0 || len(body) == 0 {
		return nil, errors.New("decode directory picture: a part is missing")
	}
	var l pictureLinks
	if err := gob.NewDecoder(bytes.NewReader(links)).Decode(&l); err != nil {
		return nil, fmt.Errorf("decode directory picture links: %w", err)
	}
	if bodySum(body) != l.BodySum {
		return nil, errors.New("decode directory picture: its checksum does not match (damaged, or changed outside g2msync)")
	}
	b, err := decodeBody(body)
	if err != nil {
		return nil, fmt.Errorf("decode directory picture: %w", err)
	}
	return &Picture{Version: l.Version, Key: l.Key, FullAt: l.FullAt, AppID: l.AppID, UserLink: l.UserLink, GroupLinks: l.GroupLinks,
		BodySum: l.BodySum, Members: b.Members, Users: b.Users, Absent: b.Absent}, nil
}
