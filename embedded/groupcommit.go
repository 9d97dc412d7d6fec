package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ErrSyncFailed is wrapped by every error Server.Sync returns once a sync of
// the store's file system has failed. The failure is permanent for the
// life of the Server, as PostgreSQL treats a failed fsync: after one, the
// kernel may have dropped the dirty pages, and a later sync that succeeds
// proves nothing about them. Restart the server (JetStream then checks its
// files) once the disk is healthy.
var ErrSyncFailed = errors.New("embedded: sync of the data dir failed")

// SyncRecord describes one sync of the store's file system, as
// Config.OnSync receives it.
type SyncRecord struct {
	// Start is when the sync began and End when it returned; every Sync
	// call it serves began before Start.
	Start, End time.Time
	// Waiters is the number of Sync calls this one sync served.
	Waiters int
	// Err is the sync's error, nil when it succeeded.
	Err error
}

// SyncStats are running totals of the group-commit barrier.
type SyncStats struct {
	// Syncs is the number of file-system syncs done.
	Syncs uint64
	// Waiters is the number of Sync calls they served; Waiters/Syncs is the
	// mean group size.
	Waiters uint64
	// Time is the total time spent in syncs.
	Time time.Duration
}

// groupCommit coalesces concurrent Sync calls into one sync of the store's
// file system, as a database's group commit shares one log flush among the
// transactions that commit while the previous flush runs.
//
// A caller that finds no sync running syncs at once, in its own goroutine.
// Otherwise it joins the round that has not started yet and waits for it; a
// syncing goroutine takes the whole round when it begins the sync, so that
// every caller in a round arrived before its sync began. Callers that
// arrive during a sync form the next round. After a round of one, the next
// starts as soon as the sync ends; after a round of two or more, the
// goroutine first lets the next round fill (see fill). The goroutine runs
// only while rounds are waiting, or for at most one delay after.
type groupCommit struct {
	dir     *os.File // the store directory, whose file system is synced
	delay   time.Duration
	syncfs  func(*os.File) error
	onSync  func(SyncRecord)
	joined  func()        // test hook: called after a caller joined a round
	filling func()        // test hook: called when a round starts to fill
	quit    chan struct{} // closed by close: ends a fill at once

	mu      sync.Mutex
	next    *round // the round new callers join; nil when none waits
	running bool   // a caller or the goroutine is syncing, or about to
	closed  bool
	failed  error         // the first sync failure, permanent
	want    int           // callers the filling round waits for
	full    chan struct{} // closed once the filling round has want callers; nil when none fills
	wg      sync.WaitGroup

	syncs, waiters, nanos atomic.Uint64
}

type round struct {
	done    chan struct{}
	waiters int
	err     error // written before done is closed
}

// newGroupCommit returns the barrier of the store directory dir. delay is
// Config.CommitDelay as it applies: zero means no delay.
func newGroupCommit(dir string, delay time.Duration, onSync func(SyncRecord)) (*groupCommit, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded: open data dir for group commit: %w", err)
	}
	return &groupCommit{dir: f, delay: delay, syncfs: syncFS, onSync: onSync, quit: make(chan struct{})}, nil
}

// wait returns once a sync that began after the call has completed.
func (g *groupCommit) wait(ctx context.Context) error {
	g.mu.Lock()
	switch {
	case g.failed != nil:
		g.mu.Unlock()
		return g.failed
	case g.closed:
		g.mu.Unlock()
		return ErrServerClosed
	}
	if !g.running {
		// No sync is running, so none waits either: this caller syncs in
		// its own goroutine, sparing a lone writer two goroutine switches.
		// Callers that arrive meanwhile form the next round, which a
		// goroutine then serves so that this caller can return.
		g.running = true
		g.wg.Add(1)
		g.mu.Unlock()
		if g.joined != nil {
			g.joined()
		}
		r := &round{done: make(chan struct{}), waiters: 1}
		g.sync(r)
		g.mu.Lock()
		lone := g.next == nil
		if lone {
			g.running = false
		} else {
			g.wg.Add(1)
			go g.run(1)
		}
		g.mu.Unlock()
		g.wg.Done()
		if lone {
			// No other caller came during the sync, so the process was
			// probably idle and the runtime's other threads have parked;
			// the caller's next request to the in-process server needs
			// them, and waking one then lengthens that round trip. A
			// yield wakes one now, while the caller returns: Go 1.26's
			// Gosched starts a thread for an idle P, which is how the
			// scheduler behaves rather than a documented promise. kv's
			// BenchmarkPublishAfterPause measured a publish after a syncfs
			// at 50–68 µs, 35–37 µs with the yield. With callers waiting,
			// starting g.run did the same.
			runtime.Gosched()
		}
		return r.err
	}
	if g.next == nil {
		g.next = &round{done: make(chan struct{})}
	}
	r := g.next
	r.waiters++
	if g.full != nil && r.waiters >= g.want {
		close(g.full)
		g.full = nil
	}
	g.mu.Unlock()
	if g.joined != nil {
		g.joined()
	}

	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return fmt.Errorf("embedded: wait for sync: %w", ctx.Err())
	}
}

// run syncs round after round until no caller waits; prev is the number of
// callers the sync before served.
func (g *groupCommit) run(prev int) {
	defer g.wg.Done()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if prev >= 2 && g.delay > 0 {
			if timer == nil {
				timer = time.NewTimer(g.delay)
			} else {
				timer.Reset(g.delay)
			}
			g.fill(prev, timer.C)
		}
		g.mu.Lock()
		r := g.next
		g.next = nil
		if r == nil {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		prev = r.waiters
		g.sync(r)
	}
}

// fill lets the next round grow before its sync begins, as PostgreSQL's
// commit_delay does: it returns once the round has as many callers as the
// last one (prev), when expired fires (Config.CommitDelay after the last
// sync ended), or at close. Under a steady load the callers of the last
// round come back within about a round's time, so a round rarely waits
// the whole delay. A sync costs the machine 100–150 µs of CPU (the
// kernel's writeback and journal commit, measured on a 2-CPU VM), as much
// as two or three writes over HTTP, and waiting roughly halves the number of
// syncs. The ordering holds as before: a round is taken when its sync
// begins, after every caller in it joined.
func (g *groupCommit) fill(prev int, expired <-chan time.Time) {
	g.mu.Lock()
	if g.closed || g.failed != nil || g.next != nil && g.next.waiters >= prev {
		g.mu.Unlock()
		return
	}
	full := make(chan struct{})
	g.want, g.full = prev, full
	g.mu.Unlock()
	if g.filling != nil {
		g.filling()
	}
	select {
	case <-full:
	case <-expired:
	case <-g.quit:
	}
	g.mu.Lock()
	g.want, g.full = 0, nil
	g.mu.Unlock()
}

// sync syncs the file system for round r, whose callers all arrived before
// it begins, and releases them. After a failure it does not sync again.
func (g *groupCommit) sync(r *round) {
	g.mu.Lock()
	failed := g.failed
	g.mu.Unlock()
	if failed != nil {
		r.err = failed
		close(r.done)
		return
	}
	start := time.Now()
	err := g.syncfs(g.dir)
	end := time.Now()
	g.syncs.Add(1)
	g.waiters.Add(uint64(r.waiters))
	g.nanos.Add(uint64(end.Sub(start)))
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrSyncFailed, err)
		g.mu.Lock()
		if g.failed == nil {
			g.failed = err
		}
		g.mu.Unlock()
	}
	if g.onSync != nil {
		g.onSync(SyncRecord{Start: start, End: end, Waiters: r.waiters, Err: err})
	}
	r.err = err
	close(r.done)
}

func (g *groupCommit) stats() SyncStats {
	return SyncStats{Syncs: g.syncs.Load(), Waiters: g.waiters.Load(), Time: time.Duration(g.nanos.Load())}
}

// close refuses new callers, lets the rounds already waiting finish and
// closes the directory.
func (g *groupCommit) close() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.quit)
	}
	g.mu.Unlock()
	g.wg.Wait()
	_ = g.dir.Close()
}
