package secrets_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/secrets"
)

// Keys for the examples only. Generate real ones with
// `openssl rand -hex 32` and keep them out of source code.
var (
	exampleKeyOld = strings.Repeat("0f1e2d3c", 8)
	exampleKeyNew = strings.Repeat("a1b2c3d4", 8)
)

// openStore starts an in-memory NATS server in the process and returns a
// store in the SysSecrets namespace, and a function that stops both.
func openStore(ctx context.Context) (*kv.Store, func()) {
	srv, err := embedded.Start(ctx, embedded.Config{InMemory: true})
	if err != nil {
		log.Fatal(err)
	}
	nc, err := srv.Connect()
	if err != nil {
		log.Fatal(err)
	}
	store, err := kv.New(nc, kv.WithNamespace(bucket.SysSecrets), kv.WithDefaultStorage(bucket.MemoryStorage))
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

	// In a program: kr, err := secrets.KeyringFromEnv()
	kr, err := secrets.ParseKeyring(exampleKeyNew)
	if err != nil {
		log.Fatal(err)
	}
	vault, err := secrets.New(store, kr)
	if err != nil {
		log.Fatal(err)
	}

	info, err := vault.Create(ctx, "prod", "STRIPE_KEY", []byte("sk_live_example"), "payments")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Name, info.Revision, info.Description, info.KeyID)

	// Metadata only: what an HTTP API may show.
	list, _ := vault.List(ctx, "prod")
	for _, i := range list {
		fmt.Printf("%s (%s)\n", i.Name, i.Description)
	}
	// Output:
	// STRIPE_KEY 1 payments 8e19c947
	// STRIPE_KEY (payments)
}

// Reveal is the one call that returns the plaintext, for Go code in the
// process.
func ExampleSecrets_Reveal() {
	ctx := context.Background()
	store, stop := openStore(ctx)
	defer stop()
	kr, _ := secrets.ParseKeyring(exampleKeyNew)
	vault, _ := secrets.New(store, kr)

	vault.Create(ctx, "", "DATABASE_URL", []byte("postgres://app:pw@db/app"), "")
	dsn, err := vault.Reveal(ctx, "", "DATABASE_URL")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(dsn))

	_, err = vault.Reveal(ctx, "", "MISSING")
	fmt.Println(errors.Is(err, kv.ErrKeyNotFound))
	// Output:
	// postgres://app:pw@db/app
	// true
}

// Put replaces a value and keeps created_at; a nil description keeps the
// description.
func ExampleSecrets_Put() {
	ctx := context.Background()
	store, stop := openStore(ctx)
	defer stop()
	kr, _ := secrets.ParseKeyring(exampleKeyNew)
	vault, _ := secrets.New(store, kr)

	first, _ := vault.Put(ctx, "", "API_TOKEN", []byte("t1"), nil)
	desc := "rotated monthly"
	second, _ := vault.Put(ctx, "", "API_TOKEN", []byte("t2"), &desc)
	fmt.Println(second.CreatedAt.Equal(first.CreatedAt), second.Revision, second.Description)
	// Output:
	// true 2 rotated monthly
}

// Key rotation: put the new key first, keep the old one for reading, then
// move every secret to the new key and retire the old one.
func ExampleSecrets_Reencrypt() {
	ctx := context.Background()
	store, stop := openStore(ctx)
	defer stop()

	old, _ := secrets.ParseKeyring("2024:" + exampleKeyOld)
	vault, _ := secrets.New(store, old)
	vault.Create(ctx, "", "A", []byte("a"), "")
	vault.Create(ctx, "prod", "B", []byte("b"), "")

	// IRONKV_MASTER_KEY="2025:<new>,2024:<old>", every process restarted.
	rotated, _ := secrets.ParseKeyring("2025:" + exampleKeyNew + ",2024:" + exampleKeyOld)
	vault, _ = secrets.New(store, rotated)
	rep, err := vault.Reencrypt(ctx, "") // "" = every environment
	fmt.Printf("%d environments, %d secrets, %d re-encrypted, %v\n", rep.Environments, rep.Secrets, rep.Reencrypted, err)

	// The old key can go.
	only, _ := secrets.ParseKeyring("2025:" + exampleKeyNew)
	vault, _ = secrets.New(store, only)
	b, _ := vault.Reveal(ctx, "prod", "B")
	info, _ := vault.Info(ctx, "prod", "B")
	fmt.Println(string(b), info.KeyID)
	// Output:
	// 2 environments, 2 secrets, 2 re-encrypted, <nil>
	// b 2025
}

// Without a master key, secrets are refused with an error that says how to
// set one; plaintext must be asked for by name.
func ExampleNew() {
	ctx := context.Background()
	store, stop := openStore(ctx)
	defer stop()

	_, err := secrets.New(store, nil)
	fmt.Println(errors.Is(err, secrets.ErrNoMasterKey))

	dev, err := secrets.New(store, nil, secrets.AllowPlaintextInsecure(), secrets.WithLogger(discard))
	fmt.Println(dev.Encrypted(), err)
	// Output:
	// true
	// false <nil>
}

func ExampleParseKeyring() {
	kr, err := secrets.ParseKeyring("2025-06:" + exampleKeyNew + "," + exampleKeyOld)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(kr) // ids only, never keys
	fmt.Println(kr.ActiveID())

	_, err = secrets.ParseKeyring("2025-06:abc")
	fmt.Println(err)
	// Output:
	// keyring(active 2025-06; also 1f23ec17)
	// 2025-06
	// invalid master keyring: entry 1: the key has 3 characters; want 64 hex digits (32 random bytes, as openssl rand -hex 32 prints them)
}
