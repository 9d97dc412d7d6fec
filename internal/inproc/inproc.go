// Package inproc lets package kv find what an embedded server running in
// the same process offers it, without importing package embedded (which
// would pull nats-server into every program that uses kv): the
// group-commit barrier, and a reader of stream states that needs no round
// trip through the NATS protocol.
//
// embedded registers a server's offer under its server ID while the server
// runs; kv.New looks the ID of its connection's server up.
package inproc

import (
	"context"
	"sync"
	"time"
)

// Syncer is a group-commit barrier: Sync returns nil once everything the
// server acknowledged before the call is on stable storage.
type Syncer interface {
	Sync(ctx context.Context) error
}

// StreamState is the part of a stream's info that a key listing needs.
type StreamState struct {
	Created       time.Time
	Msgs, LastSeq uint64
}

// MaxLocalStreams bounds the streams of an account for which a StreamState
// reader answers. nats-server exports no lookup of one stream's state:
// its JszAccount reports every stream of the account, at about 0.4 µs
// each, against 11–31 µs for asking over an in-process connection.
const MaxLocalStreams = 16

// Server is what an embedded server offers the kv of its process.
type Server struct {
	// Syncer is the group-commit barrier; nil unless the server runs in
	// group-commit mode.
	Syncer Syncer
	// StreamState returns the state of the stream of that name in the
	// account every in-process connection uses, as its info would give it
	// at that moment. It declines (ok false) when it does not find the
	// stream, when JetStream is down, and for a while after it found more
	// than MaxLocalStreams streams in the account; the caller then asks
	// over NATS. Nil for a cluster member, where a stream's leader may be
	// another server.
	StreamState func(stream string) (st StreamState, ok bool)
}

var (
	mu       sync.Mutex
	registry = map[string]*Server{}
)

// Register makes s the offer of the server with the given ID until the
// returned function is called.
func Register(serverID string, s *Server) (unregister func()) {
	mu.Lock()
	registry[serverID] = s
	mu.Unlock()
	return func() {
		mu.Lock()
		if registry[serverID] == s {
			delete(registry, serverID)
		}
		mu.Unlock()
	}
}

// Lookup returns the offer registered for the server ID, or nil.
func Lookup(serverID string) *Server {
	mu.Lock()
	defer mu.Unlock()
	return registry[serverID]
}
