package kv_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kv"
)

// openStore starts an in-memory NATS server in the process and returns a
// Store on it, and a function that stops both.
func openStore(ctx context.Context) (*kv.Store, func()) {
	srv, err := embedded.Start(ctx, embedded.Config{InMemory: true})
	if err != nil {
		log.Fatal(err)
	}
	nc, err := srv.Connect()
	if err != nil {
		log.Fatal(err)
	}
	store, err := kv.New(nc, kv.WithDefaultStorage(bucket.MemoryStorage))
	if err != nil {
		log.Fatal(err)
	}
	return store, func() {
		store.Close()
		nc.Close()
		srv.Shutdown(ctx)
	}
}

func Example() {
	ctx := context.Background()
	store, stop := openStore(ctx)
	defer stop()

	// Create a bucket, put and get.
	users, err := store.CreateBucket(ctx, bucket.Config{Name: "users", History: 5})
	if err != nil {
		log.Fatal(err)
	}
	rev, _ := users.Put(ctx, "user:42", []byte(`{"name":"Ada"}`))
	e, _ := users.Get(ctx, "user:42")
	fmt.Printf("revision %d: %s = %s\n", rev, e.Key, e.Value)

	// Listing and filters.
	users.Put(ctx, "team.eng.ada", nil)
	users.Put(ctx, "team.ops.bob", nil)
	keys, _ := users.Keys(ctx, "team.*.>")
	fmt.Println(keys)
	// Output:
	// revision 1: user:42 = {"name":"Ada"}
	// [team.eng.ada team.ops.bob]
}

func ExampleStore_CreateBucket() {
	ctx := context.Background()
	store, stop := openStore(ctx)
	defer stop()

	_, err := store.CreateBucket(ctx, bucket.Config{Name: "orders", History: 10, MaxValueSize: 1 << 16})
	fmt.Println(err)
	_, err = store.CreateBucket(ctx, bucket.Config{Name: "orders"})
	fmt.Println(errors.Is(err, kv.ErrBucketExists))
	_, err = store.CreateBucket(ctx, bucket.Config{Name: "bad name"})
	fmt.Println(errors.Is(err, kv.ErrInvalidBucketName))
	// Output:
	// <nil>
	// true
	// true
}

// Compare-and-swap: Update succeeds only from the revision the caller read.
func ExampleBucket_Update() {
	ctx := context.Background()
	store, stop := openStore(ctx)
	defer stop()
	counters, _ := store.CreateBucket(ctx, bucket.Config{Name: "counters"})

	rev, _ := counters.Create(ctx, "hits", []byte("1"))
	// Someone else writes first.
	counters.Put(ctx, "hits", []byte("5"))

	_, err := counters.Update(ctx, "hits", []byte("2"), rev)
	var conflict *kv.ConflictError
	if errors.As(err, &conflict) {
		fmt.Printf("conflict: expected revision %d, key is at %d\n", conflict.Expected, conflict.Revision)
	}
	// Read again and retry from the current revision.
	e, _ := counters.Get(ctx, "hits")
	rev, err = counters.Update(ctx, "hits", []byte("6"), e.Revision)
	fmt.Println(rev, err)
	// Output:
	// conflict: expected revision 1, key is at 2
	// 3 <nil>
}

func ExampleBucket_Watch() {
	ctx := context.Background()
	store, stop := openStore(ctx)
	defer stop()
	config, _ := store.CreateBucket(ctx, bucket.Config{Name: "config"})
	config.Put(ctx, "feature.dark-mode", []byte("on"))

	w, err := config.Watch(ctx, "feature.>")
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()

	n := 0
	for ev, err := range w.All(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		switch ev.Kind {
		case kv.EventSynced:
			fmt.Println("-- synced; live from here")
			// Change things once the snapshot is in.
			config.Put(ctx, "feature.beta", []byte("off"))
			config.Delete(ctx, "feature.dark-mode")
		case kv.EventUpdate:
			fmt.Println(ev.Entry.Op, ev.Entry.Key, string(ev.Entry.Value))
		}
		if n++; n == 4 {
			break
		}
	}
	// Output:
	// put feature.dark-mode on
	// -- synced; live from here
	// put feature.beta off
	// delete feature.dark-mode
}

// Durable writes on an embedded server: with group commit, the default,
// a Put returns once it is on stable storage, and concurrent writers share
// each sync.
func ExampleWithGroupCommit() {
	ctx := context.Background()
	srv, err := embedded.Start(ctx, embedded.Config{}) // GroupCommit, in a temporary dir
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(ctx)
	nc, err := srv.Connect()
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()

	// kv.New finds the barrier of an embedded server of this process by
	// itself; WithGroupCommit says so explicitly (and is how a connection
	// dialled over TCP gets it).
	store, err := kv.New(nc, kv.WithGroupCommit(srv))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	orders, err := store.CreateBucket(ctx, bucket.Config{Name: "orders"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := orders.Put(ctx, "order-1", []byte(`{"total":42}`)); err != nil {
		log.Fatal(err) // on a failed sync: ErrUnavailable, "not confirmed on stable storage"
	}
	fmt.Println(srv.Durability(), store.GroupCommit(), srv.SyncStats().Syncs > 0)
	// Output: group-commit true true
}
