package graph

import "testing"

// A reply decodes as kiota's parse nodes read it: numbers as written when
// integers, as their shortest decimal otherwise; null as absent; lists
// joined; nested objects walked by dotted names.
func TestDecodeRawRendersValuesAsKiotaDid(t *testing.T) {
	obj, err := decodeRaw([]byte(`{"value":[{"id":"u1","employeeNumber":12345678901,"score":1.5e3,"ratio":0.25,"mail":null,
		"accountEnabled":false,"proxyAddresses":["SMTP:a@contoso.com","smtp:b@contoso.com"],"manager":{"id":"m1"}}],"@odata.nextLink":"https://graph/next"}`))
	if err != nil {
		t.Fatal(err)
	}
	items, next, err := obj.page()
	if err != nil || len(items) != 1 || next != "https://graph/next" {
		t.Fatalf("page: %d items, next %q, %v", len(items), next, err)
	}
	it := items[0]
	for name, want := range map[string]string{"employeeNumber": "12345678901", "score": "1500", "ratio": "0.25",
		"accountEnabled": "false", "proxyAddresses": "SMTP:a@contoso.com,smtp:b@contoso.com", "manager.id": "m1"} {
		v, _ := lookup(it, name)
		if got, ok := scalar(v); !ok || got != want {
			t.Errorf("%s: %q, %v; want %q", name, got, ok, want)
		}
	}
	if v, ok := lookup(it, "mail"); !ok {
		t.Error("a null property reads as absent from the reply")
	} else if s, ok := scalar(v); ok || s != "" {
		t.Errorf("null: %q, %v", s, ok)
	}
	for _, bad := range []string{``, `null`, `[]`, `"a"`, `{"value":[1]}`, `{"value":`, `{"value":{}}`, `{"value":[]} {"value":[{"id":"u2"}]}`, `{"value":[]}x`} {
		if obj, err := decodeRaw([]byte(bad)); err == nil {
			if _, _, err := obj.page(); err == nil {
				t.Errorf("%q read as a page", bad)
			}
		}
	}
}

// FuzzDecodeRaw: no reply makes decoding, paging or rendering panic.
func FuzzDecodeRaw(f *testing.F) {
	f.Add([]byte(`{"value":[{"id":"u1","n":1e400,"l":[1,"a",null,{"x":true}]}],"@odata.nextLink":"x"}`))
	f.Add([]byte(`{"value":[],"@odata.deltaLink":"y"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		obj, err := decodeRaw(body)
		if err != nil {
			return
		}
		items, _, err := obj.page()
		if err != nil {
			return
		}
		for _, it := range items {
			for k, v := range it {
				scalar(v)
				lookup(it, k+".x")
			}
		}
	})
}
