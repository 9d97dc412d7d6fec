package kv_test

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/internal/loadstat"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
	"github.com/nats-io/nats.go/jetstream"
)

// The benchmarks in this file compare kv with nats.go's jetstream.KeyValue
// ("raw") on the same in-process server, in the same run, so that the ratio
// of the two is meaningful on a noisy machine. BENCHMARKS.md at the root of
// the module shows the results and the command that produces them.

const (
	benchValueSize = 128  // bytes per value
	benchKeys      = 1000 // keys written and read by the single-key benchmarks
	benchWriters   = 16   // concurrent writers of BenchmarkPutDurability
)

var benchValue = bytes.Repeat([]byte("v"), benchValueSize)

// benchKeyNames are the keys "k.0" ... "k.999", made once so that no
// benchmark loop pays for formatting them.
var benchKeyNames = func() []string {
	ks := make([]string, benchKeys)
	for i := range ks {
		ks[i] = "k." + strconv.Itoa(i)
	}
	return ks
}()

// benchCtx returns a context that bounds a benchmark's setup and calls.
func benchCtx(b *testing.B) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	b.Cleanup(cancel)
	return ctx
}

// measureCPU starts counting the CPU time of the whole process (the
// in-process server and the garbage collector included), and returns a
// function that reports it per iteration as cpu-µs/op: what the work costs
// the machine, whether or not it ran on both cores at once. /proc counts in
// 10 ms ticks, so run for a second or more; where /proc cannot tell,
// nothing is reported.
func measureCPU(b *testing.B) (report func()) {
	start, _, ok := loadstat.CPUTimes()
	return func() {
		if now, _, ok2 := loadstat.CPUTimes(); ok && ok2 {
			b.ReportMetric(float64((now-start).Microseconds())/float64(b.N), "cpu-µs/op")
		}
	}
}

// reportOps adds an ops/s column, computed from the measured time.
func reportOps(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "ops/s")
	}
}

// rawJetStream returns a jetstream.JetStream on a connection of its own to
// srv, closed when the benchmark ends.
func rawJetStream(b *testing.B, srv *embedded.Server, opts ...jetstream.JetStreamOpt) jetstream.JetStream {
	b.Helper()
	js, err := jetstream.New(kvtest.Connect(b, srv), opts...)
	if err != nil {
		b.Fatal(err)
	}
	return js
}

// rawBucket opens the NATS KV bucket behind the user bucket name with
// nats.go, as any other NATS client would.
func rawBucket(ctx context.Context, b *testing.B, js jetstream.JetStream, name string) jetstream.KeyValue {
	b.Helper()
	full, err := bucket.App.Qualify(name)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := js.KeyValue(ctx, full)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// freshKeys hands out keys that were never written: prefix followed by a
// counter that survives the repeated runs of a benchmark.
type freshKeys struct {
	prefix string
	n      int
}

func (f *freshKeys) next() string {
	f.n++
	return f.prefix + strconv.Itoa(f.n)
}

// BenchmarkOps compares Put, Get, Create and Update through kv with the same
// calls on nats.go's jetstream.KeyValue, on one server and one bucket per
// storage mode: memory, and file with periodic fsync (the durability of
// nats-server's default). Keys are "k.0" to "k.999", values 128 bytes.
//
// kv.Update reads the key before its compare-and-swap, because JetStream's
// compare-and-swap compares sequences only and would accept the revision of
// a tombstone; update/raw-get+update does the same read and write with
// nats.go, as a like-for-like baseline.
func BenchmarkOps(b *testing.B) {
	for _, mode := range []struct {
		name    string
		storage bucket.Storage
		cfg     embedded.Config
	}{
		{"memory", bucket.MemoryStorage, embedded.Config{InMemory: true}},
		{"file", bucket.FileStorage, embedded.Config{Durability: embedded.SyncPeriodicLosesRecentWrites}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			ctx := benchCtx(b)
			srv := kvtest.NewServer(b, mode.cfg)
			store := kvtest.StoreOn(b, srv)
			kb := kvtest.NewBucket(b, store, bucket.Config{Name: "ops", Storage: mode.storage})
			raw := rawBucket(ctx, b, rawJetStream(b, srv), "ops")
			// Write every key through both clients: the keys exist for
			// get and update, and both connections are warm before the
			// first measurement, whichever side runs first.
			for _, k := range benchKeyNames {
				if _, err := kb.Put(ctx, k, benchValue); err != nil {
					b.Fatal(err)
				}
				if _, err := raw.Put(ctx, k, benchValue); err != nil {
					b.Fatal(err)
				}
			}
			benchOps(ctx, b, kb, raw)
		})
	}
}

func benchOps(ctx context.Context, b *testing.B, kb *kv.Bucket, raw jetstream.KeyValue) {
	b.Run("put", func(b *testing.B) {
		b.Run("kv", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := kb.Put(ctx, benchKeyNames[i%benchKeys], benchValue); err != nil {
					b.Fatal(err)
				}
			}
			reportOps(b)
		})
		b.Run("raw", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := raw.Put(ctx, benchKeyNames[i%benchKeys], benchValue); err != nil {
					b.Fatal(err)
				}
			}
			reportOps(b)
		})
	})

	// 64 writers at once, each call with a context of its own that can be
	// cancelled and has no deadline, as an HTTP handler's request context.
	putParallel := func(b *testing.B, put func(ctx context.Context, key string) error) {
		base, stop := context.WithCancel(context.WithoutCancel(ctx))
		defer stop()
		b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ctx, cancel := context.WithCancel(base)
				err := put(ctx, benchKeyNames[int(next.Add(1))%benchKeys])
				cancel()
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportOps(b)
	}
	b.Run("put64", func(b *testing.B) {
		b.Run("kv", func(b *testing.B) {
			putParallel(b, func(ctx context.Context, key string) error {
				_, err := kb.Put(ctx, key, benchValue)
				return err
			})
		})
		b.Run("raw", func(b *testing.B) {
			putParallel(b, func(ctx context.Context, key string) error {
				_, err := raw.Put(ctx, key, benchValue)
				return err
			})
		})
	})

	b.Run("get", func(b *testing.B) {
		b.Run("kv", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := kb.Get(ctx, benchKeyNames[i%benchKeys]); err != nil {
					b.Fatal(err)
				}
			}
			reportOps(b)
		})
		b.Run("raw", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := raw.Get(ctx, benchKeyNames[i%benchKeys]); err != nil {
					b.Fatal(err)
				}
			}
			reportOps(b)
		})
	})

	b.Run("create", func(b *testing.B) {
		// Every iteration creates a key that was never written; both sides
		// build their key the same way, so formatting costs them the same.
		kvKeys, rawKeys := &freshKeys{prefix: "new.kv."}, &freshKeys{prefix: "new.nc."}
		b.Run("kv", func(b *testing.B) {
			for b.Loop() {
				if _, err := kb.Create(ctx, kvKeys.next(), benchValue); err != nil {
					b.Fatal(err)
				}
			}
			reportOps(b)
		})
		b.Run("raw", func(b *testing.B) {
			for b.Loop() {
				if _, err := raw.Create(ctx, rawKeys.next(), benchValue); err != nil {
					b.Fatal(err)
				}
			}
			reportOps(b)
		})
	})

	b.Run("update", func(b *testing.B) {
		// revs holds the latest revision of every key; each side updates
		// with it and records the revision its write got.
		revs := make([]uint64, benchKeys)
		for i, k := range benchKeyNames {
			e, err := raw.Get(ctx, k)
			if err != nil {
				b.Fatal(err)
			}
			revs[i] = e.Revision()
		}
		b.Run("kv", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				j := i % benchKeys
				rev, err := kb.Update(ctx, benchKeyNames[j], benchValue, revs[j])
				if err != nil {
					b.Fatal(err)
				}
				revs[j] = rev
			}
			reportOps(b)
		})
		b.Run("raw", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				j := i % benchKeys
				rev, err := raw.Update(ctx, benchKeyNames[j], benchValue, revs[j])
				if err != nil {
					b.Fatal(err)
				}
				revs[j] = rev
			}
			reportOps(b)
		})
		b.Run("raw-get+update", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				j := i % benchKeys
				e, err := raw.Get(ctx, benchKeyNames[j])
				if err != nil {
					b.Fatal(err)
				}
				if e.Revision() != revs[j] {
					b.Fatalf("key %s at revision %d, want %d", benchKeyNames[j], e.Revision(), revs[j])
				}
				rev, err := raw.Update(ctx, benchKeyNames[j], benchValue, e.Revision())
				if err != nil {
					b.Fatal(err)
				}
				revs[j] = rev
			}
			reportOps(b)
		})
	})
}

// BenchmarkKeys compares kv.Bucket.Keys with draining nats.go's
// jetstream.KeyValue.ListKeys (ListKeysFiltered for a filter) in memory
// buckets of 10k and 100k keys named "g<i%10>.<i>", so that the filter
// "g1.>" matches a tenth of them.
//
// all/kv and filtered/kv are the steady state: the Store's key index is
// built before the timer starts. all/kv-first-call makes a new Store on a
// new connection every iteration, so each call builds the index;
// all/raw-first-call does the same with nats.go (new connection, open the
// bucket, list) as its baseline. filtered/paired/1 and filtered/paired/10
// time a full listing and one or ten filtered ones in turn, and report a
// filtered listing's share. filtered/kv-over-nats lists through a second
// Store that asks the stream's state over NATS, as a Store on a remote
// server does, where kv's own Store reads it from the server in process.
func BenchmarkKeys(b *testing.B) {
	ctx := benchCtx(b)
	srv := kvtest.NewServer(b, embedded.Config{InMemory: true})
	store := kvtest.StoreOn(b, srv)
	overNATS := kvtest.StoreOn(b, srv, kv.WithLocalState(false))
	js := rawJetStream(b, srv, jetstream.WithPublishAsyncMaxPending(4096))
	for _, size := range []struct {
		name string
		n    int
	}{{"10k", 10_000}, {"100k", 100_000}} {
		b.Run(size.name, func(b *testing.B) {
			name := "keys" + size.name
			kb := kvtest.NewBucket(b, store, bucket.Config{Name: name, Storage: bucket.MemoryStorage})
			loadKeys(ctx, b, js, kb, size.n)
			raw := rawBucket(ctx, b, js, name)
			ob, err := overNATS.Bucket(ctx, name)
			if err != nil {
				b.Fatal(err)
			}
			benchKeysOf(ctx, b, srv, kb, ob, raw, size.n)
		})
	}
}

// loadKeys writes the keys "g<i%10>.<i>", i < n, to kb with concurrent
// asynchronous publishes, and waits until the bucket holds them all.
func loadKeys(ctx context.Context, b *testing.B, js jetstream.JetStream, kb *kv.Bucket, n int) {
	b.Helper()
	full, err := bucket.App.Qualify(kb.Name())
	if err != nil {
		b.Fatal(err)
	}
	prefix := "$KV." + full + "."
	for i := range n {
		if _, err := js.PublishAsync(prefix+groupKey(i), benchValue); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		b.Fatal(ctx.Err())
	}
	info, err := kb.Info(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if info.Values != uint64(n) {
		b.Fatalf("bucket %s holds %d keys after loading, want %d", kb.Name(), info.Values, n)
	}
}

func groupKey(i int) string {
	return "g" + strconv.Itoa(i%10) + "." + strconv.Itoa(i)
}

func benchKeysOf(ctx context.Context, b *testing.B, srv *embedded.Server, kb, overNATS *kv.Bucket, raw jetstream.KeyValue, n int) {
	const filter = "g1.>"
	b.Run("all", func(b *testing.B) {
		b.Run("kv", func(b *testing.B) {
			if _, err := kb.Keys(ctx, ""); err != nil { // build the index
				b.Fatal(err)
			}
			reportCPU := measureCPU(b)
			for b.Loop() {
				keys, err := kb.Keys(ctx, "")
				if err != nil {
					b.Fatal(err)
				}
				if len(keys) != n {
					b.Fatalf("%d keys, want %d", len(keys), n)
				}
			}
			reportOps(b)
			reportCPU()
		})
		b.Run("kv-first-call", func(b *testing.B) {
			for b.Loop() {
				got, err := firstKeys(ctx, srv, kb.Name())
				wantKeys(b, got, err, n)
			}
			reportOps(b)
		})
		b.Run("raw", func(b *testing.B) {
			for b.Loop() {
				got, err := drain(raw.ListKeys(ctx))
				wantKeys(b, got, err, n)
			}
			reportOps(b)
		})
		b.Run("raw-first-call", func(b *testing.B) {
			for b.Loop() {
				got, err := firstRawKeys(ctx, srv, kb.Name())
				wantKeys(b, got, err, n)
			}
			reportOps(b)
		})
	})
	b.Run("filtered", func(b *testing.B) {
		for _, c := range []struct {
			name string
			kb   *kv.Bucket
		}{{"kv", kb}, {"kv-over-nats", overNATS}} {
			b.Run(c.name, func(b *testing.B) {
				if _, err := c.kb.Keys(ctx, filter); err != nil {
					b.Fatal(err)
				}
				reportCPU := measureCPU(b)
				for b.Loop() {
					keys, err := c.kb.Keys(ctx, filter)
					if err != nil {
						b.Fatal(err)
					}
					if len(keys) != n/10 {
						b.Fatalf("%d keys, want %d", len(keys), n/10)
					}
				}
				reportOps(b)
				reportCPU()
			})
		}
		b.Run("raw", func(b *testing.B) {
			for b.Loop() {
				got, err := drain(raw.ListKeysFiltered(ctx, filter))
				wantKeys(b, got, err, n/10)
			}
			reportOps(b)
		})
		// paired/<k> lists every key and then the filter's keys k times
		// in each iteration, and reports a filtered listing's time as a
		// share of the full listing's: measured side by side, a change in
		// the machine's load affects both alike. With k = 1 the full
		// listing allocates ten times the filtered one's garbage, and the
		// collection it starts runs during the filtered listing that
		// follows; with k = 10 each side allocates and walks as much as
		// the other in an iteration.
		for _, k := range []int{1, 10} {
			b.Run("paired/"+strconv.Itoa(k), func(b *testing.B) {
				var all, filtered time.Duration
				timed := func(f string, want int) time.Duration {
					t0 := time.Now()
					keys, err := kb.Keys(ctx, f)
					d := time.Since(t0)
					wantKeys(b, len(keys), err, want)
					return d
				}
				timed(filter, n/10) // build the index
				for b.Loop() {
					all += timed("", n)
					for range k {
						filtered += timed(filter, n/10)
					}
				}
				b.ReportMetric(float64(all.Microseconds())/float64(b.N), "µs/all")
				b.ReportMetric(float64(filtered.Microseconds())/float64(k*b.N), "µs/filtered")
				b.ReportMetric(float64(filtered)/float64(k)/float64(all), "filtered/all")
			})
		}
	})
}

// drain reads a key lister to its end and returns the number of keys.
func drain(l jetstream.KeyLister, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	n := 0
	for range l.Keys() {
		n++
	}
	return n, nil
}

// wantKeys fails the benchmark unless a listing of want keys succeeded.
func wantKeys(b *testing.B, got int, err error, want int) {
	if err != nil {
		b.Fatal(err)
	}
	if got != want {
		b.Fatalf("%d keys, want %d", got, want)
	}
}

// firstKeys lists the keys of bucket name through a new Store on a new
// connection, so that the listing builds the Store's key index, and closes
// both.
func firstKeys(ctx context.Context, srv *embedded.Server, name string) (int, error) {
	nc, err := srv.Connect()
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	store, err := kv.New(nc)
	if err != nil {
		return 0, err
	}
	defer func() { _ = store.Close() }()
	kb, err := store.Bucket(ctx, name)
	if err != nil {
		return 0, err
	}
	keys, err := kb.Keys(ctx, "")
	return len(keys), err
}

// firstRawKeys is firstKeys with nats.go: a new connection, the bucket
// opened, its keys listed.
func firstRawKeys(ctx context.Context, srv *embedded.Server, name string) (int, error) {
	nc, err := srv.Connect()
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	full, err := bucket.App.Qualify(name)
	if err != nil {
		return 0, err
	}
	raw, err := js.KeyValue(ctx, full)
	if err != nil {
		return 0, err
	}
	return drain(raw.ListKeys(ctx))
}

// BenchmarkPutDurability shows the price of durability: kv.Put to a file
// bucket on a server in each durability mode (embedded.GroupCommit, the
// default; embedded.SyncAlways, an fsync per write; and
// embedded.SyncPeriodicLosesRecentWrites, not durable on power loss), with
// 1, 16 and 64 concurrent writers. RunParallel runs a multiple of
// GOMAXPROCS goroutines: the writer count where GOMAXPROCS divides it.
// Under group commit it also reports the writes each sync served and the
// mean time of a sync.
func BenchmarkPutDurability(b *testing.B) {
	for _, mode := range []struct {
		name string
		d    embedded.Durability
	}{
		{"group-commit", embedded.GroupCommit},
		{"sync-always", embedded.SyncAlways},
		{"sync-periodic", embedded.SyncPeriodicLosesRecentWrites},
	} {
		b.Run(mode.name, func(b *testing.B) {
			ctx := benchCtx(b)
			store, srv := kvtest.NewFileStore(b, mode.d)
			kb := kvtest.NewBucket(b, store, bucket.Config{Name: "durability", Storage: bucket.FileStorage})
			for _, writers := range []int{1, 16, 64} {
				b.Run(strconv.Itoa(writers)+"writers", func(b *testing.B) {
					before := srv.SyncStats()
					if writers == 1 {
						for i := 0; b.Loop(); i++ {
							if _, err := kb.Put(ctx, benchKeyNames[i%benchKeys], benchValue); err != nil {
								b.Fatal(err)
							}
						}
					} else {
						// RunParallel starts parallelism × GOMAXPROCS goroutines.
						b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
						var next atomic.Int64
						b.RunParallel(func(pb *testing.PB) {
							for pb.Next() {
								i := int(next.Add(1))
								if _, err := kb.Put(ctx, benchKeyNames[i%benchKeys], benchValue); err != nil {
									b.Error(err)
									return
								}
							}
						})
					}
					reportOps(b)
					after := srv.SyncStats()
					if n := after.Syncs - before.Syncs; n > 0 {
						b.ReportMetric(float64(after.Waiters-before.Waiters)/float64(n), "writes/sync")
						b.ReportMetric(float64((after.Time-before.Time).Microseconds())/float64(n)/1000, "ms/sync")
					}
				})
			}
		})
	}
}
