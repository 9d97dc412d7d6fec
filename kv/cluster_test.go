package kv_test

import (
	"errors"
	"testing"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
)

// TestReplicatedBucket runs kv on a three-node cluster: a bucket with three
// replicas, writes through one node and reads through another with no lag
// (read-your-writes), and compare-and-swap conflicts as on one node (a
// replicated stream reports them with another error code).
func TestReplicatedBucket(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	ctx := ctxT(t)
	nodes := kvtest.NewCluster(t, 3, embedded.Config{})
	a := kvtest.StoreOn(t, nodes[0], kv.WithDefaultStorage(bucket.MemoryStorage))
	c := kvtest.StoreOn(t, nodes[2], kv.WithDefaultStorage(bucket.MemoryStorage))
	ba := kvtest.CreateBucketEventually(t, a, bucket.Config{Name: "r3", Replicas: 3, History: 3})
	bc, err := c.Bucket(ctx, "r3")
	if err != nil {
		t.Fatal(err)
	}
	info, err := bc.Info(ctx)
	if err != nil || info.Replicas != 3 {
		t.Fatalf("info = %+v, %v", info.Config, err)
	}
	for i := range 50 {
		rev, err := ba.Put(ctx, "k", []byte{byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		e, err := bc.Get(ctx, "k")
		if err != nil || e.Revision != rev {
			t.Fatalf("read through another node after put %d: revision %d, %v; want %d", i, e.Revision, err, rev)
		}
	}
	e, _ := bc.Get(ctx, "k")
	if _, err := ba.Update(ctx, "k", []byte("x"), e.Revision-1); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("stale update on R3 = %v", err)
	}
	// The conditional write itself conflicts (not only the pre-read): race
	// two updates from the same revision.
	errs := make(chan error, 2)
	for _, b := range []*kv.Bucket{ba, bc} {
		go func() { _, err := b.Update(ctx, "k", []byte("y"), e.Revision); errs <- err }()
	}
	e1, e2 := <-errs, <-errs
	if (e1 == nil) == (e2 == nil) || !(errors.Is(e1, kv.ErrConflict) || errors.Is(e2, kv.ErrConflict)) {
		t.Fatalf("two updates from one revision: %v and %v; want one success and one ErrConflict", e1, e2)
	}
	if _, err := bc.Create(ctx, "k", nil); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("create on live key on R3 = %v", err)
	}
	if keys, err := bc.Keys(ctx, ""); err != nil || len(keys) != 1 {
		t.Fatalf("Keys on R3 = %q, %v", keys, err)
	}
}
