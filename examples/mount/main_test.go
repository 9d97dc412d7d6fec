package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/ironkv/ironkv/httpapi"
	"github.com/ironkv/ironkv/kvtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// routers are the two host apps under test.
var routers = []struct {
	name   string
	newApp func(api http.Handler) http.Handler
}{
	{"gorilla", newGorillaApp},
	{"servemux", newServeMuxApp},
}

// app is a host app served by httptest on a store of its own, with a client
// that does not follow redirects.
type app struct {
	t      *testing.T
	base   string
	client *http.Client
}

// startApp serves newApp(api) for the test. The server echoes the request
// URI it received in X-Request-Uri, so that do can check that the path
// arrived as the test wrote it (percent-encoded or raw, clean or not).
func startApp(t *testing.T, newApp func(api http.Handler) http.Handler) *app {
	t.Helper()
	store := kvtest.NewStore(t)
	api := httpapi.New(store)
	t.Cleanup(func() { api.Close() })
	h := newApp(api)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Uri", r.RequestURI)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &app{t: t, base: srv.URL, client: c}
}

type response struct {
	status int
	header http.Header
	body   []byte
	url    string // of the last request, after redirects
}

// do sends a request for path (with its query, if any) and returns the
// answer, failing the test when the server got another path than path.
func (a *app) do(method, path, body string) response {
	a.t.Helper()
	r := do(a.t, a.client, a.base, method, path, body)
	if got := r.header.Get("X-Request-Uri"); r.url == a.base+path && got != path {
		a.t.Fatalf("%s %s: the server got %q", method, path, got)
	}
	return r
}

// do sends a request for base+path with c.

func do(t *testing.T, c *http.Client, base, method, path, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{resp.StatusCode, resp.Header, b, resp.Request.URL.String()}
}

// want fails the test unless r has the status; it returns r for chaining.
func (r response) want(t *testing.T, what string, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.status, status, r.body)
	}
	return r
}

// decode decodes r's JSON body into v.
func (r response) decode(t *testing.T, what string, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s: body %s: %v", what, r.body, err)
	}
}

type entry struct {
	Key      string `json:"key"`
	Value    []byte `json:"value"` // base64 on the wire
	Revision uint64 `json:"revision"`
}

type keyList struct {
	Keys  []string `json:"keys"`
	Count int      `json:"count"`
}

type apiError struct {
	Code string `json:"code"`
}

func (a *app) createBucket(name string) {
	a.t.Helper()
	a.do("POST", "/kv/buckets", `{"name":"`+name+`"}`).want(a.t, "create bucket "+name, http.StatusCreated)
}

func (a *app) keys(bucket string) []string {
	a.t.Helper()
	var l keyList
	a.do("GET", "/kv/buckets/"+bucket+"/keys", "").want(a.t, "list keys", http.StatusOK).decode(a.t, "list keys", &l)
	if l.Keys == nil || l.Count != len(l.Keys) {
		a.t.Fatalf("list keys: keys %q, count %d", l.Keys, l.Count)
	}
	return l.Keys
}

// keyCases are keys holding '/', ':' and spaces, each with the paths that
// address it: percent-encoded, and raw where the raw form is a clean path
// (a space is always sent encoded).
var keyCases = []struct {
	key   string
	paths []string
}{
	{"a/b", []string{"a%2Fb", "a/b"}},
	{"user:1", []string{"user%3A1", "user:1"}},
	{"with space", []string{"with%20space"}},
	{"dir/user:1/with space", []string{"dir%2Fuser%3A1%2Fwith%20space", "dir/user:1/with%20space", "dir/user%3A1/with%20space"}},
	{"a//b", []string{"a%2F%2Fb"}},         // raw, a//b is not clean
	{"/lead/", []string{"%2Flead%2F"}},     // raw, //lead/ is not clean
	{"mixed/enc", []string{"mixed%2fenc"}}, // lower-case hex
}

// TestKeysThroughMount writes a key through each of its paths and reads and
// deletes it through all the others: every form addresses the same key, and
// the key list holds it, decoded, once.
func TestKeysThroughMount(t *testing.T) {
	for _, rt := range routers {
		t.Run(rt.name, func(t *testing.T) {
			a := startApp(t, rt.newApp)
			a.createBucket("docs")
			for _, kc := range keyCases {
				for i, put := range kc.paths {
					value := "value via " + put
					var rev struct {
						Revision uint64 `json:"revision"`
					}
					a.do("PUT", "/kv/buckets/docs/keys/"+put, value).
						want(t, "PUT "+put, http.StatusOK).decode(t, "PUT "+put, &rev)
					for _, get := range kc.paths {
						var e entry
						a.do("GET", "/kv/buckets/docs/keys/"+get, "").
							want(t, "GET "+get, http.StatusOK).decode(t, "GET "+get, &e)
						if e.Key != kc.key || string(e.Value) != value || e.Revision != rev.Revision {
							t.Fatalf("PUT %s, GET %s: key %q value %q revision %d; want %q %q %d",
								put, get, e.Key, e.Value, e.Revision, kc.key, value, rev.Revision)
						}
					}
					if got := a.keys("docs"); !slices.Equal(got, []string{kc.key}) {
						t.Fatalf("after PUT %s: keys %q, want [%q]", put, got, kc.key)
					}
					del := kc.paths[(i+1)%len(kc.paths)]
					a.do("DELETE", "/kv/buckets/docs/keys/"+del, "").want(t, "DELETE "+del, http.StatusNoContent)
					for _, get := range kc.paths {
						var e apiError
						a.do("GET", "/kv/buckets/docs/keys/"+get, "").
							want(t, "GET "+get+" after DELETE "+del, http.StatusNotFound).decode(t, "GET "+get, &e)
						if e.Code != "key_not_found" {
							t.Fatalf("GET %s after DELETE %s: code %q, want key_not_found", get, del, e.Code)
						}
					}
					if got := a.keys("docs"); len(got) != 0 {
						t.Fatalf("after DELETE %s: keys %q, want none", del, got)
					}
				}
			}
		})
	}
}

// TestKeyList puts every key through one of its paths and lists them.
func TestKeyList(t *testing.T) {
	for _, rt := range routers {
		t.Run(rt.name, func(t *testing.T) {
			a := startApp(t, rt.newApp)
			a.createBucket("docs")
			if got := a.keys("docs"); len(got) != 0 {
				t.Fatalf("empty bucket: keys %q", got)
			}
			var want []string
			for i, kc := range keyCases {
				p := kc.paths[i%len(kc.paths)]
				a.do("PUT", "/kv/buckets/docs/keys/"+p, "v").want(t, "PUT "+p, http.StatusOK)
				want = append(want, kc.key)
			}
			slices.Sort(want)
			if got := a.keys("docs"); !slices.Equal(got, want) {
				t.Fatalf("keys %q, want %q", got, want)
			}
			var page struct {
				Keys []string `json:"keys"`
				Next string   `json:"next"`
			}
			a.do("GET", "/kv/buckets/docs/keys?limit=2", "").want(t, "list a page", http.StatusOK).decode(t, "list a page", &page)
			if !slices.Equal(page.Keys, want[:2]) || page.Next != want[1] {
				t.Fatalf("first page: keys %q next %q, want %q next %q", page.Keys, page.Next, want[:2], want[1])
			}
			var e apiError
			a.do("GET", "/kv/buckets/nope/keys", "").want(t, "list a missing bucket", http.StatusNotFound).decode(t, "list", &e)
			if e.Code != "bucket_not_found" {
				t.Fatalf("list a missing bucket: code %q", e.Code)
			}
		})
	}
}

// TestInvalidKeys checks that keys the API refuses are refused through the
// mount too, whatever their encoding, and nothing is written.
func TestInvalidKeys(t *testing.T) {
	for _, rt := range routers {
		t.Run(rt.name, func(t *testing.T) {
			a := startApp(t, rt.newApp)
			a.createBucket("docs")
			for _, p := range []string{"x%2F..%2Fy", "%2E%2E", "a%2A", "a%3E", "a%00b"} {
				var e apiError
				a.do("PUT", "/kv/buckets/docs/keys/"+p, "v").want(t, "PUT "+p, http.StatusBadRequest).decode(t, "PUT "+p, &e)
				if e.Code != "invalid_argument" {
					t.Fatalf("PUT %s: code %q", p, e.Code)
				}
			}
			if got := a.keys("docs"); len(got) != 0 {
				t.Fatalf("keys %q, want none", got)
			}
		})
	}
}

// TestUncleanPaths checks that a path under the prefix that is not clean
// gets the API's 400, never a redirect to the cleaned path (which would
// address another key), and writes nothing.
func TestUncleanPaths(t *testing.T) {
	paths := []string{
		"/kv/buckets/docs/keys/a//b",
		"/kv/buckets/docs/keys/a/./b",
		"/kv/buckets/docs/keys/a/../b",
		"/kv/buckets/docs/keys/./b",
		"/kv/buckets/docs/keys/b/.",
		"/kv/buckets/docs/keys/b/..",
		"/kv/buckets/docs/keys/a//",
		"/kv//buckets/docs/keys/b",
		"/kv/./buckets/docs/keys/b",
		"/kv/../kv/buckets/docs/keys/b",
		"/kv/buckets/docs/keys/a//b?revision=1",
	}
	for _, rt := range routers {
		t.Run(rt.name, func(t *testing.T) {
			a := startApp(t, rt.newApp)
			a.createBucket("docs")
			for _, p := range paths {
				for _, method := range []string{"GET", "PUT", "DELETE"} {
					r := a.do(method, p, "v")
					if loc := r.header.Get("Location"); loc != "" {
						t.Errorf("%s %s: %d redirect to %s", method, p, r.status, loc)
						continue
					}
					var e apiError
					r.want(t, method+" "+p, http.StatusBadRequest).decode(t, method+" "+p, &e)
					if e.Code != "invalid_argument" {
						t.Errorf("%s %s: code %q, want invalid_argument", method, p, e.Code)
					}
				}
			}
			if got := a.keys("docs"); len(got) != 0 {
				t.Fatalf("keys %q, want none", got)
			}
		})
	}
}

// TestAppRoutes checks that the host app's own routes work next to the
// mounted API, and that each answers what is its own.
func TestAppRoutes(t *testing.T) {
	cases := []struct {
		method, path string
		status       int
		body         string // a prefix of the body
	}{
		{"GET", "/", http.StatusOK, "the host app; the ironkv API is under /kv/"},
		{"GET", "/hello/ada", http.StatusOK, "hello, ada\n"},
		{"GET", "/hello/with%20space", http.StatusOK, "hello, with space\n"},
		{"GET", "/hello/a%2Fb", http.StatusOK, "hello, a/b\n"},
		{"GET", "/hello/user%3A1", http.StatusOK, "hello, user:1\n"},
		{"POST", "/", http.StatusMethodNotAllowed, ""},
		{"GET", "/nope", http.StatusNotFound, "404 page not found"},        // the app's 404
		{"GET", "/kvx/buckets", http.StatusNotFound, "404 page not found"}, // not under the prefix
		{"GET", "/kv/nope", http.StatusNotFound, `{"error":`},              // the API's
		{"GET", "/kv/buckets", http.StatusOK, `{"buckets":[`},
		{"PATCH", "/kv/buckets", http.StatusMethodNotAllowed, `{"error":`},
	}
	for _, rt := range routers {
		t.Run(rt.name, func(t *testing.T) {
			a := startApp(t, rt.newApp)
			for _, c := range cases {
				r := a.do(c.method, c.path, "")
				r.want(t, c.method+" "+c.path, c.status)
				if !bytes.HasPrefix(r.body, []byte(c.body)) {
					t.Errorf("%s %s: body %q, want it to start with %q", c.method, c.path, r.body, c.body)
				}
			}
		})
	}
}

// TestWithoutTheFixes records why the apps are set up as they are: a
// gorilla router without UseEncodedPath and SkipClean, and a bare ServeMux,
// redirect paths under the prefix to other keys. When a new version of
// either stops doing so, this test says so.
func TestWithoutTheFixes(t *testing.T) {
	mount := func(r *mux.Router) func(http.Handler) http.Handler {
		return func(api http.Handler) http.Handler {
			r.PathPrefix("/kv/").Handler(http.StripPrefix("/kv", api))
			return r
		}
	}
	cases := []struct {
		name     string
		newApp   func(http.Handler) http.Handler
		path     string
		status   int
		location string
	}{
		// gorilla cleans the decoded path: the key "a//b", sent encoded,
		// becomes a/b.
		{"gorilla default", mount(mux.NewRouter()), "a%2F%2Fb", http.StatusMovedPermanently, "/kv/buckets/docs/keys/a/b"},
		{"gorilla default", mount(mux.NewRouter()), "%2Flead", http.StatusMovedPermanently, "/kv/buckets/docs/keys/lead"},
		// With UseEncodedPath it cleans the path as sent.
		{"gorilla UseEncodedPath", mount(mux.NewRouter().UseEncodedPath()), "a//b", http.StatusMovedPermanently, "/kv/buckets/docs/keys/a/b"},
		{"gorilla UseEncodedPath", mount(mux.NewRouter().UseEncodedPath()), "a/../b", http.StatusMovedPermanently, "/kv/buckets/docs/keys/b"},
		// ServeMux cleans too, with a 307 that keeps method and body.
		{"ServeMux alone", func(api http.Handler) http.Handler {
			m := http.NewServeMux()
			m.Handle("/kv/", http.StripPrefix("/kv", api))
			return m
		}, "a//b", http.StatusTemporaryRedirect, "/kv/buckets/docs/keys/a/b"},
	}
	for _, c := range cases {
		t.Run(c.name+" "+c.path, func(t *testing.T) {
			a := startApp(t, c.newApp)
			a.createBucket("docs")
			r := a.do("PUT", "/kv/buckets/docs/keys/"+c.path, "v").want(t, "PUT "+c.path, c.status)
			if loc := r.header.Get("Location"); loc != c.location {
				t.Fatalf("PUT %s: Location %q, want %q", c.path, loc, c.location)
			}
			if c.status != http.StatusTemporaryRedirect {
				return
			}
			// A client that follows the 307 writes the key "a/b".
			follow := &http.Client{Transport: a.client.Transport}
			do(t, follow, a.base, "PUT", "/kv/buckets/docs/keys/"+c.path, "v").want(t, "PUT "+c.path+", following", http.StatusOK)
			if got := a.keys("docs"); !slices.Equal(got, []string{"a/b"}) {
				t.Fatalf("keys %q, want [a/b]", got)
			}
		})
	}
}

// TestRun runs the program with each router on a free port, drives the API
// and an app route, and stops it by cancelling its context, as a signal
// does.
func TestRun(t *testing.T) {
	for _, rt := range routers {
		t.Run(rt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			ready := make(chan string, 1)
			done := make(chan error, 1)
			var stderr bytes.Buffer
			log := slog.New(slog.NewTextHandler(t.Output(), nil))
			go func() {
				done <- run(ctx, []string{"-router=" + rt.name, "-listen=127.0.0.1:0"}, &stderr, log, func(u string) { ready <- u })
			}()
			stopped := false
			defer func() {
				// Let run finish, even when the test fails, before the
				// test (and its log output) ends.
				if !stopped {
					cancel()
					<-done
				}
			}()
			var base string
			select {
			case base = <-ready:
			case err := <-done:
				t.Fatalf("run returned before serving: %v; stderr: %s", err, stderr.String())
			case <-time.After(30 * time.Second):
				t.Fatal("run did not start serving within 30s")
			}

			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			do(t, c, base, "POST", "/kv/buckets", `{"name":"docs"}`).want(t, "create bucket", http.StatusCreated)
			do(t, c, base, "PUT", "/kv/buckets/docs/keys/a/b", "hello").want(t, "PUT a/b", http.StatusOK)
			var e entry
			do(t, c, base, "GET", "/kv/buckets/docs/keys/a%2Fb", "").want(t, "GET a%2Fb", http.StatusOK).decode(t, "GET", &e)
			if e.Key != "a/b" || string(e.Value) != "hello" {
				t.Fatalf("GET a%%2Fb: key %q value %q", e.Key, e.Value)
			}
			r := do(t, c, base, "GET", "/hello/ada", "").want(t, "GET /hello/ada", http.StatusOK)
			if string(r.body) != "hello, ada\n" {
				t.Fatalf("GET /hello/ada: %q", r.body)
			}
			tr.CloseIdleConnections()

			cancel()
			select {
			case err := <-done:
				stopped = true
				if err != nil {
					t.Fatalf("run after cancel: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("run did not return within 30s of cancel")
			}
		})
	}
}

// TestRunUsage checks that a bad command line is refused before anything
// starts.
func TestRunUsage(t *testing.T) {
	cases := []struct {
		args   []string
		want   error
		stderr string
	}{
		{[]string{"-router=chi"}, errUsage, `-router="chi": want gorilla or servemux`},
		{[]string{"-nope"}, errUsage, "flag provided but not defined: -nope"},
		{[]string{"extra"}, errUsage, `unexpected arguments ["extra"]`},
		{[]string{"-help"}, flag.ErrHelp, "Usage of mount"},
	}
	for _, c := range cases {
		var stderr bytes.Buffer
		err := run(context.Background(), c.args, &stderr, slog.New(slog.NewTextHandler(io.Discard, nil)), func(string) {
			t.Errorf("%q: run started serving", c.args)
		})
		if !errors.Is(err, c.want) {
			t.Errorf("%q: error %v, want %v", c.args, err, c.want)
		}
		if !strings.Contains(stderr.String(), c.stderr) || !strings.Contains(stderr.String(), "-router string") {
			t.Errorf("%q: stderr %q lacks %q and the usage", c.args, stderr.String(), c.stderr)
		}
	}
}
