package kv_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
	"github.com/nats-io/nats.go/jetstream"
)

// writeKey tells the recording barrier which write is waiting on it.
type writeKey struct{}

type write struct {
	id      int
	key, op string
	prev    uint64 // the key's last sequence before the write
}

// barrierCall is one Sync call, as the recorder saw it.
type barrierCall struct {
	w     write
	enter time.Time
	err   error
}

// recorder wraps the server's barrier. On each call it first checks that
// the write is already stored (so the call came after the acknowledgement)
// and records when the call began.
type recorder struct {
	srv    *embedded.Server
	stream jetstream.Stream

	mu    sync.Mutex
	calls []barrierCall
	other int // calls without a write in ctx (bucket changes)
}

func (r *recorder) Sync(ctx context.Context) error {
	w, ok := ctx.Value(writeKey{}).(write)
	if !ok {
		r.mu.Lock()
		r.other++
		r.mu.Unlock()
		return r.srv.Sync(ctx)
	}
	c := barrierCall{w: w, enter: time.Now()}
	m, err := r.stream.GetLastMsgForSubject(ctx, "$KV.APP_g."+w.key)
	switch {
	case err != nil:
		c.err = fmt.Errorf("read back: %w", err)
	case m.Sequence <= w.prev:
		c.err = fmt.Errorf("called before the write was stored: last sequence %d, was %d before", m.Sequence, w.prev)
	case opName(m.Header.Get("KV-Operation")) != w.op:
		c.err = fmt.Errorf("latest message is a %q, want the %s", m.Header.Get("KV-Operation"), w.op)
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	return r.srv.Sync(ctx)
}

// opName maps the KV-Operation header to the operation that writes it.
func opName(h string) string {
	switch h {
	case "DEL":
		return "delete"
	case "PURGE":
		return "purge"
	}
	return "put"
}

// TestGroupCommitOrdering records every sync of a real group-commit server
// and the completion of every write of 16 concurrent writers (put, create,
// update, delete and purge), and checks that no write returned before a
// sync that began after its acknowledgement ended.
func TestGroupCommitOrdering(t *testing.T) {
	var mu sync.Mutex
	var syncs []embedded.SyncRecord
	srv := kvtest.NewServer(t, embedded.Config{OnSync: func(r embedded.SyncRecord) {
		mu.Lock()
		syncs = append(syncs, r)
		mu.Unlock()
	}})
	if srv.Durability() != embedded.GroupCommit {
		t.Skipf("group commit is not available here (%v)", srv.Durability())
	}
	// A plain store picks the barrier up by itself.
	if auto := kvtest.StoreOn(t, srv); !auto.GroupCommit() {
		t.Fatal("kv.New on a group-commit server's connection has no barrier")
	}
	if off := kvtest.StoreOn(t, srv, kv.WithGroupCommit(nil)); off.GroupCommit() {
		t.Fatal("WithGroupCommit(nil) left a barrier")
	}

	rec := &recorder{srv: srv}
	store := kvtest.StoreOn(t, srv, kv.WithGroupCommit(rec))
	ctx := context.Background()
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "g", History: 5})
	js, err := jetstream.New(store.Conn())
	if err != nil {
		t.Fatal(err)
	}
	if rec.stream, err = js.Stream(ctx, "KV_APP_g"); err != nil {
		t.Fatal(err)
	}

	type done struct {
		w   write
		end time.Time
	}
	const writers, rounds = 16, 20
	var (
		dmu     sync.Mutex
		dones   []done
		nextID  int
		wg      sync.WaitGroup
		lastSeq = func(key string) uint64 {
			m, err := rec.stream.GetLastMsgForSubject(ctx, "$KV.APP_g."+key)
			if err != nil {
				return 0
			}
			return m.Sequence
		}
	)
	for w := range writers {
		wg.Go(func() {
			key := fmt.Sprintf("k%d", w)
			do := func(op string, f func(context.Context) error) bool {
				wr := write{key: key, op: op, prev: lastSeq(key)}
				dmu.Lock()
				nextID++
				wr.id = nextID
				dmu.Unlock()
				if err := f(context.WithValue(ctx, writeKey{}, wr)); err != nil {
					t.Errorf("%s %s: %v", op, key, err)
					return false
				}
				dmu.Lock()
				dones = append(dones, done{wr, time.Now()})
				dmu.Unlock()
				return true
			}
			for range rounds {
				var rev uint64
				ok := do("put", func(c context.Context) (err error) { rev, err = b.Put(c, key, []byte("p")); return }) &&
					do("put", func(c context.Context) (err error) { rev, err = b.Update(c, key, []byte("u"), rev); return }) &&
					do("delete", func(c context.Context) error { return b.Delete(c, key, kv.IfRevision(rev)) }) &&
					do("put", func(c context.Context) (err error) { _, err = b.Create(c, key, []byte("c")); return }) &&
					do("purge", func(c context.Context) error { return b.Purge(c, key) })
				if !ok {
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	mu.Lock()
	defer mu.Unlock()
	enter := map[int]time.Time{}
	for _, c := range rec.calls {
		if c.err != nil {
			t.Fatalf("%s %s: barrier %v", c.w.op, c.w.key, c.err)
		}
		if _, dup := enter[c.w.id]; dup {
			t.Fatalf("%s %s waited on the barrier twice", c.w.op, c.w.key)
		}
		enter[c.w.id] = c.enter
	}
	if len(dones) != writers*rounds*5 {
		t.Fatalf("%d writes done, want %d", len(dones), writers*rounds*5)
	}
	for _, d := range dones {
		in, ok := enter[d.w.id]
		if !ok {
			t.Fatalf("%s %s returned without waiting on the barrier", d.w.op, d.w.key)
		}
		covered := false
		for _, s := range syncs {
			if s.Start.After(in) && !s.End.After(d.end) && s.Err == nil {
				covered = true
				break
			}
		}
		if !covered {
			t.Fatalf("%s %s returned before a sync that began after its acknowledgement had ended", d.w.op, d.w.key)
		}
	}
	if rec.other == 0 {
		t.Error("creating the bucket did not wait on the barrier")
	}
	t.Logf("%d writes, %d syncs", len(dones), len(syncs))
}

// failingSyncer is a barrier whose sync fails, as on a disk error.
type failingSyncer struct{ err error }

func (f failingSyncer) Sync(context.Context) error { return f.err }

// TestGroupCommitSurfacesFailures: a write whose sync fails is an error
// (the write happened; its durability is unconfirmed), never silence.
func TestGroupCommitSurfacesFailures(t *testing.T) {
	srv := kvtest.NewServer(t, embedded.Config{})
	ok := kvtest.StoreOn(t, srv, kv.WithGroupCommit(nil))
	kvtest.NewBucket(t, ok, bucket.Config{Name: "f"})
	store := kvtest.StoreOn(t, srv, kv.WithGroupCommit(failingSyncer{embedded.ErrSyncFailed}))
	ctx := context.Background()
	b, err := store.Bucket(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	rev, err := b.Put(ctx, "k", []byte("v"))
	if !errors.Is(err, kv.ErrUnavailable) || !strings.Contains(err.Error(), "not confirmed on stable storage") {
		t.Fatalf("Put with a failing sync = %d, %v; want ErrUnavailable saying the write is unconfirmed", rev, err)
	}
	if rev == 0 {
		t.Error("Put with a failing sync returned no revision for the write that happened")
	}
	if err := b.Delete(ctx, "k"); !errors.Is(err, kv.ErrUnavailable) {
		t.Errorf("Delete with a failing sync = %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	blocked := kvtest.StoreOn(t, srv, kv.WithGroupCommit(ctxSyncer{}))
	bb, err := blocked.Bucket(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bb.Put(cctx, "k", []byte("v")); err == nil || !errors.Is(err, context.Canceled) {
		// The put itself may fail first on the canceled context; either
		// way the context error passes through.
		t.Errorf("Put with a canceled context = %v, want context.Canceled", err)
	}
}

// ctxSyncer waits for its context, as a barrier behind a slow disk.
type ctxSyncer struct{}

func (ctxSyncer) Sync(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }

// TestGroupCommitSkipsAndGuards: memory buckets do not wait (nothing to
// sync); a stream in async persist mode is refused by Bucket and reported
// by CheckDurability, because its acknowledgement may precede the write.
func TestGroupCommitSkipsAndGuards(t *testing.T) {
	srv := kvtest.NewServer(t, embedded.Config{})
	rec := &countingSyncer{srv: srv}
	store := kvtest.StoreOn(t, srv, kv.WithGroupCommit(rec))
	ctx := context.Background()

	mem := kvtest.NewBucket(t, store, bucket.Config{Name: "mem", Storage: bucket.MemoryStorage})
	before := rec.n()
	if _, err := mem.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if rec.n() != before {
		t.Error("a put to a memory bucket waited on the barrier")
	}
	if err := store.CheckDurability(ctx); err != nil {
		t.Fatalf("CheckDurability with healthy buckets = %v", err)
	}

	// Another tool made this bucket's stream with async persist mode, which
	// JetStream allows only at creation.
	js, err := jetstream.New(store.Conn())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:              "KV_APP_async",
		Subjects:          []string{"$KV.APP_async.>"},
		MaxMsgsPerSubject: 1,
		Discard:           jetstream.DiscardNew,
		AllowDirect:       true,
		AllowRollup:       true,
		DenyDelete:        true,
		PersistMode:       jetstream.AsyncPersistMode,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Bucket(ctx, "async"); !errors.Is(err, kv.ErrInvalidConfig) || !strings.Contains(err.Error(), "persist mode") {
		t.Errorf("Bucket on an async-persist stream = %v, want ErrInvalidConfig naming the persist mode", err)
	}
	if err := store.CheckDurability(ctx); !errors.Is(err, kv.ErrInvalidConfig) || !strings.Contains(err.Error(), `"async"`) {
		t.Errorf("CheckDurability = %v, want the async bucket reported", err)
	}
	// Without a barrier nothing is promised beyond the server's own mode,
	// and the bucket opens.
	if _, err := kvtest.StoreOn(t, srv, kv.WithGroupCommit(nil)).Bucket(ctx, "async"); err != nil {
		t.Errorf("Bucket without group commit = %v", err)
	}
}

type countingSyncer struct {
	srv   *embedded.Server
	mu    sync.Mutex
	calls int
}

func (c *countingSyncer) Sync(ctx context.Context) error {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.srv.Sync(ctx)
}

func (c *countingSyncer) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}
