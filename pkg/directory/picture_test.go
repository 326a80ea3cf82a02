package directory

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func picture(n int) *Picture {
	p := &Picture{Version: PictureVersion, Key: "k", FullAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), AppID: "sp",
		Members: map[string][]string{}, Users: map[string]User{}, Absent: map[string]bool{"gone": true},
		UserLink: "https://graph/users/delta?$deltatoken=a", GroupLinks: []GroupLink{{Groups: []string{"g0", "g1"}, Link: "https://graph/groups/delta?$deltatoken=b"}}}
	for i := range n {
		id := fmt.Sprintf("%08d-0000-4000-8000-000000000000", i)
		p.Users[id] = User{ID: id, UserPrincipalName: fmt.Sprintf("user%d@contoso.com", i), AccountEnabled: i%7 != 0,
			Attributes: map[string]string{"mail": fmt.Sprintf("user%d@contoso.com", i), "givenName": "Given", "surname": fmt.Sprint(i), "department": "Sales"},
			Lists:      map[string][]string{"proxyAddresses": {"SMTP:user@contoso.com"}}}
		g := fmt.Sprintf("g%d", i%10)
		p.Members[g] = append(p.Members[g], id)
	}
	return p
}

func TestPictureRoundTrip(t *testing.T) {
	p := picture(50)
	links, body, err := EncodePicture(p, true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodePicture(links, body)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(p, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	// Decoded from buffers that are then overwritten, as a store's mapped
	// pages are reused once its transaction ends: the picture keeps none.
	l2, b2 := bytes.Clone(links), bytes.Clone(body)
	kept, err := DecodePicture(l2, b2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range l2 {
		l2[i] = 'x'
	}
	for i := range b2 {
		b2[i] = 'x'
	}
	if d := cmp.Diff(p, kept); d != "" {
		t.Errorf("the picture changed with the buffers it was decoded from (-want +got):\n%s", d)
	}
	if _, err := DecodePicture(links, body[:len(body)/2]); err == nil {
		t.Error("a truncated picture decoded")
	}
	flipped := bytes.Clone(body)
	flipped[len(flipped)/2] ^= 1
	if _, err := DecodePicture(links, flipped); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("a damaged picture: %v", err)
	}
	// Links saved without the body keep the body's checksum.
	again, _, err := EncodePicture(got, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodePicture(again, body); err != nil {
		t.Errorf("links encoded without the body: %v", err)
	}
	if _, err := DecodePicture(links, nil); err == nil {
		t.Error("a picture without its body decoded")
	}
	c := p.Clone()
	c.Members["g0"][0] = "changed"
	c.GroupLinks[0].Groups[0] = "changed"
	c.Users["x"] = User{}
	c.Absent["y"] = true
	if p.Members["g0"][0] == "changed" || p.GroupLinks[0].Groups[0] == "changed" || len(p.Users) != 50 || p.Absent["y"] {
		t.Error("Clone shares maps or slices with the original")
	}
}

func TestFullReason(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	p := &Picture{Version: PictureVersion, Key: "k", FullAt: now.Add(-time.Hour)}
	pol := ReadPolicy{MaxAge: 24 * time.Hour, Now: now}
	if r := FullReason(p, "k", pol); r != "" {
		t.Errorf("fresh picture: %q", r)
	}
	for name, c := range map[string]struct {
		p   *Picture
		key string
		pol ReadPolicy
	}{
		"none":      {nil, "k", pol},
		"version":   {&Picture{Version: 0, Key: "k", FullAt: p.FullAt}, "k", pol},
		"key":       {p, "other", pol},
		"old":       {&Picture{Version: PictureVersion, Key: "k", FullAt: now.Add(-24 * time.Hour)}, "k", pol},
		"requested": {p, "k", ReadPolicy{Full: true, MaxAge: pol.MaxAge, Now: now}},
		"future":    {&Picture{Version: PictureVersion, Key: "k", FullAt: now.Add(time.Hour)}, "k", pol},
		"off":       {p, "k", ReadPolicy{Now: now}},
	} {
		if r := FullReason(c.p, c.key, c.pol); r == "" {
			t.Errorf("%s: no reason for a full read", name)
		}
	}
}

// BenchmarkPictureCodec is the state file's share of a delta cycle at
// 100,000 people: decoding the picture each cycle, encoding it when the
// directory changed.
func BenchmarkPictureCodec(b *testing.B) {
	p := picture(100_000)
	links, body, _ := EncodePicture(p, true)
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := EncodePicture(p, true); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(body))/1e6, "MB")
	})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodePicture(links, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("clone", func(b *testing.B) {
		for b.Loop() {
			p.Clone()
		}
	})
}

// BenchmarkAssemble is the join of a delta cycle at 100,000 people, as the
// bench tenant holds them: 30,000 assigned directly, 70,000 in ten groups.
func BenchmarkAssemble(b *testing.B) {
	p := picture(100_000)
	r := Reading{App: App{ID: "sp"}, Members: map[string][]string{}, Users: p.Users}
	i := 0
	for id := range p.Users {
		if i%10 < 3 {
			r.Assignments = append(r.Assignments, AppAssignment{PrincipalID: id, PrincipalType: PrincipalUser, AppRoleID: "admin"})
		} else {
			g := fmt.Sprintf("g%d", i%10)
			r.Members[g] = append(r.Members[g], id)
		}
		i++
	}
	for g := range r.Members {
		r.Assignments = append(r.Assignments, AppAssignment{PrincipalID: g, PrincipalType: PrincipalGroup, AppRoleID: "user"})
	}
	for b.Loop() {
		snap, err := Assemble(r)
		if err != nil || len(snap.Users) != 100_000 {
			b.Fatalf("%d users, %v", len(snap.Users), err)
		}
	}
}
