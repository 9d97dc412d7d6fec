// Package kv is ironkv's key-value store on NATS JetStream: a Store of
// buckets and, per bucket, Put, Create, Update (compare-and-swap), Get,
// GetRevision, History, Delete, Purge, Keys and Watch. It is the one package
// of ironkv that talks to JetStream.
//
// # Connections
//
// New borrows a *nats.Conn (from package embedded, or one you dialled);
// Connect dials and owns one. kv never decides between an embedded and a
// remote server: the program does. Every call that does I/O takes a context
// first; without a deadline, nats.go's default JetStream timeout (5 s)
// applies, except that a write ends between 5 and 6 s: rather than a timer
// per write, the Store looks at the writes waiting once a second. Writes,
// and a listing's check that its key index is current, get their answers
// through one subscription of the Store's, matched under a lock of its
// own; with nats.go's RequestMsgWithContext, every answer and every
// publish took the connection's lock, and 64 concurrent Puts were half as
// fast (see BENCHMARKS.md).
//
// # Durability
//
// With a group-commit barrier (WithGroupCommit, or found by New itself on
// a connection to an embedded server of this process in
// embedded.GroupCommit mode), every write, and every bucket creation,
// update and deletion, returns only after a sync of the server's store
// that began after JetStream acknowledged it; concurrent writes share that
// sync. Replicated and memory buckets skip the wait, and a bucket whose
// stream uses JetStream's async persist mode is refused (CheckDurability
// finds such buckets up front). A write whose sync fails or whose context
// ends during the wait has happened all the same: it returns its revision
// with an error that says its durability is unconfirmed (ErrUnavailable,
// or the context's error). Without a barrier, durability is the NATS
// server's own.
//
// # Buckets and namespaces
//
// A bucket is a real NATS KV bucket: stream KV_<prefix><name>, subjects
// $KV.<prefix><name>.<key>, readable and writable by every NATS tool. A
// Store works in one namespace (bucket.App, "APP_", unless WithNamespace
// says otherwise); names are validated before the prefix is added, so no
// user-supplied name reaches another namespace, and listings show only the
// Store's namespace with the prefix stripped.
//
// CreateBucket fails with ErrBucketExists when the name is taken, even with
// an identical config (JetStream's own create is idempotent; ironkv records
// a creation id in the stream metadata to tell the two apart).
//
// JetStream counts headers against a stream's maximum message size, and
// conditional writes and tombstones carry headers. So a bucket's stream is
// created with room for them above max_value_size (256 bytes), and the
// user's limit is kept in the stream metadata: a value of exactly
// max_value_size is accepted by every write, conditional or not. Values are
// checked against the limit before NATS is asked (ErrValueTooLarge); with no
// limit, the server's max_payload less the same allowance applies.
//
// A bucket with a TTL is created with JetStream's limit markers
// (LimitMarkerTTL, equal to the TTL), so that an expiry leaves a marker that
// watchers and the key index see; Get reports an expired key as
// ErrKeyNotFound.
//
// # Revisions and conditional writes
//
// A revision is the JetStream stream sequence of a write: it rises per
// bucket, not per key, and the first write of a new bucket gets 1. Create
// writes only when the key has no live value (absent, deleted or purged).
// Update, and Delete and Purge with IfRevision, write only when the key's
// latest revision is exactly the one given and holds a live value.
// JetStream's compare-and-swap compares sequences only, so it would accept
// the revision of a tombstone; kv reads the key's last message first and
// answers ErrConflict for a tombstone, and the compare-and-swap that
// follows keeps the operation atomic. What a revision holds never changes,
// so a Bucket handle remembers the last thousand or so revisions that it
// wrote or read as values, and skips the read for those: a read-modify-write
// loop (Get, then Update with the revision got, then Update with the
// revision returned) costs no more round trips than with NATS KV. The
// memory is dropped when the Store deletes a bucket or a call finds the
// bucket gone; the one case it cannot see is another client deleting and
// re-creating the bucket under a live handle until the same revision of the
// same key is a tombstone, where the handle accepts that revision as NATS
// KV does. Conflicts are *ConflictError values carrying the key's current
// revision when it has one.
//
// Delete of a key that has no value succeeds and writes a tombstone, as in
// NATS KV. GetRevision returns only values: the revision of a tombstone is
// ErrKeyNotFound there, and History shows it.
//
// # Keys
//
// Keys and KeysPage list live keys, sorted, optionally filtered, with
// paging. They are served from an index of live keys per bucket, built on
// the first listing from a headers-only ordered consumer (last message per
// key, values never read) and kept current by the same consumer: a put adds
// a key, a delete, purge or expiry marker removes it. Before answering, a
// listing makes sure the index has applied the stream's last message, so
// a listing reflects every write that completed before it, from any
// client. A built index is read while that question is on its way; when
// the answer shows nothing newer than what the index had applied, the read
// stands (it is the bucket's state at a moment within the call), and
// otherwise the listing waits for the index and reads again. The question
// is asked from a goroutine of its own; where an idle core is slow to
// wake (small virtual machines), that goroutine may start only once the
// read is done, and a listing then takes the read plus one round trip.
// A Store on a standalone embedded server of its own process (found as
// New finds the group-commit barrier) needs no round trip: it reads the
// stream's state from the server in process, in well under a microsecond,
// and then reads the index once. nats-server offers no lookup of one
// stream's state, only a report of every stream of the account, so this
// holds while the account has 16 streams or fewer; with more, listings ask
// over NATS as below, and count the streams again every five seconds.
//
// Applying the stream's last message is not always enough. A consumer
// skips a message that the stream removed before the consumer reached it,
// as an overwrite under the bucket's history limit removes a key's older
// message; the key then shows only with its newer message, and an index
// that stands between the two lacks a key that existed all along. This
// happens during the build, when other clients write while it runs, and
// whenever the consumer falls behind the writes. The index therefore
// notes every skip. After one, a listing takes the stream's newest message
// N from a question asked while the index stood at A (the listing's own
// question to the stream, or one more when a skip came later), and waits
// until the index has applied N with no skip after A: every message
// skipped up to A was removed by a write at or before N, so only then does
// every key that exists show. Messages that follow one another without a
// skip need no such question.
//
// Over NATS, the question is one round trip, in one of two forms. When the
// server is not part of a cluster and the last message the index applied is
// small (16 KiB or less), it is a direct get of the stream's last message,
// which the server answers without a search, at about a fifth of the cost
// of the stream's info: the index is current when that message is the one
// it applied last, by sequence and time stamp, and the answer names the
// stream itself (a mirror with direct gets may answer in its place, and
// lag; a stream deleted and created again reuses sequences, not times).
// Otherwise, and whenever that answer does not show the index current, it
// is a request for the stream's info, which also tells a stream deleted and
// created again by its creation time. In a cluster a replica that lags the
// leader may answer a direct get, so only the stream's info is used.
//
// Filters walk only the part of the sorted index that their literal
// leading tokens select, found in one descent of the tree, and a listing
// sizes its page from the last listing of the same filter.
//
// Why an index: nats.go's ListKeys reads the last message of every key
// through a consumer on every call, and listing subjects through stream
// info also lists deleted and purged keys (their markers are messages too)
// and costs the server a full scan per call. The index pays that once per
// bucket and Store; after that a listing of 100k keys is a walk of a B-tree.
// It costs memory (each key plus some tens of bytes) and one consumer per
// listed bucket, as etcd's in-memory key index does. What it holds is
// bounded and reported: an index no listing used for WithKeyIndexIdle (10
// minutes by default) is released; when the indexes of a Store together
// exceed WithKeyIndexMemory (512 MiB estimated by default), the least
// recently used ones are released, never the one being listed; the next
// listing builds a released index again. Store.KeyIndexes reports each
// index's keys, estimated bytes and state. While an index builds (seconds
// at millions of keys), listings wait for it within their context, and
// the Store logs its progress (WithLogger). Bucket.KeyCount counts live
// keys from the same index; Store.BucketInfo and Buckets give the count as
// bucket.Info.Keys when an index is already built, at no extra cost unless
// the index skipped a message since its last check: then they ask the
// stream once more and wait for the index to catch up. See BENCHMARKS.md
// for the figures.
//
// Keys that are not in ironkv's encoding (written by other NATS clients,
// such as "a=zz") are skipped by Keys and Watch; Get cannot address them.
//
// # Watch
//
// Watch returns a Watcher, a pull object: Next(ctx) returns events until the
// Watcher ends, and All adapts it to range. By default a Watcher delivers
// the latest entry of every matching key (tombstones included), then one
// EventSynced, then changes as they happen; UpdatesOnly skips the snapshot,
// ResumeFrom replays every retained change after a revision, and
// IncludeHistory puts every retained revision in the snapshot. The library
// default is the snapshot, as in NATS KV; the HTTP protocol defaults to
// updates only.
//
// Events flow from a JetStream ordered consumer (pull-based, so the server
// never pushes more than the client asked for) into a bounded buffer. When
// the reader falls behind by more than the buffer, the Watcher stops its
// consumer and, once the reader has drained what was buffered, returns a
// *SlowConsumerError with the last delivered revision: watch again with
// ResumeFrom to continue with no gap and no duplicate. Nothing is dropped
// silently and a slow reader never blocks the NATS connection. When the
// bucket is deleted, the Watcher ends with ErrBucketNotFound.
//
// # Errors
//
// Every error matches at most one of the sentinels (ErrKeyNotFound,
// ErrBucketNotFound, ErrBucketExists, ErrConflict, ErrInvalidKey,
// ErrInvalidBucketName, ErrInvalidConfig, ErrValueTooLarge, ErrBucketFull,
// ErrUnavailable, ErrSlowConsumer, ErrClosed) with errors.Is and keeps the
// NATS error in its chain. NATS errors are classified in one function. A
// stale revision is JetStream's wrong-last-sequence error (which nats.go's
// ErrKeyExists matches); kv reports it as ErrConflict. Context errors pass
// through.
//
// # Limits
//
//   - A write to a bucket that another process deleted under a live handle
//     waits for the publish retries (two, a quarter of a second apart, as
//     nats.go's) before it reports ErrBucketNotFound.
//   - A Bucket handle reads the bucket's limits when it is made; get a new
//     handle after another process changes them.
//   - Key indexes live as long as the Store (or until their bucket is
//     deleted); a process that lists many huge buckets holds them all.
package kv
