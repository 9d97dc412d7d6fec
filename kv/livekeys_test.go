package kv_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
)

// TestKeysNeverMissOverwrittenKeys lists a bucket again and again, from a
// Store whose index is built and from new Stores, while writers overwrite
// a few keys as fast as they can, so that the index's consumer falls
// behind and the stream removes messages before it reaches them. The keys
// are written before the listings start and never removed: every listing
// must hold every one.
func TestKeysNeverMissOverwrittenKeys(t *testing.T) {
	const keys, writers, listers = 40, 4, 2
	ctx := ctxT(t)
	srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
	ws := kvtest.StoreOn(t, srv, kv.WithDefaultStorage(bucket.MemoryStorage))
	w := kvtest.NewBucket(t, ws, bucket.Config{Name: "hot"})
	var want []string
	for i := range keys {
		k := fmt.Sprintf("hot.%02d", i)
		want = append(want, k)
		if _, err := w.Put(ctx, k, []byte("0")); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var writes atomic.Int64
	var writing, listing sync.WaitGroup
	for g := range writers {
		writing.Go(func() {
			for i := g; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := w.Put(ctx, want[i%keys], []byte("v")); err != nil {
					t.Error(err)
					return
				}
				writes.Add(1)
			}
		})
	}
	deadline := time.Now().Add(3 * time.Second)
	var listings atomic.Int64
	for l := range listers {
		listing.Go(func() {
			rs := kvtest.StoreOn(t, srv)
			for n := 0; time.Now().Before(deadline); n++ {
				if l == 1 && n%20 == 0 {
					rs = kvtest.StoreOn(t, srv) // a new index now and then
				}
				b, err := rs.Bucket(ctx, "hot")
				if err != nil {
					t.Error(err)
					return
				}
				got, err := b.Keys(ctx, "hot.>")
				if err != nil {
					t.Error(err)
					return
				}
				if !slices.Equal(got, want) {
					t.Errorf("listing %d of lister %d: %d keys, want all %d: %q", n, l, len(got), keys, got)
					return
				}
				listings.Add(1)
			}
		})
	}
	listing.Wait()
	close(stop)
	writing.Wait()
	if !t.Failed() && listings.Load() == 0 {
		t.Fatal("no listing finished")
	}
	t.Logf("%d listings against %d overwrites", listings.Load(), writes.Load())
}
