// Command embedded shows ironkv used as a library: a NATS server with
// JetStream runs inside the program, with its data in a directory, and the
// program stores, updates, lists and watches keys through package kv.
//
//	go run ./examples/embedded
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kv"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "ironkv-example-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// An in-process NATS server: no TCP port; with group commit, the default,
	// a kv write returns once it is on stable storage.
	srv, err := embedded.Start(ctx, embedded.Config{DataDir: dir})
	if err != nil {
		return err
	}
	defer srv.Shutdown(ctx)
	nc, err := srv.Connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	store, err := kv.New(nc)
	if err != nil {
		return err
	}
	defer store.Close()

	profiles, err := store.CreateBucket(ctx, bucket.Config{Name: "profiles", History: 5})
	if err != nil {
		return err
	}

	// Watch every change under "user.", live from now.
	w, err := profiles.Watch(ctx, "user.>", kv.UpdatesOnly())
	if err != nil {
		return err
	}
	defer w.Close()

	rev, err := profiles.Create(ctx, "user.ada", []byte(`{"lang":"en"}`))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "created user.ada at revision %d\n", rev)

	// Create again: the key is live, so this is a conflict.
	if _, err := profiles.Create(ctx, "user.ada", []byte(`{}`)); errors.Is(err, kv.ErrConflict) {
		fmt.Fprintln(out, "second create:", err)
	}

	// Compare-and-swap from the revision we hold.
	rev, err = profiles.Update(ctx, "user.ada", []byte(`{"lang":"fr"}`), rev)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "updated user.ada to revision %d\n", rev)

	profiles.Put(ctx, "user.bob", []byte(`{"lang":"de"}`))
	keys, err := profiles.Keys(ctx, "user.*")
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "keys:", keys)

	for range 3 {
		ev, err := w.Next(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "watch: %s %s %s (revision %d)\n", ev.Entry.Op, ev.Entry.Key, ev.Entry.Value, ev.Revision)
	}
	return nil
}
