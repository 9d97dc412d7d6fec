package httpapi_test

import (
	"net/http"
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	e := newEnv(t)
	e.run(t, []scenario{
		{name: "empty list is an empty array", method: "GET", path: "/buckets", status: 200,
			check: func(t *testing.T, r resp) {
				if got := string(r.body); got != "{\"buckets\":[],\"count\":0}\n" {
					t.Fatalf("body %q", got)
				}
			}},
		{name: "create", method: "POST", path: "/buckets", status: 201,
			body:   `{"name":"orders","description":"all orders","ttl_seconds":3600,"history":5,"max_value_size":1024,"max_bytes":1048576}`,
			header: []string{"Content-Type: application/json"},
			json: map[string]any{"name": "orders", "description": "all orders", "ttl_seconds": 3600, "history": 5,
				"max_value_size": 1024, "max_bytes": 1048576, "replicas": 1, "storage": "memory", "values": 0, "bytes": 0},
			check: func(t *testing.T, r resp) {
				var info struct {
					CreatedAt string `json:"created_at"`
				}
				decode(t, r.body, &info)
				ts, err := time.Parse(time.RFC3339, info.CreatedAt)
				if err != nil || time.Since(ts) > time.Minute {
					t.Fatalf("created_at %q: %v", info.CreatedAt, err)
				}
			}},
		{name: "create minimal, as the SDKs send it", method: "POST", path: "/buckets", status: 201,
			body: `{"name":"users"}`, json: map[string]any{"name": "users", "history": 1, "ttl_seconds": 0}},
		{name: "create existing", method: "POST", path: "/buckets", body: `{"name":"orders"}`,
			status: 409, code: "bucket_exists", contains: `bucket \"orders\" already exists`},
		{name: "create existing, other config", method: "POST", path: "/buckets", body: `{"name":"orders","history":2}`,
			status: 409, code: "bucket_exists"},
		{name: "get", method: "GET", path: "/buckets/orders", status: 200,
			json: map[string]any{"name": "orders", "history": 5, "ttl_seconds": 3600}},
		{name: "head", method: "HEAD", path: "/buckets/orders", status: 200},
		{name: "list", method: "GET", path: "/buckets", status: 200,
			check: func(t *testing.T, r resp) {
				var l struct {
					Buckets []struct {
						Name string `json:"name"`
					} `json:"buckets"`
					Count int `json:"count"`
				}
				decode(t, r.body, &l)
				if l.Count != 2 || len(l.Buckets) != 2 || l.Buckets[0].Name != "orders" || l.Buckets[1].Name != "users" {
					t.Fatalf("list %s", r.body)
				}
			}},
		{name: "delete", method: "DELETE", path: "/buckets/users", status: 204,
			check: func(t *testing.T, r resp) {
				if len(r.body) != 0 {
					t.Fatalf("204 with body %q", r.body)
				}
			}},
		{name: "delete missing", method: "DELETE", path: "/buckets/users", status: 404, code: "bucket_not_found"},
		{name: "get missing", method: "GET", path: "/buckets/users", status: 404, code: "bucket_not_found",
			contains: `bucket \"users\" not found`},
		{name: "keys of missing", method: "GET", path: "/buckets/users/keys", status: 404, code: "bucket_not_found"},
		{name: "put into missing", method: "PUT", path: "/buckets/users/keys/k", body: "v", status: 404, code: "bucket_not_found"},
		{name: "list after delete", method: "GET", path: "/buckets", status: 200, json: map[string]any{"count": 1}},
		{name: "X-Ironflow-Environment is ignored", method: "GET", path: "/buckets/orders", status: 200,
			header: []string{"X-Ironflow-Environment: staging"}, json: map[string]any{"name": "orders"}},
	})
}

func TestBucketFull(t *testing.T) {
	e := newEnv(t)
	e.run(t, []scenario{{method: "POST", path: "/buckets", body: `{"name":"tiny","max_bytes":2048}`, status: 201}})
	value := string(make([]byte, 600))
	var last resp
	for i := 0; i < 10; i++ {
		last = e.do("PUT", "/buckets/tiny/keys/k"+string(rune('a'+i)), value)
		if last.status != http.StatusOK {
			break
		}
	}
	if last.status != http.StatusConflict {
		t.Fatalf("writing past max_bytes: status %d, want 409; body %s", last.status, last.body)
	}
	errBody(t, last, "bucket_full")
}
