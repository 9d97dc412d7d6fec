package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/ironkv/ironkv/kvtest"
)

// FuzzKeyRoutes checks keyRoutes.serve against the Handler's own
// ServeMux: whenever it takes a request, the mux would have routed it to
// the same pattern with the same path values.
func FuzzKeyRoutes(f *testing.F) {
	for _, p := range []string{
		"/buckets/b/keys/k", "/buckets/b/keys/a/b/c", "/buckets/b/keys/a%2Fb", "/buckets/b%2Fc/keys/k",
		"/buckets/b/keys/", "/buckets/b/k%65ys/k", "/buckets/b/keys/%zz", "/buckets/b/keys/user%3A1",
		"/buckets//keys/k", "/buckets/b/history/k", "/buckets/b/keys", "/buckets/keys/keys/keys",
		"/%62uckets/b/keys/k", "/buckets/b/keys/%E2%82%AC", "/buckets/b/keys/a%", "/buckets/b/keys/a+b",
	} {
		for _, m := range []string{"GET", "HEAD", "PUT", "DELETE", "POST", "PATCH"} {
			f.Add(m, p)
		}
	}
	h := New(kvtest.NewStore(f))
	f.Cleanup(func() { _ = h.Close() })
	f.Fuzz(func(t *testing.T, method, path string) {
		u, err := url.ParseRequestURI(path)
		if err != nil || u.RawQuery != "" || u.Fragment != "" || !validMethod(method) {
			return // net/http would not hand such a request to a handler
		}
		p := u.EscapedPath()
		if p == "" || p[0] != '/' || !cleanPath(p) {
			return // core.serve refuses it before any routing
		}
		r := &http.Request{Method: method, URL: u, Host: "example.com", Header: http.Header{}}
		var got struct {
			pattern, b, key string
			served          bool
		}
		record := func(w http.ResponseWriter, r *http.Request) {
			got.pattern, got.b, got.key, got.served = r.Pattern, r.PathValue("b"), r.PathValue("key"), true
		}
		fast := keyRoutes{get: record, put: record, del: record}
		if !fast.serve(httptest.NewRecorder(), r.Clone(t.Context()), p) {
			return
		}
		if !got.served {
			t.Fatalf("%s %s: serve reported true without calling the route", method, path)
		}
		_, pattern := h.mux.Handler(r)
		if pattern != got.pattern {
			t.Fatalf("%s %s: direct route %q, ServeMux %q", method, path, got.pattern, pattern)
		}
		// The values ServeMux gives for that pattern.
		var want struct{ b, key string }
		one := http.NewServeMux()
		one.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			want.b, want.key = r.PathValue("b"), r.PathValue("key")
		})
		one.ServeHTTP(httptest.NewRecorder(), r.Clone(t.Context()))
		if got.b != want.b || got.key != want.key {
			t.Fatalf("%s %s: direct route b=%q key=%q, ServeMux b=%q key=%q", method, path, got.b, got.key, want.b, want.key)
		}
	})
}

// validMethod reports whether m is an HTTP token, as net/http requires of
// a request's method.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || c == '(' || c == ')' || c == '<' || c == '>' || c == '@' || c == ',' ||
			c == ';' || c == ':' || c == '\\' || c == '"' || c == '/' || c == '[' || c == ']' || c == '?' ||
			c == '=' || c == '{' || c == '}' {
			return false
		}
	}
	return true
}

// BenchmarkKeyRouting compares what finding a key route costs through the
// Handler's ServeMux (the pattern and the path values, as ServeHTTP sets
// them) and through keyRoutes. Both copy the request first, so that each
// iteration starts without path values.
//
//	go test -run '^$' -bench KeyRouting -benchmem ./httpapi
func BenchmarkKeyRouting(b *testing.B) {
	h := New(kvtest.NewStore(b))
	defer h.Close()
	r := httptest.NewRequest("PUT", "/buckets/bench/keys/user%3A1", nil)
	nop := func(http.ResponseWriter, *http.Request) {}
	w := httptest.NewRecorder()
	b.Run("servemux", func(b *testing.B) {
		// The Handler's own patterns, each with a route that does nothing.
		var patterns []string
		for _, m := range []string{"GET", "PUT", "DELETE", "POST"} {
			for _, p := range []string{"/buckets", "/buckets/b", "/buckets/b/keys", "/buckets/b/keys/k", "/buckets/b/history/k",
				"/buckets/b/history", "/buckets/b/watch", "/buckets/b/events", "/x"} {
				_, pat := h.mux.Handler(httptest.NewRequest(m, p, nil))
				if !slices.Contains(patterns, pat) {
					patterns = append(patterns, pat)
				}
			}
		}
		mux := http.NewServeMux()
		for _, p := range patterns {
			mux.HandleFunc(p, nop)
		}
		b.ReportAllocs()
		for b.Loop() {
			r2 := *r
			mux.ServeHTTP(w, &r2)
		}
	})
	b.Run("direct", func(b *testing.B) {
		k := keyRoutes{get: nop, put: nop, del: nop}
		b.ReportAllocs()
		for b.Loop() {
			r2 := *r
			k.serve(w, &r2, r2.URL.EscapedPath())
		}
	})
}
