package watch

import (
	"context"
	"errors"
	"iter"
	"sync"
	"sync/atomic"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/kv"
)

// Subscription is one subscriber's view of a bucket's changes: a pull
// object like kv.Watcher, read by one goroutine with Next, and closed with
// Close.
type Subscription struct {
	up     *upstream
	filter bucket.Filter
	limit  int           // most live events held for the reader
	notify chan struct{} // signalled when an event is queued
	done   chan struct{} // closed when the subscription ended

	qmu   sync.Mutex
	q     []kv.Event // live events, filled by the upstream; grown on demand
	ready func()     // see OnReady

	// Used by the reader only.
	skipTo uint64 // live events up to here were covered by the replay
	last   uint64 // last revision returned by Next

	replay atomic.Pointer[kv.Watcher] // private snapshot or replay, until its synced event

	mu     sync.Mutex
	reason error // why the subscription was ended
	closed bool
}

// endReplay closes the private replay watcher, if any.
func (s *Subscription) endReplay() {
	if r := s.replay.Swap(nil); r != nil {
		r.Close()
	}
}

// finish ends the subscription with reason, once.
func (s *Subscription) finish(reason error) {
	s.mu.Lock()
	if s.reason != nil {
		s.mu.Unlock()
		return
	}
	s.reason = reason
	close(s.done)
	s.mu.Unlock()
	s.qmu.Lock()
	f := s.ready
	s.qmu.Unlock()
	if f != nil {
		f()
	}
}

// OnReady makes the subscription call f whenever TryNext may have
// something new after it reported nothing: when a live event is queued
// while none was, and when the subscription ends. f runs on the hub's
// dispatch, so it must return at once (start a goroutine, signal one); it
// may run before OnReady returns, and more often than needed. OnReady lets
// a reader wait without a goroutine of its own: read with TryNext until it
// reports nothing, and again after f runs. Set it once, before reading,
// and read with TryNext alone from then on: Next would not be woken.
func (s *Subscription) OnReady(f func()) {
	s.qmu.Lock()
	s.ready = f
	pending := len(s.q) > 0
	s.qmu.Unlock()
	select {
	case <-s.done:
		pending = true
	default:
	}
	if pending {
		f()
	}
}

// TryNext is Next without the wait for live events: it returns the next
// event with ok true, or ok false at once when none is queued and the
// subscription has not ended. Errors are those of Next, after the events
// the subscription still holds. While a Snapshot or Since replay is in
// progress, TryNext reads it as Next does, waiting for its next event
// until ctx ends. See OnReady for when to call it again.
func (s *Subscription) TryNext(ctx context.Context) (ev kv.Event, ok bool, err error) {
	if r := s.replay.Load(); r != nil {
		ev, err = s.readReplay(ctx, r)
		return ev, err == nil, err
	}
	return s.nextLive(ctx, false)
}

// Next returns the next event: replayed or snapshot entries and one
// kv.EventSynced first when asked for, then live updates, each revision
// once and in order. When the subscription ends it returns, after the
// events it still holds: a *kv.SlowConsumerError (kv.ErrSlowConsumer) whose
// LastRevision is the revision of the last event Next returned, to resume
// from with Since; kv.ErrBucketNotFound when the bucket was deleted; or
// kv.ErrClosed after Close. It returns ctx's error when ctx ends first.
func (s *Subscription) Next(ctx context.Context) (kv.Event, error) {
	if r := s.replay.Load(); r != nil {
		return s.readReplay(ctx, r)
	}
	ev, _, err := s.nextLive(ctx, true)
	return ev, err
}

// nextLive returns the next live event that the replay did not deliver,
// with ok true; after the last one of an ended subscription, its error.
// When none is queued it waits for one (until ctx ends) if wait is set,
// and otherwise reports ok false and no error.
func (s *Subscription) nextLive(ctx context.Context, wait bool) (kv.Event, bool, error) {
	for {
		ev, ok := s.take()
		if !ok {
			select {
			case <-s.done:
				if ev, ok = s.take(); !ok {
					return kv.Event{}, false, s.endErr()
				}
			default:
				if !wait {
					return kv.Event{}, false, nil
				}
				select {
				case <-s.notify:
				case <-s.done:
				case <-ctx.Done():
					return kv.Event{}, false, ctx.Err()
				}
				continue
			}
		}
		if ev.Revision <= s.skipTo {
			continue // the replay delivered it
		}
		s.last = ev.Revision
		return ev, true, nil
	}
}

// readReplay returns the next event of the replay r.
func (s *Subscription) readReplay(ctx context.Context, r *kv.Watcher) (kv.Event, error) {
	ev, err := r.Next(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return kv.Event{}, err
		}
		s.endReplay()
		s.finish(err)
		return kv.Event{}, s.endErr()
	}
	if ev.Kind == kv.EventSynced {
		s.skipTo = ev.Revision
		s.endReplay()
	}
	s.last = max(s.last, ev.Revision)
	return ev, nil
}

// offer queues a live event without blocking; it reports false when the
// queue is full. The queue grows as it fills and is released when the
// reader empties it, so an idle subscription holds no buffer. Once OnReady
// is set, the function it set is told instead of Next.
func (s *Subscription) offer(ev kv.Event) bool {
	s.qmu.Lock()
	if len(s.q) >= s.limit {
		s.qmu.Unlock()
		return false
	}
	first := len(s.q) == 0
	s.q = append(s.q, ev)
	f := s.ready
	s.qmu.Unlock()
	switch {
	case f == nil:
		select {
		case s.notify <- struct{}{}:
		default:
		}
	case first:
		f()
	}
	return true
}

// take pops the oldest queued event.
func (s *Subscription) take() (kv.Event, bool) {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if len(s.q) == 0 {
		return kv.Event{}, false
	}
	ev := s.q[0]
	s.q[0] = kv.Event{}
	s.q = s.q[1:]
	if len(s.q) == 0 {
		s.q = nil
	}
	return ev, true
}

func (s *Subscription) endErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if errors.Is(s.reason, kv.ErrSlowConsumer) {
		return &kv.SlowConsumerError{LastRevision: s.last}
	}
	return s.reason
}

// All returns an iterator over the subscription's events, for use with
// range; it stops after yielding the first error.
func (s *Subscription) All(ctx context.Context) iter.Seq2[kv.Event, error] {
	return func(yield func(kv.Event, error) bool) {
		for {
			ev, err := s.Next(ctx)
			if !yield(ev, err) || err != nil {
				return
			}
		}
	}
}

// Close ends the subscription; Next then returns the events it still holds
// and kv.ErrClosed. The bucket's upstream watch stops after its last
// subscription closes. Close is idempotent and safe to call while another
// goroutine is in Next.
func (s *Subscription) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.endReplay()
	s.up.leave(s)
	s.finish(kv.ErrClosed)
	s.up.hub.release(s.up)
}
