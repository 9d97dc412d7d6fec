package config_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/config"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kv"
)

// openConfigs starts an in-memory NATS server in the process and returns
// Configs on it, and a function that stops both.
func openConfigs(ctx context.Context) (*config.Configs, func()) {
	srv, err := embedded.Start(ctx, embedded.Config{InMemory: true})
	if err != nil {
		log.Fatal(err)
	}
	nc, err := srv.Connect()
	if err != nil {
		log.Fatal(err)
	}
	store, err := kv.New(nc, kv.WithNamespace(bucket.SysConfig), kv.WithDefaultStorage(bucket.MemoryStorage))
	if err != nil {
		log.Fatal(err)
	}
	configs, err := config.New(store)
	if err != nil {
		log.Fatal(err)
	}
	return configs, func() {
		store.Close()
		nc.Close()
		srv.Shutdown(ctx)
	}
}

func Example() {
	ctx := context.Background()
	configs, stop := openConfigs(ctx)
	defer stop()

	// Store a document in the default environment, and another in "prod".
	configs.Set(ctx, "", "app-settings", []byte(`{"theme":"dark","maxUploadMB":25}`), config.Condition{})
	configs.Set(ctx, "prod", "app-settings", []byte(`{"theme":"light","maxUploadMB":100}`), config.Condition{})

	doc, err := configs.Get(ctx, "prod", "app-settings")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s at revision %d: %s\n", doc.Name, doc.Revision, doc.Data)

	list, _ := configs.List(ctx, "default")
	for _, s := range list {
		fmt.Println("default has", s.Name)
	}
	// Output:
	// app-settings at revision 1: {"theme":"light","maxUploadMB":100}
	// default has app-settings
}

// Conditional writes: create only if absent, replace only from the
// revision read.
func ExampleConfigs_Set() {
	ctx := context.Background()
	configs, stop := openConfigs(ctx)
	defer stop()

	rev, err := configs.Set(ctx, "", "limits", []byte(`{"rps":100}`), config.Condition{IfNoneMatch: true})
	fmt.Println(rev, err)
	_, err = configs.Set(ctx, "", "limits", []byte(`{"rps":5}`), config.Condition{IfNoneMatch: true})
	fmt.Println(errors.Is(err, kv.ErrConflict))

	rev, err = configs.Set(ctx, "", "limits", []byte(`{"rps":200}`), config.Condition{IfMatch: rev})
	fmt.Println(rev, err)

	_, err = configs.Set(ctx, "", "limits", []byte(`[1,2]`), config.Condition{})
	fmt.Println(err)
	// Output:
	// 1 <nil>
	// true
	// 2 <nil>
	// config body must be a JSON object, got array
}

// Patch merges the top level of a JSON object into a document: members are
// replaced or added, null removes one, nested objects are replaced whole.
func ExampleConfigs_Patch() {
	ctx := context.Background()
	configs, stop := openConfigs(ctx)
	defer stop()

	// Patch creates a document that does not exist.
	configs.Patch(ctx, "", "features", []byte(`{"search":true,"beta":{"chat":true}}`), 0)
	configs.Patch(ctx, "", "features", []byte(`{"search":null,"beta":{"video":true},"export":"csv"}`), 0)

	doc, _ := configs.Get(ctx, "", "features")
	fmt.Println(string(doc.Data))

	// With ifMatch, Patch applies only to that revision.
	_, err := configs.Patch(ctx, "", "features", []byte(`{"export":"xlsx"}`), 1)
	fmt.Println(errors.Is(err, kv.ErrConflict))
	// Output:
	// {"beta":{"video":true},"export":"csv"}
	// true
}

func ExampleConfigs_Watch() {
	ctx := context.Background()
	configs, stop := openConfigs(ctx)
	defer stop()
	configs.Set(ctx, "", "flags", []byte(`{"dark":false}`), config.Condition{})

	w, err := configs.Watch(ctx, "", "flags")
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
		case config.EventPut:
			fmt.Printf("%s %s = %s\n", ev.Kind, ev.Name, ev.Data)
		case config.EventDelete:
			fmt.Printf("%s %s\n", ev.Kind, ev.Name)
		case config.EventSynced:
			fmt.Println("synced; now live")
			configs.Patch(ctx, "", "flags", []byte(`{"dark":true}`), 0)
			configs.Delete(ctx, "", "flags", 0)
		}
		if n++; n == 4 {
			break
		}
	}
	// Output:
	// put flags = {"dark":false}
	// synced; now live
	// put flags = {"dark":true}
	// delete flags
}

func ExampleMerge() {
	out, _ := config.Merge([]byte(`{"a":1,"b":{"x":1},"c":3}`), []byte(`{"b":{"y":2},"c":null,"d":4}`))
	fmt.Println(string(out))
	// Output:
	// {"a":1,"b":{"y":2},"d":4}
}
