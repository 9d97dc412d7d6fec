package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ironkv/ironkv/httpapi"
)

// entryIs returns a check that the body is the entry of key with value at
// revision rev, operation put.
func entryIs(key, value string, rev uint64) func(t *testing.T, r resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		var e entryBody
		decode(t, r.body, &e)
		if e.Key != key || e.Value == nil || string(*e.Value) != value || e.Revision != rev || e.Operation != "put" {
			t.Fatalf("entry %s, want key %q value %q revision %d put", r.body, key, value, rev)
		}
		ts, err := time.Parse(time.RFC3339Nano, e.CreatedAt)
		if err != nil || time.Since(ts) > time.Minute || ts.Location() != time.UTC {
			t.Fatalf("created_at %q: %v", e.CreatedAt, err)
		}
		if got, want := r.header.Get("ETag"), `"`+strconv.FormatUint(rev, 10)+`"`; got != want {
			t.Fatalf("ETag %q, want %q", got, want)
		}
	}
}

func TestKeys(t *testing.T) {
	e := newEnv(t)
	b64 := base64.StdEncoding.EncodeToString
	e.run(t, []scenario{
		{method: "POST", path: "/buckets", body: `{"name":"app","history":10}`, status: 201},
		{name: "put", method: "PUT", path: "/buckets/app/keys/greeting", body: "hello",
			header: []string{"Content-Type: application/octet-stream"}, status: 200,
			check: func(t *testing.T, r resp) {
				if string(r.body) != "{\"revision\":1}\n" {
					t.Fatalf("body %q", r.body)
				}
				if r.header.Get("ETag") != `"1"` {
					t.Fatalf("ETag %q", r.header.Get("ETag"))
				}
			}},
		{name: "get", method: "GET", path: "/buckets/app/keys/greeting", status: 200,
			json:  map[string]any{"key": "greeting", "value": b64([]byte("hello")), "revision": 1, "operation": "put"},
			check: entryIs("greeting", "hello", 1)},
		{name: "get raw", method: "GET", path: "/buckets/app/keys/greeting", status: 200,
			header: []string{"Accept: application/octet-stream"},
			check: func(t *testing.T, r resp) {
				if string(r.body) != "hello" || r.header.Get("ETag") != `"1"` ||
					r.header.Get("Content-Type") != "application/octet-stream" {
					t.Fatalf("raw get: %q, headers %v", r.body, r.header)
				}
			}},
		{name: "Accept preferring JSON gets JSON", method: "GET", path: "/buckets/app/keys/greeting", status: 200,
			header: []string{"Accept: application/json, application/octet-stream;q=0.5"},
			json:   map[string]any{"key": "greeting"}},
		{name: "Accept */* gets JSON", method: "GET", path: "/buckets/app/keys/greeting", status: 200,
			header: []string{"Accept: */*"}, json: map[string]any{"key": "greeting"}},
		{name: "create on a live key", method: "PUT", path: "/buckets/app/keys/greeting", body: "x",
			header: []string{"If-None-Match: *"}, status: 412, code: "conflict",
			json: map[string]any{"revision": 1}},
		{name: "update stale", method: "PUT", path: "/buckets/app/keys/greeting", body: "x",
			header: []string{"If-Match: 7"}, status: 412, code: "conflict", json: map[string]any{"revision": 1}},
		{name: "update", method: "PUT", path: "/buckets/app/keys/greeting", body: "hi",
			header: []string{"If-Match: 1"}, status: 200, json: map[string]any{"revision": 2}},
		{name: "update with a quoted revision", method: "PUT", path: "/buckets/app/keys/greeting", body: "hey",
			header: []string{`If-Match: "2"`}, status: 200, json: map[string]any{"revision": 3}},
		{name: "create a new key", method: "PUT", path: "/buckets/app/keys/fresh", body: "new",
			header: []string{"If-None-Match: *"}, status: 200, json: map[string]any{"revision": 4}},
		{name: "get at revision", method: "GET", path: "/buckets/app/keys/greeting?revision=1", status: 200,
			check: entryIs("greeting", "hello", 1)},
		{name: "get at a revision of another key", method: "GET", path: "/buckets/app/keys/greeting?revision=4",
			status: 404, code: "key_not_found"},
		{name: "history", method: "GET", path: "/buckets/app/history/greeting", status: 200,
			check: func(t *testing.T, r resp) {
				var h struct{ Entries []entryBody }
				decode(t, r.body, &h)
				if len(h.Entries) != 3 || string(*h.Entries[0].Value) != "hello" || string(*h.Entries[2].Value) != "hey" ||
					h.Entries[2].Revision != 3 {
					t.Fatalf("history %s", r.body)
				}
			}},
		{name: "conditional delete, stale", method: "DELETE", path: "/buckets/app/keys/greeting",
			header: []string{"If-Match: 2"}, status: 412, code: "conflict", json: map[string]any{"revision": 3}},
		{name: "conditional delete", method: "DELETE", path: "/buckets/app/keys/greeting",
			header: []string{"If-Match: 3"}, status: 204},
		{name: "get deleted", method: "GET", path: "/buckets/app/keys/greeting", status: 404, code: "key_not_found",
			contains: `key \"greeting\" not found in bucket \"app\"`},
		{name: "history shows the tombstone without a value", method: "GET", path: "/buckets/app/history/greeting", status: 200,
			check: func(t *testing.T, r resp) {
				var h struct{ Entries []entryBody }
				decode(t, r.body, &h)
				last := h.Entries[len(h.Entries)-1]
				if len(h.Entries) != 4 || last.Operation != "delete" || last.Value != nil || last.Revision != 5 {
					t.Fatalf("history %s", r.body)
				}
				if bytes.Count(r.body, []byte(`"value"`)) != 3 {
					t.Fatalf("tombstone has a value field: %s", r.body)
				}
			}},
		{name: "update to a tombstone's revision", method: "PUT", path: "/buckets/app/keys/greeting", body: "x",
			header: []string{"If-Match: 5"}, status: 412, code: "conflict"},
		{name: "delete with If-Match of a tombstone", method: "DELETE", path: "/buckets/app/keys/greeting",
			header: []string{"If-Match: 5"}, status: 412, code: "conflict"},
		{name: "create after delete", method: "PUT", path: "/buckets/app/keys/greeting", body: "again",
			header: []string{"If-None-Match: *"}, status: 200, json: map[string]any{"revision": 6}},
		{name: "delete a missing key", method: "DELETE", path: "/buckets/app/keys/never", status: 204},
		{name: "purge", method: "DELETE", path: "/buckets/app/keys/greeting?purge=true", status: 204},
		{name: "history after purge", method: "GET", path: "/buckets/app/history/greeting", status: 200,
			check: func(t *testing.T, r resp) {
				var h struct{ Entries []entryBody }
				decode(t, r.body, &h)
				if len(h.Entries) != 1 || h.Entries[0].Operation != "purge" {
					t.Fatalf("history %s", r.body)
				}
			}},
		{name: "history of a missing key", method: "GET", path: "/buckets/app/history/never-written", status: 404, code: "key_not_found"},
		{name: "purge=false deletes", method: "DELETE", path: "/buckets/app/keys/fresh?purge=false", status: 204},
		{name: "empty value", method: "PUT", path: "/buckets/app/keys/empty", status: 200},
		{name: "get empty value", method: "GET", path: "/buckets/app/keys/empty", status: 200,
			check: func(t *testing.T, r resp) {
				if !bytes.Contains(r.body, []byte(`"value":""`)) {
					t.Fatalf("empty value: %s", r.body)
				}
			}},
	})
}

func TestPutStoresBytesAsSent(t *testing.T) {
	e := newEnv(t)
	e.run(t, []scenario{{method: "POST", path: "/buckets", body: `{"name":"raw"}`, status: 201}})
	values := []struct {
		name, contentType string
		value             []byte
	}{
		{"binary", "application/octet-stream", []byte{0, 1, 2, 0xff, 0xfe, '\n', '\r'}},
		{"json", "application/json", []byte(` {"a": 1,  "b":[true]} `)},
		{"text", "text/plain; charset=utf-8", []byte("héllo\r\nworld")},
		{"no content type", "", []byte("plain")},
		{"invalid utf-8 as json", "application/json", []byte{'"', 0xc3, 0x28, '"'}},
		{"form", "application/x-www-form-urlencoded", []byte("a=1&b=%20")},
	}
	for _, v := range values {
		t.Run(v.name, func(t *testing.T) {
			e.t = t
			var hdr []string
			if v.contentType != "" {
				hdr = append(hdr, "Content-Type: "+v.contentType)
			}
			if r := e.do("PUT", "/buckets/raw/keys/"+v.name[:2], string(v.value), hdr...); r.status != 200 {
				t.Fatalf("put: %d %s", r.status, r.body)
			}
			r := e.do("GET", "/buckets/raw/keys/"+v.name[:2], "", "Accept: application/octet-stream")
			if !bytes.Equal(r.body, v.value) {
				t.Fatalf("raw get %q, want %q", r.body, v.value)
			}
			r = e.do("GET", "/buckets/raw/keys/"+v.name[:2], "")
			var got entryBody
			decode(t, r.body, &got)
			if got.Value == nil || !bytes.Equal(*got.Value, v.value) {
				t.Fatalf("JSON get %s, want value %q", r.body, v.value)
			}
		})
	}
}

func TestListKeys(t *testing.T) {
	e := newEnv(t)
	e.run(t, []scenario{{method: "POST", path: "/buckets", body: `{"name":"ks"}`, status: 201}})
	for _, k := range []string{"user.1", "user.2", "user.3", "user.3.name", "order.1", "a/b", "user:9"} {
		if r := e.do("PUT", "/buckets/ks/keys/"+k, "v"); r.status != 200 {
			t.Fatalf("put %s: %d %s", k, r.status, r.body)
		}
	}
	keys := func(want []string, next string) func(t *testing.T, r resp) {
		return func(t *testing.T, r resp) {
			t.Helper()
			var l struct {
				Keys  []string `json:"keys"`
				Count int      `json:"count"`
				Next  *string  `json:"next"`
			}
			decode(t, r.body, &l)
			if strings.Join(l.Keys, ",") != strings.Join(want, ",") || l.Count != len(want) {
				t.Fatalf("keys %s, want %q", r.body, want)
			}
			if (next == "") != (l.Next == nil) || (l.Next != nil && *l.Next != next) {
				t.Fatalf("next in %s, want %q", r.body, next)
			}
			if l.Keys == nil {
				t.Fatalf("keys is null: %s", r.body)
			}
		}
	}
	e.run(t, []scenario{
		{name: "all", method: "GET", path: "/buckets/ks/keys", status: 200,
			check: keys([]string{"a/b", "order.1", "user.1", "user.2", "user.3", "user.3.name", "user:9"}, "")},
		{name: "one token", method: "GET", path: "/buckets/ks/keys?filter=user.*", status: 200,
			check: keys([]string{"user.1", "user.2", "user.3"}, "")},
		{name: "tail", method: "GET", path: "/buckets/ks/keys?filter=user.%3E", status: 200,
			check: keys([]string{"user.1", "user.2", "user.3", "user.3.name"}, "")},
		{name: "literal", method: "GET", path: "/buckets/ks/keys?filter=order.1", status: 200,
			check: keys([]string{"order.1"}, "")},
		{name: "no match is an empty array", method: "GET", path: "/buckets/ks/keys?filter=nope.*", status: 200,
			check: func(t *testing.T, r resp) {
				if string(r.body) != "{\"keys\":[],\"count\":0}\n" {
					t.Fatalf("body %q", r.body)
				}
			}},
		{name: "page 1", method: "GET", path: "/buckets/ks/keys?limit=3", status: 200,
			check: keys([]string{"a/b", "order.1", "user.1"}, "user.1")},
		{name: "page 2", method: "GET", path: "/buckets/ks/keys?limit=3&after=user.1", status: 200,
			check: keys([]string{"user.2", "user.3", "user.3.name"}, "user.3.name")},
		{name: "last page", method: "GET", path: "/buckets/ks/keys?limit=3&after=user.3.name", status: 200,
			check: keys([]string{"user:9"}, "")},
		{name: "filtered pages", method: "GET", path: "/buckets/ks/keys?filter=user.*&limit=2", status: 200,
			check: keys([]string{"user.1", "user.2"}, "user.2")},
		{name: "bad filter shows the right form", method: "GET", path: "/buckets/ks/keys?filter=user-*", status: 400,
			code: "invalid_argument", contains: `as in \"user.*\"`},
		{name: "empty bucket", method: "POST", path: "/buckets", body: `{"name":"none"}`, status: 201},
		{name: "keys of an empty bucket", method: "GET", path: "/buckets/none/keys", status: 200, check: keys(nil, "")},
	})
}

func TestKeyTooLarge(t *testing.T) {
	e := newEnv(t, httpapi.WithMaxBodyBytes(1000))
	e.run(t, []scenario{
		{method: "POST", path: "/buckets", body: `{"name":"small","max_value_size":10}`, status: 201},
		{method: "POST", path: "/buckets", body: `{"name":"big"}`, status: 201},
		{name: "at the bucket limit", method: "PUT", path: "/buckets/small/keys/k", body: "0123456789", status: 200},
		{name: "over the bucket limit", method: "PUT", path: "/buckets/small/keys/k", body: "0123456789a",
			status: 413, code: "too_large", contains: "10 bytes"},
		{name: "at the body limit", method: "PUT", path: "/buckets/big/keys/k", body: strings.Repeat("x", 1000), status: 200},
		{name: "over the body limit", method: "PUT", path: "/buckets/big/keys/k", body: strings.Repeat("x", 1001),
			status: 413, code: "too_large"},
	})
	// Without Content-Length the body is cut off at the limit.
	for _, path := range []string{"/buckets/big/keys/k", "/buckets/small/keys/k", "/buckets"} {
		method := "PUT"
		if path == "/buckets" {
			method = "POST"
		}
		req, err := http.NewRequestWithContext(ctxT(t), method, e.srv.URL+path, struct{ *strings.Reader }{strings.NewReader(strings.Repeat("y", 70000))})
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1
		r, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r.Body)
		r.Body.Close()
		if r.StatusCode != 413 {
			t.Fatalf("chunked %s %s: status %d, want 413: %s", method, path, r.StatusCode, buf.Bytes())
		}
		errBody(t, resp{status: r.StatusCode, header: r.Header, body: buf.Bytes()}, "too_large")
	}
}
