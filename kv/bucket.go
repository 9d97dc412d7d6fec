package kv

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Op is the operation that wrote an Entry. Its string form is the wire name.
type Op string

// The operations of an Entry.
const (
	OpPut    Op = "put"
	OpDelete Op = "delete"
	OpPurge  Op = "purge"
)

// Entry is one revision of a key.
type Entry struct {
	// Bucket is the bucket's name, without the namespace prefix.
	Bucket string
	// Key is the user's key, decoded.
	Key string
	// Value is the stored bytes; nil for OpDelete and OpPurge.
	Value []byte
	// Revision is the JetStream stream sequence of the write.
	Revision uint64
	// Created is when the server stored the write.
	Created time.Time
	// Op is the operation of the write.
	Op Op
}

// Bucket is a handle on one bucket. It is safe for concurrent use. Its
// limits (max value size) are read when the handle is made; get a new handle
// after another process changes them.
type Bucket struct {
	s        *Store
	name     string
	full     string
	prefix   string // "$KV.<full>."
	stream   jetstream.Stream
	kv       jetstream.KeyValue
	maxValue int
	syncer   Syncer // the group-commit barrier, nil when the bucket needs none
	live     liveRevs
}

func newBucket(s *Store, name, full string, st jetstream.Stream, kvh jetstream.KeyValue) (*Bucket, error) {
	c := st.CachedInfo().Config
	limit := int(s.nc.MaxPayload()) - headerAllowance
	if v := int(maxValueSize(c)); v > 0 && v < limit {
		limit = v
	}
	syncer, err := s.bucketSyncer(name, c)
	if err != nil {
		return nil, err
	}
	return &Bucket{s: s, name: name, full: full, prefix: "$KV." + full + ".", stream: st, kv: kvh, maxValue: limit, syncer: syncer}, nil
}

// durable returns once an acknowledged write is on stable storage, when
// the bucket is under group commit (see WithGroupCommit).
func (b *Bucket) durable(ctx context.Context, op, key string) error {
	return waitDurable(ctx, b.syncer, func() string { return fmt.Sprintf("%s %q in bucket %q", op, key, b.name) })
}

// Name returns the bucket's name, without the namespace prefix.
func (b *Bucket) Name() string { return b.name }

// MaxValueSize returns the largest value the bucket accepts, in bytes: its
// max_value_size, or the server's maximum payload less room for headers.
func (b *Bucket) MaxValueSize() int { return b.maxValue }

// Info returns the bucket's config and state. It returns ErrBucketNotFound
// when the bucket was deleted.
func (b *Bucket) Info(ctx context.Context) (bucket.Info, error) {
	return b.s.BucketInfo(ctx, b.name)
}

// Revision returns the bucket's latest revision: the revision of the last
// write to any of its keys, 0 for a bucket never written. It returns
// ErrBucketNotFound and ErrUnavailable.
func (b *Bucket) Revision(ctx context.Context) (uint64, error) {
	if err := b.s.check(); err != nil {
		return 0, err
	}
	info, err := b.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("revision of bucket %q: %w", b.name, classify(err))
	}
	return info.State.LastSeq, nil
}

func (b *Bucket) encode(key string) (string, error) {
	if err := b.s.check(); err != nil {
		return "", err
	}
	return bucket.EncodeKey(key)
}

func (b *Bucket) checkValue(key string, value []byte) error {
	if len(value) > b.maxValue {
		return fmt.Errorf("%w: key %q: value of %d bytes is over the bucket's limit of %d bytes", ErrValueTooLarge, key, len(value), b.maxValue)
	}
	return nil
}

// fail classifies err of operation op on key. A publish that no stream
// answers means the bucket is gone when the stream is indeed missing.
func (b *Bucket) fail(ctx context.Context, op, key string, err error) error {
	cerr := classify(err)
	// A request that no stream answers, or that the stream refuses as it is
	// being deleted ("stream not valid"), may mean the bucket is gone; so
	// may nats.go's own timeout, with the caller's context still live: a
	// write that reached the stream just as it was deleted is dropped
	// unanswered.
	timedOut := errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil
	if errors.Is(cerr, ErrUnavailable) || timedOut {
		// Briefly: when the server is what failed, the caller has waited
		// out one timeout already.
		lctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if _, serr := b.s.js.Stream(lctx, b.stream.CachedInfo().Config.Name); errNoStream(serr) {
			cerr = wrap(ErrBucketNotFound, err)
		}
	}
	if errors.Is(cerr, ErrBucketNotFound) {
		b.live.forget()
	}
	return fmt.Errorf("%s %q in bucket %q: %w", op, key, b.name, cerr)
}

// Put writes value under key, whatever its state, and returns the new
// revision. It returns ErrInvalidKey, ErrValueTooLarge (before asking NATS),
// ErrBucketFull, ErrBucketNotFound and ErrUnavailable.
func (b *Bucket) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	k, err := b.encode(key)
	if err != nil {
		return 0, err
	}
	if err := b.checkValue(key, value); err != nil {
		return 0, err
	}
	gen := b.s.deleted.Load()
	rev, err := b.publish(ctx, k, value, noExpectation)
	if err != nil {
		return 0, b.fail(ctx, "put", key, err)
	}
	b.live.add(gen, rev, k)
	return rev, b.durable(ctx, "put", key)
}

// Create writes value only when key has no live value (it is absent,
// deleted or purged) and returns the new revision. It returns a
// *ConflictError (ErrConflict) when the key is live, and the errors of Put.
func (b *Bucket) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	k, err := b.encode(key)
	if err != nil {
		return 0, err
	}
	if err := b.checkValue(key, value); err != nil {
		return 0, err
	}
	gen := b.s.deleted.Load()
	rev, err := b.publish(ctx, k, value, 0)
	// A key whose latest message is a tombstone has no live value: write
	// on the condition that the tombstone is still the latest. A delete
	// racing with that makes it fail although the key never had a live
	// value, so keep going while the latest message is a tombstone: each
	// failed attempt means another write landed, so this ends when the key
	// is live (a real conflict) or a write of ours wins.
	for attempt := 0; err != nil && attempt < maxCreateAttempts && errors.Is(classify(err), ErrConflict); attempt++ {
		m, gerr := b.stream.GetLastMsgForSubject(ctx, b.prefix+k)
		switch {
		case gerr == nil && opOf(m.Header) != OpPut:
			rev, err = b.publish(ctx, k, value, m.Sequence)
		case gerr != nil && errors.Is(classify(gerr), ErrKeyNotFound):
			rev, err = b.publish(ctx, k, value, 0)
		default:
			attempt = maxCreateAttempts // live, or the read failed: report err
		}
	}
	if err != nil {
		return 0, b.conflict(ctx, "create", key, k, 0, err)
	}
	b.live.add(gen, rev, k)
	return rev, b.durable(ctx, "create", key)
}

// maxCreateAttempts bounds Create's retries against concurrent deletes.
const maxCreateAttempts = 100

// Update writes value only when the key's latest revision is exactly rev and
// holds a live value, and returns the new revision. It returns a
// *ConflictError (ErrConflict) otherwise, also when rev is the revision of a
// tombstone, and the errors of Put.
func (b *Bucket) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	k, err := b.encode(key)
	if err != nil {
		return 0, err
	}
	if err := b.checkValue(key, value); err != nil {
		return 0, err
	}
	gen := b.s.deleted.Load()
	if err := b.checkLive(ctx, "update", key, k, rev); err != nil {
		return 0, err
	}
	nrev, err := b.publish(ctx, k, value, rev)
	if err != nil {
		return 0, b.conflict(ctx, "update", key, k, rev, err)
	}
	b.live.add(gen, nrev, k)
	return nrev, b.durable(ctx, "update", key)
}

// checkLive returns a *ConflictError unless the latest revision of the key is
// rev and holds a live value. JetStream's compare-and-swap compares stream
// sequences only and would accept the revision of a tombstone; this read
// rules that out, and the compare-and-swap that follows rules out any write
// between the two. A revision the handle knows to hold a put of the key
// needs no read (see liveRevs).
func (b *Bucket) checkLive(ctx context.Context, op, key, k string, rev uint64) error {
	if rev == 0 {
		return fmt.Errorf("%s %q in bucket %q: %w: expected revision 0; use Create to write a key that has no value", op, key, b.name, ErrConflict)
	}
	if b.live.has(b.s.deleted.Load(), rev, k) {
		return nil
	}
	m, err := b.stream.GetLastMsgForSubject(ctx, b.prefix+k)
	if err != nil {
		if errors.Is(classify(err), ErrKeyNotFound) {
			// The conflict unwraps to the NATS error, not to ErrKeyNotFound:
			// a caller asking errors.Is(err, ErrKeyNotFound) first must still
			// see a conflict.
			return &ConflictError{Key: key, Expected: rev, err: err}
		}
		return b.fail(ctx, op, key, err)
	}
	live := opOf(m.Header) == OpPut
	if m.Sequence != rev || !live {
		ce := &ConflictError{Key: key, Expected: rev}
		if live {
			ce.Revision = m.Sequence
		}
		return ce
	}
	return nil
}

// conflict turns a failed conditional write into a *ConflictError with the
// key's current revision, or into the classified error.
func (b *Bucket) conflict(ctx context.Context, op, key, k string, expected uint64, err error) error {
	cerr := classify(err)
	if !errors.Is(cerr, ErrConflict) {
		return b.fail(ctx, op, key, err)
	}
	ce := &ConflictError{Key: key, Expected: expected, err: err}
	if e, gerr := b.kv.Get(ctx, k); gerr == nil {
		ce.Revision = e.Revision()
	}
	return ce
}

// DeleteOption is an option of Delete and Purge.
type DeleteOption func(*deleteOpts)

type deleteOpts struct{ rev uint64 }

// IfRevision makes Delete or Purge conditional: it succeeds only when the
// key's latest revision is rev and holds a live value.
func IfRevision(rev uint64) DeleteOption { return func(o *deleteOpts) { o.rev = rev } }

// Delete writes a tombstone for key: Get then returns ErrKeyNotFound, and
// History keeps the earlier revisions. Deleting a key that has no value
// succeeds (and writes a tombstone). With IfRevision it returns a
// *ConflictError (ErrConflict) when the key moved on. It also returns
// ErrInvalidKey, ErrBucketNotFound and ErrUnavailable.
func (b *Bucket) Delete(ctx context.Context, key string, opts ...DeleteOption) error {
	return b.remove(ctx, "delete", key, false, opts)
}

// Purge removes key and all its history, leaving one purge marker. It
// returns the errors of Delete.
func (b *Bucket) Purge(ctx context.Context, key string, opts ...DeleteOption) error {
	return b.remove(ctx, "purge", key, true, opts)
}

func (b *Bucket) remove(ctx context.Context, op, key string, purge bool, opts []DeleteOption) error {
	k, err := b.encode(key)
	if err != nil {
		return err
	}
	var o deleteOpts
	for _, opt := range opts {
		opt(&o)
	}
	// The markers nats.go's KeyValue writes: a tombstone, or a purge that
	// rolls up the key's earlier messages.
	m := &nats.Msg{Subject: b.prefix + k, Header: nats.Header{hdrKVOperation: []string{"DEL"}}}
	if purge {
		m.Header = nats.Header{hdrKVOperation: []string{"PURGE"}, jetstream.MsgRollup: []string{jetstream.MsgRollupSubject}}
	}
	if o.rev != 0 {
		if err := b.checkLive(ctx, op, key, k, o.rev); err != nil {
			return err
		}
		m.Header.Set(hdrExpectedLastSubjSeq, strconv.FormatUint(o.rev, 10))
	}
	if _, err = b.send(ctx, m); err != nil {
		return b.conflict(ctx, op, key, k, o.rev, err)
	}
	return b.durable(ctx, op, key)
}

// Get returns the latest live entry of key. It returns ErrKeyNotFound when
// the key is absent, deleted, purged or expired, and ErrInvalidKey,
// ErrBucketNotFound and ErrUnavailable.
func (b *Bucket) Get(ctx context.Context, key string) (Entry, error) {
	k, err := b.encode(key)
	if err != nil {
		return Entry{}, err
	}
	gen := b.s.deleted.Load()
	e, err := b.kv.Get(ctx, k)
	if err != nil {
		return Entry{}, b.fail(ctx, "get", key, err)
	}
	return b.entryOf(gen, key, k, e), nil
}

// GetRevision returns the entry of key at revision rev when that revision is
// still retained and holds a value. It returns ErrKeyNotFound when it is not
// retained, belongs to another key, or is a tombstone (History shows
// tombstones), and the errors of Get.
func (b *Bucket) GetRevision(ctx context.Context, key string, rev uint64) (Entry, error) {
	k, err := b.encode(key)
	if err != nil {
		return Entry{}, err
	}
	if rev == 0 {
		return Entry{}, fmt.Errorf("get %q at revision 0 in bucket %q: %w: revisions start at 1", key, b.name, ErrKeyNotFound)
	}
	gen := b.s.deleted.Load()
	e, err := b.kv.GetRevision(ctx, k, rev)
	if err != nil {
		return Entry{}, b.fail(ctx, fmt.Sprintf("get revision %d of", rev), key, err)
	}
	return b.entryOf(gen, key, k, e), nil
}

// History returns every retained revision of key, oldest first, tombstones
// included. It returns ErrKeyNotFound when nothing of the key is retained,
// and the errors of Get.
func (b *Bucket) History(ctx context.Context, key string) ([]Entry, error) {
	k, err := b.encode(key)
	if err != nil {
		return nil, err
	}
	es, err := b.kv.History(ctx, k)
	if err != nil {
		return nil, b.fail(ctx, "history of", key, err)
	}
	out := make([]Entry, len(es))
	for i, e := range es {
		out[i] = b.entry(key, e)
	}
	return out, nil
}

// entryOf is entry for a read of encoded key k, remembering the revision
// when it holds a put; gen is the Store's deletion count before the read.
func (b *Bucket) entryOf(gen uint64, key, k string, e jetstream.KeyValueEntry) Entry {
	en := b.entry(key, e)
	if en.Op == OpPut {
		b.live.add(gen, en.Revision, k)
	}
	return en
}

func (b *Bucket) entry(key string, e jetstream.KeyValueEntry) Entry {
	en := Entry{Bucket: b.name, Key: key, Value: e.Value(), Revision: e.Revision(), Created: e.Created(), Op: OpPut}
	switch e.Operation() {
	case jetstream.KeyValueDelete:
		en.Op, en.Value = OpDelete, nil
	case jetstream.KeyValuePurge:
		en.Op, en.Value = OpPurge, nil
	}
	return en
}

// Header names of NATS KV.
const (
	hdrKVOperation  = "KV-Operation"
	hdrMarkerReason = "Nats-Marker-Reason"
)

// opOf reads the operation of a KV message from its headers, the way nats.go
// does: a KV-Operation header, or a server marker (expiry, purge, removal).
func opOf(h nats.Header) Op {
	if len(h) == 0 {
		return OpPut
	}
	switch h.Get(hdrKVOperation) {
	case "DEL":
		return OpDelete
	case "PURGE":
		return OpPurge
	}
	switch h.Get(hdrMarkerReason) {
	case "MaxAge", "Purge":
		return OpPurge
	case "Remove":
		return OpDelete
	}
	return OpPut
}

// streamGone handles a consumer error that may mean the bucket was deleted.
// It returns true when err says so. For a deleted consumer, which is what a
// consumer sees when its stream goes (and which the ordered consumer would
// retry forever), it asks the server in a goroutine counted by wg and calls
// end when the stream is gone. Callers must not Add to wg once they are
// stopped, so that waiting on wg at stop is sound.
func (b *Bucket) streamGone(err error, wg *sync.WaitGroup, end func(error)) bool {
	if errNoStream(err) {
		return true
	}
	if !errors.Is(err, jetstream.ErrConsumerDeleted) && !errors.Is(err, jetstream.ErrNoHeartbeat) {
		return false
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, serr := b.s.js.Stream(ctx, b.stream.CachedInfo().Config.Name); errNoStream(serr) {
			end(wrap(ErrBucketNotFound, serr))
		}
	}()
	return false
}

// consumerHeartbeat is how often the server tells an idle consumer of kv's
// that it is alive; two missed heartbeats make kv check that the bucket
// still exists.
const consumerHeartbeat = 5 * time.Second

// consumerInactiveThreshold is how long the server keeps a consumer of
// kv's (watcher or key index) that nobody pulls from: the consumers of a
// process that died without closing them go away after it.
const consumerInactiveThreshold = 30 * time.Second

// deleteConsumer removes a stopped consumer from the server at once, so
// that closed watchers leave nothing behind. Errors are ignored: the
// consumer may be gone with its bucket, and the inactivity threshold
// collects it otherwise.
func (b *Bucket) deleteConsumer(c jetstream.Consumer) {
	if c == nil {
		return
	}
	ci := c.CachedInfo()
	if ci == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.stream.DeleteConsumer(ctx, ci.Name)
}
