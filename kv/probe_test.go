package kv_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/internal/inproc"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// lastWrite puts key into b and returns its revision and the time the
// stream stamped on it, read from the stream's leader (a direct get may be
// answered by a mirror).
func lastWrite(ctx context.Context, t *testing.T, nc *nats.Conn, b *kv.Bucket, st jetstream.Stream, key string) (uint64, time.Time) {
	t.Helper()
	rev, err := b.Put(ctx, key, []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+st.CachedInfo().Config.Name, fmt.Appendf(nil, `{"seq":%d}`, rev))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Message struct {
			Time time.Time `json:"time"`
		} `json:"message"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil || r.Message.Time.IsZero() {
		t.Fatalf("message %d: %s, %v", rev, resp.Data, err)
	}
	return rev, r.Message.Time
}

// TestProbe checks the direct get with which a listing learns, in one
// cheap round trip, that its key index already holds the stream's last
// message: it must say so only for the last message of the very stream
// the index read, never for another message, a stream deleted and created
// again (which reuses sequences), or a lagging mirror that answers direct
// gets in the stream's place.
func TestProbe(t *testing.T) {
	ctx := ctxT(t)
	srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
	store := kvtest.StoreOn(t, srv, kv.WithDefaultStorage(bucket.MemoryStorage))
	nc := kvtest.Connect(t, srv)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	const name = "probe"
	b := kvtest.NewBucket(t, store, bucket.Config{Name: name})
	st, err := js.Stream(ctx, bucket.App.StreamName(name))
	if err != nil {
		t.Fatal(err)
	}
	rev1, ts1 := lastWrite(ctx, t, nc, b, st, "a")
	rev2, ts2 := lastWrite(ctx, t, nc, b, st, "b")
	if !kv.ProbeLast(ctx, b, rev2, ts2) {
		t.Fatalf("probe of the last message (%d at %v) says it is not the last", rev2, ts2)
	}
	if kv.ProbeLast(ctx, b, rev1, ts1) {
		t.Errorf("probe of message %d says it is the last; the last is %d", rev1, rev2)
	}
	if kv.ProbeLast(ctx, b, rev2, ts2.Add(time.Nanosecond)) {
		t.Errorf("probe of message %d with another time stamp says it is the last", rev2)
	}

	t.Run("recreated", func(t *testing.T) {
		if err := store.DeleteBucket(ctx, name); err != nil {
			t.Fatal(err)
		}
		again := kvtest.NewBucket(t, store, bucket.Config{Name: name})
		st, err := js.Stream(ctx, bucket.App.StreamName(name))
		if err != nil {
			t.Fatal(err)
		}
		lastWrite(ctx, t, nc, again, st, "x")
		if rev, _ := lastWrite(ctx, t, nc, again, st, "y"); rev != rev2 {
			t.Fatalf("the new stream's last sequence is %d, want %d as in the old one", rev, rev2)
		}
		if kv.ProbeLast(ctx, b, rev2, ts2) {
			t.Errorf("probe says the deleted stream's last message %d is the new stream's last", rev2)
		}
	})

	t.Run("mirror", func(t *testing.T) {
		const mname = "lagging"
		m := kvtest.NewBucket(t, store, bucket.Config{Name: mname})
		st, err := js.Stream(ctx, bucket.App.StreamName(mname))
		if err != nil {
			t.Fatal(err)
		}
		full, err := bucket.App.Qualify(mname)
		if err != nil {
			t.Fatal(err)
		}
		// A mirror of key a alone answers the stream's direct gets too,
		// and never holds the later write of b.
		mirror, err := js.CreateStream(ctx, jetstream.StreamConfig{
			Name:         "MIRROR_" + mname,
			Storage:      jetstream.MemoryStorage,
			Mirror:       &jetstream.StreamSource{Name: st.CachedInfo().Config.Name, FilterSubject: "$KV." + full + ".a"},
			MirrorDirect: true,
			AllowDirect:  true,
		})
		if err != nil {
			t.Fatal(err)
		}
		rev, ts := lastWrite(ctx, t, nc, m, st, "a")
		// Wait for the mirror to hold a.
		cons, err := mirror.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second)); err != nil {
			t.Fatalf("mirror: %v", err)
		} else if md, _ := msg.Metadata(); md == nil || md.Sequence.Stream != rev {
			t.Fatalf("mirror holds %+v, want sequence %d", md, rev)
		}
		lastWrite(ctx, t, nc, m, st, "b")
		fromMirror := 0
		for range 40 {
			if kv.ProbeLast(ctx, m, rev, ts) {
				t.Fatalf("probe says message %d is the last, after b was written", rev)
			}
			resp, err := nc.RequestWithContext(ctx, "$JS.API.DIRECT.GET."+st.CachedInfo().Config.Name, []byte(`{"last_by_subj":">"}`))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Header.Get(jetstream.StreamHeader) == mirror.CachedInfo().Config.Name {
				fromMirror++
			}
		}
		if fromMirror == 0 {
			t.Fatal("the mirror answered none of 40 direct gets: this test does not exercise a mirror's answer")
		}
	})
}

// TestListingsProbeWhileCurrent checks that listings on a built index,
// with nothing written since, ask the server with the probe alone, and
// that a write from another Store still shows in the next listing. The
// listing Store asks over NATS, as on a remote server; with the embedded
// server in process it asks nothing at all (TestListingsAskInProcess).
func TestListingsProbeWhileCurrent(t *testing.T) {
	ctx := ctxT(t)
	srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
	store := kvtest.StoreOn(t, srv, kv.WithDefaultStorage(bucket.MemoryStorage), kv.WithLocalState(false))
	other := kvtest.StoreOn(t, srv, kv.WithDefaultStorage(bucket.MemoryStorage))
	const name = "spied"
	b := kvtest.NewBucket(t, store, bucket.Config{Name: name})
	ob, err := other.Bucket(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	stream := bucket.App.StreamName(name)
	questions := asked(ctx, t, srv, store, stream)

	if _, err := b.Put(ctx, "a", nil); err != nil {
		t.Fatal(err)
	}
	if keys, err := b.Keys(ctx, ">"); err != nil || len(keys) != 1 {
		t.Fatalf("first listing: %q, %v", keys, err)
	}
	if infos, _ := questions(); infos == 0 {
		t.Fatal("the first listing did not ask for the stream's info")
	}
	const listings = 5
	for range listings {
		if keys, err := b.Keys(ctx, ">"); err != nil || len(keys) != 1 {
			t.Fatalf("listing: %q, %v", keys, err)
		}
	}
	if infos, probes := questions(); infos != 0 || probes != listings {
		t.Fatalf("%d listings with nothing written asked for %d stream infos and %d probes; want 0 and %d", listings, infos, probes, listings)
	}
	if _, err := ob.Put(ctx, "b", nil); err != nil {
		t.Fatal(err)
	}
	if keys, err := b.Keys(ctx, ">"); err != nil || len(keys) != 2 {
		t.Fatalf("listing after another Store wrote b: %q, %v; want [a b]", keys, err)
	}
}

// asked returns a function that returns how many stream infos and direct
// gets of stream the store asked srv for since its last call. It sends a
// request for the info of another stream as a marker of the end: one
// connection's messages arrive in order.
func asked(ctx context.Context, t *testing.T, srv *embedded.Server, store *kv.Store, stream string) func() (infos, probes int) {
	seen := spy(t, srv, "$JS.API.STREAM.INFO.>", "$JS.API.DIRECT.GET.>")
	return func() (infos, probes int) {
		t.Helper()
		const marker = "$JS.API.STREAM.INFO.marker"
		if err := store.Conn().Publish(marker, nil); err != nil {
			t.Fatal(err)
		}
		for {
			var m *nats.Msg
			select {
			case m = <-seen:
			case <-ctx.Done():
				t.Fatal("the marker never reached the server")
			}
			switch m.Subject {
			case marker:
				return infos, probes
			case "$JS.API.STREAM.INFO." + stream:
				infos++
			case "$JS.API.DIRECT.GET." + stream:
				probes++
			}
		}
	}
}

// TestListingsAskInProcess checks that a Store on a standalone embedded
// server of its own process lists keys without asking the server anything
// over NATS, and still lists every write completed before: by another
// Store, and by a plain NATS client. Once the account holds more streams
// than the in-process read walks, listings ask over NATS again and stay
// right.
func TestListingsAskInProcess(t *testing.T) {
	ctx := ctxT(t)
	srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
	store := kvtest.StoreOn(t, srv, kv.WithDefaultStorage(bucket.MemoryStorage))
	other := kvtest.StoreOn(t, srv, kv.WithDefaultStorage(bucket.MemoryStorage))
	const name = "local"
	b := kvtest.NewBucket(t, store, bucket.Config{Name: name})
	ob, err := other.Bucket(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(kvtest.Connect(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	full, err := bucket.App.Qualify(name)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := js.KeyValue(ctx, full)
	if err != nil {
		t.Fatal(err)
	}
	questions := asked(ctx, t, srv, store, bucket.App.StreamName(name))
	list := func(want ...string) {
		t.Helper()
		if keys, err := b.Keys(ctx, ">"); err != nil || !slices.Equal(keys, want) {
			t.Fatalf("Keys = %q, %v; want %q", keys, err, want)
		}
	}

	if _, err := b.Put(ctx, "a", nil); err != nil {
		t.Fatal(err)
	}
	list("a") // builds the index
	questions()
	for range 5 {
		list("a")
	}
	if _, err := ob.Put(ctx, "b", nil); err != nil {
		t.Fatal(err)
	}
	list("a", "b")
	if _, err := raw.Put(ctx, "c", nil); err != nil {
		t.Fatal(err)
	}
	list("a", "b", "c")
	if infos, probes := questions(); infos != 0 || probes != 0 {
		t.Fatalf("7 listings in process asked for %d stream infos and %d probes over NATS; want none", infos, probes)
	}

	for i := range inproc.MaxLocalStreams {
		kvtest.NewBucket(t, store, bucket.Config{Name: fmt.Sprint("more", i)})
	}
	list("a", "b", "c") // finds the account too large for in-process reads
	if err := ob.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	list("a", "c")
	if infos, probes := questions(); infos+probes == 0 {
		t.Fatalf("with more than %d streams in the account, listings asked nothing over NATS", inproc.MaxLocalStreams)
	}
}
