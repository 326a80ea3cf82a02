package graphsim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// call is one request on its way through a handler.
type call struct {
	r      *http.Request
	claims *accessClaims
}

func jsonResp(status int, v any) *resp {
	body, err := json.Marshal(v)
	if err != nil {
		// Every value marshalled here is built from strings, bools and maps.
		panic(fmt.Sprintf("graphsim: marshal response: %v", err))
	}
	return &resp{status: status, header: http.Header{}, body: body}
}

// graphError builds Graph's error body.
func graphError(r *http.Request, status int, code, message string) *resp {
	out := graphErrorAt(time.Now(), status, code, message)
	if id := r.Header.Get("client-request-id"); id != "" {
		out.header.Set("client-request-id", id)
	}
	return out
}

func graphErrorAt(now time.Time, status int, code, message string) *resp {
	rid := newRequestID()
	out := jsonResp(status, map[string]any{
		"error": map[string]any{
			"code":    code,
			"message": message,
			"innerError": map[string]any{
				"date":              now.UTC().Format("2006-01-02T15:04:05"),
				"request-id":        rid,
				"client-request-id": rid,
			},
		},
	})
	out.header.Set("request-id", rid)
	return out
}

func notFound(r *http.Request, id string) *resp {
	return graphError(r, http.StatusNotFound, "Request_ResourceNotFound",
		fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
}

func badRequest(r *http.Request, code, msg string) *resp {
	return graphError(r, http.StatusBadRequest, code, msg)
}

// queryValue reads an OData system query option, with or without its "$"
// (Graph v1.0 accepts both).
func queryValue(q url.Values, name string) string {
	if v := q.Get("$" + name); v != "" {
		return v
	}
	return q.Get(name)
}

// parseSelect returns the canonical names in $select, nil when absent, or a
// 400 naming the first unknown property.
func parseSelect(r *http.Request, known []string, typeName string) ([]string, *resp) {
	raw := queryValue(r.URL.Query(), "select")
	if raw == "" {
		return nil, nil
	}
	var out []string
	for _, p := range strings.Split(raw, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		name, ok := canonicalProp(p, known)
		if !ok {
			return nil, badRequest(r, "Request_BadRequest",
				fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.%s'.", p, typeName))
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// parseTop returns $top (default 100), or a 400 outside 1..999.
func parseTop(r *http.Request) (int, *resp) {
	raw := queryValue(r.URL.Query(), "top")
	if raw == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > 999 {
		return 0, badRequest(r, "Request_BadRequest",
			fmt.Sprintf("Invalid page size specified: '%s'. Must be between 1 and 999 inclusive.", raw))
	}
	return n, nil
}

// unsupported refuses query options the directory does not support here.
func unsupported(r *http.Request) *resp {
	q := r.URL.Query()
	for _, name := range []string{"skip", "orderby", "search", "expand"} {
		if queryValue(q, name) != "" {
			return badRequest(r, "Request_UnsupportedQuery", fmt.Sprintf("'$%s' is not supported by the service.", name))
		}
	}
	return nil
}

// skiptoken encodes a keyset cursor: the last key of the previous page. Keyset
// paging neither repeats nor skips objects that exist across both pages.
func encodeSkipToken(last string) string {
	return "RFNwdAIA" + base64.RawURLEncoding.EncodeToString([]byte("k:"+last))
}

func decodeSkipToken(tok string) (string, bool) {
	rest, ok := strings.CutPrefix(tok, "RFNwdAIA")
	if !ok {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return "", false
	}
	return strings.CutPrefix(string(b), "k:")
}

// withQuery returns the request's absolute URL with name set to value, or
// without name when value is "", writing "$" literally in option names as
// Graph does in its links.
func withQuery(r *http.Request, name, value string) string {
	q := r.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		if strings.TrimPrefix(k, "$") == strings.TrimPrefix(name, "$") {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(originOf(r))
	b.WriteString(r.URL.EscapedPath())
	sep := "?"
	add := func(k, v string) {
		b.WriteString(sep)
		sep = "&"
		b.WriteString(strings.ReplaceAll(url.QueryEscape(k), "%24", "$"))
		b.WriteString("=")
		b.WriteString(url.QueryEscape(v))
	}
	for _, k := range keys {
		for _, v := range q[k] {
			add(k, v)
		}
	}
	if name != "" && value != "" {
		add(name, value)
	}
	return b.String()
}

// pageOf serves one page of a keyed collection: ids sorted ascending, render
// builds the JSON of one id (nil skips it).
func pageOf(r *http.Request, ids []string, top int, context string, render func(id string) map[string]any) *resp {
	start := 0
	if tok := queryValue(r.URL.Query(), "skiptoken"); tok != "" {
		last, ok := decodeSkipToken(tok)
		if !ok {
			return badRequest(r, "Request_BadRequest", "The specified page token value has expired and can no longer be included in your request.")
		}
		start = sort.SearchStrings(ids, last)
		if start < len(ids) && ids[start] == last {
			start++
		}
	}
	end := min(start+top, len(ids))
	value := make([]map[string]any, 0, end-start)
	for _, id := range ids[start:end] {
		if v := render(id); v != nil {
			value = append(value, v)
		}
	}
	body := map[string]any{"@odata.context": context, "value": value}
	if end < len(ids) {
		body["@odata.nextLink"] = withQuery(r, "$skiptoken", encodeSkipToken(ids[end-1]))
	}
	return jsonResp(http.StatusOK, body)
}

// metadataContext builds an @odata.context value.
func metadataContext(r *http.Request, entitySet string, sel []string) string {
	c := originOf(r) + "/v1.0/$metadata#" + entitySet
	if sel != nil {
		c += "(" + strings.Join(sel, ",") + ")"
	}
	return c
}
