package config_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ironkv/ironkv/config"
	"github.com/ironkv/ironkv/kv"
)

func next(t *testing.T, ctx context.Context, w *config.Watcher) config.Event {
	t.Helper()
	ev, err := w.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return ev
}

func TestWatchOne(t *testing.T) {
	ctx := ctxT(t)
	c := newConfigs(t)
	// Before anything is written: the bucket is created, the snapshot is
	// empty.
	w, err := c.Watch(ctx, "", "app")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if ev := next(t, ctx, w); ev.Kind != config.EventSynced {
		t.Fatalf("first event %+v, want synced", ev)
	}
	rev1, _ := c.Set(ctx, "", "other", []byte(`{"x":1}`), config.Condition{})
	rev2, _ := c.Set(ctx, "", "app", []byte(`{"a":1}`), config.Condition{})
	rev3, _ := c.Patch(ctx, "", "app", []byte(`{"b":2}`), 0)
	if err := c.Delete(ctx, "", "app", 0); err != nil {
		t.Fatal(err)
	}
	// "other" is not delivered: the first event is app's.
	ev := next(t, ctx, w)
	if ev.Kind != config.EventPut || ev.Name != "app" || string(ev.Data) != `{"a":1}` || ev.Revision != rev2 || ev.UpdatedAt.IsZero() {
		t.Fatalf("put event %+v (other was %d)", ev, rev1)
	}
	ev = next(t, ctx, w)
	if ev.Kind != config.EventPut || string(ev.Data) != `{"a":1,"b":2}` || ev.Revision != rev3 {
		t.Fatalf("patch event %+v", ev)
	}
	ev = next(t, ctx, w)
	if ev.Kind != config.EventDelete || ev.Name != "app" || ev.Data != nil || ev.Revision <= rev3 {
		t.Fatalf("delete event %+v", ev)
	}
	w.Close()
	if _, err := w.Next(ctx); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestWatchEnvironment(t *testing.T) {
	ctx := ctxT(t)
	e := newEnv(t)
	c := e.c
	c.Set(ctx, "prod", "a", []byte(`{"v":1}`), config.Condition{})
	c.Set(ctx, "prod", "b", []byte(`{"v":2}`), config.Condition{})
	c.Delete(ctx, "prod", "b", 0)
	// A value that is not an object, written by another client, is skipped.
	b, _ := e.sys.Bucket(ctx, "prod")
	b.Put(ctx, "raw", []byte("not json"))

	w, err := c.Watch(ctx, "prod", "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	got := map[string]config.EventKind{}
	for ev, err := range w.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == config.EventSynced {
			break
		}
		got[ev.Name] = ev.Kind
	}
	if len(got) != 2 || got["a"] != config.EventPut || got["b"] != config.EventDelete {
		t.Fatalf("snapshot %v", got)
	}
	// Another environment is another bucket.
	c.Set(ctx, "", "a", []byte(`{"v":"default"}`), config.Condition{})
	rev, _ := c.Set(ctx, "prod", "c", []byte(`{"v":3}`), config.Condition{})
	if ev := next(t, ctx, w); ev.Name != "c" || ev.Revision != rev {
		t.Fatalf("live event %+v", ev)
	}
	for k, want := range map[config.EventKind]string{config.EventPut: "put", config.EventDelete: "delete", config.EventSynced: "synced"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q", k, k.String())
		}
	}
}

func TestWatchUpdatesOnly(t *testing.T) {
	ctx := ctxT(t)
	c := newConfigs(t)
	c.Set(ctx, "", "a", []byte(`{"v":1}`), config.Condition{})
	w, err := c.Watch(ctx, "", "a", kv.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rev, _ := c.Set(ctx, "", "a", []byte(`{"v":2}`), config.Condition{})
	if ev := next(t, ctx, w); ev.Kind != config.EventPut || ev.Revision != rev || string(ev.Data) != `{"v":2}` {
		t.Fatalf("first event %+v, want the change at %d", ev, rev)
	}
	if _, err := c.Watch(ctx, "", "a/b"); !errors.Is(err, kv.ErrInvalidKey) {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := c.Watch(ctx, "", "a", kv.UpdatesOnly(), kv.ResumeFrom(1)); !errors.Is(err, kv.ErrInvalidConfig) {
		t.Fatalf("contradictory options: %v", err)
	}
}
