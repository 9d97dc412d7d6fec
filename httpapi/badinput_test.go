package httpapi_test

import (
	"net/url"
	"strings"
	"testing"
)

// TestBadInput tries every route with malformed and invalid input. Each
// request must get the 4xx it deserves with a JSON error body; none may get
// a 5xx.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	e.run(t, []scenario{
		{method: "POST", path: "/buckets", body: `{"name":"b"}`, status: 201},
		{method: "PUT", path: "/buckets/b/keys/k", body: "v", status: 200},
	})

	var sc []scenario
	add := func(status int, code, method, path, body string, hdr ...string) {
		sc = append(sc, scenario{name: method + " " + truncateName(path) + " " + truncateName(body) + " " + strings.Join(hdr, ";"),
			method: method, path: path, body: body, header: hdr, status: status, code: code})
	}

	// Bucket configs.
	for _, body := range []string{
		`{`, `{"name":}`, `{"name":"x",}`, `[]`, `"x"`, `1`, `true`, `null`, ` `, `{}`, `{"name":""}`,
		`{"name":"x","ttl":5}`, `{"Name":"x"}`, `{"name":1}`, `{"name":null}`, `{"name":"x","history":"5"}`,
		`{"name":"x","history":0}`, `{"name":"x","history":65}`, `{"name":"x","history":1.5}`, `{"name":"x","history":-1}`,
		`{"name":"x","ttl_seconds":-1}`, `{"name":"x","ttl_seconds":1e30}`, `{"name":"x","ttl_seconds":"60"}`,
		`{"name":"x","replicas":2}`, `{"name":"x","replicas":0}`, `{"name":"x","storage":"disk"}`,
		`{"name":"x","max_bytes":-5}`, `{"name":"x","max_value_size":-1}`, `{"name":"x","max_value_size":1e10}`,
		`{"name":"x"} {"name":"y"}`, `{"name":"x"}x`, `{"name":"x","name":"y"}`, `{"name":"x","description":5}`,
		`{"name":"x","description":"` + strings.Repeat("d", 5000) + `"}`,
		`{"name":"bad name"}`, `{"name":"a.b"}`, `{"name":"a*"}`, `{"name":">"}`, `{"name":"` + strings.Repeat("n", 65) + `"}`,
		`{"name":"ünï"}`, `{"name":"x\u0000"}`, `{"name":"..\/SYS_x"}`,
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		"\xff\xfe", `{"name":"x","extra":{"nested":[1,2,3]}}`,
	} {
		add(400, "invalid_argument", "POST", "/buckets", body, "Content-Type: application/json")
	}
	add(400, "invalid_argument", "POST", "/buckets", "")
	add(400, "invalid_argument", "POST", "/buckets", `{"name":"x","replicas":3}`) // a single server has no replicas
	add(413, "too_large", "POST", "/buckets", `{"name":"x","description":"`+strings.Repeat("d", 70000)+`"}`)

	// Bucket names in paths.
	for _, name := range []string{"bad%20name", "a.b", "a*", "a%3E", strings.Repeat("n", 65), "%C3%BCn", "%00", "a%2Fb",
		"%2E%2E", "SYS_x.%3E", "%24KV", "a%0Ab"} {
		for _, r := range []struct{ method, path string }{
			{"GET", "/buckets/" + name}, {"DELETE", "/buckets/" + name}, {"GET", "/buckets/" + name + "/keys"},
			{"GET", "/buckets/" + name + "/keys/k"}, {"PUT", "/buckets/" + name + "/keys/k"},
			{"DELETE", "/buckets/" + name + "/keys/k"}, {"GET", "/buckets/" + name + "/history/k"},
			{"GET", "/buckets/" + name + "/watch"}, {"GET", "/buckets/" + name + "/events"},
		} {
			add(400, "invalid_argument", r.method, r.path, "v")
		}
	}

	// Keys in paths.
	for _, key := range []string{"a..b", ".a", "a.", "a*b", "*", "%3E", "a.%3E", "%00", "a%7Fb", "a%0Ab", "%FF", "%C3",
		strings.Repeat("k", 1025), strings.Repeat("%C3%A9", 342), "a%2E%2Eb", "%2E"} {
		for _, method := range []string{"GET", "PUT", "DELETE"} {
			add(400, "invalid_argument", method, "/buckets/b/keys/"+key, "v")
		}
		add(400, "invalid_argument", "GET", "/buckets/b/history/"+key, "")
	}

	// Conditional headers.
	for _, hdr := range [][]string{
		{"If-Match: 1", "If-None-Match: *"},
		{"If-Match: abc"}, {"If-Match: -1"}, {"If-Match: 0"}, {`If-Match: "0"`}, {"If-Match: 1.5"}, {`If-Match: W/"1"`},
		{"If-Match: *"}, {`If-Match: "1", "2"`}, {"If-Match: 1", "If-Match: 1"}, {"If-Match: 18446744073709551616"},
		{"If-Match: +1"}, {`If-Match: "1`}, {"If-Match: 0x1"},
		{"If-None-Match: 1"}, {`If-None-Match: "1"`}, {"If-None-Match: *, *"}, {"If-None-Match: *", "If-None-Match: *"},
	} {
		add(400, "invalid_argument", "PUT", "/buckets/b/keys/k", "v", hdr...)
	}
	for _, hdr := range [][]string{
		{"If-Match: 1", "If-None-Match: *"}, {"If-Match: abc"}, {"If-Match: 0"}, {"If-None-Match: *"}, {"If-Match: *"},
	} {
		add(400, "invalid_argument", "DELETE", "/buckets/b/keys/k", "", hdr...)
	}

	// Query parameters.
	for _, q := range []string{"revision=abc", "revision=0", "revision=-1", "revision=1.0", "revision=99999999999999999999"} {
		add(400, "invalid_argument", "GET", "/buckets/b/keys/k?"+q, "")
	}
	for _, q := range []string{"limit=0", "limit=-1", "limit=x", "limit=1e3", "filter=user-*", "filter=a..b", "filter=*x",
		"filter=%3E.a", "filter=.", "filter=a.%3E.b", "filter=%00", "filter=" + url.QueryEscape(strings.Repeat("f", 1025))} {
		add(400, "invalid_argument", "GET", "/buckets/b/keys?"+q, "")
	}
	for _, q := range []string{"key=user-*", "key=a..b", "key=*x", "key=%3E.a", "key=.", "key=%00",
		"since=-1", "since=x", "since=", "since=1.5", "since=18446744073709551616", "since=%2B1",
		"snapshot=maybe", "snapshot=2", "snapshot=true&since=1", "snapshot=1&since=0"} {
		// Checked before the upgrade or the first byte.
		add(400, "invalid_argument", "GET", "/buckets/b/watch?"+q, "")
		add(400, "invalid_argument", "GET", "/buckets/b/events?"+q, "")
	}
	for _, id := range []string{"x", "-1", "1.0", "18446744073709551616", "+1"} {
		add(400, "invalid_argument", "GET", "/buckets/b/events", "", "Last-Event-ID: "+id)
	}
	add(404, "bucket_not_found", "GET", "/buckets/nope/events", "")
	add(426, "invalid_argument", "GET", "/buckets/b/watch", "")
	for _, q := range []string{"purge=maybe", "purge=yes", "purge=2"} {
		add(400, "invalid_argument", "DELETE", "/buckets/b/keys/k?"+q, "")
	}

	// Wrong methods.
	for _, r := range []struct{ method, path string }{
		{"DELETE", "/buckets"}, {"PUT", "/buckets/b"}, {"PATCH", "/buckets/b"}, {"POST", "/buckets/b/keys"},
		{"PUT", "/buckets/b/keys"}, {"POST", "/buckets/b/keys/k"}, {"PATCH", "/buckets/b/keys/k"},
		{"DELETE", "/buckets/b/history/k"}, {"CONNECTX", "/buckets"},
		{"POST", "/buckets/b/watch"}, {"PUT", "/buckets/b/events"}, {"DELETE", "/buckets/b/watch"},
	} {
		add(405, "method_not_allowed", r.method, r.path, "")
	}

	if len(sc) < 200 {
		t.Fatalf("only %d bad-input scenarios", len(sc))
	}
	e.run(t, sc)

	// The key is untouched by all of it.
	e.run(t, []scenario{{method: "GET", path: "/buckets/b/keys/k", status: 200, json: map[string]any{"revision": 1}}})
}

func truncateName(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
