package kv_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestBucketAdmin(t *testing.T) {
	ctx := ctxT(t)
	store := kvtest.NewStore(t)

	b, err := store.CreateBucket(ctx, bucket.Config{Name: "orders", Description: "d", History: 5, TTL: time.Hour, MaxValueSize: 100, MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "orders" || b.MaxValueSize() != 100 {
		t.Fatalf("handle: name %q max %d", b.Name(), b.MaxValueSize())
	}
	info, err := store.BucketInfo(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	want := bucket.Config{Name: "orders", Description: "d", History: 5, TTL: time.Hour, MaxValueSize: 100, MaxBytes: 1 << 20, Replicas: 1, Storage: bucket.MemoryStorage}
	if info.Config != want {
		t.Fatalf("info config\n got %+v\nwant %+v", info.Config, want)
	}
	if info.CreatedAt.IsZero() || time.Since(info.CreatedAt) > time.Minute {
		t.Fatalf("created_at %v", info.CreatedAt)
	}

	for _, tc := range []struct {
		name string
		cfg  bucket.Config
		want error
	}{
		{"same config", bucket.Config{Name: "orders", Description: "d", History: 5, TTL: time.Hour, MaxValueSize: 100, MaxBytes: 1 << 20}, kv.ErrBucketExists},
		{"other config", bucket.Config{Name: "orders"}, kv.ErrBucketExists},
		{"empty name", bucket.Config{}, kv.ErrInvalidBucketName},
		{"dot in name", bucket.Config{Name: "a.b"}, kv.ErrInvalidBucketName},
		{"sys escape", bucket.Config{Name: "../SYS_secrets_x"}, kv.ErrInvalidBucketName},
		{"long name", bucket.Config{Name: strings.Repeat("a", 65)}, kv.ErrInvalidBucketName},
		{"history 65", bucket.Config{Name: "h", History: 65}, kv.ErrInvalidConfig},
		{"negative history", bucket.Config{Name: "h", History: -1}, kv.ErrInvalidConfig},
		{"negative bytes", bucket.Config{Name: "h", MaxBytes: -5}, kv.ErrInvalidConfig},
		{"negative value size", bucket.Config{Name: "h", MaxValueSize: -5}, kv.ErrInvalidConfig},
		{"replicas 2", bucket.Config{Name: "h", Replicas: 2}, kv.ErrInvalidConfig},
		{"replicas 3 on one node", bucket.Config{Name: "h", Replicas: 3}, kv.ErrInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := store.CreateBucket(ctx, tc.cfg)
			if !errors.Is(err, tc.want) {
				t.Fatalf("CreateBucket(%+v) = %v, want %v", tc.cfg, err, tc.want)
			}
		})
	}

	if _, err := store.Bucket(ctx, "missing"); !errors.Is(err, kv.ErrBucketNotFound) {
		t.Fatalf("Bucket(missing) = %v", err)
	}
	if _, err := store.BucketInfo(ctx, "missing"); !errors.Is(err, kv.ErrBucketNotFound) {
		t.Fatalf("BucketInfo(missing) = %v", err)
	}
	if err := store.DeleteBucket(ctx, "missing"); !errors.Is(err, kv.ErrBucketNotFound) {
		t.Fatalf("DeleteBucket(missing) = %v", err)
	}
	if _, err := store.UpdateBucket(ctx, bucket.Config{Name: "missing"}); !errors.Is(err, kv.ErrBucketNotFound) {
		t.Fatalf("UpdateBucket(missing) = %v", err)
	}

	up, err := store.UpdateBucket(ctx, bucket.Config{Name: "orders", Description: "new", History: 10, MaxValueSize: 200})
	if err != nil {
		t.Fatal(err)
	}
	if up.MaxValueSize() != 200 {
		t.Fatalf("updated max value size %d", up.MaxValueSize())
	}
	info, _ = store.BucketInfo(ctx, "orders")
	if info.Description != "new" || info.History != 10 || info.TTL != 0 {
		t.Fatalf("after update: %+v", info.Config)
	}
	if _, err := store.UpdateBucket(ctx, bucket.Config{Name: "orders", Storage: bucket.FileStorage}); !errors.Is(err, kv.ErrInvalidConfig) {
		t.Fatalf("storage change = %v, want ErrInvalidConfig", err)
	}
}

func TestNamespaces(t *testing.T) {
	ctx := ctxT(t)
	srv := kvtest.NewServer(t, embedded0())
	app := kvtest.StoreOn(t, srv, kv.WithDefaultStorage(bucket.MemoryStorage))
	sys := kvtest.StoreOn(t, srv, kv.WithNamespace(bucket.SysSecrets), kv.WithDefaultStorage(bucket.MemoryStorage))
	cfgStore := kvtest.StoreOn(t, srv, kv.WithNamespace(bucket.SysConfig), kv.WithDefaultStorage(bucket.MemoryStorage))

	kvtest.NewBucket(t, app, bucket.Config{Name: "x"})
	kvtest.NewBucket(t, sys, bucket.Config{Name: "x"})
	kvtest.NewBucket(t, cfgStore, bucket.Config{Name: "default"})

	for _, tc := range []struct {
		store *kv.Store
		want  []string
	}{{app, []string{"x"}}, {sys, []string{"x"}}, {cfgStore, []string{"default"}}} {
		infos, err := tc.store.Buckets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, i := range infos {
			names = append(names, i.Name)
		}
		if !slices.Equal(names, tc.want) {
			t.Fatalf("%s: Buckets = %v, want %v", tc.store.Namespace(), names, tc.want)
		}
	}
	// The same name in two namespaces is two buckets.
	ab, _ := app.Bucket(ctx, "x")
	sb, _ := sys.Bucket(ctx, "x")
	if _, err := ab.Put(ctx, "k", []byte("app")); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Get(ctx, "k"); !errors.Is(err, kv.ErrKeyNotFound) {
		t.Fatalf("SYS bucket sees the APP write: %v", err)
	}
	// No APP name reaches a SYS_ stream.
	for _, name := range []string{"SYS_secrets_x", "$KV.SYS_x", "../x", "SYS_config_default"} {
		if name == "SYS_secrets_x" || name == "SYS_config_default" {
			// Valid characters: it is a (new) APP_ bucket, not the SYS_ one.
			if _, err := app.Bucket(ctx, name); !errors.Is(err, kv.ErrBucketNotFound) {
				t.Fatalf("app.Bucket(%q) = %v, want ErrBucketNotFound", name, err)
			}
			continue
		}
		if _, err := app.Bucket(ctx, name); !errors.Is(err, kv.ErrInvalidBucketName) {
			t.Fatalf("app.Bucket(%q) = %v, want ErrInvalidBucketName", name, err)
		}
	}
	if _, err := kv.New(kvtest.Connect(t, srv), kv.WithNamespace("SYS_")); !errors.Is(err, kv.ErrInvalidConfig) {
		t.Fatalf("unknown namespace: %v", err)
	}
}

func TestOperations(t *testing.T) {
	ctx := ctxT(t)
	store := kvtest.NewStore(t)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "ops", History: 10, MaxValueSize: 64})

	r1, err := b.Put(ctx, "user:1", []byte("a"))
	if err != nil || r1 != 1 {
		t.Fatalf("first Put = %d, %v; want revision 1", r1, err)
	}
	e, err := b.Get(ctx, "user:1")
	if err != nil || string(e.Value) != "a" || e.Revision != 1 || e.Op != kv.OpPut || e.Key != "user:1" || e.Bucket != "ops" {
		t.Fatalf("Get = %+v, %v", e, err)
	}

	// Create on a live key conflicts and reports the current revision.
	_, err = b.Create(ctx, "user:1", []byte("b"))
	var ce *kv.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, kv.ErrConflict) || ce.Revision != 1 {
		t.Fatalf("Create on live key = %v", err)
	}
	// Update with the right revision.
	r2, err := b.Update(ctx, "user:1", []byte("b"), r1)
	if err != nil || r2 <= r1 {
		t.Fatalf("Update = %d, %v", r2, err)
	}
	// A stale Update is a conflict, never "key exists" nor "not found".
	_, err = b.Update(ctx, "user:1", []byte("c"), r1)
	if !errors.As(err, &ce) || ce.Revision != r2 || ce.Expected != r1 || errors.Is(err, kv.ErrKeyNotFound) {
		t.Fatalf("stale Update = %v", err)
	}
	// Update of a missing key.
	// A conflict on a key with no value is a conflict, never "not found":
	// callers that test ErrKeyNotFound first must still see the conflict.
	if _, err := b.Update(ctx, "nope", []byte("c"), 1); !errors.Is(err, kv.ErrConflict) || errors.Is(err, kv.ErrKeyNotFound) {
		t.Fatalf("Update missing = %v", err)
	}
	if _, err := b.Update(ctx, "user:1", []byte("c"), 0); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("Update rev 0 = %v", err)
	}

	// Delete with a stale revision conflicts; with the right one it works.
	if err := b.Delete(ctx, "user:1", kv.IfRevision(r1)); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("stale Delete = %v", err)
	}
	if err := b.Delete(ctx, "user:1", kv.IfRevision(r2)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "user:1"); !errors.Is(err, kv.ErrKeyNotFound) {
		t.Fatalf("Get deleted = %v", err)
	}
	h, err := b.History(ctx, "user:1")
	if err != nil || len(h) != 3 || h[2].Op != kv.OpDelete || string(h[0].Value) != "a" || h[2].Value != nil {
		t.Fatalf("History = %+v, %v", h, err)
	}
	tomb := h[2].Revision
	// Update with a tombstone's revision is a conflict.
	if _, err := b.Update(ctx, "user:1", []byte("z"), tomb); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("Update on tombstone revision = %v", err)
	}
	if err := b.Delete(ctx, "user:1", kv.IfRevision(tomb)); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("Delete with tombstone revision = %v", err)
	}
	// Create after Delete succeeds.
	r4, err := b.Create(ctx, "user:1", []byte("again"))
	if err != nil {
		t.Fatalf("Create after Delete = %v", err)
	}
	// GetRevision.
	if e, err := b.GetRevision(ctx, "user:1", r1); err != nil || string(e.Value) != "a" {
		t.Fatalf("GetRevision(r1) = %+v, %v", e, err)
	}
	if _, err := b.GetRevision(ctx, "user:1", tomb); !errors.Is(err, kv.ErrKeyNotFound) {
		t.Fatalf("GetRevision(tombstone) = %v", err)
	}
	if _, err := b.GetRevision(ctx, "user:1", 9999); !errors.Is(err, kv.ErrKeyNotFound) {
		t.Fatalf("GetRevision(9999) = %v", err)
	}
	other, _ := b.Put(ctx, "other", []byte("o"))
	if _, err := b.GetRevision(ctx, "user:1", other); !errors.Is(err, kv.ErrKeyNotFound) {
		t.Fatalf("GetRevision(other key's revision) = %v", err)
	}
	// Purge removes history; Create after Purge succeeds.
	if err := b.Purge(ctx, "user:1", kv.IfRevision(r4-1)); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("stale Purge = %v", err)
	}
	if err := b.Purge(ctx, "user:1"); err != nil {
		t.Fatal(err)
	}
	h, err = b.History(ctx, "user:1")
	if err != nil || len(h) != 1 || h[0].Op != kv.OpPurge {
		t.Fatalf("History after purge = %+v, %v", h, err)
	}
	if _, err := b.Create(ctx, "user:1", []byte("fresh")); err != nil {
		t.Fatalf("Create after Purge = %v", err)
	}
	// Deleting a key that never existed succeeds.
	if err := b.Delete(ctx, "never"); err != nil {
		t.Fatalf("Delete missing = %v", err)
	}
	if _, err := b.History(ctx, "nothing-here"); !errors.Is(err, kv.ErrKeyNotFound) {
		t.Fatalf("History missing = %v", err)
	}

	// Values: the limit is checked before NATS; exactly the limit works for
	// every write, conditional or not.
	big := bytes.Repeat([]byte("x"), 65)
	if _, err := b.Put(ctx, "big", big); !errors.Is(err, kv.ErrValueTooLarge) {
		t.Fatalf("Put too large = %v", err)
	}
	if _, err := b.Create(ctx, "big", big); !errors.Is(err, kv.ErrValueTooLarge) {
		t.Fatalf("Create too large = %v", err)
	}
	full := big[:64]
	rb, err := b.Create(ctx, "big", full)
	if err != nil {
		t.Fatalf("Create at limit = %v", err)
	}
	if _, err := b.Update(ctx, "big", full, rb); err != nil {
		t.Fatalf("Update at limit = %v", err)
	}
	// Empty values are values.
	if _, err := b.Put(ctx, "empty", nil); err != nil {
		t.Fatal(err)
	}
	if e, err := b.Get(ctx, "empty"); err != nil || len(e.Value) != 0 {
		t.Fatalf("Get empty = %+v, %v", e, err)
	}
}

func TestInvalidKeys(t *testing.T) {
	ctx := ctxT(t)
	store := kvtest.NewStore(t)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "keys"})
	for _, key := range []string{"", ".a", "a.", "a..b", "a*", "a.>", ">", "*", "a\x00b", "a\nb", "a\x7fb", "\xff\xfe", strings.Repeat("é", 200)} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			calls := map[string]error{}
			_, calls["put"] = b.Put(ctx, key, []byte("v"))
			_, calls["create"] = b.Create(ctx, key, []byte("v"))
			_, calls["update"] = b.Update(ctx, key, []byte("v"), 1)
			_, calls["get"] = b.Get(ctx, key)
			_, calls["getrev"] = b.GetRevision(ctx, key, 1)
			_, calls["history"] = b.History(ctx, key)
			calls["delete"] = b.Delete(ctx, key)
			calls["purge"] = b.Purge(ctx, key)
			for op, err := range calls {
				if !errors.Is(err, kv.ErrInvalidKey) {
					t.Errorf("%s(%q) = %v, want ErrInvalidKey", op, key, err)
				}
			}
		})
	}
	for _, f := range []string{"user-*", "a.>.b", "a..b", "user>"} {
		if _, err := b.Keys(ctx, f); !errors.Is(err, kv.ErrInvalidKey) {
			t.Errorf("Keys(%q) = %v, want ErrInvalidKey", f, err)
		}
		if _, err := b.Watch(ctx, f); !errors.Is(err, kv.ErrInvalidKey) {
			t.Errorf("Watch(%q) = %v, want ErrInvalidKey", f, err)
		}
	}
}

// TestKeyEncodingOnTheWire checks that ironkv's keys are what other NATS
// clients see: escaped on the wire, decoded for the user.
func TestKeyEncodingOnTheWire(t *testing.T) {
	ctx := ctxT(t)
	srv := kvtest.NewServer(t, embedded0())
	store := kvtest.StoreOn(t, srv, kv.WithDefaultStorage(bucket.MemoryStorage))
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "wire"})
	for _, key := range []string{"user:123", "a b", "é", "x=y", "plain/key_-.ok"} {
		if _, err := b.Put(ctx, key, []byte(key)); err != nil {
			t.Fatal(err)
		}
	}
	js, _ := jetstream.New(kvtest.Connect(t, srv))
	raw, err := js.KeyValue(ctx, "APP_wire")
	if err != nil {
		t.Fatal(err)
	}
	for nk, want := range map[string]string{"user=3A123": "user:123", "a=20b": "a b", "=C3=A9": "é", "x=3Dy": "x=y", "plain/key_-.ok": "plain/key_-.ok"} {
		e, err := raw.Get(ctx, nk)
		if err != nil || string(e.Value()) != want {
			t.Errorf("raw Get(%q) = %v, %v; want %q", nk, e, err, want)
		}
	}
	// A write from another NATS client is read back decoded.
	if _, err := raw.Put(ctx, "from=3Anats", []byte("n")); err != nil {
		t.Fatal(err)
	}
	if e, err := b.Get(ctx, "from:nats"); err != nil || string(e.Value) != "n" {
		t.Fatalf("Get(from:nats) = %+v, %v", e, err)
	}
	keys, err := b.Keys(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a b", "from:nats", "plain/key_-.ok", "user:123", "x=y", "é"}
	if !slices.Equal(keys, want) {
		t.Fatalf("Keys = %q, want %q", keys, want)
	}
	// kv's tombstone and purge marker are nats.go's: its KeyValue reads
	// them as a delete and a purge (TestOperations checks the purge's
	// roll-up, on a bucket that keeps history).
	if err := b.Delete(ctx, "a b"); err != nil {
		t.Fatal(err)
	}
	if err := b.Purge(ctx, "é"); err != nil {
		t.Fatal(err)
	}
	for nk, op := range map[string]jetstream.KeyValueOp{"a=20b": jetstream.KeyValueDelete, "=C3=A9": jetstream.KeyValuePurge} {
		if _, err := raw.Get(ctx, nk); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Errorf("raw Get(%q) after %v: %v, want ErrKeyNotFound", nk, op, err)
		}
		h, err := raw.History(ctx, nk)
		if err != nil || h[len(h)-1].Operation() != op {
			t.Fatalf("raw History(%q) = %v, %v; want it to end with %v", nk, h, err, op)
		}
		if op == jetstream.KeyValuePurge && len(h) != 1 {
			t.Errorf("raw History(%q) after a purge: %d entries, want the marker alone", nk, len(h))
		}
	}
}

func TestMissingBucket(t *testing.T) {
	ctx := ctxT(t)
	store := kvtest.NewStore(t)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "gone"})
	if _, err := b.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteBucket(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	calls := map[string]error{}
	_, calls["put"] = b.Put(ctx, "k", []byte("v"))
	_, calls["create"] = b.Create(ctx, "k", []byte("v"))
	_, calls["update"] = b.Update(ctx, "k", []byte("v"), 1)
	_, calls["get"] = b.Get(ctx, "k")
	_, calls["history"] = b.History(ctx, "k")
	calls["delete"] = b.Delete(ctx, "k")
	calls["purge"] = b.Purge(ctx, "k")
	_, calls["keys"] = b.Keys(ctx, "")
	_, calls["watch"] = b.Watch(ctx, "")
	_, calls["info"] = b.Info(ctx)
	for op, err := range calls {
		if !errors.Is(err, kv.ErrBucketNotFound) {
			t.Errorf("%s on a deleted bucket = %v, want ErrBucketNotFound", op, err)
		}
	}
}

func TestBucketFull(t *testing.T) {
	ctx := ctxT(t)
	store := kvtest.NewStore(t)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "small", MaxBytes: 4096})
	v := bytes.Repeat([]byte("x"), 500)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = b.Put(ctx, fmt.Sprintf("k%d", i), v)
	}
	if !errors.Is(err, kv.ErrBucketFull) {
		t.Fatalf("filling a 4 KiB bucket ended with %v, want ErrBucketFull", err)
	}
}

func TestContextAndClose(t *testing.T) {
	store := kvtest.NewStore(t)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "c"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Put(ctx, "k", []byte("v")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with cancelled ctx = %v", err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(context.Background(), "k", []byte("v")); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("Put after Close = %v", err)
	}
	if _, err := store.Buckets(context.Background()); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("Buckets after Close = %v", err)
	}
}

func TestConnectRemote(t *testing.T) {
	ctx := ctxT(t)
	srv := kvtest.NewServer(t, embeddedTCP())
	store, err := kv.Connect(ctx, srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	b, err := store.CreateBucket(ctx, bucket.Config{Name: "remote", Storage: bucket.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if !store.Conn().IsClosed() {
		t.Fatal("Close left the owned connection open")
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := kv.Connect(cctx, "nats://127.0.0.1:1"); !errors.Is(err, kv.ErrUnavailable) {
		t.Fatalf("Connect to nothing = %v, want ErrUnavailable", err)
	}
}
