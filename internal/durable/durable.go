// Package durable lets package kv find the group-commit barrier of an
// embedded server running in the same process without importing package
// embedded (which would pull nats-server into every program that uses kv).
//
// embedded registers a server's barrier under its server ID while the
// server runs in group-commit mode; kv.New looks the ID of its connection's
// server up.
package durable

import (
	"context"
	"sync"
)

// Syncer is a group-commit barrier: Sync returns nil once everything the
// server acknowledged before the call is on stable storage.
type Syncer interface {
	Sync(ctx context.Context) error
}

var (
	mu       sync.Mutex
	registry = map[string]Syncer{}
)

// Register makes s the barrier of the server with the given ID until the
// returned function is called.
func Register(serverID string, s Syncer) (unregister func()) {
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

// Lookup returns the barrier registered for the server ID, or nil.
func Lookup(serverID string) Syncer {
	mu.Lock()
	defer mu.Unlock()
	return registry[serverID]
}
