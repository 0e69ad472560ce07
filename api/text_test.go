package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"tandem/api"
)

// One rule at the edge: text with a NUL, another control character or bytes
// that are not UTF-8, in any query parameter or any string field of any
// route's body, is a client error (400 invalid_text, 404 in a path), never
// a 500, and nothing of it reaches the database or the trail.
func TestHostileTextIsAClientErrorOnEveryRoute(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the stack")
	}
	s := newStack(t)
	caseID := s.openCase(tenantA, sampleCase()).Case.ID
	// Every role, stepped up, so authorisation lets each request reach its
	// validation: who may do what is tested elsewhere.
	whos := []string{tenantA, tenantA + "/admin+totp", tenantA + "/supervisor+totp", tenantA + "/finance+totp", tenantA + "/compliance+totp", tenantA + "/agent"}
	bad := []string{"a\x00b", "a\x01b", "\x7f", "\u0085"}
	path := func(e api.Endpoint) string {
		p := e.Path
		for _, seg := range strings.Split(p, "/") {
			if name, ok := strings.CutPrefix(seg, ":"); ok {
				v := "x"
				if name == "id" || name == "case" {
					v = caseID
				}
				p = strings.Replace(p, seg, v, 1)
			}
		}
		return p
	}
	sent := 0
	check := func(e api.Endpoint, what string, r response) {
		t.Helper()
		sent++
		if r.Status >= 500 {
			t.Errorf("%s %s with %s: %d %s", e.Method, e.Path, what, r.Status, r.Body)
		}
	}
	for _, e := range api.Endpoints {
		if e.Path == "/v1/events" || !strings.HasPrefix(e.Path, "/v1/") {
			continue // a stream; the probes take no input
		}
		for _, q := range e.Query {
			for _, v := range bad {
				r := s.do(e.Method, path(e)+"?"+q+"="+url.QueryEscape(v), whos[1], nil)
				check(e, "query "+q+"="+url.QueryEscape(v), r)
				if r.Status != http.StatusBadRequest && r.Status != http.StatusUnauthorized && r.Status != http.StatusForbidden {
					t.Errorf("%s %s?%s=%q: %d, want 400 (or a refusal before it)", e.Method, e.Path, q, v, r.Status)
				}
			}
		}
		if e.Request == nil {
			continue
		}
		for _, field := range stringFields(reflect.TypeOf(e.Request), "") {
			for _, v := range bad {
				body := bodyWith(field, v)
				for _, who := range whos {
					check(e, fmt.Sprintf("body %v", body), s.do(e.Method, path(e), who, body))
				}
			}
		}
		// Bytes that are not UTF-8 in a body.
		for _, who := range whos {
			check(e, "a body that is not UTF-8", s.do(e.Method, path(e), who, []byte("{\"x\":\"\xff\xfe\"}")))
		}
	}
	if sent < 500 {
		t.Fatalf("only %d requests sent: the table was not walked", sent)
	}
}

// The findings one by one: each was a 500, or wrote what it was sent onto
// the trail.
func TestHostileTextFindings(t *testing.T) {
	s := newStack(t)
	c := s.openCase(tenantA, sampleCase()).Case
	for _, tc := range []struct {
		name, method, path, who string
		body                    any
		status                  int
		code                    string
	}{
		{"a NUL in the audit filter", "GET", "/v1/audit/events?case_id=%00", tenantA + "/compliance", nil, 400, "invalid_text"},
		{"free text as the audit filter", "GET", "/v1/audit/events?case_id=anything+at+all", tenantA + "/compliance", nil, 422, "validation_failed"},
		{"bytes that are not UTF-8 in a cursor", "GET", "/v1/cases?cursor=%FF%FE", tenantA, nil, 400, "invalid_text"},
		{"a NUL in a KB intent", "POST", "/v1/kb/articles", tenantA + "/admin",
			map[string]any{"intent": "a\x00", "locale": "en", "title": "t", "answer": "a", "questions": []string{"q"}}, 400, "invalid_text"},
		{"a NUL in a KB title", "POST", "/v1/kb/articles", tenantA + "/admin",
			map[string]any{"intent": "x", "locale": "en", "title": "t\x00", "answer": "a", "questions": []string{"q"}}, 400, "invalid_text"},
		{"a NUL in a KB domain", "POST", "/v1/kb/articles", tenantA + "/admin",
			map[string]any{"intent": "x", "locale": "en", "title": "t", "answer": "a", "questions": []string{"q"}, "domain": "\x00"}, 400, "invalid_text"},
		{"a NUL in an API key's name", "POST", "/v1/admin/api-keys", tenantA + "/admin+totp", map[string]any{"name": "k\x00"}, 400, "invalid_text"},
		{"a NUL in an order reference", "POST", "/v1/cases/" + c.ID + "/refunds", tenantA,
			map[string]any{"order_ref": "1\x00", "amount": "1.00", "currency": "EUR", "reason_code": "damaged"}, 400, "invalid_text"},
		{"a message that is not UTF-8", "POST", "/v1/cases/" + c.ID + "/messages", tenantA, []byte("{\"body\":\"hi \xff\"}"), 400, "invalid_text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(tc.method, tc.path, tc.who, tc.body)
			if r.Status != tc.status || r.errorCode(t) != tc.code {
				t.Fatalf("%d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
			}
		})
	}
}

// stringFields lists the JSON paths of a request type's string fields (a
// list's first element stands for all).
func stringFields(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return []string{prefix}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil
		}
		return stringFields(t.Elem(), prefix+"[]")
	case reflect.Struct:
		var out []string
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			p := name
			if prefix != "" {
				p = prefix + "." + name
			}
			out = append(out, stringFields(f.Type, p)...)
		}
		return out
	}
	return nil
}

// bodyWith is a JSON body whose field at path (a.b, a[].b) holds v.
func bodyWith(path string, v string) map[string]any {
	root := map[string]any{}
	cur := root
	parts := strings.Split(path, ".")
	for i, p := range parts {
		name, list := strings.CutSuffix(p, "[]")
		last := i == len(parts)-1
		switch {
		case last && list:
			cur[name] = []any{v}
		case last:
			cur[name] = v
		case list:
			next := map[string]any{}
			cur[name] = []any{next}
			cur = next
		default:
			next := map[string]any{}
			cur[name] = next
			cur = next
		}
	}
	return root
}

// A body that is not declared JSON is refused (415) before anything reads
// it: a page elsewhere can post a form without asking, but not JSON.
func TestOnlyJSONBodies(t *testing.T) {
	s := newStack(t)
	for _, ct := range []string{"application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", ""} {
		r := s.do("POST", "/v1/cases", tenantA, sampleCase(), "Content-Type", ct)
		if r.Status != http.StatusUnsupportedMediaType || r.errorCode(t) != "unsupported_media_type" {
			t.Errorf("Content-Type %q: %d %s, want 415", ct, r.Status, r.Body)
		}
	}
	if r := s.do("POST", "/v1/cases", tenantA, sampleCase(), "Content-Type", "application/json; charset=utf-8"); r.Status != http.StatusCreated {
		t.Errorf("JSON with a charset: %d %s", r.Status, r.Body)
	}
}
