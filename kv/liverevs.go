package kv

import "sync"

// liveRevSlots is how many revisions a handle remembers: the latest writes
// of a compare-and-swap loop over a thousand keys all fit.
const liveRevSlots = 1024

// liveRevs remembers revisions that a Bucket handle saw hold a put of a
// key: the revisions its own writes got, and those its reads returned.
//
// Update (and Delete or Purge with IfRevision) must refuse the revision of a
// tombstone, and JetStream's compare-and-swap cannot tell: it compares the
// key's last sequence only. What a revision holds never changes, though: a
// message of the stream is written once. So when the handle knows that
// revision rev was a put of key k, a compare-and-swap that the server
// accepts on rev has replaced a live value, and the read that otherwise
// checks the key first is not needed. An unknown revision is read as before.
//
// Sequences restart when a bucket is deleted and created again, so the
// memory is dropped when this Store deletes any bucket and when a call on
// the handle finds its bucket gone. A handle kept across a deletion and
// re-creation by another client, whose writes then reached the same
// sequence with a tombstone of the same key, would accept that revision as
// NATS KV itself does: the one case the read would have refused.
type liveRevs struct {
	mu    sync.Mutex
	gen   uint64 // the Store's deletion count the slots belong to
	slots *[liveRevSlots]liveRev
}

type liveRev struct {
	rev uint64
	key string // encoded
}

// add records that rev holds a put of encoded key k. gen is the Store's
// deletion count read before the write or read that returned rev.
func (c *liveRevs) add(gen, rev uint64, k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		if gen < c.gen {
			return // a deletion came in between: rev may be of the old bucket
		}
		c.slots, c.gen = nil, gen
	}
	if c.slots == nil {
		c.slots = new([liveRevSlots]liveRev)
	}
	c.slots[rev%liveRevSlots] = liveRev{rev: rev, key: k}
}

// has reports whether rev is known to hold a put of encoded key k.
func (c *liveRevs) has(gen, rev uint64, k string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.slots == nil || c.gen != gen {
		return false
	}
	s := c.slots[rev%liveRevSlots]
	return s.rev == rev && s.key == k
}

// forget drops every remembered revision.
func (c *liveRevs) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slots = nil
}
