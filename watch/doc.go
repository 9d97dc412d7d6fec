// Package watch fans the changes of a bucket out to many subscribers in the
// process, over one upstream kv watch per bucket: ten thousand browser tabs
// watching a bucket cost the NATS server one consumer, not ten thousand.
//
// A Hub starts a bucket's upstream (a kv.Watcher with kv.UpdatesOnly) with
// its first subscription and stops it after the last one closes. Every event
// of the upstream is matched against the subscriptions' filters through an
// index (exact keys in a map, wildcard filters in a token tree, as NATS does
// for subjects), so an event costs the subscriptions it matches, not a loop
// over all of them.
//
// Each subscription has a bounded buffer that the upstream fills without
// ever blocking. A subscription that falls behind by more than its buffer
// is ended: once its reader has taken what was buffered, Next returns a
// *kv.SlowConsumerError whose LastRevision is the last revision Next
// returned; Subscribe again with Since(LastRevision) to continue with no gap
// and no duplicate. A slow subscriber never slows the upstream or the other
// subscribers.
//
// Snapshot and Since subscriptions start with a private replay (a kv watch
// of their own, for as long as the replay lasts): the subscription joins the
// live stream first and buffers it, then reads the replay up to its
// kv.EventSynced, then the buffered live events after the synced revision.
// So the two overlap and nothing falls between them, and nothing is
// delivered twice. A replay that outlasts the subscription's buffer of live
// events ends it as a slow consumer; resuming continues from where it got.
//
// A reader that serves many subscriptions need not park a goroutine in
// Next for each: OnReady registers a function that the hub calls when a
// subscription that had nothing gets an event or ends, and TryNext takes
// what is there without waiting. The WebSocket route of httpapi reads
// this way, so an idle WebSocket watcher holds no writer goroutine.
//
// When a bucket is deleted, its subscriptions end with kv.ErrBucketNotFound.
// When the upstream itself falls behind (the process could not keep up), the
// hub resumes it from the last revision it dispatched, without a gap.
//
// Subscribers see every revision the bucket retains. A bucket that keeps
// one revision per key (history 1, the default) may replace a value before
// the upstream has read it; the replaced revision is then gone from the
// stream and no watcher sees it, only the newer one, as with any JetStream
// consumer. Keep a longer history where every intermediate value matters.
//
// The package never imports nats-server.
package watch
