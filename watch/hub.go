package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/kv"
)

// DefaultBuffer is the number of events a subscription holds for a slow
// reader before it is ended with kv.ErrSlowConsumer.
const DefaultBuffer = 256

// upstreamBuffer is the buffer of the shared kv watch of a bucket. The hub
// drains it without ever blocking; if it overflows all the same, the hub
// resumes the upstream from the last revision it dispatched.
const upstreamBuffer = 8192

// Hub shares one upstream kv watch per bucket among every subscription to
// that bucket and fans its events out in the process. It is safe for
// concurrent use.
type Hub struct {
	store  *kv.Store
	buffer int
	log    *slog.Logger

	mu      sync.Mutex
	buckets map[string]*upstream
	closed  bool
	wg      sync.WaitGroup // upstream loops
}

// Option configures a Hub.
type Option func(*Hub)

// WithBuffer sets the number of events each subscription buffers (default
// DefaultBuffer).
func WithBuffer(n int) Option { return func(h *Hub) { h.buffer = max(n, 1) } }

// WithLogger sets the logger for upstream restarts and failures (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(h *Hub) { h.log = l } }

// NewHub returns a Hub on store. Close it to stop its upstream watches.
func NewHub(store *kv.Store, opts ...Option) *Hub {
	h := &Hub{store: store, buffer: DefaultBuffer, log: slog.Default(), buckets: map[string]*upstream{}}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Stats counts what a Hub holds.
type Stats struct {
	// Buckets is the number of upstream watches, one per watched bucket.
	Buckets int
	// Subscribers is the number of open subscriptions.
	Subscribers int
}

// Stats returns the Hub's current counts.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := Stats{Buckets: len(h.buckets)}
	for _, up := range h.buckets {
		st.Subscribers += up.count
	}
	return st
}

// Close ends every subscription with kv.ErrClosed, stops the upstream
// watches and waits for them. Subscribe then returns kv.ErrClosed. Close is
// idempotent.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	ups := h.buckets
	h.buckets = map[string]*upstream{}
	h.mu.Unlock()
	for _, up := range ups {
		up.stop(kv.ErrClosed)
	}
	h.wg.Wait()
	return nil
}

// SubOption configures a subscription.
type SubOption func(*subOpts)

type subOpts struct {
	snapshot bool
	since    uint64
	sinceSet bool
}

// Snapshot makes a subscription start with the current entry of each
// matching key (tombstones included), then one kv.EventSynced.
func Snapshot() SubOption { return func(o *subOpts) { o.snapshot = true } }

// Since makes a subscription start with every retained change with a
// revision above rev, oldest first, then one kv.EventSynced. Live events
// follow with no gap and no duplicate.
func Since(rev uint64) SubOption { return func(o *subOpts) { o.since, o.sinceSet = rev, true } }

// Subscribe returns a subscription to the changes of bucket that match
// filter ("" or ">" for all). Without options it delivers live changes only.
// It returns kv.ErrInvalidBucketName, kv.ErrInvalidKey for a bad filter,
// kv.ErrBucketNotFound, kv.ErrUnavailable, kv.ErrInvalidConfig when Snapshot
// and Since are both given, and kv.ErrClosed after Close.
func (h *Hub) Subscribe(ctx context.Context, bucketName, filter string, opts ...SubOption) (*Subscription, error) {
	var o subOpts
	for _, opt := range opts {
		opt(&o)
	}
	if o.snapshot && o.sinceSet {
		return nil, fmt.Errorf("%w: Snapshot and Since contradict each other; use one", kv.ErrInvalidConfig)
	}
	if err := bucket.ValidateName(bucketName); err != nil {
		return nil, err
	}
	f, err := bucket.ParseFilter(filter)
	if err != nil {
		return nil, err
	}
	up, err := h.upstream(ctx, bucketName)
	if err != nil {
		return nil, err
	}
	s := &Subscription{up: up, filter: f, limit: h.buffer, notify: make(chan struct{}, 1), done: make(chan struct{})}
	// Join the live stream first, so that the replay below and the live
	// events overlap rather than leave a gap.
	pos, ok := up.join(s)
	if !ok {
		h.release(up)
		return nil, fmt.Errorf("watch bucket %q: %w", bucketName, up.failure())
	}
	s.last = pos
	if o.snapshot || o.sinceSet {
		// Paced: a long replay goes at the reader's pace instead of
		// overflowing a buffer.
		wopts := []kv.WatchOption{kv.Paced(), kv.WatchBuffer(h.buffer)}
		if o.sinceSet {
			wopts = append(wopts, kv.ResumeFrom(o.since))
			s.last = o.since
		}
		replay, err := up.b.Watch(ctx, filter, wopts...)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.replay.Store(replay)
	}
	return s, nil
}

// upstream returns the running upstream of a bucket, starting it if needed,
// and counts one more user of it.
func (h *Hub) upstream(ctx context.Context, name string) (*upstream, error) {
	for {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return nil, kv.ErrClosed
		}
		up := h.buckets[name]
		if up == nil {
			up = &upstream{hub: h, name: name, ready: make(chan struct{}), done: make(chan struct{}), subs: newIndex()}
			h.buckets[name] = up
			up.count++
			h.mu.Unlock()
			if err := up.start(ctx); err != nil {
				h.mu.Lock()
				if h.buckets[name] == up {
					delete(h.buckets, name)
				}
				h.mu.Unlock()
				up.startErr = err
				close(up.ready)
				return nil, err
			}
			close(up.ready)
			return up, nil
		}
		up.count++
		h.mu.Unlock()
		select {
		case <-up.ready:
		case <-ctx.Done():
			h.release(up)
			return nil, ctx.Err()
		}
		if up.startErr == nil {
			return up, nil
		}
		// Its start failed: try again ourselves, or report the same error.
		if errors.Is(up.startErr, kv.ErrBucketNotFound) || errors.Is(up.startErr, kv.ErrClosed) {
			return nil, up.startErr
		}
	}
}

// release counts one user fewer of up and stops it after the last one.
func (h *Hub) release(up *upstream) {
	h.mu.Lock()
	up.count--
	last := up.count == 0
	if last && h.buckets[up.name] == up {
		delete(h.buckets, up.name)
	}
	h.mu.Unlock()
	if last && up.startErr == nil {
		up.stop(kv.ErrClosed)
	}
}
