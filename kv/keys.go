package kv

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/internal/inproc"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tidwall/btree"
)

// Page is one page of a key listing.
type Page struct {
	// Keys are the live keys of the page, sorted; never nil.
	Keys []string
	// Next is the key to pass as after for the next page; "" when the
	// listing is complete.
	Next string
}

// Keys returns the live keys that match filter ("" or ">" for all; see
// bucket.ParseFilter), sorted. The listing reflects every write that
// completed before the call, from any client. It returns ErrInvalidKey for
// a bad filter, ErrBucketNotFound and ErrUnavailable.
//
// Keys are served from an index of live keys that the Store builds on the
// first listing of a bucket (from a headers-only watch, so values are never
// read) and keeps current; see the package documentation.
func (b *Bucket) Keys(ctx context.Context, filter string) ([]string, error) {
	p, err := b.KeysPage(ctx, filter, "", 0)
	return p.Keys, err
}

// KeysPage returns at most limit live keys that match filter and sort after
// the key after ("" to start), and the key to continue from when more
// follow. A limit of 0 or less means no limit. It returns the errors of Keys.
func (b *Bucket) KeysPage(ctx context.Context, filter, after string, limit int) (Page, error) {
	f, err := bucket.ParseFilter(filter)
	if err != nil {
		return Page{Keys: []string{}}, err
	}
	var p Page
	err = b.withIndex(ctx, "list keys", f.String(), func(ix *keyIndex) { p = ix.list(f, after, limit) })
	if err != nil {
		return Page{Keys: []string{}}, err
	}
	return p, nil
}

// KeyCount returns the number of live keys, from the same index as Keys and
// with the same guarantee (every write completed before the call counts).
// It returns ErrBucketNotFound and ErrUnavailable.
func (b *Bucket) KeyCount(ctx context.Context) (int, error) {
	var n int
	err := b.withIndex(ctx, "count keys", ">", func(ix *keyIndex) { n = ix.tree.Len() })
	return n, err
}

// maxIndexAttempts bounds how often one call builds an index anew after
// the one it waited on was released (for memory) under it.
const maxIndexAttempts = 3

// withIndex runs read on the bucket's key index, with the index read-locked,
// once the index reflects every write completed before the call, building
// the index if needed. read may run twice; its last run counts.
func (b *Bucket) withIndex(ctx context.Context, op, what string, read func(*keyIndex)) error {
	if err := b.s.check(); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		ix := b.s.index(b)
		err := ix.barrier(ctx, b, read)
		if err == nil {
			b.s.boundIndexes(ix)
			return nil
		}
		retry := errors.Is(err, errIndexReleased)
		if errors.Is(err, errIndexStale) || errors.Is(err, ErrBucketNotFound) || errNoStream(err) {
			b.s.forgetIndexLater(ix, err)
			// A bucket deleted and created again gets a new index.
			_, serr := b.stream.Info(ctx)
			retry = serr == nil
		}
		if retry && attempt < maxIndexAttempts {
			continue
		}
		return b.fail(ctx, op, what, err)
	}
}

// errIndexReleased ends an index released for being idle or for memory; a
// listing waiting on it builds a new one.
var errIndexReleased = fmt.Errorf("%w: key index released; raise WithKeyIndexMemory if this repeats", ErrUnavailable)

// errIndexStale says that an index read a bucket that was deleted and
// created again since; a listing builds a new one.
var errIndexStale = fmt.Errorf("%w: key index of a bucket that was deleted and created again", ErrUnavailable)

// keyOverhead estimates the memory of one key in an index beyond its
// bytes: its string header in a B-tree node (16 bytes, in nodes about
// two-thirds full) and the rounding of its allocation. BenchmarkKeysLarge
// measures the real figure.
const keyOverhead = 44

// keyIndex is the sorted set of live keys of one bucket, kept current by a
// headers-only ordered consumer.
type keyIndex struct {
	s      *Store
	stream string
	bucket string
	prefix string
	cc     jetstream.ConsumeContext
	cons   jetstream.Consumer
	b      *Bucket
	idle   *time.Timer // releases the index when unused; guarded by s.mu

	lastUsed atomic.Int64 // unix nanoseconds of the last listing
	bytes    atomic.Int64 // estimated memory of the keys

	mu       sync.RWMutex
	tree     *btree.BTreeG[string]
	applied  uint64        // highest stream sequence applied
	lastTime int64         // time stamp of that message, unix nanoseconds
	lastHdr  nats.Header   // headers of that message
	wake     chan struct{} // closed when applied moves, if someone waits
	err      error         // set when the index stopped
	created  time.Time     // creation of the stream the index reads
	building bool          // the initial read of the bucket is under way
	built    time.Time     // when the build began, then when it ended
	progress time.Time     // when build progress was last logged
	read     uint64        // messages applied during the build
	toRead   uint64        // messages the build had to read when it began
	startMu  sync.Mutex
	started  bool
	checks   sync.WaitGroup // bucket-existence checks in flight

	// consistent says that the tree is the bucket's state as of applied:
	// no key waits for a message after applied to show it. A message that
	// the stream removed before the consumer reached it (an overwrite under
	// a history limit, a purge) is skipped, and its key shows only with its
	// next message: until then the index lacks a key that exists. It is
	// false during the build and after a skip; wait makes it true again
	// (see there), and messages that follow one another keep it true.
	consistent bool
	lastGap    uint64 // the sequence of the last message that followed a skip

	sizes     sync.Map     // filter → keys of its last complete listing
	sizeHints atomic.Int32 // entries in sizes
}

// newKeyTree returns an empty sorted set of keys; keyIndex.mu guards it.
func newKeyTree() *btree.BTreeG[string] {
	return btree.NewBTreeGOptions(func(a, b string) bool { return a < b }, btree.Options{NoLocks: true, Degree: 32})
}

// index returns the key index of b's bucket, creating it on first use.
func (s *Store) index(b *Bucket) *keyIndex {
	name := b.stream.CachedInfo().Config.Name
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.indexes[name]
	if ix == nil {
		ix = &keyIndex{s: s, stream: name, bucket: b.name, prefix: b.prefix, tree: newKeyTree()}
		if d := s.opts.indexIdle; d > 0 {
			ix.idle = time.AfterFunc(d, func() { s.releaseIdle(ix) })
		}
		s.indexes[name] = ix
	}
	ix.lastUsed.Store(time.Now().UnixNano())
	return ix
}

// releaseIdle releases ix when no listing used it for the idle time, and
// checks again later otherwise. It runs on ix's timer.
func (s *Store) releaseIdle(ix *keyIndex) {
	s.mu.Lock()
	if s.closed.Load() || s.indexes[ix.stream] != ix {
		s.mu.Unlock()
		return
	}
	if unused := time.Since(time.Unix(0, ix.lastUsed.Load())); unused < s.opts.indexIdle {
		ix.idle.Reset(s.opts.indexIdle - unused)
		s.mu.Unlock()
		return
	}
	s.logIndex(ix, slog.LevelInfo, "key index released: unused", "idle", s.opts.indexIdle)
	delete(s.indexes, ix.stream)
	s.bg.Add(1)
	s.mu.Unlock()
	defer s.bg.Done()
	s.stopIndex(ix, errIndexReleased)
}

// boundIndexes releases the least recently used indexes other than keep
// while the estimated memory of all of them is over WithKeyIndexMemory.
func (s *Store) boundIndexes(keep *keyIndex) {
	limit := s.opts.indexMemory
	if limit <= 0 {
		return
	}
	s.mu.Lock()
	var total int64
	others := make([]*keyIndex, 0, len(s.indexes))
	for _, ix := range s.indexes {
		total += ix.bytes.Load()
		if ix != keep {
			others = append(others, ix)
		}
	}
	if total <= limit {
		s.mu.Unlock()
		return
	}
	slices.SortFunc(others, func(a, b *keyIndex) int { return cmp.Compare(a.lastUsed.Load(), b.lastUsed.Load()) })
	var victims []*keyIndex
	for _, ix := range others {
		if total <= limit {
			break
		}
		total -= ix.bytes.Load()
		delete(s.indexes, ix.stream)
		victims = append(victims, ix)
	}
	s.mu.Unlock()
	for _, ix := range victims {
		s.logIndex(ix, slog.LevelInfo, "key index released: over the memory limit", "limit_bytes", limit)
		s.stopIndex(ix, errIndexReleased)
	}
}

// KeyIndexStats describes one key index of a Store.
type KeyIndexStats struct {
	// Bucket is the bucket's name.
	Bucket string
	// Keys is the number of live keys in the index.
	Keys int
	// Bytes estimates the memory the index holds.
	Bytes int64
	// Building is true while the index reads the bucket for the first
	// time; listings wait for it.
	Building bool
	// LastUsed is when a listing last used the index.
	LastUsed time.Time
}

// KeyIndexes reports the key indexes the Store holds, sorted by bucket.
// Their memory together is bounded by WithKeyIndexMemory; each is released
// after WithKeyIndexIdle without a listing.
func (s *Store) KeyIndexes() []KeyIndexStats {
	s.mu.Lock()
	idx := make([]*keyIndex, 0, len(s.indexes))
	for _, ix := range s.indexes {
		idx = append(idx, ix)
	}
	s.mu.Unlock()
	out := make([]KeyIndexStats, 0, len(idx))
	for _, ix := range idx {
		ix.mu.RLock()
		out = append(out, KeyIndexStats{
			Bucket:   ix.bucket,
			Keys:     ix.tree.Len(),
			Bytes:    ix.bytes.Load(),
			Building: ix.building,
			LastUsed: time.Unix(0, ix.lastUsed.Load()),
		})
		ix.mu.RUnlock()
	}
	slices.SortFunc(out, func(a, b KeyIndexStats) int { return strings.Compare(a.Bucket, b.Bucket) })
	return out
}

// liveKeys returns the number of live keys of a bucket as of its stream
// state si when the Store holds a built index of it, without building one
// or waiting for one being built.
func (s *Store) liveKeys(ctx context.Context, si *jetstream.StreamInfo) *int64 {
	s.mu.Lock()
	ix := s.indexes[si.Config.Name]
	s.mu.Unlock()
	if ix == nil {
		return nil
	}
	ix.mu.RLock()
	ready := ix.started && !ix.building && ix.err == nil && ix.created.Equal(si.Created)
	ix.mu.RUnlock()
	var n int64
	count := func(ix *keyIndex) { n = int64(ix.tree.Len()) }
	if !ready || ix.wait(ctx, si.State.LastSeq, si.State.Msgs == 0, anchor{}, count) != nil {
		return nil
	}
	return &n
}

// loudBuild is the size from which an index build is logged at Info
// level; smaller ones log at Debug.
const loudBuild = 10000

func (s *Store) logIndex(ix *keyIndex, level slog.Level, msg string, args ...any) {
	s.opts.logger.Log(context.Background(), level, msg, append([]any{"bucket", ix.bucket}, args...)...)
}

// buildLevel is the log level of a build's messages. ix.mu is held or the
// build has not begun.
func (ix *keyIndex) buildLevel() slog.Level {
	if ix.toRead >= loudBuild {
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

// dropIndex stops and forgets the index of a stream, so that the next
// listing builds a new one.
func (s *Store) dropIndex(stream string, cause error) {
	s.mu.Lock()
	ix := s.indexes[stream]
	delete(s.indexes, stream)
	s.mu.Unlock()
	s.stopIndex(ix, cause)
}

// forgetIndexLater drops ix if it is still the index of its stream, and
// stops it in the background: the consumer of a deleted stream may take a second to stop
// (nats.go's ordered consumer holds it through a retry delay), which a
// listing need not wait for. Close waits for it.
func (s *Store) forgetIndexLater(ix *keyIndex, cause error) {
	s.mu.Lock()
	if s.indexes[ix.stream] == ix {
		delete(s.indexes, ix.stream)
	}
	if s.closed.Load() {
		s.mu.Unlock()
		s.stopIndex(ix, cause)
		return
	}
	s.bg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.bg.Done()
		s.stopIndex(ix, cause)
	}()
}

func (s *Store) stopIndex(ix *keyIndex, cause error) {
	if ix != nil {
		ix.stop(cause)
		ix.checks.Wait()
	}
}

// start begins consuming the bucket, once.
func (ix *keyIndex) start(ctx context.Context, b *Bucket) error {
	ix.startMu.Lock()
	defer ix.startMu.Unlock()
	if ix.started {
		return nil
	}
	cons, err := b.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{ix.prefix + ">"},
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		HeadersOnly:       true,
		InactiveThreshold: consumerInactiveThreshold,
	})
	if err != nil {
		return err
	}
	// Building until a message says nothing is pending, or until the
	// consumer says nothing was there to read.
	ix.mu.Lock()
	ix.building, ix.built, ix.progress = true, time.Now(), time.Now()
	ix.mu.Unlock()
	cc, err := cons.Consume(ix.apply, jetstream.PullHeartbeat(consumerHeartbeat), jetstream.PullMaxMessages(4096), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		ix.mu.Lock()
		gone := ix.err == nil && b.streamGone(err, &ix.checks, ix.stop)
		ix.mu.Unlock()
		if gone {
			ix.stop(fmt.Errorf("%w: %w", ErrBucketNotFound, err))
		}
	}))
	if err != nil {
		ix.mu.Lock()
		ix.building = false
		ix.mu.Unlock()
		return err
	}
	var pending uint64
	if ci := cons.CachedInfo(); ci != nil {
		pending = ci.NumPending
	}
	ix.mu.Lock()
	ix.cc, ix.cons, ix.b = cc, cons, b
	stopped := ix.err != nil
	if pending == 0 && ix.read == 0 {
		ix.building = false
	}
	ix.toRead = pending
	building, level := ix.building, ix.buildLevel()
	ix.started = true
	ix.mu.Unlock()
	if stopped {
		cc.Stop()
	}
	if building {
		b.s.logIndex(ix, level, "building key index", "keys_to_read", pending)
	}
	return nil
}

// apply adds or removes the key of one message.
func (ix *keyIndex) apply(m jetstream.Msg) {
	pos, ok := parsePosition(m.Reply())
	if !ok {
		return
	}
	k, _ := strings.CutPrefix(m.Subject(), ix.prefix)
	key, kerr := bucket.DecodeKey(k)
	op := opOf(m.Headers())
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if kerr == nil {
		if op == OpPut {
			// A copy, so that the index does not keep the whole subject of
			// the message alive. The build reads each key once, so it
			// inserts without a lookup; later, most puts rewrite a key the
			// index holds, which a lookup finds without a copy.
			if ix.building {
				if _, replaced := ix.tree.Set(strings.Clone(key)); !replaced {
					ix.bytes.Add(int64(len(key) + keyOverhead))
				}
			} else if _, ok := ix.tree.Get(key); !ok {
				ix.tree.Set(strings.Clone(key))
				ix.bytes.Add(int64(len(key) + keyOverhead))
			}
		} else if _, found := ix.tree.Delete(key); found {
			ix.bytes.Add(-int64(len(key) + keyOverhead))
		}
	}
	if pos.seq >= ix.applied {
		// A message that follows the last one applied keeps the tree
		// consistent; one after a skipped sequence may leave a key out
		// until its next message. (A pending count of 0 does not prove
		// the index current: the server keeps that count apart from
		// storing, and with it taken as proof
		// TestKeysFirstListingWhileKeysAreOverwritten still missed keys.)
		if pos.seq != ix.applied+1 {
			ix.consistent, ix.lastGap = false, pos.seq
		}
		ix.applied = pos.seq
		ix.lastTime, ix.lastHdr = pos.time, m.Headers()
	}
	if ix.wake != nil {
		close(ix.wake)
		ix.wake = nil
	}
	if ix.building {
		ix.buildProgress(pos.pending)
	}
}

// buildProgressEvery paces the progress logs of a build.
const buildProgressEvery = 2 * time.Second

// buildProgress logs the progress of the initial read of the bucket, and
// its end. ix.mu is held.
func (ix *keyIndex) buildProgress(pending uint64) {
	ix.read++
	switch {
	case pending == 0:
		ix.building = false
		took := time.Since(ix.built)
		ix.built = time.Now()
		ix.s.logIndex(ix, ix.buildLevel(), "key index built", "keys", ix.tree.Len(), "took", took.Round(time.Millisecond), "bytes_estimated", ix.bytes.Load())
	case ix.read%4096 == 0 && time.Since(ix.progress) >= buildProgressEvery:
		ix.progress = time.Now()
		ix.s.logIndex(ix, ix.buildLevel(), "building key index", "keys_read", ix.read, "keys_to_read", ix.read+pending, "elapsed", time.Since(ix.built).Round(time.Millisecond))
	}
}

// stop ends the index with err.
func (ix *keyIndex) stop(err error) {
	ix.mu.Lock()
	if ix.err == nil {
		ix.err = err
	}
	cc, cons, b := ix.cc, ix.cons, ix.b
	if ix.wake != nil {
		close(ix.wake)
		ix.wake = nil
	}
	ix.mu.Unlock()
	ix.s.mu.Lock()
	if ix.idle != nil {
		ix.idle.Stop()
	}
	ix.s.mu.Unlock()
	if cc != nil {
		cc.Stop()
		<-cc.Closed()
		b.deleteConsumer(cons)
	}
}

// stallCheck is how long a barrier waits for progress before it asks the
// consumer whether the awaited message still exists (it may have expired
// or been removed by an administrator).
const stallCheck = 100 * time.Millisecond

// barrier runs read once the index reflects every message the stream held
// when barrier was called: read-your-writes for listings.
//
// Asking the stream where it stands is a round trip that costs as much as
// reading thousands of keys, so a built index reads at once while the
// answer is on its way, and keeps that result when the index had already
// applied the stream's last message: the keys read are then the state of
// the stream at a moment within the call. Otherwise read runs again once
// the index caught up.
//
// The question is a direct get of the last message the index applied when
// the server can answer it alone (see probe), and the stream's info
// otherwise or when the direct get does not show the index current.
//
// A standalone embedded server in this process answers without a round
// trip (Store.local, while its account holds few streams): the barrier
// then asks first and reads once.
func (ix *keyIndex) barrier(ctx context.Context, b *Bucket, read func(*keyIndex)) error {
	if err := ix.start(ctx, b); err != nil {
		return err
	}
	if b.s.local != nil {
		ix.mu.RLock()
		at := ix.applied
		ix.mu.RUnlock()
		if st, ok := b.localState(); ok {
			if err := ix.checkCreated(st.Created); err != nil {
				return err
			}
			a := anchor{at: at, newest: st.LastSeq}
			ix.mu.RLock()
			if st.Msgs > 0 && !ix.building && ix.err == nil && a.holds(ix.applied, ix.consistent, ix.lastGap) {
				read(ix)
				ix.mu.RUnlock()
				return nil
			}
			ix.mu.RUnlock()
			return ix.wait(ctx, st.LastSeq, st.Msgs == 0, a, read)
		}
	}
	type answer struct {
		current bool // the probe found the index current
		state   inproc.StreamState
		at      uint64 // the index's applied sequence when state was asked for
		err     error
	}
	ix.mu.RLock()
	p := ix.probeOf(b)
	ix.mu.RUnlock()
	answered := make(chan answer, 1)
	go func() {
		// One bound for the probe and the question after it together, as
		// nats.go's default JetStream timeout, when ctx has none.
		ctx := ctx
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, publishTimeout)
			defer cancel()
		}
		if p.seq > 0 && b.probe(ctx, ix.stream, p) {
			answered <- answer{current: true}
			return
		}
		ix.mu.RLock()
		at := ix.applied
		ix.mu.RUnlock()
		// The Store has no in-process reader, or it just declined: ask
		// the server.
		st, err := b.askStreamState(ctx)
		answered <- answer{state: st, at: at, err: err}
	}()
	read0 := uint64(0) // the applied sequence of the early read, 0 for none
	consistent0, gap0 := false, uint64(0)
	ix.mu.RLock()
	if !ix.building && ix.err == nil && ix.applied > 0 {
		read(ix)
		read0, consistent0, gap0 = ix.applied, ix.consistent, ix.lastGap
	}
	ix.mu.RUnlock()
	a := <-answered
	if a.current {
		// The stream held nothing after p.seq at a moment within the call,
		// and the index had applied p.seq (its applied sequence only grows).
		// At p.seq no key could wait for a later message: that message
		// would have been in the stream before the probe, after p.seq.
		if read0 == p.seq || read0 > p.seq && consistent0 {
			return nil
		}
		return ix.wait(ctx, p.seq, false, anchor{at: p.seq, newest: p.seq}, read)
	}
	if a.err != nil {
		return a.err
	}
	st := a.state
	if err := ix.checkCreated(st.Created); err != nil {
		return err
	}
	// The stream's state is itself a check (see wait), taken while the
	// index stood at a.at.
	a0 := anchor{at: a.at, newest: st.LastSeq}
	if read0 > 0 && a0.holds(read0, consistent0, gap0) {
		return nil
	}
	return ix.wait(ctx, st.LastSeq, st.Msgs == 0, a0, read)
}

// checkCreated returns errIndexStale when created is the creation time of a
// stream created after the one the index read: another client deleted the bucket and created it
// again, and the new stream reuses the old one's sequences. The creation
// time is set once: until then it takes the write lock, after that only the
// read lock, which listings that read meanwhile hold too.
func (ix *keyIndex) checkCreated(created time.Time) error {
	ix.mu.RLock()
	first := ix.created
	ix.mu.RUnlock()
	if first.IsZero() {
		ix.mu.Lock()
		if ix.created.IsZero() {
			ix.created = created
		}
		first = ix.created
		ix.mu.Unlock()
	}
	if !created.Equal(first) {
		return errIndexStale
	}
	return nil
}

// probeQuestion names the last message an index applied, for probe.
type probeQuestion struct {
	seq  uint64 // 0: no probe; ask for the stream's info
	time int64  // the message's time stamp, unix nanoseconds
}

// maxProbeSize bounds the last message a probe expects to read back in
// whole (a direct get returns the value too): beyond it, the stream's info
// costs less.
const maxProbeSize = 16 << 10

// probeOf returns the probe for the index's state, or none when a probe
// cannot tell: before the index is built and verified against the
// stream's info once, when the last message is large, when the stream
// does not answer direct gets, and when the server is part of a cluster,
// where a replica that lags behind the stream's leader may answer a direct
// get. ix.mu is held.
func (ix *keyIndex) probeOf(b *Bucket) probeQuestion {
	if ix.building || ix.err != nil || ix.created.IsZero() || ix.applied == 0 || ix.lastTime == 0 {
		return probeQuestion{}
	}
	if n, err := strconv.Atoi(ix.lastHdr.Get(msgSizeHeader)); err != nil || n > maxProbeSize {
		return probeQuestion{}
	}
	if !b.stream.CachedInfo().Config.AllowDirect || b.s.nc.ConnectedClusterName() != "" {
		return probeQuestion{}
	}
	return probeQuestion{seq: ix.applied, time: ix.lastTime}
}

// probe asks stream, in one direct get, for its last message, and reports
// whether the answer shows the index current: it comes from stream itself
// (a mirror of it may answer direct gets too, and lag), and the last
// message is the one the index applied last, by sequence and time stamp (a
// stream deleted and created again reuses sequences, not times). The
// server finds the last message of a stream without a search. Any other
// answer, an error included, reports false, and the caller asks for the
// stream's info.
func (b *Bucket) probe(ctx context.Context, stream string, q probeQuestion) bool {
	resp, err := b.s.replies.request(ctx, &nats.Msg{Subject: "$JS.API.DIRECT.GET." + stream, Data: lastMsgRequest})
	if err != nil || resp.Header.Get("Status") != "" {
		return false
	}
	h := resp.Header
	if h.Get(jetstream.StreamHeader) != stream || h.Get(jetstream.SequenceHeader) != strconv.FormatUint(q.seq, 10) {
		return false
	}
	ts, err := time.Parse(time.RFC3339Nano, h.Get(jetstream.TimeStampHeaer))
	return err == nil && ts.UnixNano() == q.time
}

// lastMsgRequest asks a direct get for the last message of a stream.
var lastMsgRequest = []byte(`{"last_by_subj":">"}`)

// msgSizeHeader gives the size of a message delivered headers only.
const msgSizeHeader = "Nats-Msg-Size"

// streamStateReply is the part of a stream info reply a barrier reads.
type streamStateReply struct {
	Created time.Time `json:"created"`
	State   struct {
		Msgs    uint64 `json:"messages"`
		LastSeq uint64 `json:"last_seq"`
	} `json:"state"`
	Error *jetstream.APIError `json:"error"`
}

// streamState returns the state of b's stream: read in process when the
// Store can (localState), asked of the server otherwise.
func (b *Bucket) streamState(ctx context.Context) (inproc.StreamState, error) {
	if st, ok := b.localState(); ok {
		return st, nil
	}
	return b.askStreamState(ctx)
}

// askStreamState asks for the info of b's stream as jetstream.Stream.Info
// does, with the same errors, but decodes only its creation time, message
// count and last sequence: decoding the whole reply, the stream's
// configuration included, cost a listing about 30 µs of CPU.
func (b *Bucket) askStreamState(ctx context.Context) (inproc.StreamState, error) {
	resp, err := b.s.replies.request(ctx, &nats.Msg{Subject: "$JS.API.STREAM.INFO." + b.stream.CachedInfo().Config.Name})
	if err != nil {
		return inproc.StreamState{}, err
	}
	var r streamStateReply
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return inproc.StreamState{}, fmt.Errorf("%w: %w", jetstream.ErrInvalidJetStreamResponse, err)
	}
	if r.Error != nil {
		if r.Error.ErrorCode == jetstream.JSErrCodeStreamNotFound {
			return inproc.StreamState{}, jetstream.ErrStreamNotFound
		}
		return inproc.StreamState{}, r.Error
	}
	if r.Created.IsZero() {
		return inproc.StreamState{}, jetstream.ErrInvalidJetStreamResponse
	}
	return inproc.StreamState{Created: r.Created, Msgs: r.State.Msgs, LastSeq: r.State.LastSeq}, nil
}

// localState reads the state of b's stream from an embedded server of this
// process (Store.local); ok is false when the Store has no such server or
// it declines, and the caller asks over NATS.
func (b *Bucket) localState() (st inproc.StreamState, ok bool) {
	if b.s.local == nil {
		return inproc.StreamState{}, false
	}
	return b.s.local(b.stream.CachedInfo().Config.Name)
}

// anchor is a check of a stream against its index: the stream's newest
// message was newest while the index had applied up to at. Every message
// the index skipped up to at was removed before the index reached at, by a
// write already in the stream then, at or before newest.
type anchor struct {
	at, newest uint64 // newest 0: no check
}

// holds reports whether an index that has applied up to applied, is
// consistent or not, and made its last skip at lastGap, holds every key as
// of the check's newest message.
func (a anchor) holds(applied uint64, consistent bool, lastGap uint64) bool {
	return applied >= a.newest && (consistent || a.covers(applied, lastGap))
}

// covers reports whether an index that has applied up to applied, with its
// last skip at lastGap, holds every key by the check: it has applied every
// write up to newest, and skipped nothing after at.
func (a anchor) covers(applied, lastGap uint64) bool {
	return a.newest > 0 && applied >= a.newest && lastGap <= a.at
}

// wait runs read on the index once it has applied the stream's message
// target and is consistent (see keyIndex.consistent), or at once when the
// stream had no message (empty). An index that is not consistent becomes
// so by a check (see anchor), given as a or made here: once it has applied
// the newest message of the check with no skip since, it holds every key.
// wait also checks when the index makes no progress for stallCheck: the
// awaited message may have been removed, and the target becomes the
// bucket's newest message.
func (ix *keyIndex) wait(ctx context.Context, target uint64, empty bool, a anchor, read func(*keyIndex)) error {
	for {
		ix.mu.Lock()
		if ix.err != nil {
			err := ix.err
			ix.mu.Unlock()
			return err
		}
		if !ix.consistent && a.covers(ix.applied, ix.lastGap) {
			ix.consistent = true
		}
		if empty || ix.applied >= target && ix.consistent {
			read(ix)
			ix.mu.Unlock()
			return nil
		}
		applied, b := ix.applied, ix.b
		var wake chan struct{}
		if applied < target || applied < a.newest {
			if ix.wake == nil {
				ix.wake = make(chan struct{})
			}
			wake = ix.wake
		}
		ix.mu.Unlock()
		if wake == nil {
			// Caught up, but with a skip since the last check: check again.
			st, err := b.streamState(ctx)
			if err != nil {
				return err
			}
			empty = st.Msgs == 0
			a = anchor{at: applied, newest: st.LastSeq}
			continue
		}
		t := time.NewTimer(stallCheck)
		select {
		case <-wake:
			t.Stop()
			continue
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		// No progress: the awaited message may have been removed.
		newest, err := ix.newest(ctx, b)
		if err != nil {
			return err
		}
		if newest == 0 {
			empty = true // nothing left to wait for
			continue
		}
		a = anchor{at: applied, newest: newest}
		target = min(target, newest)
	}
}

// newest returns the sequence of the bucket's newest message, 0 when it
// has none.
func (ix *keyIndex) newest(ctx context.Context, b *Bucket) (uint64, error) {
	st, err := b.streamState(ctx)
	if err != nil {
		return 0, err
	}
	if st.Msgs == 0 {
		return 0, nil
	}
	if last, err := b.stream.GetMsg(ctx, st.LastSeq); err == nil && last != nil {
		return st.LastSeq, nil
	}
	// The stream's last message was removed.
	m, err := b.stream.GetLastMsgForSubject(ctx, ix.prefix+">")
	if err != nil {
		if errors.Is(classify(err), ErrKeyNotFound) {
			return 0, nil
		}
		return 0, err
	}
	return m.Sequence, nil
}

// listUnder fills p with every key that starts with prefix (which ends
// with a dot) from start on, after excluded, for the filter prefix+">".
// Those keys follow one another in the tree, up to the first key from
// prefix's successor on: found in one descent, that element ends the walk,
// compared by address so that no key's bytes are read. Reading them, as a
// comparison with prefix would, costs a cache miss for nearly every key of
// a large index.
func (ix *keyIndex) listUnder(p *Page, prefix, start, after string) {
	var end string
	ix.tree.Ascend(prefix[:len(prefix)-1]+"/", func(k string) bool {
		end = k
		return false
	})
	endData, endLen := unsafe.StringData(end), len(end)
	filter := prefix + ">"
	keys := make([]string, 0, ix.sizeHint(filter))
	first := true
	ix.tree.Ascend(start, func(k string) bool {
		if len(k) == endLen && unsafe.StringData(k) == endData && endLen > 0 {
			return false
		}
		if first {
			first = false
			if k == after {
				return true
			}
		}
		keys = append(keys, k)
		return true
	})
	p.Keys = ix.sized(filter, after, keys)
}

// Listings of all keys and pages know their size before they walk. Others
// take it from the last complete listing of the same filter, which
// spares the copies of growing a large page by appending.

// maxSizeHints bounds the filters whose listing sizes an index remembers.
const maxSizeHints = 256

// minSizeHint is the smallest listing whose size is remembered: smaller
// ones grow by appending at little cost.
const minSizeHint = 256

// sizeHint returns the number of keys the last complete listing of filter
// returned, 0 when none is remembered.
func (ix *keyIndex) sizeHint(filter string) int {
	if n, ok := ix.sizes.Load(filter); ok {
		return n.(int)
	}
	return 0
}

// sized returns keys, the complete result of filter after after, without
// spare capacity worth a copy, and remembers its size when it lists from
// the first key.
func (ix *keyIndex) sized(filter, after string, keys []string) []string {
	n := len(keys)
	if cap(keys)-n > n/8+16 {
		keys = slices.Clone(keys)
	}
	if after != "" || n < minSizeHint {
		return keys
	}
	if old, ok := ix.sizes.Load(filter); ok && old.(int) == n {
		return keys
	}
	if _, loaded := ix.sizes.Swap(filter, n); !loaded && ix.sizeHints.Add(1) > maxSizeHints {
		ix.sizes.Clear()
		ix.sizeHints.Store(0)
	}
	return keys
}

// list returns a page of the keys that match f. The caller holds ix.mu
// for reading.
func (ix *keyIndex) list(f bucket.Filter, after string, limit int) Page {
	p := Page{Keys: []string{}}
	if f.Literal() {
		k := f.String()
		if _, ok := ix.tree.Get(k); ok && k > after {
			p.Keys = append(p.Keys, k)
		}
		return p
	}
	start, prefix := after, ""
	if lp := f.LiteralPrefix(); len(lp) > 0 {
		prefix = strings.Join(lp, ".") + "."
		start = max(start, prefix)
	}
	// The index holds only valid keys (DecodeKey checked them), so a filter
	// that is a literal prefix followed by ">", or matches every key, selects
	// exactly the keys that start with prefix: matching each key again would
	// only repeat the validation of every key.
	match := f.String() != prefix+">"
	// Size the page up front: growing it by appending allocates several
	// times the final size, which is what large listings spend most on.
	switch {
	case limit > 0:
		p.Keys = make([]string, 0, min(limit, ix.tree.Len()))
	case !match && prefix == "": // every key
		p.Keys = make([]string, 0, ix.tree.Len())
	case !match: // every key under prefix
		ix.listUnder(&p, prefix, start, after)
		return p
	default:
		p.Keys = make([]string, 0, ix.sizeHint(f.String()))
	}
	// The tree searches for start once, on its way down, and then walks.
	ix.tree.Ascend(start, func(k string) bool {
		if !strings.HasPrefix(k, prefix) {
			return false
		}
		if k == after || match && !f.Match(k) {
			return true
		}
		if limit > 0 && len(p.Keys) == limit {
			p.Next = p.Keys[len(p.Keys)-1]
			return false
		}
		p.Keys = append(p.Keys, k)
		return true
	})
	if limit <= 0 && match {
		p.Keys = ix.sized(f.String(), after, p.Keys)
	}
	return p
}
