package watch

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ironkv/ironkv/kv"
)

// upstream is the one kv watch of a bucket, shared by its subscriptions.
type upstream struct {
	hub   *Hub
	name  string
	ready chan struct{} // closed when start has finished
	done  chan struct{} // closed when the loop has ended
	// count is the number of users (subscriptions and pending Subscribe
	// calls), guarded by hub.mu.
	count    int
	startErr error // set before ready closes

	b      *kv.Bucket
	cancel context.CancelFunc

	mu   sync.Mutex
	subs *index
	pos  uint64 // last revision dispatched (or the bucket's revision at start)
	err  error  // why the upstream ended; nil while it runs
}

// start opens the bucket and its watch and starts the loop.
func (up *upstream) start(ctx context.Context) error {
	b, err := up.hub.store.Bucket(ctx, up.name)
	if err != nil {
		return err
	}
	up.b = b
	// The position before the watch starts: a subscription that must
	// resume before it saw anything resumes from here, which can repeat
	// nothing it was sent.
	pos, err := b.Revision(ctx)
	if err != nil {
		return err
	}
	w, err := b.Watch(ctx, "", kv.UpdatesOnly(), kv.WatchBuffer(upstreamBuffer))
	if err != nil {
		return err
	}
	up.pos = pos
	lctx, cancel := context.WithCancel(context.Background())
	up.cancel = cancel
	up.hub.wg.Add(1)
	go up.loop(lctx, w)
	return nil
}

// loop dispatches the upstream's events until it ends.
func (up *upstream) loop(ctx context.Context, w *kv.Watcher) {
	defer up.hub.wg.Done()
	defer close(up.done)
	for {
		ev, err := w.Next(ctx)
		if err == nil {
			up.dispatch(ev)
			continue
		}
		w.Close()
		var sce *kv.SlowConsumerError
		if errors.As(err, &sce) && ctx.Err() == nil {
			// The hub itself fell behind: resume where it stopped.
			up.hub.log.Warn("watch upstream fell behind; resuming", "bucket", up.name, "revision", sce.LastRevision)
			nw, rerr := up.b.Watch(ctx, "", kv.ResumeFrom(sce.LastRevision), kv.WatchBuffer(upstreamBuffer))
			if rerr == nil {
				w = nw
				continue
			}
			err = rerr
		}
		if ctx.Err() != nil {
			err = kv.ErrClosed
		}
		up.end(err)
		return
	}
}

// dispatch hands ev to every matching subscription without blocking.
func (up *upstream) dispatch(ev kv.Event) {
	if ev.Kind != kv.EventUpdate {
		return
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	up.pos = ev.Revision
	var slow []*Subscription
	up.subs.match(ev.Entry.Key, func(s *Subscription) {
		if !s.offer(ev) {
			slow = append(slow, s)
		}
	})
	for _, s := range slow {
		up.subs.remove(s)
		s.finish(kv.ErrSlowConsumer)
	}
}

// join adds s to the upstream and returns the last revision dispatched
// before s joined; it reports false when the upstream ended.
func (up *upstream) join(s *Subscription) (uint64, bool) {
	up.mu.Lock()
	defer up.mu.Unlock()
	if up.err != nil {
		return 0, false
	}
	up.subs.add(s)
	return up.pos, true
}

// leave takes s out of the upstream.
func (up *upstream) leave(s *Subscription) {
	up.mu.Lock()
	up.subs.remove(s)
	up.mu.Unlock()
}

func (up *upstream) failure() error {
	up.mu.Lock()
	defer up.mu.Unlock()
	return up.err
}

// end records why the upstream ended and ends every subscription with it.
func (up *upstream) end(err error) {
	up.mu.Lock()
	if up.err != nil {
		up.mu.Unlock()
		return
	}
	if errors.Is(err, kv.ErrBucketNotFound) {
		err = fmt.Errorf("bucket %q was deleted: %w", up.name, kv.ErrBucketNotFound)
	}
	up.err = err
	var all []*Subscription
	for _, set := range up.subs.exact {
		for s := range set {
			all = append(all, s)
		}
	}
	up.subs.root.each(func(s *Subscription) { all = append(all, s) })
	up.subs = newIndex()
	up.mu.Unlock()
	for _, s := range all {
		s.finish(err)
	}
	// A bucket that is gone (or a failed watch) leaves the hub's map, so
	// that the next subscriber starts afresh.
	h := up.hub
	h.mu.Lock()
	if h.buckets[up.name] == up {
		delete(h.buckets, up.name)
	}
	h.mu.Unlock()
}

// stop ends the loop and waits for it.
func (up *upstream) stop(err error) {
	up.end(err)
	if up.cancel != nil {
		up.cancel()
		<-up.done
	}
}

func (n *node) each(f func(*Subscription)) {
	for s := range n.here {
		f(s)
	}
	for s := range n.rest {
		f(s)
	}
	for _, c := range n.children {
		c.each(f)
	}
	if n.star != nil {
		n.star.each(f)
	}
}
