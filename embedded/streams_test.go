package embedded

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ironkv/ironkv/internal/inproc"
)

// TestStreamStates checks the in-process reader of stream states that a
// standalone server offers kv: it agrees with the stream's info, declines
// a stream it does not find, declines once the account holds more streams
// than it walks, and is withdrawn at shutdown.
func TestStreamStates(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, Config{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	nc, err := s.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	offer := inproc.Lookup(s.NATS().ID())
	if offer == nil || offer.StreamState == nil {
		t.Fatalf("a standalone server offers %+v; want a stream state reader", offer)
	}
	if offer.Syncer != nil {
		t.Error("a memory server offers a group-commit barrier")
	}

	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.MemoryStorage, MaxMsgsPerSubject: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, subj := range []string{"s.a", "s.b", "s.a"} {
		if _, err := js.Publish(ctx, subj, nil); err != nil {
			t.Fatal(err)
		}
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := offer.StreamState("S")
	want := inproc.StreamState{Created: info.Created, Msgs: info.State.Msgs, LastSeq: info.State.LastSeq}
	if !ok || !got.Created.Equal(want.Created) || got.Msgs != want.Msgs || got.LastSeq != want.LastSeq {
		t.Fatalf("StreamState(S) = %+v, %v; want %+v as the stream's info says", got, ok, want)
	}
	if want.Msgs != 2 || want.LastSeq != 3 {
		t.Fatalf("the stream's info says %d messages up to %d; want 2 up to 3", want.Msgs, want.LastSeq)
	}
	if got, ok := offer.StreamState("missing"); ok {
		t.Errorf("StreamState(missing) = %+v; want it declined", got)
	}

	for i := range inproc.MaxLocalStreams {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: fmt.Sprint("T", i), Storage: jetstream.MemoryStorage}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := offer.StreamState("S"); !ok {
		t.Error("the call that counts too many streams declined what it had already read")
	}
	if got, ok := offer.StreamState("S"); ok {
		t.Errorf("with %d streams in the account, StreamState(S) = %+v; want it declined", inproc.MaxLocalStreams+1, got)
	}

	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if o := inproc.Lookup(s.NATS().ID()); o != nil {
		t.Errorf("after Shutdown the server still offers %+v", o)
	}
}
