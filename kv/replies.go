package kv

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// replies is a Store's request–reply for what it asks JetStream itself
// (every write, and a listing's check that its key index is current): one
// wildcard subscription, made with the Store, takes every answer and hands
// it to the caller waiting for it. It behaves as nats.go's
// RequestMsgWithContext (the same errors: ctx's, nats.ErrNoResponders,
// nats.ErrConnectionClosed, the publish's) and bounds a request whose ctx
// has no deadline, as nats.go's jetstream package does, to publishTimeout:
// it then fails with context.DeadlineExceeded.
//
// It is there for CPU, which every write pays. The bound costs no timer or
// context per request: a sweep once a second, while requests wait, ends
// those that have waited publishTimeout (so between that and a second
// more). And answers are matched under a lock of their own, not under the
// connection's lock, which every publish takes too.
type replies struct {
	nc    *nats.Conn
	every time.Duration // between sweeps
	limit uint64        // sweeps a request without a deadline outlives

	mu      sync.Mutex
	prefix  string             // "_INBOX.<unique>.", the reply subjects'
	sub     *nats.Subscription // to prefix + "*"
	last    uint64             // the last token given
	waiting map[uint64]*call
	sweeps  uint64      // sweeps done
	sweep   *time.Timer // the sweeps' timer; nil until the first request
	armed   bool        // the sweep timer is set
	err     error       // set by close: what requests fail with from then
}

// call is one request waiting. Whoever takes it out of replies.waiting
// (the answer, a sweep, close, or the caller giving up) is the only one
// to send on ch, once.
type call struct {
	ch      chan reply // buffered: a send never blocks
	born    uint64     // replies.sweeps when it was made
	bounded bool       // the caller's ctx has no deadline: sweeps end it
}

type reply struct {
	msg *nats.Msg
	err error
}

// newReplies subscribes to the reply subjects of a new replies on nc.
func newReplies(nc *nats.Conn) (*replies, error) {
	r := &replies{nc: nc, every: time.Second, limit: uint64(publishTimeout / time.Second), waiting: map[uint64]*call{}}
	prefix := nc.NewInbox() + "."
	sub, err := nc.Subscribe(prefix+"*", func(m *nats.Msg) { r.answer(prefix, m) })
	if err != nil {
		return nil, err
	}
	r.prefix, r.sub = prefix, sub
	return r, nil
}

// request publishes m with a reply subject of its own and returns the
// answer. It sets m.Reply.
func (r *replies) request(ctx context.Context, m *nats.Msg) (*nats.Msg, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	_, hasDeadline := ctx.Deadline()
	token, c, err := r.add(!hasDeadline)
	if err != nil {
		return nil, err
	}
	m.Reply = r.prefix + strconv.FormatUint(token, 10)
	if err := r.nc.PublishMsg(m); err != nil {
		r.forget(token)
		return nil, err
	}
	select {
	case rep := <-c.ch:
		if rep.err == nil && len(rep.msg.Data) == 0 && rep.msg.Header.Get(statusHeader) == noRespondersStatus {
			return nil, nats.ErrNoResponders
		}
		return rep.msg, rep.err
	case <-ctx.Done():
		r.forget(token)
		return nil, ctx.Err()
	}
}

// The status header of the answer the server gives at once to a request
// that no subscription takes, as nats.go reads it.
const (
	statusHeader       = "Status"
	noRespondersStatus = "503"
)

// add registers a call and returns its token.
func (r *replies) add(bounded bool) (uint64, *call, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return 0, nil, r.err
	}
	switch {
	case r.sweep == nil:
		r.sweep = time.AfterFunc(r.every, r.sweepNow)
		r.armed = true
	case !r.armed:
		r.sweep.Reset(r.every)
		r.armed = true
	}
	r.last++
	c := &call{ch: make(chan reply, 1), born: r.sweeps, bounded: bounded}
	r.waiting[r.last] = c
	return r.last, c, nil
}

// forget drops a call its caller no longer waits for.
func (r *replies) forget(token uint64) {
	r.mu.Lock()
	delete(r.waiting, token)
	r.mu.Unlock()
}

// answer hands a message on a reply subject to its call, if it still
// waits.
func (r *replies) answer(prefix string, m *nats.Msg) {
	token, err := strconv.ParseUint(strings.TrimPrefix(m.Subject, prefix), 10, 64)
	if err != nil {
		return
	}
	r.mu.Lock()
	c := r.waiting[token]
	delete(r.waiting, token)
	r.mu.Unlock()
	if c != nil {
		c.ch <- reply{msg: m}
	}
}

// sweepNow ends the calls that have waited long enough, and every call
// once the connection is closed; it sets the next sweep while calls wait.
func (r *replies) sweepNow() {
	closed := r.nc.IsClosed()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.armed = false
	if r.err != nil {
		return
	}
	r.sweeps++
	for token, c := range r.waiting {
		switch {
		case closed:
			c.ch <- reply{err: nats.ErrConnectionClosed}
		case c.bounded && r.sweeps-c.born > r.limit:
			c.ch <- reply{err: context.DeadlineExceeded}
		default:
			continue
		}
		delete(r.waiting, token)
	}
	if len(r.waiting) > 0 {
		r.sweep.Reset(r.every)
		r.armed = true
	}
}

// close ends every call waiting with err, and fails every request after
// it with err.
func (r *replies) close(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return
	}
	r.err = err
	if r.sweep != nil {
		r.sweep.Stop()
	}
	_ = r.sub.Unsubscribe()
	for token, c := range r.waiting {
		c.ch <- reply{err: err}
		delete(r.waiting, token)
	}
}
