package kv_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
)

// next reads one event or fails the test.
func next(t *testing.T, ctx context.Context, w *kv.Watcher) kv.Event {
	t.Helper()
	ev, err := w.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return ev
}

func expectUpdate(t *testing.T, ctx context.Context, w *kv.Watcher, key string, op kv.Op, value string) kv.Event {
	t.Helper()
	ev := next(t, ctx, w)
	if ev.Kind != kv.EventUpdate || ev.Entry.Key != key || ev.Entry.Op != op || string(ev.Entry.Value) != value || ev.Revision != ev.Entry.Revision {
		t.Fatalf("event = %+v, want update %s %q=%q", ev, op, key, value)
	}
	return ev
}

func expectSynced(t *testing.T, ctx context.Context, w *kv.Watcher, rev uint64) {
	t.Helper()
	ev := next(t, ctx, w)
	if ev.Kind != kv.EventSynced || ev.Revision != rev {
		t.Fatalf("event = %+v, want synced at %d", ev, rev)
	}
}

func TestWatchSnapshotThenLive(t *testing.T) {
	ctx := ctxT(t)
	store := kvtest.NewStore(t)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "w", History: 5})
	b.Put(ctx, "user.1", []byte("a"))
	b.Put(ctx, "user.1", []byte("b"))
	b.Put(ctx, "user.2", []byte("c"))
	b.Put(ctx, "other", []byte("o"))
	last, _ := b.Put(ctx, "zzz", []byte("z"))
	b.Delete(ctx, "user.2")

	w, err := b.Watch(ctx, "user.*")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	expectUpdate(t, ctx, w, "user.1", kv.OpPut, "b")
	expectUpdate(t, ctx, w, "user.2", kv.OpDelete, "")
	expectSynced(t, ctx, w, last+1)

	r, _ := b.Put(ctx, "other", []byte("x"))
	b.Put(ctx, "user.3", []byte("d"))
	ev := expectUpdate(t, ctx, w, "user.3", kv.OpPut, "d")
	if ev.Revision != r+1 {
		t.Fatalf("live revision %d, want %d", ev.Revision, r+1)
	}
	b.Purge(ctx, "user.1")
	expectUpdate(t, ctx, w, "user.1", kv.OpPurge, "")

	// The range adapter yields the same stream.
	b.Put(ctx, "user.4", []byte("e"))
	for ev, err := range w.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Entry.Key != "user.4" {
			t.Fatalf("range event %+v", ev)
		}
		break
	}
	w.Close()
	if _, err := w.Next(ctx); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("Next after Close = %v", err)
	}
}

func TestWatchEmptyBucketSyncs(t *testing.T) {
	ctx := ctxT(t)
	store := kvtest.NewStore(t)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "empty"})
	w, err := b.Watch(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	expectSynced(t, ctx, w, 0)
	b.Put(ctx, "k", []byte("v"))
	expectUpdate(t, ctx, w, "k", kv.OpPut, "v")

	// A filter that matches nothing in a non-empty bucket syncs too.
	w2, err := b.Watch(ctx, "nothing.>")
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	expectSynced(t, ctx, w2, 1)
}

func TestWatchUpdatesOnly(t *testing.T) {
	ctx := ctxT(t)
	store := kvtest.NewStore(t)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "u"})
	b.Put(ctx, "old", []byte("o"))
	w, err := b.Watch(ctx, ">", kv.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	b.Put(ctx, "new", []byte("n"))
	expectUpdate(t, ctx, w, "new", kv.OpPut, "n")
	if _, err := b.Watch(ctx, "", kv.UpdatesOnly(), kv.ResumeFrom(1)); !errors.Is(err, kv.ErrInvalidConfig) {
		t.Fatalf("contradictory options = %v", err)
	}
}

func TestWatchResumeAndHistory(t *testing.T) {
	ctx := ctxT(t)
	store := kvtest.NewStore(t)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "r", History: 10})
	var revs []uint64
	for i := range 5 {
		r, _ := b.Put(ctx, "k", fmt.Appendf(nil, "v%d", i))
		revs = append(revs, r)
	}
	// Resume: every retained change after revision 2, then synced, then live.
	w, err := b.Watch(ctx, "", kv.ResumeFrom(revs[1]))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 2; i < 5; i++ {
		expectUpdate(t, ctx, w, "k", kv.OpPut, fmt.Sprintf("v%d", i))
	}
	expectSynced(t, ctx, w, revs[4])
	b.Put(ctx, "k", []byte("live"))
	expectUpdate(t, ctx, w, "k", kv.OpPut, "live")

	// Resume from the latest revision: nothing to replay.
	w2, err := b.Watch(ctx, "", kv.ResumeFrom(revs[4]+1))
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	expectSynced(t, ctx, w2, revs[4]+1)

	// IncludeHistory: every retained revision.
	w3, err := b.Watch(ctx, "k", kv.IncludeHistory())
	if err != nil {
		t.Fatal(err)
	}
	defer w3.Close()
	for i := range 5 {
		expectUpdate(t, ctx, w3, "k", kv.OpPut, fmt.Sprintf("v%d", i))
	}
	expectUpdate(t, ctx, w3, "k", kv.OpPut, "live")
	expectSynced(t, ctx, w3, revs[4]+1)
}

func TestWatchSlowConsumer(t *testing.T) {
	ctx := ctxT(t)
	store := kvtest.NewStore(t)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "slow"})
	w, err := b.Watch(ctx, "", kv.UpdatesOnly(), kv.WatchBuffer(4))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// Nobody reads: the writer is never blocked, the watcher ends.
	for i := range 50 {
		if _, err := b.Put(ctx, fmt.Sprintf("k%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	// Read only once the Watcher has ended: a reader that kept pace with a
	// late burst of deliveries would never fall behind.
	kvtest.Eventually(t, 10*time.Second, "the unread watcher never ended", func() bool { return w.Err() != nil })
	var got []kv.Event
	var err2 error
	for {
		ev, err := w.Next(ctx)
		if err != nil {
			err2 = err
			break
		}
		got = append(got, ev)
	}
	var sce *kv.SlowConsumerError
	if !errors.As(err2, &sce) || !errors.Is(err2, kv.ErrSlowConsumer) {
		t.Fatalf("end = %v, want SlowConsumerError", err2)
	}
	// The buffer holds 4; a few more may have been delivered while the
	// test drained it, but never all 50.
	if len(got) < 4 || len(got) >= 50 || sce.LastRevision != got[len(got)-1].Revision {
		t.Fatalf("delivered %d events, last revision %d; error says resume from %d", len(got), got[len(got)-1].Revision, sce.LastRevision)
	}
	// Resuming from the reported revision continues with no gap.
	w2, err := b.Watch(ctx, "", kv.ResumeFrom(sce.LastRevision))
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	want := sce.LastRevision + 1
	for {
		ev := next(t, ctx, w2)
		if ev.Kind == kv.EventSynced {
			break
		}
		if ev.Revision != want {
			t.Fatalf("resumed at %d, want %d", ev.Revision, want)
		}
		want++
	}
	if want != 51 {
		t.Fatalf("resume replayed up to %d, want 50", want-1)
	}
}

func TestWatchBucketDeleted(t *testing.T) {
	ctx := ctxT(t)
	store := kvtest.NewStore(t)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "del"})
	w, err := b.Watch(ctx, "", kv.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := store.DeleteBucket(ctx, "del"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Next(ctx); !errors.Is(err, kv.ErrBucketNotFound) {
		t.Fatalf("Next after bucket deletion = %v, want ErrBucketNotFound", err)
	}
}

func TestWatchContext(t *testing.T) {
	ctx := ctxT(t)
	store := kvtest.NewStore(t)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "ctx"})
	w, err := b.Watch(ctx, "", kv.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := w.Next(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with cancelled ctx = %v", err)
	}
	// Still usable.
	b.Put(ctx, "k", []byte("v"))
	expectUpdate(t, ctx, w, "k", kv.OpPut, "v")
}

// TestWatchPaced replays a history far longer than the buffer to a reader
// that takes its time: a paced Watcher never overflows.
func TestWatchPaced(t *testing.T) {
	ctx := ctxT(t)
	store := kvtest.NewStore(t)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "paced", History: 64})
	for i := range 500 {
		if _, err := b.Put(ctx, fmt.Sprintf("k%d", i%10), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	w, err := b.Watch(ctx, "", kv.ResumeFrom(0), kv.Paced(), kv.WatchBuffer(4))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for want := uint64(1); want <= 500; want++ {
		ev := next(t, ctx, w)
		if ev.Kind != kv.EventUpdate || ev.Revision != want {
			t.Fatalf("event %+v, want revision %d", ev, want)
		}
	}
	expectSynced(t, ctx, w, 500)
	b.Put(ctx, "live", []byte("x"))
	expectUpdate(t, ctx, w, "live", kv.OpPut, "x")
	// Close from another goroutine ends a Next that waits.
	done := make(chan error, 1)
	go func() { _, err := w.Next(ctx); done <- err }()
	w.Close()
	if err := <-done; !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("Next during Close = %v", err)
	}
}
