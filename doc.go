// Package ironkv is a key-value store for Go programs, built on NATS
// JetStream: as safe as etcd, as handy as Redis, as easy to embed as bbolt.
// This package holds no code; it is the manual. The code is in the packages
// below.
//
// # Packages
//
//   - bucket: what a bucket is. Config and Info with their JSON wire names,
//     the namespaces (APP_, SYS_config_, SYS_secrets_), and the rules and
//     codec for bucket names, keys and filters. Pure: no I/O.
//   - kv: Store and Bucket over JetStream KV: Put, Create, Update
//     (compare-and-swap), Get, GetRevision, History, Delete, Purge, Keys and
//     Watch, with the error sentinels. The one package that talks to
//     JetStream.
//   - embedded: runs nats-server inside your process (standalone or as a
//     node of a cluster) and hands out in-process connections.
//   - kvtest: a real Store on an in-process server for tests, yours and
//     ours, cleaned up with t.Cleanup.
//   - watch: one upstream kv watch per bucket shared by many subscribers,
//     with per-subscriber filters, bounded queues, snapshot and resume.
//   - config: JSON settings documents per environment in SYS_config_
//     buckets; secrets: AES-256-GCM secrets per environment in
//     SYS_secrets_ buckets, with a keyring and re-encryption.
//   - httpapi: the same API as http.Handlers (KV with WebSocket and SSE
//     watch, Config, Secrets) that speak the wire protocol of the Ironflow
//     platform.
//   - dashboard: the web UI as an http.Handler over embedded static files.
//   - examples/server: the ready server binary; examples/embedded: the
//     library in a program; examples/mount: the API in a host app;
//     examples/loadgen and examples/watchload: the load generators behind
//     BENCHMARKS.md.
//   - reliability: tests of the promises under load and faults
//     (linearizability, crashes, a cluster, hostile input); see
//     RELIABILITY.md.
//
// # Quick start: embedded
//
// Run NATS in the process, with data on disk and every write on stable
// storage before it returns (group commit):
//
//	srv, err := embedded.Start(ctx, embedded.Config{DataDir: "data"})
//	if err != nil { ... }
//	defer srv.Shutdown(ctx)
//	nc, _ := srv.Connect()
//	store, _ := kv.New(nc)
//
//	users, _ := store.CreateBucket(ctx, bucket.Config{Name: "users", History: 5})
//	rev, _ := users.Put(ctx, "user:42", []byte(`{"name":"Ada"}`))
//	_, err = users.Update(ctx, "user:42", []byte(`{"name":"Ada L."}`), rev)
//	// errors.Is(err, kv.ErrConflict) when someone wrote in between
//
// # Quick start: remote NATS
//
// Point a Store at a NATS cluster with JetStream; the buckets are ordinary
// NATS KV buckets (KV_APP_<name>), so `nats kv ls` and every NATS client see
// them too:
//
//	store, err := kv.Connect(ctx, "nats://n1:4222,nats://n2:4222")
//
// # Quick start: tests
//
//	func TestThing(t *testing.T) {
//		store := kvtest.NewStore(t) // in-memory server, cleaned up at the end
//		b := kvtest.NewBucket(t, store, bucket.Config{Name: "things"})
//		...
//	}
//
// # Keys
//
// A key is a non-empty UTF-8 string of at most 1024 bytes after encoding;
// dots separate tokens, which filters match ("user.*", "user.>"). Any
// character but control characters, "*" and ">" is allowed: characters
// outside NATS's key alphabet are stored escaped (user:123 is the NATS key
// user=3A123), and ironkv decodes them on the way out. See package bucket.
//
// # Durability
//
// On an embedded server a write returns only once it is on stable storage:
// by default through group commit (embedded.GroupCommit), where the writes
// waiting at one moment share one sync of the data dir's file system, as in
// etcd and PostgreSQL; kv.New finds the barrier of an embedded server of
// the same process by itself (kv.WithGroupCommit for other connections).
// embedded.SyncAlways fsyncs each write on its own, for every NATS client;
// JetStream's own default, which syncs every two minutes and can lose
// recently acknowledged writes on power loss, is opt-in as
// embedded.SyncPeriodicLosesRecentWrites. A watcher can see a write a
// moment before it is durable. With a remote cluster, durability is the
// cluster's: ironkv cannot change it.
//
// # Limits
//
//   - A revision is a stream sequence: it rises per bucket, not per key.
//   - Update reads the key before its compare-and-swap (to refuse the
//     revision of a tombstone), one extra round trip, unless the handle
//     wrote or read that revision as a value itself.
//   - Listing keys builds an index per bucket on first use (seconds at
//     millions of keys) and keeps it in memory until it goes unused for
//     ten minutes or the Store's indexes outgrow their memory bound.
//     Every listing first learns where the bucket's stream stands, so that
//     it shows every write completed before it: one round trip to the
//     server, or none for a Store on an embedded server of its own process
//     whose account holds 16 streams or fewer.
//   - Values are limited by the bucket's max_value_size or the server's
//     max_payload (1 MiB by default) less 256 bytes kept for headers.
//   - Replicas above 1 need a JetStream cluster (three embedded nodes on
//     loopback will do; see package embedded).
package ironkv
