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
// arrive during a sync form the next round, which starts as soon as the
// sync ends. The goroutine runs only while rounds are waiting.
type groupCommit struct {
	dir    *os.File // the store directory, whose file system is synced
	syncfs func(*os.File) error
	onSync func(SyncRecord)
	joined func() // test hook: called after a caller joined a round

	mu      sync.Mutex
	next    *round // the round new callers join; nil when none waits
	running bool   // a caller or the goroutine is syncing, or about to
	closed  bool
	failed  error // the first sync failure, permanent
	wg      sync.WaitGroup

	syncs, waiters, nanos atomic.Uint64
}

type round struct {
	done    chan struct{}
	waiters int
	err     error // written before done is closed
}

func newGroupCommit(dir string, onSync func(SyncRecord)) (*groupCommit, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded: open data dir for group commit: %w", err)
	}
	return &groupCommit{dir: f, syncfs: syncFS, onSync: onSync}, nil
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
			go g.run()
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

// run syncs round after round until no caller waits.
func (g *groupCommit) run() {
	defer g.wg.Done()
	for {
		g.mu.Lock()
		r := g.next
		g.next = nil
		if r == nil {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.sync(r)
	}
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
	g.closed = true
	g.mu.Unlock()
	g.wg.Wait()
	_ = g.dir.Close()
}
