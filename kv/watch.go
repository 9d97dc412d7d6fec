package kv

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/nats-io/nats.go/jetstream"
)

// EventKind tells what an Event is.
type EventKind int

// The kinds of Event.
const (
	// EventUpdate carries one Entry: a put, delete or purge.
	EventUpdate EventKind = iota + 1
	// EventSynced marks the end of the initial snapshot or replay: every
	// event after it is live.
	EventSynced
)

// String returns "update" or "synced".
func (k EventKind) String() string {
	switch k {
	case EventUpdate:
		return "update"
	case EventSynced:
		return "synced"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is what a Watcher delivers.
type Event struct {
	Kind EventKind
	// Entry is the change, for EventUpdate.
	Entry Entry
	// Revision is the entry's revision for EventUpdate; for EventSynced, the
	// stream revision the snapshot covers: resuming from it misses nothing.
	Revision uint64
}

// WatchOption configures Watch.
type WatchOption func(*watchOpts)

type watchOpts struct {
	updatesOnly    bool
	resume         uint64
	resumeSet      bool
	includeHistory bool
	metaOnly       bool
	paced          bool
	buffer         int
}

// UpdatesOnly makes a Watcher deliver only changes made after it started:
// no snapshot and no EventSynced.
func UpdatesOnly() WatchOption { return func(o *watchOpts) { o.updatesOnly = true } }

// ResumeFrom makes a Watcher deliver every retained change with a revision
// above rev, oldest first, then EventSynced, then live changes. Pass the
// LastRevision of a SlowConsumerError or the Revision of the last event
// seen to continue with no gap and no duplicate.
func ResumeFrom(rev uint64) WatchOption {
	return func(o *watchOpts) { o.resume, o.resumeSet = rev, true }
}

// IncludeHistory makes the initial snapshot deliver every retained revision
// of each matching key, not only the latest.
func IncludeHistory() WatchOption { return func(o *watchOpts) { o.includeHistory = true } }

// MetaOnly makes a Watcher deliver entries without their values.
func MetaOnly() WatchOption { return func(o *watchOpts) { o.metaOnly = true } }

// Paced makes a Watcher read from NATS only as fast as Next is called: the
// server keeps what the reader has not taken yet, so a paced Watcher never
// ends as a slow consumer. Use it to replay long histories to a reader of
// its own pace; a paced Watcher's Next must be called by one goroutine.
func Paced() WatchOption { return func(o *watchOpts) { o.paced = true } }

// WatchBuffer sets how many events the Watcher holds for a slow reader
// before it ends with ErrSlowConsumer (default: the Store's WithWatchBuffer,
// 1024).
func WatchBuffer(n int) WatchOption { return func(o *watchOpts) { o.buffer = n } }

// Watcher delivers the changes of a bucket that match a filter. It is a pull
// object: call Next until it returns an error, and Close when done. Its
// buffer is bounded: when the reader falls behind by more than the buffer,
// the Watcher ends with a *SlowConsumerError after delivering what it
// buffered, so nothing is dropped silently and NATS is never blocked.
type Watcher struct {
	b      *Bucket
	filter bucket.Filter
	events chan Event
	done   chan struct{}
	cons   jetstream.Consumer
	cc     jetstream.ConsumeContext  // push-style delivery, or
	it     jetstream.MessagesContext // paced delivery

	mu     sync.Mutex
	err    error  // terminal error, set once before done is closed
	synced bool   // EventSynced sent (or not wanted)
	start  uint64 // the stream's last revision when the Watcher started
	floor  uint64 // stream revision the snapshot covers at least
	last   uint64 // last revision put in the buffer

	closeOnce sync.Once
	checks    sync.WaitGroup // bucket-existence checks in flight
}

// Watch starts a Watcher on the keys that match filter ("" or ">" for all;
// see bucket.ParseFilter). By default it delivers the latest entry of every
// matching key (tombstones included), then one EventSynced, then every
// change as it happens; see UpdatesOnly, ResumeFrom and IncludeHistory. It
// returns ErrInvalidKey for a bad filter, ErrBucketNotFound, ErrUnavailable
// and ErrInvalidConfig for contradictory options.
func (b *Bucket) Watch(ctx context.Context, filter string, opts ...WatchOption) (*Watcher, error) {
	if err := b.s.check(); err != nil {
		return nil, err
	}
	f, err := bucket.ParseFilter(filter)
	if err != nil {
		return nil, err
	}
	o := watchOpts{buffer: b.s.opts.watchBuffer}
	for _, opt := range opts {
		opt(&o)
	}
	if o.buffer < 1 {
		return nil, fmt.Errorf("%w: watch buffer %d: must be at least 1", ErrInvalidConfig, o.buffer)
	}
	if o.updatesOnly && o.resumeSet {
		return nil, fmt.Errorf("%w: UpdatesOnly and ResumeFrom contradict each other; use one", ErrInvalidConfig)
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{b.prefix + f.Subject()},
		HeadersOnly:    o.metaOnly,
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
		// Close deletes the consumer; the threshold only collects the
		// consumers of processes that died.
		InactiveThreshold: consumerInactiveThreshold,
	}
	w := &Watcher{b: b, filter: f, events: make(chan Event, o.buffer), done: make(chan struct{})}
	switch {
	case o.updatesOnly:
		// From the stream's next sequence rather than DeliverNew: nats.go's
		// ordered consumer recreates a consumer that lost its server side
		// with the policy it was given until a first message arrives, and
		// DeliverNew would then skip the writes made in between.
		info, err := b.stream.Info(ctx)
		if err != nil {
			return nil, b.watchErr(ctx, filter, err)
		}
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = info.State.LastSeq + 1
		w.synced = true
	case o.resumeSet:
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = o.resume + 1
		w.floor = o.resume
	case o.includeHistory:
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	if !w.synced {
		// The snapshot covers at least the stream as it is now.
		info, err := b.stream.Info(ctx)
		if err != nil {
			return nil, b.watchErr(ctx, filter, err)
		}
		w.start = info.State.LastSeq
		w.floor = max(w.floor, w.start)
	}
	cons, err := b.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, b.watchErr(ctx, filter, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if o.paced {
		// At most a synced event and an update are buffered at a time.
		w.events = make(chan Event, 2)
		// nats.go's default pull size: with very small pulls its ordered
		// iterator was seen to stall until a missed heartbeat reset it.
		it, err := cons.Messages(jetstream.PullHeartbeat(consumerHeartbeat))
		if err != nil {
			return nil, b.watchErr(ctx, filter, err)
		}
		w.it = it
	} else {
		cc, err := cons.Consume(w.handle, jetstream.ConsumeErrHandler(w.consumeErr), jetstream.PullHeartbeat(consumerHeartbeat))
		if err != nil {
			return nil, b.watchErr(ctx, filter, err)
		}
		w.cc = cc
	}
	b.s.track(b.stream.CachedInfo().Config.Name, w, true)
	w.cons = cons
	if !w.synced {
		if ci := cons.CachedInfo(); ci != nil && ci.NumPending == 0 {
			w.sync()
		}
	}
	return w, nil
}

func (b *Bucket) watchErr(ctx context.Context, filter string, err error) error {
	return b.fail(ctx, "watch", filter, err)
}

// handle receives every message of the consumer, in order.
func (w *Watcher) handle(m jetstream.Msg) {
	pos, ok := parsePosition(m.Reply())
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	seq := pos.seq
	if !w.synced && seq > w.start {
		// A write made after the Watcher started: the snapshot is over,
		// even if some of its messages were replaced before delivery.
		w.sync()
	}
	if k, ok := strings.CutPrefix(m.Subject(), w.b.prefix); ok {
		if key, err := bucket.DecodeKey(k); err == nil {
			e := Entry{Bucket: w.b.name, Key: key, Revision: seq, Created: time.Unix(0, pos.time), Op: opOf(m.Headers())}
			if e.Op == OpPut {
				e.Value = m.Data()
			}
			if !w.push(Event{Kind: EventUpdate, Entry: e, Revision: e.Revision}) {
				return
			}
		}
		// A key that is not in ironkv's encoding (written by another NATS
		// client) is skipped.
	}
	if !w.synced {
		w.floor = max(w.floor, seq)
		if pos.pending == 0 {
			w.sync()
		}
	}
}

// sync sends EventSynced. Callers hold w.mu.
func (w *Watcher) sync() {
	w.synced = true
	w.push(Event{Kind: EventSynced, Revision: w.floor})
}

// push puts ev in the buffer or, when it is full, ends the Watcher with a
// SlowConsumerError. Callers hold w.mu.
func (w *Watcher) push(ev Event) bool {
	select {
	case w.events <- ev:
		if ev.Kind == EventUpdate {
			w.last = ev.Revision
		}
		return true
	default:
		w.end(&SlowConsumerError{LastRevision: w.last})
		return false
	}
}

// end records the terminal error and stops the consumer. Callers hold w.mu.
func (w *Watcher) end(err error) {
	if w.err != nil {
		return
	}
	w.err = err
	switch {
	case w.cc != nil:
		w.cc.Stop()
	case w.it != nil:
		w.it.Stop()
	}
	if w.cons != nil {
		w.b.s.track(w.b.stream.CachedInfo().Config.Name, w, false)
	}
	close(w.done)
}

// consumeErr ends the Watcher when its bucket is gone; other errors (missed
// heartbeats, reconnects) are recovered by the ordered consumer.
func (w *Watcher) consumeErr(_ jetstream.ConsumeContext, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	if w.b.streamGone(err, &w.checks, w.fail) {
		w.end(fmt.Errorf("watch bucket %q: %w: %w", w.b.name, ErrBucketNotFound, err))
	}
}

// fail ends the Watcher with err.
func (w *Watcher) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.end(fmt.Errorf("watch bucket %q: %w", w.b.name, err))
}

// Next returns the next event. After the Watcher ends it returns, once the
// buffer is drained, the reason: a *SlowConsumerError (ErrSlowConsumer),
// ErrBucketNotFound when the bucket was deleted, or ErrClosed after Close.
// It returns ctx's error when ctx ends first; the Watcher stays usable.
func (w *Watcher) Next(ctx context.Context) (Event, error) {
	select {
	case ev := <-w.events:
		return ev, nil
	default:
	}
	if w.it != nil {
		return w.nextPaced(ctx)
	}
	select {
	case ev := <-w.events:
		return ev, nil
	case <-w.done:
		select {
		case ev := <-w.events:
			return ev, nil
		default:
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		return Event{}, w.err
	case <-ctx.Done():
		return Event{}, ctx.Err()
	}
}

// nextPaced fetches messages one by one until one yields an event.
func (w *Watcher) nextPaced(ctx context.Context) (Event, error) {
	for {
		select {
		case ev := <-w.events:
			return ev, nil
		case <-w.done:
			w.mu.Lock()
			defer w.mu.Unlock()
			return Event{}, w.err
		default:
		}
		m, err := w.it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return Event{}, ctx.Err()
			}
			w.mu.Lock()
			if errNoStream(err) {
				w.end(fmt.Errorf("watch bucket %q: %w: %w", w.b.name, ErrBucketNotFound, err))
			} else if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				w.end(fmt.Errorf("watch bucket %q: %w", w.b.name, classify(err)))
			}
			w.mu.Unlock()
			select {
			case <-w.done:
			case <-ctx.Done():
				return Event{}, ctx.Err()
			}
			continue
		}
		w.handle(m)
	}
}

// All returns an iterator over the events of the Watcher, for use with
// range. It stops after yielding the first error (including ctx's).
func (w *Watcher) All(ctx context.Context) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		for {
			ev, err := w.Next(ctx)
			if !yield(ev, err) || err != nil {
				return
			}
		}
	}
}

// Close stops the Watcher and waits for its background work to end. Next
// then returns the events still buffered, then ErrClosed (or the error that
// ended the Watcher before). Close is idempotent.
func (w *Watcher) Close() error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.end(ErrClosed)
		w.mu.Unlock()
		if w.cc != nil {
			<-w.cc.Closed()
		}
		w.checks.Wait()
		w.b.deleteConsumer(w.cons)
	})
	return nil
}

// Err returns the error that ended the Watcher, or nil while it runs.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
