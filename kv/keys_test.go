package kv_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
)

func TestKeysFiltersAndPaging(t *testing.T) {
	ctx := ctxT(t)
	store := kvtest.NewStore(t)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "k"})
	all := []string{"a", "a.b", "a.b.c", "a.c", "b.b", "user.1", "user.2", "user.2.x", "user:3", "usera.1"}
	for _, k := range slices.Backward(all) {
		if _, err := b.Put(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	b.Put(ctx, "dead", []byte("x"))
	b.Delete(ctx, "dead")
	b.Put(ctx, "purged", []byte("x"))
	b.Purge(ctx, "purged")

	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{"", all},
		{">", all},
		{"a", []string{"a"}},
		{"a.>", []string{"a.b", "a.b.c", "a.c"}},
		{"a.*", []string{"a.b", "a.c"}},
		{"*.b", []string{"a.b", "b.b"}},
		{"user.*", []string{"user.1", "user.2"}},
		{"user.>", []string{"user.1", "user.2", "user.2.x"}},
		{"*.*.*", []string{"a.b.c", "user.2.x"}},
		{"user:3", []string{"user:3"}},
		{"dead", []string{}},
		{"nothing.>", []string{}},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			got, err := b.Keys(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || !slices.Equal(got, tc.want) {
				t.Fatalf("Keys(%q) = %q, want %q", tc.filter, got, tc.want)
			}
		})
	}

	// Paging walks every key once, in order.
	var paged []string
	after := ""
	for pages := 0; ; pages++ {
		p, err := b.KeysPage(ctx, "", after, 3)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, p.Keys...)
		if p.Next == "" {
			break
		}
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		after = p.Next
	}
	if !slices.Equal(paged, all) {
		t.Fatalf("paged = %q, want %q", paged, all)
	}
	p, _ := b.KeysPage(ctx, "user.>", "user.1", 10)
	if !slices.Equal(p.Keys, []string{"user.2", "user.2.x"}) || p.Next != "" {
		t.Fatalf("page after user.1 = %+v", p)
	}
}

// TestKeysReadYourWrites checks that a listing reflects every write that
// completed before it, also writes by another connection, and agrees with a
// full read of the bucket after random writes by concurrent clients.
func TestKeysReadYourWrites(t *testing.T) {
	stateSources(t, func(t *testing.T, src kv.Option) {
		ctx := ctxT(t)
		srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
		reader := kvtest.StoreOn(t, srv, src, kv.WithDefaultStorage(bucket.MemoryStorage))
		writer := kvtest.StoreOn(t, srv, src, kv.WithDefaultStorage(bucket.MemoryStorage))
		wb := kvtest.NewBucket(t, writer, bucket.Config{Name: "ryw"})
		rb, err := reader.Bucket(ctx, "ryw")
		if err != nil {
			t.Fatal(err)
		}
		if keys, err := rb.Keys(ctx, ""); err != nil || len(keys) != 0 {
			t.Fatalf("empty bucket: %q, %v", keys, err)
		}
		for i := range 200 {
			k := fmt.Sprintf("k.%d", i)
			if _, err := wb.Put(ctx, k, []byte("v")); err != nil {
				t.Fatal(err)
			}
			keys, err := rb.Keys(ctx, k)
			if err != nil || len(keys) != 1 {
				t.Fatalf("after put %s: Keys = %q, %v", k, keys, err)
			}
			if i%3 == 0 {
				wb.Delete(ctx, k)
				if keys, _ := rb.Keys(ctx, k); len(keys) != 0 {
					t.Fatalf("after delete %s: Keys = %q", k, keys)
				}
			}
		}

		// Concurrent random writers; then the index must match the truth.
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(w), 1))
				for range 300 {
					k := fmt.Sprintf("r.%d", r.IntN(50))
					switch r.IntN(4) {
					case 0:
						wb.Delete(ctx, k)
					case 1:
						wb.Purge(ctx, k)
					default:
						wb.Put(ctx, k, []byte("v"))
					}
				}
			})
		}
		wg.Wait()
		got, err := rb.Keys(ctx, "r.>")
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for i := range 50 {
			k := fmt.Sprintf("r.%d", i)
			if _, err := wb.Get(ctx, k); err == nil {
				want = append(want, k)
			} else if !errors.Is(err, kv.ErrKeyNotFound) {
				t.Fatal(err)
			}
		}
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Fatalf("index %q\n truth %q", got, want)
		}
	})
}

func TestKeysExpiryAndRecreate(t *testing.T) {
	ctx := ctxT(t)
	store := kvtest.NewStore(t)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "ttl", TTL: time.Second})
	if _, err := b.Put(ctx, "short", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if keys, _ := b.Keys(ctx, ""); !slices.Equal(keys, []string{"short"}) {
		t.Fatalf("before expiry: %q", keys)
	}
	// The expiry leaves a marker that the index applies.
	kvtest.Eventually(t, 10*time.Second, "expired key leaves the listing", func() bool {
		keys, err := b.Keys(ctx, "")
		return err == nil && len(keys) == 0
	})
	if _, err := b.Get(ctx, "short"); !errors.Is(err, kv.ErrKeyNotFound) {
		t.Fatalf("Get expired = %v", err)
	}

	// Deleting the bucket drops its index; a new bucket of the same name
	// starts empty.
	if err := store.DeleteBucket(ctx, "ttl"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Keys(ctx, ""); !errors.Is(err, kv.ErrBucketNotFound) {
		t.Fatalf("Keys on deleted bucket = %v", err)
	}
	nb := kvtest.NewBucket(t, store, bucket.Config{Name: "ttl"})
	nb.Put(ctx, "fresh", nil)
	if keys, err := nb.Keys(ctx, ""); err != nil || !slices.Equal(keys, []string{"fresh"}) {
		t.Fatalf("recreated bucket: %q, %v", keys, err)
	}
}

// TestKeyIndexLifecycle: the key count and bucket info come from the index
// once it is built; an index unused for the idle time is released and
// rebuilt on the next listing; builds are logged.
func TestKeyIndexLifecycle(t *testing.T) {
	ctx := ctxT(t)
	logs := &logRecorder{}
	srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
	store := kvtest.StoreOn(t, srv, kv.WithDefaultStorage(bucket.MemoryStorage),
		kv.WithKeyIndexIdle(50*time.Millisecond), kv.WithLogger(slog.New(logs)))
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "life"})
	for i := range 20 {
		if _, err := b.Put(ctx, fmt.Sprintf("k.%02d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	b.Delete(ctx, "k.00")

	info, err := store.BucketInfo(ctx, "life")
	if err != nil || info.Keys != nil {
		t.Fatalf("info before any listing: keys %v, %v; want none (no index yet)", info.Keys, err)
	}
	n, err := b.KeyCount(ctx)
	if err != nil || n != 19 {
		t.Fatalf("KeyCount = %d, %v; want 19", n, err)
	}
	b.Put(ctx, "k.20", nil)
	info, err = store.BucketInfo(ctx, "life")
	if err != nil || info.Keys == nil || *info.Keys != 20 {
		t.Fatalf("info with an index: keys %v, %v; want 20", info.Keys, err)
	}
	if st := store.KeyIndexes(); len(st) != 1 || st[0].Bucket != "life" || st[0].Keys != 20 || st[0].Bytes <= 0 || st[0].Building {
		t.Fatalf("KeyIndexes = %+v", st)
	}
	if !logs.has("key index built") {
		t.Errorf("no build logged: %q", logs.messages())
	}

	// Unused, the index goes; the next listing builds it again, current.
	kvtest.Eventually(t, 10*time.Second, "idle index released", func() bool { return len(store.KeyIndexes()) == 0 })
	if !logs.has("key index released: unused") {
		t.Errorf("no release logged: %q", logs.messages())
	}
	b.Put(ctx, "k.21", nil)
	if n, err := b.KeyCount(ctx); err != nil || n != 21 {
		t.Fatalf("KeyCount after release = %d, %v; want 21", n, err)
	}
}

// TestKeyIndexMemoryBound: listing a second bucket over the memory bound
// releases the index of the first, least recently used; the first still
// lists correctly afterwards.
func TestKeyIndexMemoryBound(t *testing.T) {
	ctx := ctxT(t)
	srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
	store := kvtest.StoreOn(t, srv, kv.WithDefaultStorage(bucket.MemoryStorage), kv.WithKeyIndexMemory(500))
	var bs []*kv.Bucket
	for _, name := range []string{"one", "two"} {
		b := kvtest.NewBucket(t, store, bucket.Config{Name: name})
		for i := range 20 {
			if _, err := b.Put(ctx, fmt.Sprintf("%s.%02d", name, i), nil); err != nil {
				t.Fatal(err)
			}
		}
		bs = append(bs, b)
	}
	if n, err := bs[0].KeyCount(ctx); err != nil || n != 20 {
		t.Fatalf("KeyCount one = %d, %v", n, err)
	}
	if st := store.KeyIndexes(); len(st) != 1 || st[0].Bytes < 500 {
		t.Fatalf("KeyIndexes = %+v; want one index over the bound of 500 bytes (kept: it is the only one)", st)
	}
	if n, err := bs[1].KeyCount(ctx); err != nil || n != 20 {
		t.Fatalf("KeyCount two = %d, %v", n, err)
	}
	if st := store.KeyIndexes(); len(st) != 1 || st[0].Bucket != "two" {
		t.Fatalf("KeyIndexes = %+v; want only two's index", st)
	}
	if keys, err := bs[0].Keys(ctx, "one.*"); err != nil || len(keys) != 20 {
		t.Fatalf("Keys one after its release = %d keys, %v", len(keys), err)
	}
}

// logRecorder is a slog.Handler that keeps the messages it gets.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}

func (l *logRecorder) messages() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.msgs)
}

func (l *logRecorder) has(msg string) bool { return slices.Contains(l.messages(), msg) }
