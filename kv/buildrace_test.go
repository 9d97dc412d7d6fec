package kv_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
)

// TestKeysFirstListingWhileKeysAreOverwritten lists a bucket on a new
// Store, which builds its key index, while another client overwrites the
// bucket's newest keys. Every key exists for the whole listing and none is
// removed, so every one must be listed. The build reads the last message of
// each key in stream order; an overwrite removes a key's old message before
// the build reaches it, so the key arrives only with its new message, after
// the build has passed the stream's position at the call.
func TestKeysFirstListingWhileKeysAreOverwritten(t *testing.T) {
	const n = 20000
	ctx := ctxT(t)
	srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
	writer := kvtest.StoreOn(t, srv, kv.WithDefaultStorage(bucket.MemoryStorage))
	w := kvtest.NewBucket(t, writer, bucket.Config{Name: "race"})
	key := func(i int) string { return fmt.Sprintf("k.%05d", i) }
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := g; i < n; i += 8 {
				if _, err := w.Put(ctx, key(i), []byte("v")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for round := range 5 {
		reader := kvtest.StoreOn(t, srv)
		r, err := reader.Bucket(ctx, "race")
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var ow sync.WaitGroup
		ow.Go(func() {
			for i := n - 1; i >= 0; i-- {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := w.Put(ctx, key(i), []byte("w")); err != nil {
					t.Error(err)
					return
				}
			}
		})
		keys, err := r.Keys(ctx, ">")
		close(stop)
		ow.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != n {
			missing := 0
			for i := range n {
				if _, ok := slices.BinarySearch(keys, key(i)); !ok {
					missing++
				}
			}
			t.Fatalf("round %d: the first listing has %d keys, %d missing, of %d that existed all along", round, len(keys), missing, n)
		}
	}
}
