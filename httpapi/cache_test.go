package httpapi_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/httpapi"
)

// TestBucketDeletedElsewhere deletes a bucket behind the handler's back:
// the handler must report it missing, forget its handle, and use the new
// bucket once one is created under the same name.
func TestBucketDeletedElsewhere(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	small := strings.Repeat("s", 10)
	large := strings.Repeat("l", 50)
	e.run(t, []scenario{
		{method: "POST", path: "/buckets", body: `{"name":"moving","max_value_size":10}`, status: 201},
		{method: "PUT", path: "/buckets/moving/keys/k", body: small, status: 200},
	})
	if err := e.store.DeleteBucket(ctx, "moving"); err != nil {
		t.Fatal(err)
	}
	e.run(t, []scenario{
		{name: "put after delete", method: "PUT", path: "/buckets/moving/keys/k", body: small, status: 404, code: "bucket_not_found"},
		{name: "get after delete", method: "GET", path: "/buckets/moving/keys/k", status: 404, code: "bucket_not_found"},
		{name: "keys after delete", method: "GET", path: "/buckets/moving/keys", status: 404, code: "bucket_not_found"},
	})
	if _, err := e.store.CreateBucket(ctx, bucket.Config{Name: "moving", MaxValueSize: 100}); err != nil {
		t.Fatal(err)
	}
	e.run(t, []scenario{
		{name: "the new bucket's limit applies", method: "PUT", path: "/buckets/moving/keys/k", body: large, status: 200,
			json: map[string]any{"revision": 1}},
		{name: "keys of the new bucket", method: "GET", path: "/buckets/moving/keys", status: 200, json: map[string]any{"keys": []string{"k"}}},
	})

	// Deleting through the API forgets the handle at once.
	e.run(t, []scenario{
		{method: "DELETE", path: "/buckets/moving", status: 204},
		{method: "GET", path: "/buckets/moving/keys/k", status: 404, code: "bucket_not_found"},
		{method: "POST", path: "/buckets", body: `{"name":"moving","max_value_size":5}`, status: 201},
		{name: "the recreated bucket's limit applies", method: "PUT", path: "/buckets/moving/keys/k", body: small, status: 413, code: "too_large"},
	})
}

// TestBucketConfigChangedElsewhere changes a bucket's max_value_size in
// another Store: once the cached handle is stale, the handler fetches a new
// one and applies the new limit.
func TestBucketConfigChangedElsewhere(t *testing.T) {
	defer httpapi.SetBucketFreshness(0)()
	e := newEnv(t)
	e.run(t, []scenario{
		{method: "POST", path: "/buckets", body: `{"name":"cfg","max_value_size":10}`, status: 201},
		{method: "PUT", path: "/buckets/cfg/keys/k", body: strings.Repeat("x", 50), status: 413, code: "too_large"},
	})
	if _, err := e.store.UpdateBucket(ctxT(t), bucket.Config{Name: "cfg", MaxValueSize: 100}); err != nil {
		t.Fatal(err)
	}
	e.run(t, []scenario{
		{method: "PUT", path: "/buckets/cfg/keys/k", body: strings.Repeat("x", 50), status: 200},
	})
}

// TestConcurrentFirstUse hammers a bucket the handler has not seen yet from
// many goroutines at once (run with -race).
func TestConcurrentFirstUse(t *testing.T) {
	defer httpapi.SetBucketFreshness(0)() // refresh on every request, to race refreshes too
	e := newEnv(t)
	for i := 0; i < 3; i++ {
		if _, err := e.store.CreateBucket(ctxT(t), bucket.Config{Name: fmt.Sprintf("c%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan string, 300)
	for g := 0; g < 30; g++ {
		wg.Go(func() {
			for i := 0; i < 10; i++ {
				path := fmt.Sprintf("/buckets/c%d/keys/g%d-%d", (g+i)%3, g, i)
				if r, err := e.tryDo(ctx, "PUT", path, "v"); err != nil || r.status != 200 {
					errs <- fmt.Sprintf("PUT %s: %v %d %s", path, err, r.status, r.body)
					continue
				}
				if r, err := e.tryDo(ctx, "GET", path, ""); err != nil || r.status != 200 {
					errs <- fmt.Sprintf("GET %s: %v %d %s", path, err, r.status, r.body)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
