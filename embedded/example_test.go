package embedded_test

import (
	"context"
	"fmt"
	"log"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ironkv/ironkv/embedded"
)

func ExampleStart() {
	ctx := context.Background()
	srv, err := embedded.Start(ctx, embedded.Config{InMemory: true})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(ctx)

	nc, err := srv.Connect()
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()

	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:  "settings",
		Storage: jetstream.MemoryStorage,
	})
	if err != nil {
		log.Fatal(err)
	}
	rev, err := kv.Put(ctx, "theme", []byte("dark"))
	if err != nil {
		log.Fatal(err)
	}
	e, err := kv.Get(ctx, "theme")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rev, e.Key(), string(e.Value()))
	// Output: 1 theme dark
}
