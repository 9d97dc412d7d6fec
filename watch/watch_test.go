package watch_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
	"github.com/ironkv/ironkv/watch"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newHub(t *testing.T, opts ...watch.Option) (*kv.Store, *watch.Hub) {
	store := kvtest.NewStore(t)
	hub := watch.NewHub(store, opts...)
	t.Cleanup(func() { hub.Close() })
	return store, hub
}

func subscribe(t *testing.T, ctx context.Context, hub *watch.Hub, b, filter string, opts ...watch.SubOption) *watch.Subscription {
	t.Helper()
	s, err := hub.Subscribe(ctx, b, filter, opts...)
	if err != nil {
		t.Fatalf("Subscribe(%q, %q): %v", b, filter, err)
	}
	t.Cleanup(s.Close)
	return s
}

// consumers returns the number of NATS consumers on a bucket's stream.
func consumers(t *testing.T, ctx context.Context, store *kv.Store, name string) int {
	t.Helper()
	js, _ := jetstream.New(store.Conn())
	st, err := js.Stream(ctx, "KV_APP_"+name)
	if err != nil {
		t.Fatal(err)
	}
	return st.CachedInfo().State.Consumers
}

// TestFanOut checks per-subscriber filters, ordering, no duplicates and no
// gaps against what was written, and that all subscribers share one NATS
// consumer.
func TestFanOut(t *testing.T) {
	ctx := ctxT(t)
	store, hub := newHub(t, watch.WithBuffer(10000))
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "fan", History: 64})
	filters := []string{">", "", "user.*", "user.>", "user.1", "*.1", "team.*.lead", "nothing"}
	subs := make([]*watch.Subscription, len(filters))
	for i, f := range filters {
		subs[i] = subscribe(t, ctx, hub, "fan", f)
	}
	if n := consumers(t, ctx, store, "fan"); n != 1 {
		t.Fatalf("%d NATS consumers for %d subscribers, want 1", n, len(subs))
	}
	keys := []string{"user.1", "user.2", "user.1.x", "team.a.lead", "team.b.lead", "other.1", "user:1"}
	type write struct {
		key string
		rev uint64
		op  kv.Op
	}
	var writes []write
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		k := keys[r.IntN(len(keys))]
		if r.IntN(5) == 0 {
			if err := b.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
			h, _ := b.History(ctx, k)
			writes = append(writes, write{k, h[len(h)-1].Revision, kv.OpDelete})
			continue
		}
		rev, err := b.Put(ctx, k, []byte(k))
		if err != nil {
			t.Fatal(err)
		}
		writes = append(writes, write{k, rev, kv.OpPut})
	}
	for i, f := range filters {
		flt := bucket.MustParseFilter(f)
		var want []write
		for _, w := range writes {
			if flt.Match(w.key) {
				want = append(want, w)
			}
		}
		for j, w := range want {
			ev, err := subs[i].Next(ctx)
			if err != nil {
				t.Fatalf("filter %q event %d: %v", f, j, err)
			}
			if ev.Kind != kv.EventUpdate || ev.Revision != w.rev || ev.Entry.Key != w.key || ev.Entry.Op != w.op {
				t.Fatalf("filter %q event %d = %+v, want %+v", f, j, ev, w)
			}
		}
	}
	st := hub.Stats()
	if st.Buckets != 1 || st.Subscribers != len(filters) {
		t.Fatalf("stats %+v", st)
	}
}

func TestSnapshotAndSince(t *testing.T) {
	ctx := ctxT(t)
	store, hub := newHub(t)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "snap", History: 10})
	var revs []uint64
	for i := range 5 {
		r, _ := b.Put(ctx, fmt.Sprintf("k.%d", i%3), fmt.Appendf(nil, "v%d", i))
		revs = append(revs, r)
	}
	// Keep another subscriber on the bucket, so that the upstream is
	// already running and moving while the replay happens.
	subscribe(t, ctx, hub, "snap", ">")

	snap := subscribe(t, ctx, hub, "snap", "k.*", watch.Snapshot())
	since := subscribe(t, ctx, hub, "snap", "", watch.Since(revs[1]))
	live, _ := b.Put(ctx, "k.9", []byte("live"))

	// Snapshot: the latest of k.0, k.1, k.2 (revisions 4, 5, 3), synced, live.
	var got []uint64
	for {
		ev, err := snap.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == kv.EventSynced {
			if ev.Revision < revs[4] {
				t.Fatalf("synced at %d, before the last write %d", ev.Revision, revs[4])
			}
			break
		}
		got = append(got, ev.Revision)
	}
	if fmt.Sprint(got) != fmt.Sprint([]uint64{revs[2], revs[3], revs[4]}) {
		t.Fatalf("snapshot revisions %v", got)
	}
	if ev, err := snap.Next(ctx); err != nil || ev.Revision != live {
		t.Fatalf("after snapshot: %+v, %v; want live revision %d", ev, err, live)
	}

	// Since: revisions 3, 4, 5, synced, then 6 once.
	want := []uint64{revs[2], revs[3], revs[4]}
	for _, w := range want {
		ev, err := since.Next(ctx)
		if err != nil || ev.Revision != w {
			t.Fatalf("since: %+v, %v; want %d", ev, err, w)
		}
	}
	ev, err := since.Next(ctx)
	if err != nil || ev.Kind != kv.EventSynced {
		t.Fatalf("since: %+v, %v; want synced", ev, err)
	}
	if ev.Revision == live {
		// The replay covered the live write: no duplicate may follow.
		b.Put(ctx, "k.10", nil)
		ev, _ = since.Next(ctx)
		if ev.Revision != live+1 {
			t.Fatalf("after synced at %d: %+v", live, ev)
		}
		return
	}
	ev, err = since.Next(ctx)
	if err != nil || ev.Revision != live {
		t.Fatalf("since live: %+v, %v; want %d", ev, err, live)
	}
	if _, err := hub.Subscribe(ctx, "snap", "", watch.Snapshot(), watch.Since(1)); !errors.Is(err, kv.ErrInvalidConfig) {
		t.Fatalf("both options: %v", err)
	}
}

// TestSlowSubscriber checks that a subscriber that does not read is cut,
// while a fast one on the same bucket keeps every event, and that resuming
// from the reported revision continues with no gap.
func TestSlowSubscriber(t *testing.T) {
	ctx := ctxT(t)
	store, hub := newHub(t, watch.WithBuffer(64))
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "slow", History: 64})
	slow := subscribe(t, ctx, hub, "slow", "")
	fast := subscribe(t, ctx, hub, "slow", "")

	const n = 200
	// The fast subscriber reads every event as it comes; the writer waits
	// for it after each put, so only the slow one can fall behind.
	got := make(chan uint64)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(got)
		for range n {
			ev, err := fast.Next(ctx)
			if err != nil {
				t.Errorf("fast subscriber: %v", err)
				return
			}
			got <- ev.Revision
		}
	})
	for i := range n {
		rev, err := b.Put(ctx, fmt.Sprintf("k%d", i%10), []byte("v"))
		if err != nil {
			t.Fatal(err)
		}
		if r, ok := <-got; !ok || r != rev {
			t.Fatalf("fast subscriber got %d (%v), want %d", r, ok, rev)
		}
	}
	wg.Wait()
	var last uint64
	var err error
	for {
		var ev kv.Event
		ev, err = slow.Next(ctx)
		if err != nil {
			break
		}
		last = ev.Revision
	}
	var sce *kv.SlowConsumerError
	if !errors.As(err, &sce) || sce.LastRevision != last || last >= n {
		t.Fatalf("slow subscriber ended with %v after revision %d", err, last)
	}
	resumed := subscribe(t, ctx, hub, "slow", "", watch.Since(sce.LastRevision))
	ev, err := resumed.Next(ctx)
	if err != nil || ev.Revision != last+1 {
		t.Fatalf("resumed at %+v, %v; want %d", ev, err, last+1)
	}
}

func TestBucketDeleted(t *testing.T) {
	ctx := ctxT(t)
	store, hub := newHub(t)
	kvtest.NewBucket(t, store, bucket.Config{Name: "del"})
	s := subscribe(t, ctx, hub, "del", "")
	if err := store.DeleteBucket(ctx, "del"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(ctx); !errors.Is(err, kv.ErrBucketNotFound) {
		t.Fatalf("Next = %v, want ErrBucketNotFound", err)
	}
	if _, err := hub.Subscribe(ctx, "del", ""); !errors.Is(err, kv.ErrBucketNotFound) {
		t.Fatalf("Subscribe to deleted = %v", err)
	}
	for _, tc := range []struct{ b, f string }{{"bad name", ""}, {"x", "user-*"}} {
		if _, err := hub.Subscribe(ctx, tc.b, tc.f); err == nil {
			t.Fatalf("Subscribe(%q, %q) succeeded", tc.b, tc.f)
		}
	}
}

// TestManySubscribers opens and closes 1,000 subscriptions: one consumer on
// the server while they are open, none after, and no goroutine left behind
// (goleak in TestMain).
func TestManySubscribers(t *testing.T) {
	ctx := ctxT(t)
	store, hub := newHub(t)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "many"})
	var subs []*watch.Subscription
	for i := range 1000 {
		s, err := hub.Subscribe(ctx, "many", fmt.Sprintf("k.%d", i%100))
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	if n := consumers(t, ctx, store, "many"); n != 1 {
		t.Fatalf("%d consumers for 1000 subscribers", n)
	}
	rev, _ := b.Put(ctx, "k.7", nil)
	for i := 7; i < 1000; i += 100 {
		ev, err := subs[i].Next(ctx)
		if err != nil || ev.Revision != rev {
			t.Fatalf("subscriber %d: %+v, %v", i, ev, err)
		}
	}
	for _, s := range subs {
		s.Close()
	}
	if st := hub.Stats(); st.Buckets != 0 || st.Subscribers != 0 {
		t.Fatalf("after closing all: %+v", st)
	}
	kvtest.Eventually(t, 10*time.Second, "the upstream consumer is gone", func() bool {
		return consumers(t, ctx, store, "many") == 0
	})
	// A new subscriber starts a new upstream.
	s := subscribe(t, ctx, hub, "many", "")
	rev, _ = b.Put(ctx, "k.1", nil)
	if ev, err := s.Next(ctx); err != nil || ev.Revision != rev {
		t.Fatalf("after restart: %+v, %v", ev, err)
	}
}

func TestHubClose(t *testing.T) {
	ctx := ctxT(t)
	store, hub := newHub(t)
	kvtest.NewBucket(t, store, bucket.Config{Name: "c"})
	s := subscribe(t, ctx, hub, "c", "")
	hub.Close()
	if _, err := s.Next(ctx); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("Next after hub Close = %v", err)
	}
	if _, err := hub.Subscribe(ctx, "c", ""); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("Subscribe after Close = %v", err)
	}
}

// TestTryNext reads subscriptions without a goroutine waiting in Next:
// TryNext until it reports nothing, and again after OnReady's function runs.
// Every revision arrives once and in order, a Since replay comes first, and
// the end (here a slow consumer) wakes the reader too.
func TestTryNext(t *testing.T) {
	ctx := ctxT(t)
	store, hub := newHub(t, watch.WithBuffer(16))
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "try", History: 64})
	first, err := b.Put(ctx, "k", []byte("before"))
	if err != nil {
		t.Fatal(err)
	}
	live := subscribe(t, ctx, hub, "try", "")
	replay := subscribe(t, ctx, hub, "try", "", watch.Since(first-1))
	if _, ok, err := live.TryNext(ctx); ok || err != nil {
		t.Fatalf("TryNext before any event: ok %v, err %v", ok, err)
	}
	if ev, ok, err := replay.TryNext(ctx); !ok || err != nil || ev.Revision != first {
		t.Fatalf("TryNext of the replay: %+v, ok %v, err %v; want revision %d", ev, ok, err, first)
	}

	wake := make(chan struct{}, 1)
	live.OnReady(func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	var revs []uint64
	for i := range 10 {
		rev, err := b.Put(ctx, "k", fmt.Appendf(nil, "v%d", i))
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, rev)
	}
	var got []uint64
	for len(got) < len(revs) {
		ev, ok, err := live.TryNext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			got = append(got, ev.Revision)
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			t.Fatalf("no wake after %d of %d events", len(got), len(revs))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(revs) {
		t.Fatalf("revisions %v, want %v", got, revs)
	}

	// The replay subscription: synced, then the live events.
	ev, ok, err := replay.TryNext(ctx)
	if err != nil || !ok || ev.Kind != kv.EventSynced {
		t.Fatalf("after the replay: %+v, ok %v, err %v; want the synced event", ev, ok, err)
	}
	for _, want := range revs {
		ev, ok, err := replay.TryNext(ctx)
		if err != nil || !ok || ev.Revision != want {
			t.Fatalf("live event after the replay: %+v, ok %v, err %v; want revision %d", ev, ok, err, want)
		}
	}

	// A new subscription, whose buffer of 16 overflows while nothing reads
	// it: OnReady's function runs twice, for the first event queued and for
	// the end, and TryNext then gives the 16 events and a slow consumer.
	slow := subscribe(t, ctx, hub, "try", "")
	var slowWakes atomic.Int64
	slow.OnReady(func() { slowWakes.Add(1) })
	for i := range 40 {
		if _, err := b.Put(ctx, "k", fmt.Appendf(nil, "w%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	kvtest.Eventually(t, 30*time.Second, "the wake for the end", func() bool { return slowWakes.Load() == 2 })
	last := revs[len(revs)-1]
	for n := 0; ; n++ {
		ev, ok, err := slow.TryNext(ctx)
		if ok {
			if ev.Revision != last+1 {
				t.Fatalf("revision %d after %d", ev.Revision, last)
			}
			last = ev.Revision
			continue
		}
		var sce *kv.SlowConsumerError
		if !errors.As(err, &sce) || sce.LastRevision != last || n != 16 {
			t.Fatalf("after %d events: %v, want a slow consumer after 16 events, resuming from %d", n, err, last)
		}
		break
	}
}
