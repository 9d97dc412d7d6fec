package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ironkv/ironkv/httpapi"
	"github.com/ironkv/ironkv/kvtest"
)

// TestKeyPathForms writes each key through one spelling of its path and
// reads it through every other: percent-encoded (as the Go and Python SDKs
// send keys) and raw (as the JavaScript SDKs do, '/' making more segments).
func TestKeyPathForms(t *testing.T) {
	e := newEnv(t)
	e.run(t, []scenario{{method: "POST", path: "/buckets", body: `{"name":"paths"}`, status: 201}})
	for _, tc := range []struct {
		key   string
		forms []string // path spellings after /keys/
	}{
		{"a/b", []string{"a/b", "a%2Fb", "a%2fb", url.PathEscape("a/b")}},
		{"a/b/c", []string{"a/b/c", "a%2Fb/c", "a/b%2Fc", "a%2Fb%2Fc"}},
		{"user:1", []string{"user:1", "user%3A1", "user%3a1"}},
		{"hello world", []string{"hello%20world"}},
		{"é.ü", []string{"%C3%A9.%C3%BC", "é.ü"}},
		{"a/", []string{"a/", "a%2F"}},
		{"a//b", []string{"a%2F%2Fb", "a/%2Fb"}},
		{"/lead", []string{"%2Flead"}},
		{"a/./b", []string{"a%2F.%2Fb"}},
		{"x=1&y=2", []string{"x=1&y=2", "x%3D1%26y%3D2"}},
		{"q?", []string{"q%3F"}},
		{"h#", []string{"h%23"}},
		{"100%", []string{"100%25"}},
		{"a+b", []string{"a+b", "a%2Bb"}},
		{"tab.sep-_~!$'()", []string{"tab.sep-_~!$'()", url.PathEscape("tab.sep-_~!$'()")}},
		{`quote"back\`, []string{url.PathEscape(`quote"back\`)}},
	} {
		t.Run(tc.key, func(t *testing.T) {
			e.t = t
			for i, w := range tc.forms {
				body := "v" + tc.key + string(rune('0'+i))
				r := e.do("PUT", "/buckets/paths/keys/"+w, body)
				if r.status != 200 {
					t.Fatalf("PUT via %q: %d %s", w, r.status, r.body)
				}
				for _, rf := range tc.forms {
					r := e.do("GET", "/buckets/paths/keys/"+rf, "")
					var got entryBody
					decode(t, r.body, &got)
					if r.status != 200 || got.Key != tc.key || string(*got.Value) != body {
						t.Fatalf("PUT via %q, GET via %q: %d %s; want key %q value %q", w, rf, r.status, r.body, tc.key, body)
					}
					r = e.do("GET", "/buckets/paths/history/"+rf, "")
					var h struct{ Entries []entryBody }
					decode(t, r.body, &h)
					if r.status != 200 || len(h.Entries) == 0 || h.Entries[len(h.Entries)-1].Key != tc.key ||
						string(*h.Entries[len(h.Entries)-1].Value) != body {
						t.Fatalf("history via %q: %d %s", rf, r.status, r.body)
					}
				}
			}
			lr := e.do("GET", "/buckets/paths/keys?filter="+url.QueryEscape(tc.key), "")
			var l struct{ Keys []string }
			decode(t, lr.body, &l)
			if len(l.Keys) != 1 || l.Keys[0] != tc.key {
				t.Fatalf("listing %q: %s", tc.key, lr.body)
			}
			if r := e.do("DELETE", "/buckets/paths/keys/"+tc.forms[len(tc.forms)-1], ""); r.status != 204 {
				t.Fatalf("DELETE: %d %s", r.status, r.body)
			}
			if r := e.do("GET", "/buckets/paths/keys/"+tc.forms[0], ""); r.status != 404 {
				t.Fatalf("GET after DELETE: %d %s", r.status, r.body)
			}
		})
	}
}

// TestPathsNeverRedirect checks that unclean paths, unknown routes and
// wrong methods all get JSON errors and no redirect, which would lose the
// host's mount prefix.
func TestPathsNeverRedirect(t *testing.T) {
	e := newEnv(t)
	e.run(t, []scenario{
		{method: "POST", path: "/buckets", body: `{"name":"b"}`, status: 201},
		{method: "GET", path: "//buckets", status: 400, code: "invalid_argument"},
		{method: "GET", path: "/buckets//b", status: 400, code: "invalid_argument"},
		{method: "GET", path: "/buckets/./b", status: 400, code: "invalid_argument"},
		{method: "GET", path: "/buckets/x/../b", status: 400, code: "invalid_argument"},
		{method: "GET", path: "/buckets/b/keys/a//b", status: 400, code: "invalid_argument", contains: "%2F"},
		{method: "PUT", path: "/buckets/b/keys/a/./b", body: "x", status: 400, code: "invalid_argument"},
		{method: "DELETE", path: "/buckets/b/keys/a/../../../SYS_config_default", status: 400, code: "invalid_argument"},
		{method: "GET", path: "/buckets/b/keys/.", status: 400, code: "invalid_argument"},
		{method: "GET", path: "/buckets/b/keys/..", status: 400, code: "invalid_argument"},
		{method: "GET", path: "/buckets/b/history", status: 404, code: "not_found"},
		{method: "GET", path: "/buckets/b/history/", status: 400, code: "invalid_argument"},
		{method: "GET", path: "/buckets/b/keys/", status: 400, code: "invalid_argument", contains: "empty"},
		{method: "GET", path: "/buckets/", status: 404, code: "not_found"},
		{method: "GET", path: "/", status: 404, code: "not_found"},
		{method: "GET", path: "/nope", status: 404, code: "not_found"},
		{method: "GET", path: "/buckets/b/nope", status: 404, code: "not_found"},
		{method: "GET", path: "/buckets/b/keys/k/../..", status: 400, code: "invalid_argument"},
		{method: "GET", path: "/buckets/b/keys/%2E%2E", status: 400, code: "invalid_argument"},
		{method: "GET", path: "/buckets/b/keys/%2e", status: 400, code: "invalid_argument"},
		{name: "wrong method on /buckets", method: "PUT", path: "/buckets", body: "{}", status: 405, code: "method_not_allowed",
			check: allow("GET, HEAD, POST")},
		{name: "wrong method on a bucket", method: "POST", path: "/buckets/b", status: 405, code: "method_not_allowed",
			check: allow("GET, HEAD, DELETE")},
		{name: "wrong method on keys", method: "DELETE", path: "/buckets/b/keys", status: 405, code: "method_not_allowed",
			check: allow("GET, HEAD")},
		{name: "wrong method on a key", method: "POST", path: "/buckets/b/keys/k", status: 405, code: "method_not_allowed",
			check: allow("GET, HEAD, PUT, DELETE")},
		{name: "PATCH on a key", method: "PATCH", path: "/buckets/b/keys/a/b", status: 405, code: "method_not_allowed",
			check: allow("GET, HEAD, PUT, DELETE")},
		{name: "wrong method on history", method: "PUT", path: "/buckets/b/history/k", status: 405, code: "method_not_allowed",
			check: allow("GET, HEAD")},
		{name: "OPTIONS without CORS", method: "OPTIONS", path: "/buckets/b", status: 405, code: "method_not_allowed"},
		{name: "custom method", method: "BREW", path: "/buckets", status: 405, code: "method_not_allowed"},
	})
}

func allow(want string) func(t *testing.T, r resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		if got := r.header.Get("Allow"); got != want {
			t.Fatalf("Allow %q, want %q", got, want)
		}
	}
}

// TestMountedUnderPrefix mounts the handler the way the server does, under
// /api/v1/kv with http.StripPrefix in a ServeMux, and checks that keys with
// '/', ':' and spaces work and that nothing redirects out of the prefix.
func TestMountedUnderPrefix(t *testing.T) {
	store := kvtest.NewStore(t)
	api := httpapi.New(store)
	t.Cleanup(func() { _ = api.Close() })
	mux := http.NewServeMux()
	mux.Handle("/api/v1/kv/", http.StripPrefix("/api/v1/kv", api))
	mux.Handle("/api/v1/kv", http.StripPrefix("/api/v1/kv", api))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctxT(t), method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		if r.StatusCode >= 300 && r.StatusCode < 400 {
			t.Fatalf("%s %s redirected (%d) to %q", method, path, r.StatusCode, r.Header.Get("Location"))
		}
		return r.StatusCode, string(b)
	}
	if st, b := do("POST", "/api/v1/kv/buckets", `{"name":"m"}`); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	for _, k := range []struct{ key, path string }{
		{"a/b", "a/b"}, {"a/b", "a%2Fb"}, {"user:1", "user%3A1"}, {"user:1", "user:1"}, {"two words", "two%20words"},
	} {
		if st, b := do("PUT", "/api/v1/kv/buckets/m/keys/"+k.path, "v-"+k.key); st != 200 {
			t.Fatalf("put %s: %d %s", k.path, st, b)
		}
		st, b := do("GET", "/api/v1/kv/buckets/m/keys/"+k.path, "")
		if st != 200 || !strings.Contains(b, `"key":`+jsonString(k.key)) {
			t.Fatalf("get %s: %d %s", k.path, st, b)
		}
	}
	for _, p := range []string{"/api/v1/kv", "/api/v1/kv/", "/api/v1/kv/buckets/m/history", "/api/v1/kv/buckets/m/keys/a%2F..%2Fb",
		"/api/v1/kv/buckets/m/keys/%2E%2E", "/api/v1/kv/buckets/m/history/", "/api/v1/kv/buckets/m/keys/"} {
		st, b := do("GET", p, "")
		if st < 400 || st >= 500 {
			t.Fatalf("GET %s: %d %s, want a 4xx", p, st, b)
		}
		if !strings.Contains(b, `"code"`) {
			t.Fatalf("GET %s: body %s is not an API error", p, b)
		}
	}
}

func jsonString(s string) string {
	b := strings.Builder{}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
	return b.String()
}
