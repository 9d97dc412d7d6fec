package embedded

import (
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// newTestCommit returns a groupCommit on a temporary directory, closed when
// the test ends.
func newTestCommit(t *testing.T, onSync func(SyncRecord)) *groupCommit {
	t.Helper()
	g, err := newGroupCommit(t.TempDir(), defaultCommitDelay, onSync)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.close)
	return g
}

// newRecordingCommit is newTestCommit with every sync recorded; records
// returns the records so far.
func newRecordingCommit(t *testing.T) (g *groupCommit, records func() []SyncRecord) {
	var mu sync.Mutex
	var syncs []SyncRecord
	g = newTestCommit(t, func(r SyncRecord) {
		mu.Lock()
		syncs = append(syncs, r)
		mu.Unlock()
	})
	return g, func() []SyncRecord {
		mu.Lock()
		defer mu.Unlock()
		return append([]SyncRecord(nil), syncs...)
	}
}

// gatedSync replaces g's sync with one that signals each start on started
// and then blocks until release gives it its result.
func gatedSync(g *groupCommit) (started chan struct{}, release chan error) {
	started, release = make(chan struct{}, 16), make(chan error)
	g.syncfs = func(*os.File) error {
		started <- struct{}{}
		return <-release
	}
	return started, release
}

// joins makes g report every caller that joined a round.
func joins(g *groupCommit) <-chan struct{} {
	c := make(chan struct{}, 64)
	g.joined = func() { c <- struct{}{} }
	return c
}

// TestGroupCommitOrdering runs many concurrent callers against real syncfs
// calls and checks, from the recorded syncs, that every call returned only
// after a sync that began after the call did and ended before it returned.
func TestGroupCommitOrdering(t *testing.T) {
	g, records := newRecordingCommit(t)
	type call struct{ start, end time.Time }
	const workers, each = 32, 50
	calls := make([][]call, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				c := call{start: time.Now()}
				if err := g.wait(context.Background()); err != nil {
					t.Error(err)
					return
				}
				c.end = time.Now()
				calls[w] = append(calls[w], c)
			}
		})
	}
	wg.Wait()

	syncs := records()
	var served int
	for _, r := range syncs {
		served += r.Waiters
		if r.Err != nil {
			t.Fatalf("sync failed: %v", r.Err)
		}
	}
	if served != workers*each {
		t.Fatalf("syncs served %d calls, want %d", served, workers*each)
	}
	for _, cs := range calls {
		for _, c := range cs {
			ok := false
			for _, r := range syncs {
				if r.Start.After(c.start) && !r.End.After(c.end) {
					ok = true
					break
				}
			}
			if !ok {
				t.Fatalf("a call from %v to %v returned before any sync that began after it", c.start, c.end)
			}
		}
	}
	st := g.stats()
	if st.Syncs != uint64(len(syncs)) || st.Waiters != workers*each {
		t.Errorf("stats %+v, want %d syncs serving %d", st, len(syncs), workers*each)
	}
	t.Logf("%d calls served by %d syncs (%.1f per sync)", workers*each, len(syncs), float64(workers*each)/float64(len(syncs)))
}

// TestGroupCommitCoalesces: callers that arrive during a sync do not join it
// (it began before them) and are all served by the one sync after it.
func TestGroupCommitCoalesces(t *testing.T) {
	g := newTestCommit(t, nil)
	started, release := gatedSync(g)
	joined := joins(g)

	first := make(chan error, 1)
	go func() { first <- g.wait(context.Background()) }()
	<-joined
	<-started // the first sync runs and blocks

	const late = 10
	results := make(chan error, late)
	for range late {
		go func() { results <- g.wait(context.Background()) }()
	}
	for range late {
		<-joined
	}
	select {
	case err := <-results:
		t.Fatalf("a caller returned during a sync that began before it: %v", err)
	default:
	}

	release <- nil // end the first sync
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	<-started // one sync for all the late callers
	release <- nil
	for range late {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	if st := g.stats(); st.Syncs != 2 || st.Waiters != late+1 {
		t.Errorf("stats %+v, want 2 syncs serving %d", st, late+1)
	}
}

// fills makes g report every time a round starts to fill.
func fills(g *groupCommit) <-chan struct{} {
	c := make(chan struct{}, 16)
	g.filling = func() { c <- struct{}{} }
	return c
}

// roundOfTwo runs a lone caller's sync, then a round of two callers, whose
// sync it leaves blocked: the goroutine that runs it fills the next round
// once release lets it end. It returns the three callers' results.
func roundOfTwo(t *testing.T, g *groupCommit, started <-chan struct{}, release chan<- error, joined <-chan struct{}) <-chan error {
	t.Helper()
	results := make(chan error, 3)
	go func() { results <- g.wait(context.Background()) }()
	<-joined
	<-started // the lone caller's sync
	for range 2 {
		go func() { results <- g.wait(context.Background()) }()
		<-joined
	}
	release <- nil // the lone caller returns; a goroutine syncs the two
	<-started
	return results
}

// TestGroupCommitFills: after a sync that served two callers, the next one
// waits until two callers have joined its round, not only the first.
func TestGroupCommitFills(t *testing.T) {
	g, records := newRecordingCommit(t)
	g.delay = time.Hour // only a second caller can end the fill
	started, release := gatedSync(g)
	joined := joins(g)
	filling := fills(g)

	first := roundOfTwo(t, g, started, release, joined)
	late := make(chan error, 2)
	go func() { late <- g.wait(context.Background()) }()
	<-joined // one caller waits for the next round
	release <- nil
	for range 3 {
		if err := <-first; err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-filling:
	case <-started:
		release <- nil // let the sync end, so that close does not wait for it
		t.Fatal("the sync after a round of two began with one caller in its round")
	}
	go func() { late <- g.wait(context.Background()) }()
	<-joined
	<-started // the second caller ended the fill
	release <- nil
	for range 2 {
		if err := <-late; err != nil {
			t.Fatal(err)
		}
	}
	if syncs := records(); len(syncs) != 3 || syncs[2].Waiters != 2 {
		t.Fatalf("syncs %+v, want 3, the last serving 2 callers", syncs)
	}
}

// TestGroupCommitFillEndsAtDelay: a round that does not fill starts its
// sync CommitDelay after the sync before it ended.
func TestGroupCommitFillEndsAtDelay(t *testing.T) {
	g, records := newRecordingCommit(t)
	g.delay = 5 * time.Millisecond
	started, release := gatedSync(g)
	joined := joins(g)

	first := roundOfTwo(t, g, started, release, joined)
	late := make(chan error, 1)
	go func() { late <- g.wait(context.Background()) }()
	<-joined
	release <- nil
	<-started // no second caller comes: the delay ends the fill
	release <- nil
	if err := <-late; err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := <-first; err != nil {
			t.Fatal(err)
		}
	}
	syncs := records()
	if len(syncs) != 3 || syncs[2].Waiters != 1 {
		t.Fatalf("syncs %+v, want 3, the last serving 1 caller", syncs)
	}
	if gap := syncs[2].Start.Sub(syncs[1].End); gap < g.delay {
		t.Errorf("the unfilled round's sync began %v after the one before ended, want at least the delay %v", gap, g.delay)
	}
}

// TestGroupCommitLoneWriterNeverWaits: one caller at a time syncs at once,
// in its own goroutine, whatever the delay.
func TestGroupCommitLoneWriterNeverWaits(t *testing.T) {
	g := newTestCommit(t, nil)
	g.delay = time.Hour
	filling := fills(g)
	for range 5 {
		if err := g.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(filling); n != 0 {
		t.Errorf("%d rounds filled for a lone writer", n)
	}
	if st := g.stats(); st.Syncs != 5 || st.Waiters != 5 {
		t.Errorf("stats %+v, want 5 syncs of one caller", st)
	}
}

// TestGroupCommitCloseEndsFill: close does not wait out a fill.
func TestGroupCommitCloseEndsFill(t *testing.T) {
	g, err := newGroupCommit(t.TempDir(), time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	started, release := gatedSync(g)
	joined := joins(g)
	filling := fills(g)

	first := roundOfTwo(t, g, started, release, joined)
	release <- nil
	for range 3 {
		if err := <-first; err != nil {
			t.Fatal(err)
		}
	}
	<-filling // no caller waits; the goroutine fills for an hour
	closed := make(chan struct{})
	go func() {
		g.close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(time.Minute):
		t.Fatal("close waited for the fill's delay")
	}
}

// TestGroupCommitFailureIsPermanent: a failed sync fails its callers and
// every later one, without another sync whose success would prove nothing.
func TestGroupCommitFailureIsPermanent(t *testing.T) {
	var records []SyncRecord
	g := newTestCommit(t, func(r SyncRecord) { records = append(records, r) })
	started, release := gatedSync(g)

	done := make(chan error, 1)
	go func() { done <- g.wait(context.Background()) }()
	<-started
	release <- syscall.EIO
	err := <-done
	if !errors.Is(err, ErrSyncFailed) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("wait = %v, want ErrSyncFailed wrapping EIO", err)
	}
	for range 3 {
		if err := g.wait(context.Background()); !errors.Is(err, ErrSyncFailed) {
			t.Fatalf("wait after a failure = %v, want ErrSyncFailed", err)
		}
	}
	if st := g.stats(); st.Syncs != 1 {
		t.Errorf("%d syncs, want 1: no sync after a failure", st.Syncs)
	}
	if s := (&Server{commit: g}); !errors.Is(s.SyncErr(), syscall.EIO) {
		t.Errorf("SyncErr = %v, want the failure", s.SyncErr())
	}
	if len(records) != 1 || !errors.Is(records[0].Err, syscall.EIO) {
		t.Errorf("OnSync records %+v, want the one failure", records)
	}
}

// TestGroupCommitContext: a caller whose context ends stops waiting; the
// sync goes on for the others.
func TestGroupCommitContext(t *testing.T) {
	g := newTestCommit(t, nil)
	started, release := gatedSync(g)
	joined := joins(g)

	other := make(chan error, 1)
	go func() { other <- g.wait(context.Background()) }()
	<-joined
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.wait(ctx) }()
	<-joined
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("wait with a canceled context = %v", err)
	}
	release <- nil
	if err := <-other; err != nil {
		t.Fatal(err)
	}
	<-started // the canceled caller's round still runs
	release <- nil
}

// TestGroupCommitClose: after close, callers get ErrServerClosed and no
// goroutine is left (goleak in TestMain).
func TestGroupCommitClose(t *testing.T) {
	g, err := newGroupCommit(t.TempDir(), defaultCommitDelay, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.close()
	if err := g.wait(context.Background()); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("wait after close = %v, want ErrServerClosed", err)
	}
}

// TestGroupCommitNotForClusterMembers: a member's R1 streams may live on
// another node, so a member runs SyncAlways where GroupCommit was asked for.
func TestGroupCommitNotForClusterMembers(t *testing.T) {
	member := Config{ClusterName: "c", ClusterListen: "127.0.0.1:0", Routes: []string{"nats://127.0.0.1:1"}}
	if got := member.effectiveDurability(); got != SyncAlways {
		t.Errorf("cluster member with GroupCommit runs %v, want %v", got, SyncAlways)
	}
	if got := (&Config{}).effectiveDurability(); groupCommitSupported && got != GroupCommit {
		t.Errorf("standalone zero Config runs %v, want %v", got, GroupCommit)
	}
}
