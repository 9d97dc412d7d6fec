package httpapi

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ironkv/ironkv/kv"
)

// Defaults of the bucket handle cache.
const (
	// defaultMaxBuckets bounds the number of cached handles.
	defaultMaxBuckets = 1024
	// defaultBucketFresh is how long a handle is used before it is fetched
	// again, so that a config change made by another process (a new
	// max_value_size) is seen within that time.
	defaultBucketFresh = 5 * time.Second
)

// bucketCache keeps a *kv.Bucket per bucket name, since kv.Store.Bucket
// costs server round trips. It is bounded, forgets a bucket as soon as any
// operation reports it missing, and refreshes handles older than fresh: the
// first request to find a handle stale fetches a new one while concurrent
// requests keep using the old one. Concurrent misses on one name share a
// single fetch. It starts no goroutines.
type bucketCache struct {
	store *kv.Store
	max   int
	fresh time.Duration

	mu       sync.RWMutex
	entries  map[string]*cachedBucket
	inflight map[string]*fetch
	closed   bool
}

type cachedBucket struct {
	b          *kv.Bucket
	loaded     time.Time
	refreshing atomic.Bool
}

// fetch is a store.Bucket call that concurrent misses wait on.
type fetch struct {
	done chan struct{}
	b    *kv.Bucket
	err  error
}

func newBucketCache(store *kv.Store, max int, fresh time.Duration) *bucketCache {
	return &bucketCache{store: store, max: max, fresh: fresh,
		entries: map[string]*cachedBucket{}, inflight: map[string]*fetch{}}
}

// get returns the handle of bucket name. It returns the errors of
// kv.Store.Bucket: ErrInvalidBucketName, ErrBucketNotFound, ErrUnavailable,
// ErrClosed and ctx's error.
func (c *bucketCache) get(ctx context.Context, name string) (*kv.Bucket, error) {
	c.mu.RLock()
	e := c.entries[name]
	c.mu.RUnlock()
	if e != nil {
		if time.Since(e.loaded) < c.fresh || !e.refreshing.CompareAndSwap(false, true) {
			return e.b, nil
		}
		b, err := c.store.Bucket(ctx, name)
		switch {
		case err == nil:
			c.add(name, b)
			return b, nil
		case errors.Is(err, kv.ErrBucketNotFound):
			c.forget(name, e.b)
			return nil, err
		default:
			// A transient failure (the client went away, NATS hiccuped):
			// keep serving the handle we have and try again later.
			e.refreshing.Store(false)
			return e.b, nil
		}
	}
	for {
		c.mu.Lock()
		if e := c.entries[name]; e != nil {
			c.mu.Unlock()
			return e.b, nil
		}
		if c.closed {
			c.mu.Unlock()
			return nil, kv.ErrClosed
		}
		if f := c.inflight[name]; f != nil {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if f.err != nil && ctx.Err() == nil && (errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) {
				// The request that fetched went away; our own is still
				// here, so fetch again.
				continue
			}
			return f.b, f.err
		}
		f := &fetch{done: make(chan struct{})}
		c.inflight[name] = f
		c.mu.Unlock()

		f.b, f.err = c.store.Bucket(ctx, name)
		c.mu.Lock()
		delete(c.inflight, name)
		if f.err == nil && !c.closed {
			c.addLocked(name, f.b)
		}
		c.mu.Unlock()
		close(f.done)
		return f.b, f.err
	}
}

// add caches b as the handle of name.
func (c *bucketCache) add(name string, b *kv.Bucket) {
	c.mu.Lock()
	if !c.closed {
		c.addLocked(name, b)
	}
	c.mu.Unlock()
}

func (c *bucketCache) addLocked(name string, b *kv.Bucket) {
	if _, ok := c.entries[name]; !ok && len(c.entries) >= c.max {
		for victim := range c.entries { // an arbitrary one
			delete(c.entries, victim)
			break
		}
	}
	c.entries[name] = &cachedBucket{b: b, loaded: time.Now()}
}

// forget drops the handle of name if it is still b (nil: whatever it is).
func (c *bucketCache) forget(name string, b *kv.Bucket) {
	c.mu.Lock()
	if e := c.entries[name]; e != nil && (b == nil || e.b == b) {
		delete(c.entries, name)
	}
	c.mu.Unlock()
}

// close drops every handle; get then returns ErrClosed on a miss.
func (c *bucketCache) close() {
	c.mu.Lock()
	c.closed = true
	c.entries = map[string]*cachedBucket{}
	c.mu.Unlock()
}
