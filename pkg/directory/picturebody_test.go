package directory

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// edgePicture holds what a picture may hold at the edges: a user with no
// attribute, an empty list, nested-only groups, a group with no member,
// strings with every byte and an absent id.
func edgePicture() pictureBody {
	return pictureBody{
		Users: map[string]User{
			"a": {ID: "a", UserPrincipalName: "a@contoso.com", AccountEnabled: true},
			"b": {ID: "b", Attributes: map[string]string{"mail": "", "surname": "O'Brien \x00\xff\n"},
				Lists: map[string][]string{"proxyAddresses": {"SMTP:b@contoso.com", ""}, "otherMails": nil}, NestedOnly: []string{"g9"}},
		},
		Members: map[string][]string{"g1": {"a", "b", "a"}, "g2": nil},
		Absent:  map[string]bool{"gone": true},
	}
}

func TestPictureBodyRoundTrip(t *testing.T) {
	for name, b := range map[string]pictureBody{"empty": {}, "edges": edgePicture(), "many": {picture(300).Members, picture(300).Users, picture(300).Absent}} {
		body := encodeBody(b)
		got, err := decodeBody(body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// An empty list or map reads back as nil, which means the same.
		if d := cmp.Diff(b, got, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("%s: round trip (-want +got):\n%s", name, d)
		}
		if again := encodeBody(got); !bytes.Equal(again, body) {
			t.Errorf("%s: encoding is not the same every time", name)
		}
		if cap(body) != len(body) {
			t.Errorf("%s: buffer of %d for %d bytes", name, cap(body), len(body))
		}
	}
}

// TestPictureBodyRefusesDamage: every cut of a body is refused, and so are
// repeated keys, names out of range or unused and counts the body cannot
// hold.
func TestPictureBodyRefusesDamage(t *testing.T) {
	body := encodeBody(edgePicture())
	for n := range len(body) {
		if _, err := decodeBody(body[:n]); err == nil {
			t.Fatalf("a body cut to %d of %d bytes decoded", n, len(body))
		}
	}
	for name, damaged := range map[string][]byte{
		"trailing bytes": append(bytes.Clone(body), 0),
		"other magic":    append([]byte("g2mpic9\n"), body[len(bodyMagic):]...),
		"huge count":     append([]byte(bodyMagic), 0xff, 0xff, 0xff, 0xff, 0x0f),
		"overlong zero":  append([]byte(bodyMagic), 0x80, 0x00, 0, 0, 0),
		// no names; users: 2, "a" then "a" again.
		"repeated user": append([]byte(bodyMagic), 0, 2, 1, 'a', 0, 1, 0, 0, 0, 1, 'a', 0, 1, 0, 0, 0, 0, 0),
		"unused name":   append([]byte(bodyMagic), 1, 1, 'm', 0, 0, 0),
		// one user whose attribute names index 5 of 1 names.
		"name out of range": append([]byte(bodyMagic), 1, 1, 'm', 1, 1, 'a', 0, 1, 1, 5, 0, 0, 0, 0, 0),
		"enabled is 2":      append([]byte(bodyMagic), 0, 1, 1, 'a', 0, 2, 0, 0, 0, 0, 0),
	} {
		if _, err := decodeBody(damaged); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	// The hand-made bodies above are refused for the reason named, not for
	// a mistake in them: the same bytes with the fault mended decode.
	if _, err := decodeBody(append([]byte(bodyMagic), 0, 2, 1, 'a', 0, 1, 0, 0, 0, 1, 'b', 0, 1, 0, 0, 0, 0, 0)); err != nil {
		t.Errorf("two users in order: %v", err)
	}
	if _, err := decodeBody(append([]byte(bodyMagic), 1, 1, 'm', 1, 1, 'a', 0, 1, 1, 0, 0, 0, 0, 0, 0)); err != nil {
		t.Errorf("an attribute name in range: %v", err)
	}
}

// FuzzPictureBody: no body makes the decoder panic or allocate beyond what
// it holds, and a body that decodes is exactly what encodeBody writes for
// what it decoded to.
func FuzzPictureBody(f *testing.F) {
	f.Add(encodeBody(pictureBody{}))
	f.Add(encodeBody(edgePicture()))
	p := picture(5)
	f.Add(encodeBody(pictureBody{p.Members, p.Users, p.Absent}))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := decodeBody(body)
		if err != nil {
			return
		}
		if again := encodeBody(b); !bytes.Equal(again, body) {
			t.Fatalf("decoded %q, which encodes to %q", body, again)
		}
	})
}
