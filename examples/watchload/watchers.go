package main

import (
	"context"
	"sync"
	"time"
)

// watcherStat is what one watcher received. Its goroutine owns it until
// the fleet has stopped.
type watcherStat struct {
	key      int    // index of the watched key; -1 for the whole bucket
	want     string // the watched key, "" for the whole bucket
	got      int64  // events received
	last     uint64 // highest revision received
	disorder int64  // events whose revision was not above the previous one
	foreign  int64  // events for a key the filter excludes
	bad      int64  // frames or values that did not parse
	ended    string // why the watch ended before it was stopped; "" if it did not
}

// deliveries collects the latency of every event of a run, from its put
// (the time in the value) to its arrival.
type deliveries struct {
	epoch time.Time
	lat   shardedHist
}

// event records an event of key and revision rev whose value says it was
// sent at sent, received at now (both since d.epoch), by watcher number i.
func (s *watcherStat) event(d *deliveries, i int, now time.Duration, key string, rev uint64, sent time.Duration) {
	if rev <= s.last {
		s.disorder++
	}
	s.last = max(s.last, rev)
	if s.want != "" && key != s.want {
		s.foreign++
	}
	s.got++
	d.lat.record(i, now-sent)
}

// fleet is a set of watchers of one kind, each on its own goroutine.
type fleet interface {
	// isOpen reports whether watcher i was opened.
	isOpen(i int) bool
	// stop ends every watcher, waits for their goroutines and returns
	// what each received.
	stop() []watcherStat
}

// dialReport says how opening a fleet went.
type dialReport struct {
	took     time.Duration // to open them all
	opened   int
	failed   int
	firstErr error
	each     histogram // time to open each one
}

// openAll calls open(ctx, i) for i in [0, n) with at most conc calls in
// flight, and reports how it went. It stops starting new calls when ctx
// ends.
func openAll(ctx context.Context, n, conc int, open func(ctx context.Context, i int) error) *dialReport {
	rep := new(dialReport)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, conc))
	start := time.Now()
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			t := time.Now()
			err := open(ctx, i)
			rep.each.record(time.Since(t))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				rep.failed++
				if rep.firstErr == nil {
					rep.firstErr = err
				}
				return
			}
			rep.opened++
		})
	}
	wg.Wait()
	rep.took = time.Since(start)
	return rep
}
