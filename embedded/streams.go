package embedded

import (
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/ironkv/ironkv/internal/inproc"
)

// localRecheck is how long the reader leaves the account alone once it
// held more than inproc.MaxLocalStreams streams, before it counts them
// again.
const localRecheck = 5 * time.Second

// streamStates reads the states of a standalone server's streams in
// process, for the kv of the same process (see inproc.Server).
type streamStates struct {
	ns      *server.Server
	account string
	skip    atomic.Int64 // unix nanoseconds until which reads decline; 0: none
}

// state returns the state of stream in the account of in-process
// connections, as a stream info request answered at that moment would:
// the store's counters are updated before a write is acknowledged. It
// declines (ok false) when the account holds too many streams for the
// walk to pay, when JetStream is down, and when the stream is not found,
// which the caller then learns from the server itself.
func (r *streamStates) state(stream string) (inproc.StreamState, bool) {
	if until := r.skip.Load(); until != 0 && time.Now().UnixNano() < until {
		return inproc.StreamState{}, false
	}
	d, err := r.ns.JszAccount(&server.JSzOptions{Account: r.account, Streams: true})
	if err != nil {
		return inproc.StreamState{}, false
	}
	if len(d.Streams) > inproc.MaxLocalStreams {
		r.skip.Store(time.Now().Add(localRecheck).UnixNano())
	}
	for i := range d.Streams {
		if sd := &d.Streams[i]; sd.Name == stream {
			return inproc.StreamState{Created: sd.Created, Msgs: sd.State.Msgs, LastSeq: sd.State.LastSeq}, true
		}
	}
	return inproc.StreamState{}, false
}
