package kv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/btree"
	"github.com/ironkv/ironkv/bucket"
	"github.com/nats-io/nats.go/jetstream"
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
	if err := b.s.check(); err != nil {
		return Page{Keys: []string{}}, err
	}
	f, err := bucket.ParseFilter(filter)
	if err != nil {
		return Page{Keys: []string{}}, err
	}
	ix := b.s.index(b)
	if err := ix.barrier(ctx, b); err != nil {
		if errors.Is(err, ErrBucketNotFound) || errNoStream(err) {
			b.s.forgetIndex(ix, err)
		}
		return Page{Keys: []string{}}, b.fail(ctx, "list keys", f.String(), err)
	}
	return ix.list(f, after, limit), nil
}

// keyIndex is the sorted set of live keys of one bucket, kept current by a
// headers-only ordered consumer.
type keyIndex struct {
	stream string
	prefix string
	cc     jetstream.ConsumeContext
	cons   jetstream.Consumer
	b      *Bucket

	mu      sync.RWMutex
	tree    *btree.BTreeG[string]
	applied uint64        // highest stream sequence applied
	wake    chan struct{} // closed when applied moves, if someone waits
	err     error         // set when the index stopped
	startMu sync.Mutex
	started bool
	checks  sync.WaitGroup // bucket-existence checks in flight
}

// index returns the key index of b's bucket, creating it on first use.
func (s *Store) index(b *Bucket) *keyIndex {
	name := b.stream.CachedInfo().Config.Name
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.indexes[name]
	if ix == nil {
		ix = &keyIndex{stream: name, prefix: b.prefix, tree: btree.NewG(32, func(a, b string) bool { return a < b })}
		s.indexes[name] = ix
	}
	return ix
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

// forgetIndex drops ix if it is still the index of its stream.
func (s *Store) forgetIndex(ix *keyIndex, cause error) {
	s.mu.Lock()
	if s.indexes[ix.stream] == ix {
		delete(s.indexes, ix.stream)
	}
	s.mu.Unlock()
	s.stopIndex(ix, cause)
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
	cc, err := cons.Consume(ix.apply, jetstream.PullHeartbeat(consumerHeartbeat), jetstream.PullMaxMessages(4096), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		ix.mu.Lock()
		gone := ix.err == nil && b.streamGone(err, &ix.checks, ix.stop)
		ix.mu.Unlock()
		if gone {
			ix.stop(fmt.Errorf("%w: %w", ErrBucketNotFound, err))
		}
	}))
	if err != nil {
		return err
	}
	ix.mu.Lock()
	ix.cc, ix.cons, ix.b = cc, cons, b
	stopped := ix.err != nil
	ix.mu.Unlock()
	if stopped {
		cc.Stop()
	}
	ix.started = true
	return nil
}

// apply adds or removes the key of one message.
func (ix *keyIndex) apply(m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		return
	}
	k, _ := strings.CutPrefix(m.Subject(), ix.prefix)
	key, kerr := bucket.DecodeKey(k)
	op := opOf(m.Headers())
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if kerr == nil {
		if op == OpPut {
			ix.tree.ReplaceOrInsert(key)
		} else {
			ix.tree.Delete(key)
		}
	}
	ix.applied = max(ix.applied, md.Sequence.Stream)
	if ix.wake != nil {
		close(ix.wake)
		ix.wake = nil
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

// barrier returns once the index reflects every message the stream held
// when it was called: read-your-writes for listings.
func (ix *keyIndex) barrier(ctx context.Context, b *Bucket) error {
	if err := ix.start(ctx, b); err != nil {
		return err
	}
	info, err := b.stream.Info(ctx)
	if err != nil {
		return err
	}
	target := info.State.LastSeq
	for {
		ix.mu.Lock()
		if ix.err != nil {
			err := ix.err
			ix.mu.Unlock()
			return err
		}
		if ix.applied >= target || info.State.Msgs == 0 {
			ix.mu.Unlock()
			return nil
		}
		if ix.wake == nil {
			ix.wake = make(chan struct{})
		}
		wake, applied := ix.wake, ix.applied
		ix.mu.Unlock()
		t := time.NewTimer(stallCheck)
		select {
		case <-wake:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
			// No progress: the awaited message may be gone. Look again.
			if info, err = b.stream.Info(ctx); err != nil {
				return err
			}
			if info.State.LastSeq == applied || info.State.Msgs == 0 {
				return nil
			}
			target = min(target, info.State.LastSeq)
			if last, err := b.stream.GetMsg(ctx, target); err != nil || last == nil {
				// The last message we waited for was removed; wait for
				// the newest one that exists instead.
				target = applied
			}
		}
	}
}

// list returns a page of the keys that match f.
func (ix *keyIndex) list(f bucket.Filter, after string, limit int) Page {
	p := Page{Keys: []string{}}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
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
	case !match: // every key under prefix: count them, which costs less than growing
		n := 0
		ix.tree.AscendGreaterOrEqual(start, func(k string) bool {
			if !strings.HasPrefix(k, prefix) {
				return false
			}
			n++
			return true
		})
		p.Keys = make([]string, 0, n)
	}
	ix.tree.AscendGreaterOrEqual(start, func(k string) bool {
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
	return p
}
