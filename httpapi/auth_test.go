package httpapi_test

import (
	"testing"

	"github.com/ironkv/ironkv/httpapi"
	"github.com/ironkv/ironkv/kvtest"
)

func TestAuth(t *testing.T) {
	e := newEnv(t, httpapi.WithAPIKeys("old-key", "new-key"))
	unauthorized := func(t *testing.T, r resp) {
		t.Helper()
		if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="ironkv"` {
			t.Fatalf("WWW-Authenticate %q", got)
		}
	}
	e.run(t, []scenario{
		{name: "no key", method: "GET", path: "/buckets", status: 401, code: "unauthorized", check: unauthorized},
		{name: "wrong key", method: "GET", path: "/buckets", header: []string{"Authorization: Bearer nope"},
			status: 401, code: "unauthorized", check: unauthorized},
		{name: "key prefix", method: "GET", path: "/buckets", header: []string{"Authorization: Bearer old"},
			status: 401, code: "unauthorized"},
		{name: "key with a suffix", method: "GET", path: "/buckets", header: []string{"Authorization: Bearer old-key2"},
			status: 401, code: "unauthorized"},
		{name: "empty bearer", method: "GET", path: "/buckets", header: []string{"Authorization: Bearer "},
			status: 401, code: "unauthorized"},
		{name: "basic scheme", method: "GET", path: "/buckets", header: []string{"Authorization: Basic b2xkLWtleTo="},
			status: 401, code: "unauthorized"},
		{name: "key without scheme", method: "GET", path: "/buckets", header: []string{"Authorization: old-key"},
			status: 401, code: "unauthorized"},
		{name: "key as query parameter is not for REST", method: "GET", path: "/buckets?token=old-key",
			status: 401, code: "unauthorized"},
		{name: "first key", method: "GET", path: "/buckets", header: []string{"Authorization: Bearer old-key"}, status: 200},
		{name: "second key", method: "POST", path: "/buckets", body: `{"name":"a"}`,
			header: []string{"Authorization: Bearer new-key"}, status: 201},
		{name: "scheme is case-insensitive", method: "GET", path: "/buckets/a", header: []string{"Authorization: bearer new-key"}, status: 200},
		{name: "unknown route without key", method: "GET", path: "/nope", status: 401, code: "unauthorized"},
		{name: "wrong method without key", method: "PATCH", path: "/buckets/a", status: 401, code: "unauthorized"},
		{name: "write without key", method: "PUT", path: "/buckets/a/keys/k", body: "v", status: 401, code: "unauthorized"},
		{name: "the write did not happen", method: "GET", path: "/buckets/a/keys/k",
			header: []string{"Authorization: Bearer old-key"}, status: 404, code: "key_not_found"},
	})
}

// TestAuthBeforeStore checks that a request without a valid key is refused
// before the store is asked anything: with the store closed, every call to
// it would answer 503, but the answer is 401.
func TestAuthBeforeStore(t *testing.T) {
	store := kvtest.NewStore(t)
	e := newEnvOn(t, store, httpapi.WithAPIKeys("k"))
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	e.run(t, []scenario{
		{method: "GET", path: "/buckets", status: 401, code: "unauthorized"},
		{method: "POST", path: "/buckets", body: `{"name":"x"}`, status: 401, code: "unauthorized"},
		{method: "GET", path: "/buckets/x/keys/k", status: 401, code: "unauthorized"},
		{method: "PUT", path: "/buckets/x/keys/k", body: "v", status: 401, code: "unauthorized"},
		{name: "with the key the closed store answers", method: "GET", path: "/buckets", header: []string{"Authorization: Bearer k"},
			status: 503, code: "unavailable", check: func(t *testing.T, r resp) {
				if r.header.Get("Retry-After") == "" {
					t.Fatal("503 without Retry-After")
				}
			}},
	})
}

func TestAuthEmptyKeysFailClosed(t *testing.T) {
	e := newEnv(t, httpapi.WithAPIKeys(""), httpapi.WithLogger(discardLogger()))
	e.run(t, []scenario{
		{method: "GET", path: "/buckets", status: 401, code: "unauthorized"},
		{method: "GET", path: "/buckets", header: []string{"Authorization: Bearer "}, status: 401, code: "unauthorized"},
	})
}

func TestNoKeysIsOpen(t *testing.T) {
	e := newEnv(t)
	e.run(t, []scenario{
		{method: "GET", path: "/buckets", status: 200},
		{name: "a key is ignored", method: "GET", path: "/buckets", header: []string{"Authorization: Bearer anything"}, status: 200},
	})
}
