package embedded_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ironkv/ironkv/embedded"
)

// BenchmarkStartToFirstPut measures the time from Start to the first
// acknowledged KV Put (durable, on file storage), connecting and creating
// the bucket included, and
// reports it as ms/op (ns/op also counts Shutdown). Run it with
//
//	go test -run '^$' -bench StartToFirstPut ./embedded
func BenchmarkStartToFirstPut(b *testing.B) {
	b.Run("in-memory", func(b *testing.B) {
		benchStartToFirstPut(b, embedded.Config{InMemory: true}, jetstream.MemoryStorage)
	})
	b.Run("file-group-commit", func(b *testing.B) {
		benchStartToFirstPut(b, embedded.Config{}, jetstream.FileStorage)
	})
}

func benchStartToFirstPut(b *testing.B, cfg embedded.Config, storage jetstream.StorageType) {
	ctx := context.Background()
	var total time.Duration
	for b.Loop() {
		t0 := time.Now()
		s, err := embedded.Start(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		nc, err := s.Connect()
		if err != nil {
			b.Fatal(err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			b.Fatal(err)
		}
		kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "b", Storage: storage})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
			b.Fatal(err)
		}
		// Durable, as a kv.Store's Put would return it.
		if s.Durability() == embedded.GroupCommit {
			if err := s.Sync(ctx); err != nil {
				b.Fatal(err)
			}
		}
		total += time.Since(t0)

		nc.Close()
		if err := s.Shutdown(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/op")
}
