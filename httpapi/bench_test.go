package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/httpapi"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
)

// The benchmarks measure the handler's own cost per request against a bare
// handler that makes the same single kv call, both driven in process with
// httptest.NewRecorder (no network) by 32 goroutines per CPU, on the same
// store. They assert nothing; compare them with benchstat.

func benchStore(b *testing.B) (*kv.Store, *kv.Bucket) {
	store := kvtest.NewStore(b)
	bk := kvtest.NewBucket(b, store, bucket.Config{Name: "bench"})
	if _, err := bk.Put(b.Context(), "user:1", []byte(`{"name":"Ada"}`)); err != nil {
		b.Fatal(err)
	}
	return store, bk
}

func runBench(b *testing.B, h http.Handler, method, path, body string) {
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer bench-key")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body.String())
			}
		}
	})
}

func BenchmarkGet(b *testing.B) {
	store, _ := benchStore(b)
	h := httpapi.New(store, httpapi.WithAPIKeys("bench-key"))
	defer h.Close()
	runBench(b, h, "GET", "/buckets/bench/keys/user%3A1", "")
}

func BenchmarkGetBare(b *testing.B) {
	_, bk := benchStore(b)
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := bk.Get(r.Context(), "user:1")
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"key": e.Key, "value": e.Value, "revision": e.Revision})
	})
	runBench(b, bare, "GET", "/buckets/bench/keys/user%3A1", "")
}

func BenchmarkPut(b *testing.B) {
	store, _ := benchStore(b)
	h := httpapi.New(store, httpapi.WithAPIKeys("bench-key"))
	defer h.Close()
	runBench(b, h, "PUT", "/buckets/bench/keys/user%3A1", `{"name":"Ada"}`)
}

func BenchmarkPutBare(b *testing.B) {
	_, bk := benchStore(b)
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		rev, err := bk.Put(r.Context(), "user:1", body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"revision": rev})
	})
	runBench(b, bare, "PUT", "/buckets/bench/keys/user%3A1", `{"name":"Ada"}`)
}
