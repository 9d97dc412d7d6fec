package config

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"time"

	"github.com/ironkv/ironkv/kv"
)

// EventKind tells what an Event is.
type EventKind int

// The kinds of Event.
const (
	// EventPut: a document was written (Set or Patch); the Event carries
	// its data.
	EventPut EventKind = iota + 1
	// EventDelete: a document was deleted (or purged with a NATS tool);
	// the Event carries no data.
	EventDelete
	// EventSynced: the initial snapshot is over; every later event is a
	// live change. Only watches with a snapshot (the default, or
	// kv.ResumeFrom) deliver it.
	EventSynced
)

// String returns "put", "delete" or "synced".
func (k EventKind) String() string {
	switch k {
	case EventPut:
		return "put"
	case EventDelete:
		return "delete"
	case EventSynced:
		return "synced"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one change that a Watcher delivers. Its JSON form has the
// fields of Ironflow's config_update frame: {"name","data","revision",
// "updatedAt"}, data null for a deletion.
type Event struct {
	Kind EventKind `json:"-"`
	// Name is the document's name; "" for EventSynced.
	Name string `json:"name"`
	// Data is the document as written, for EventPut; nil otherwise.
	Data json.RawMessage `json:"data"`
	// Revision is the revision of the change; for EventSynced, the
	// revision the snapshot covers (pass it to kv.ResumeFrom to continue
	// with no gap).
	Revision uint64 `json:"revision"`
	// UpdatedAt is when the server stored the change, in UTC; zero for
	// EventSynced.
	UpdatedAt time.Time `json:"updatedAt"`
}

// Watcher delivers the changes of the documents of one environment, or of
// one document. It is a pull object, like kv.Watcher, which it wraps: call
// Next until it returns an error, and Close when done.
type Watcher struct {
	w   *kv.Watcher
	env string
}

// Watch starts a Watcher on the document name of env ("" for
// DefaultEnvironment), or on every document of env when name is "". By
// default it delivers the current version of each watched document (a
// deleted one as EventDelete), then EventSynced, then every change as it
// happens. opts are those of kv.Watch: kv.UpdatesOnly for changes only
// (what Ironflow's WebSocket protocol sends), kv.ResumeFrom to continue after
// a revision, kv.WatchBuffer for the buffer of a slow reader.
//
// Watching an environment that has no bucket yet creates its bucket, so
// that a program can wait for settings that are not written yet. Values
// written by other NATS clients that are not JSON objects are skipped.
// Watch returns kv.ErrInvalidKey for a bad name, kv.ErrInvalidBucketName for
// a bad environment, kv.ErrInvalidConfig for contradictory options and
// kv.ErrUnavailable.
func (c *Configs) Watch(ctx context.Context, env, name string, opts ...kv.WatchOption) (*Watcher, error) {
	env, err := environment(env)
	if err != nil {
		return nil, err
	}
	filter := ">"
	if name != "" {
		if err := ValidateName(name); err != nil {
			return nil, err
		}
		filter = name
	}
	var w *kv.Watcher
	err = c.do(ctx, env, true, func(b *kv.Bucket) error {
		var err error
		w, err = b.Watch(ctx, filter, opts...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Watcher{w: w, env: env}, nil
}

// Next returns the next event. After the Watcher ends it returns the
// reason, as kv.Watcher.Next does: a *kv.SlowConsumerError
// (kv.ErrSlowConsumer), kv.ErrBucketNotFound when the environment's bucket
// was deleted, or kv.ErrClosed after Close. It returns ctx's error when ctx
// ends first; the Watcher stays usable.
func (w *Watcher) Next(ctx context.Context) (Event, error) {
	for {
		ev, err := w.w.Next(ctx)
		if err != nil {
			return Event{}, err
		}
		if ev.Kind == kv.EventSynced {
			return Event{Kind: EventSynced, Revision: ev.Revision}, nil
		}
		e := ev.Entry
		if ValidateName(e.Key) != nil {
			continue
		}
		out := Event{Kind: EventDelete, Name: e.Key, Revision: e.Revision, UpdatedAt: e.Created.UTC()}
		if e.Op == kv.OpPut {
			if storedObject(w.env, e.Key, e.Value) != nil {
				continue
			}
			out.Kind, out.Data = EventPut, e.Value
		}
		return out, nil
	}
}

// All returns an iterator over the events of the Watcher, for use with
// range. It stops after yielding the first error (including ctx's).
func (w *Watcher) All(ctx context.Context) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		for {
			ev, err := w.Next(ctx)
			if !yield(ev, err) || err != nil {
				return
			}
		}
	}
}

// Close stops the Watcher and waits for its background work to end. Close
// is idempotent and returns no error of its own.
func (w *Watcher) Close() error { return w.w.Close() }
