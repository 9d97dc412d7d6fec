package reliability_test

import (
	"context"
	"sync"
	"testing"
	"time"
)

// node follows one server that is stopped and started again: clients ask
// it for the server's current address, and wait while it is down. Each
// start is a generation, for which it records when the first write was
// acknowledged.
type node struct {
	mu    sync.Mutex
	srv   *server       // nil while down
	gen   int           // generation of srv
	up    chan struct{} // closed when a server is up
	first firstAck      // since the start of srv
}

func newNode() *node { return &node{up: make(chan struct{})} }

// set makes srv the node's server, a new generation.
func (n *node) set(srv *server) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.srv = srv
	n.gen++
	n.first.reset(srv.started)
	close(n.up)
}

// down marks the server down, before it is killed or stopped: clients
// wait from then on, and what they had in flight gets no answer or an
// acknowledgement that still counts.
func (n *node) down() *server {
	n.mu.Lock()
	defer n.mu.Unlock()
	srv := n.srv
	n.srv = nil
	n.up = make(chan struct{})
	return srv
}

// current returns the server and its generation, waiting while the node
// is down. It returns nil when ctx ends first.
func (n *node) current(ctx context.Context) (*server, int) {
	for {
		n.mu.Lock()
		srv, gen, up := n.srv, n.gen, n.up
		n.mu.Unlock()
		if srv != nil {
			return srv, gen
		}
		select {
		case <-up:
		case <-ctx.Done():
			return nil, 0
		}
	}
}

// acked records that a write sent at call was acknowledged.
func (n *node) acked(call time.Time) { n.first.acked(call) }

// waitAck waits, at most d, for the first acknowledged write of the
// current server and returns the time from the server's start to it.
func (n *node) waitAck(t testing.TB, d time.Duration) time.Duration {
	t.Helper()
	return n.first.wait(t, d)
}

// firstAck measures how long after a moment (a start, a kill) the first
// write sent after it was acknowledged.
type firstAck struct {
	mu    sync.Mutex
	since time.Time
	m     *milestone
}

func (f *firstAck) reset(since time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.since, f.m = since, newMilestone()
}

// acked records the acknowledgement of a write sent at call.
func (f *firstAck) acked(call time.Time) {
	f.mu.Lock()
	m, since := f.m, f.since
	f.mu.Unlock()
	if m != nil && call.After(since) {
		m.mark()
	}
}

// wait waits, at most d from the moment, for a write sent after it to be
// acknowledged, and returns how long after the moment that was.
func (f *firstAck) wait(t testing.TB, d time.Duration) time.Duration {
	t.Helper()
	f.mu.Lock()
	m, since := f.m, f.since
	f.mu.Unlock()
	at, ok := m.wait(since.Add(d))
	if !ok {
		t.Fatalf("no write acknowledged within %v", d)
	}
	return at.Sub(since)
}

// milestone is a moment that comes once, such as a first acknowledged
// write: the first mark records it, and others wait for it.
type milestone struct {
	once sync.Once
	at   time.Time
	done chan struct{}
}

func newMilestone() *milestone { return &milestone{done: make(chan struct{})} }

func (m *milestone) mark() {
	m.once.Do(func() {
		m.at = time.Now()
		close(m.done)
	})
}

// wait waits for the milestone until deadline, and returns when it came.
func (m *milestone) wait(deadline time.Time) (time.Time, bool) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-m.done:
		return m.at, true
	case <-timer.C:
		return time.Time{}, false
	}
}

// progress is a revision that only grows, which others wait on.
type progress struct {
	mu      sync.Mutex
	last    uint64
	changed chan struct{} // closed and replaced by each advance
}

// advance raises the revision to rev.
func (p *progress) advance(rev uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rev <= p.last {
		return
	}
	p.last = rev
	if p.changed != nil {
		close(p.changed)
		p.changed = nil
	}
}

// waitFor waits, at most d, until the revision is rev or more.
func (p *progress) waitFor(rev uint64, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		p.mu.Lock()
		if p.last >= rev {
			p.mu.Unlock()
			return true
		}
		if p.changed == nil {
			p.changed = make(chan struct{})
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			return false
		}
	}
}

// get returns the revision.
func (p *progress) get() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}
