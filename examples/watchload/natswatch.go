package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsFleet is the baseline: each watcher is a nats.go jetstream
// KeyValue.Watch of its own, so a consumer of its own on the bucket's
// stream, on the server's NATS client port, perConn watchers to a
// connection (one by default, as each hub watcher has a WebSocket).
type natsFleet struct {
	d        *deliveries
	cancel   context.CancelFunc
	conns    []*nats.Conn
	opened   []bool // by watcher
	stats    []watcherStat
	stopping atomic.Bool
	wg       sync.WaitGroup

	asyncErrs atomic.Int64 // nats.go's asynchronous errors, such as slow consumer
	errMu     sync.Mutex
	firstErr  error
}

// openNATSWatchers connects ceil(len(stats)/perConn) times to natsURL and
// opens one updates-only watch per entry of stats on the NATS KV bucket
// natsBucket, at most conc in flight. A watch's consumer exists when Watch
// returns, so an open watcher misses nothing written afterwards.
func openNATSWatchers(ctx context.Context, natsURL, natsBucket string, stats []watcherStat, perConn, conc int, d *deliveries) (*natsFleet, *dialReport, error) {
	// The watches' context lives as long as the fleet: nats.go keeps it to
	// recreate an ordered consumer that detects a gap.
	wctx, cancel := context.WithCancel(ctx)
	f := &natsFleet{d: d, cancel: cancel, stats: stats, opened: make([]bool, len(stats))}
	perConn = max(1, perConn)
	n := (len(stats) + perConn - 1) / perConn
	kvs := make([]jetstream.KeyValue, n)
	for j := range n {
		nc, err := nats.Connect(natsURL,
			nats.Name(fmt.Sprintf("watchload-%d", j)),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { f.asyncErr(err) }),
		)
		if err != nil {
			f.stop()
			return nil, nil, fmt.Errorf("connect to NATS at %s: %w", natsURL, err)
		}
		f.conns = append(f.conns, nc)
		js, err := jetstream.New(nc)
		if err == nil {
			kvs[j], err = js.KeyValue(ctx, natsBucket)
		}
		if err != nil {
			f.stop()
			return nil, nil, fmt.Errorf("NATS KV bucket %s: %w", natsBucket, err)
		}
	}
	rep := openAll(ctx, len(stats), conc, func(ctx context.Context, i int) error {
		kvh := kvs[i/perConn]
		var w jetstream.KeyWatcher
		var err error
		if want := stats[i].want; want != "" {
			w, err = kvh.Watch(wctx, want, jetstream.UpdatesOnly())
		} else {
			w, err = kvh.WatchAll(wctx, jetstream.UpdatesOnly())
		}
		if err != nil {
			return fmt.Errorf("watcher %d: %w", i, err)
		}
		f.opened[i] = true
		f.wg.Go(func() { f.read(i, w) })
		return nil
	})
	return f, rep, nil
}

func (f *natsFleet) asyncErr(err error) {
	f.asyncErrs.Add(1)
	f.errMu.Lock()
	if f.firstErr == nil {
		f.firstErr = err
	}
	f.errMu.Unlock()
}

// read takes the updates of watcher i until its watch ends. It must read
// to the end: nats.go's delivery blocks while the updates channel is full.
func (f *natsFleet) read(i int, w jetstream.KeyWatcher) {
	st := &f.stats[i]
	for e := range w.Updates() {
		if e == nil {
			continue // the end of an initial snapshot; there is none with UpdatesOnly
		}
		now := time.Since(f.d.epoch)
		v := e.Value()
		if len(v) != 8 || e.Operation() != jetstream.KeyValuePut {
			st.bad++
			continue
		}
		st.event(f.d, i, now, e.Key(), e.Revision(), time.Duration(binary.BigEndian.Uint64(v)))
	}
	if !f.stopping.Load() && st.ended == "" {
		st.ended = "the watch's updates channel closed"
	}
}

func (f *natsFleet) isOpen(i int) bool { return f.opened[i] }

// stop closes the connections, which ends every watch (their consumers go
// with the server), waits for the readers and returns what each watcher
// received.
func (f *natsFleet) stop() []watcherStat {
	f.stopping.Store(true)
	f.cancel()
	for _, nc := range f.conns {
		nc.Close()
	}
	f.wg.Wait()
	return f.stats
}

// asyncError describes nats.go's asynchronous errors, or returns nil when
// there were none.
func (f *natsFleet) asyncError() error {
	n := f.asyncErrs.Load()
	if n == 0 {
		return nil
	}
	f.errMu.Lock()
	defer f.errMu.Unlock()
	return fmt.Errorf("%d asynchronous NATS errors, the first: %w", n, f.firstErr)
}
