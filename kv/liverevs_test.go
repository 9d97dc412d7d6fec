package kv_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
	"github.com/nats-io/nats.go"
)

// TestUpdateReadsOnlyUnknownRevisions checks that a compare-and-swap on a
// revision the handle wrote or read itself goes straight to the server,
// and that any other revision is read first. It counts the reads of the
// bucket's messages on the server's API subjects; a read of another key
// marks where the writes before it ended, since one connection's messages
// arrive in order.
func TestUpdateReadsOnlyUnknownRevisions(t *testing.T) {
	ctx := ctxT(t)
	srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
	store := kvtest.StoreOn(t, srv)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "cas", Storage: bucket.MemoryStorage})

	// Direct gets, by subject in the request's subject or in its body.
	reads := spy(t, srv, "$JS.API.DIRECT.GET.KV_APP_cas", "$JS.API.DIRECT.GET.KV_APP_cas.>")
	// readsOf returns how many reads of key came before the next read of
	// "marker", which it makes.
	readsOf := func(key string, bh *kv.Bucket) int {
		t.Helper()
		if _, err := bh.Get(ctx, "marker"); !errors.Is(err, kv.ErrKeyNotFound) {
			t.Fatalf("Get(marker) = %v", err)
		}
		n := 0
		for {
			var m *nats.Msg
			select {
			case m = <-reads:
			case <-ctx.Done():
				t.Fatal("the read of marker never reached the server")
			}
			what := append([]byte(m.Subject+" "), m.Data...)
			switch {
			case bytes.Contains(what, []byte("marker")):
				return n
			case bytes.Contains(what, []byte(key)):
				n++
			default:
				t.Fatalf("unexpected read %s", what)
			}
		}
	}

	r1, err := b.Put(ctx, "k", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := b.Update(ctx, "k", []byte("2"), r1)
	if err != nil {
		t.Fatal(err)
	}
	r3, err := b.Update(ctx, "k", []byte("3"), r2)
	if err != nil {
		t.Fatal(err)
	}
	if n := readsOf("k", b); n != 0 {
		t.Fatalf("updates on the handle's own revisions read the key %d times, want 0", n)
	}

	// Another handle has not seen r3: it reads once, then knows its own
	// write.
	b2, err := store.Bucket(ctx, "cas")
	if err != nil {
		t.Fatal(err)
	}
	r4, err := b2.Update(ctx, "k", []byte("4"), r3)
	if err != nil {
		t.Fatal(err)
	}
	if err := b2.Delete(ctx, "k", kv.IfRevision(r4)); err != nil {
		t.Fatal(err)
	}
	if n := readsOf("k", b2); n != 1 {
		t.Fatalf("update and delete on a fresh handle read the key %d times, want 1", n)
	}

	// The first handle knew r3 and r1 as puts; the key moved on since, and
	// the server's compare-and-swap refuses them.
	for _, rev := range []uint64{r1, r3} {
		if _, err := b.Update(ctx, "k", []byte("x"), rev); !errors.Is(err, kv.ErrConflict) {
			t.Fatalf("Update(k, rev %d) after delete = %v, want a conflict", rev, err)
		}
	}
}

// TestUpdateAfterBucketRecreated checks that a revision a handle saw as a
// put is not trusted once its Store deleted the bucket: sequences restart,
// and the same revision of the same key can then be a tombstone.
func TestUpdateAfterBucketRecreated(t *testing.T) {
	ctx := ctxT(t)
	store := kvtest.NewStore(t)
	cfg := bucket.Config{Name: "again", Storage: bucket.MemoryStorage}
	old := kvtest.NewBucket(t, store, cfg)
	r1, err := old.Put(ctx, "k", []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteBucket(ctx, "again"); err != nil {
		t.Fatal(err)
	}
	fresh := kvtest.NewBucket(t, store, cfg)
	if err := fresh.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	h, err := fresh.History(ctx, "k")
	if err != nil || len(h) != 1 || h[0].Revision != r1 || h[0].Op != kv.OpDelete {
		t.Fatalf("History = %+v, %v; want one tombstone at revision %d", h, err, r1)
	}
	if _, err := old.Update(ctx, "k", []byte("w"), r1); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("Update with the tombstone's revision through the old handle = %v, want a conflict", err)
	}
	if err := old.Delete(ctx, "k", kv.IfRevision(r1)); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("Delete with the tombstone's revision through the old handle = %v, want a conflict", err)
	}
}
