package kv_test

// The tests in this file list keys while other clients overwrite them, so
// that the index's consumer skips messages the stream removed before it
// reached them (see keyIndex.consistent).

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
