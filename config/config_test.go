package config_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/config"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// env is a test's Configs, the SysConfig store under it, and a store of
// user buckets (bucket.App) on the same server.
type env struct {
	c   *config.Configs
	sys *kv.Store
	app *kv.Store
}

func newEnv(t *testing.T) env {
	t.Helper()
	srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
	mem := kv.WithDefaultStorage(bucket.MemoryStorage)
	sys := kvtest.StoreOn(t, srv, mem, kv.WithNamespace(bucket.SysConfig))
	app := kvtest.StoreOn(t, srv, mem)
	c, err := config.New(sys)
	if err != nil {
		t.Fatal(err)
	}
	return env{c: c, sys: sys, app: app}
}

func newConfigs(t *testing.T) *config.Configs { return newEnv(t).c }

func TestNewChecksNamespace(t *testing.T) {
	srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
	for _, ns := range []bucket.Namespace{bucket.App, bucket.SysSecrets} {
		_, err := config.New(kvtest.StoreOn(t, srv, kv.WithNamespace(ns)))
		if !errors.Is(err, kv.ErrInvalidConfig) || !strings.Contains(err.Error(), "bucket.SysConfig") {
			t.Errorf("namespace %s: err = %v, want kv.ErrInvalidConfig that names bucket.SysConfig", ns, err)
		}
	}
	if _, err := config.New(nil); !errors.Is(err, kv.ErrInvalidConfig) {
		t.Errorf("nil store: err = %v", err)
	}
}

func TestSetGet(t *testing.T) {
	ctx := ctxT(t)
	c := newConfigs(t)
	before := time.Now().Add(-time.Second)
	body := `{ "b": 12345678901234567890123456789, "a": 1.10, "nested": {"x": [1, 2.50, "<&>"]}, "s": "é\u00e9" }`
	rev, err := c.Set(ctx, "", "app-settings", []byte(body), config.Condition{})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := c.Get(ctx, "default", "app-settings")
	if err != nil {
		t.Fatal(err)
	}
	// Compact, in order, every digit kept, strings as written.
	want := `{"b":12345678901234567890123456789,"a":1.10,"nested":{"x":[1,2.50,"<&>"]},"s":"é\u00e9"}`
	if string(doc.Data) != want {
		t.Errorf("data\n got %s\nwant %s", doc.Data, want)
	}
	if doc.Name != "app-settings" || doc.Revision != rev || rev == 0 {
		t.Errorf("doc %q revision %d, Set returned %d", doc.Name, doc.Revision, rev)
	}
	if doc.UpdatedAt.Before(before) || doc.UpdatedAt.After(time.Now().Add(time.Second)) || doc.UpdatedAt.Location() != time.UTC {
		t.Errorf("updatedAt %v", doc.UpdatedAt)
	}

	// Replace whole.
	rev2, err := c.Set(ctx, "default", "app-settings", []byte(`{"only":true}`), config.Condition{})
	if err != nil || rev2 <= rev {
		t.Fatalf("second Set: %d, %v", rev2, err)
	}
	doc, _ = c.Get(ctx, "", "app-settings")
	if string(doc.Data) != `{"only":true}` || doc.Revision != rev2 {
		t.Errorf("after replace: %s at %d", doc.Data, doc.Revision)
	}
}

func TestDocumentJSON(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	b, _ := json.Marshal(config.Document{Name: "app", Data: json.RawMessage(`{"a":1}`), Revision: 7, UpdatedAt: at})
	if want := `{"name":"app","data":{"a":1},"revision":7,"updatedAt":"2025-01-02T03:04:05Z"}`; string(b) != want {
		t.Errorf("Document JSON\n got %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(config.Summary{Name: "app", Revision: 7, UpdatedAt: at})
	if want := `{"name":"app","revision":7,"updatedAt":"2025-01-02T03:04:05Z"}`; string(b) != want {
		t.Errorf("Summary JSON\n got %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(config.Event{Kind: config.EventDelete, Name: "app", Revision: 8, UpdatedAt: at})
	if want := `{"name":"app","data":null,"revision":8,"updatedAt":"2025-01-02T03:04:05Z"}`; string(b) != want {
		t.Errorf("Event JSON\n got %s\nwant %s", b, want)
	}
}

func TestNotObject(t *testing.T) {
	ctx := ctxT(t)
	c := newConfigs(t)
	for _, tc := range []struct {
		body, msg string
	}{
		{`[1,2]`, "config body must be a JSON object, got array"},
		{` "x"`, "got string"},
		{`12`, "got number"},
		{`-1`, "got number"},
		{`true`, "got boolean"},
		{`null`, "got null"},
		{``, "got an empty body"},
		{" \n\t", "got an empty body"},
		{`{`, "got invalid JSON"},
		{`{"a":}`, "got invalid JSON"},
		{`{"a":1} {"b":2}`, "got invalid JSON"},
		{`{"a":1}x`, "got invalid JSON"},
		{`{"a":1,"a":2}`, `with unique names, got "a" twice`},
		{`{"a":1,"\u0061":2}`, `got "a" twice`},
		{"{\"a\":\"\xff\"}", "got invalid UTF-8"},
	} {
		t.Run(tc.body, func(t *testing.T) {
			_, err := c.Set(ctx, "", "doc", []byte(tc.body), config.Condition{})
			if !errors.Is(err, config.ErrNotObject) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Set: err = %v, want ErrNotObject saying %q", err, tc.msg)
			}
			_, err = c.Patch(ctx, "", "doc", []byte(tc.body), 0)
			if !errors.Is(err, config.ErrNotObject) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Patch: err = %v, want ErrNotObject saying %q", err, tc.msg)
			}
		})
	}
	if _, err := c.Get(ctx, "", "doc"); !errors.Is(err, kv.ErrKeyNotFound) {
		t.Errorf("nothing was written, but Get: %v", err)
	}
	// A nested duplicate is left alone, as JSON parsers read it.
	if _, err := c.Set(ctx, "", "doc", []byte(`{"a":{"b":1,"b":2}}`), config.Condition{}); err != nil {
		t.Errorf("nested duplicate: %v", err)
	}
}

func TestSetConditions(t *testing.T) {
	ctx := ctxT(t)
	c := newConfigs(t)
	create := config.Condition{IfNoneMatch: true}

	if _, err := c.Set(ctx, "", "d", []byte(`{"v":0}`), config.Condition{IfMatch: 5}); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("IfMatch on an absent document: %v", err)
	}
	rev1, err := c.Set(ctx, "", "d", []byte(`{"v":1}`), create)
	if err != nil {
		t.Fatalf("IfNoneMatch on an absent document: %v", err)
	}
	_, err = c.Set(ctx, "", "d", []byte(`{"v":2}`), create)
	var ce *kv.ConflictError
	if !errors.As(err, &ce) || ce.Revision != rev1 {
		t.Fatalf("IfNoneMatch on a live document: %v, want a conflict at revision %d", err, rev1)
	}
	rev2, err := c.Set(ctx, "", "d", []byte(`{"v":3}`), config.Condition{IfMatch: rev1})
	if err != nil {
		t.Fatalf("IfMatch current: %v", err)
	}
	_, err = c.Set(ctx, "", "d", []byte(`{"v":4}`), config.Condition{IfMatch: rev1})
	if !errors.As(err, &ce) || ce.Revision != rev2 || ce.Expected != rev1 {
		t.Fatalf("IfMatch stale: %v, want a conflict from %d at %d", err, rev1, rev2)
	}
	_, err = c.Set(ctx, "", "d", []byte(`{}`), config.Condition{IfNoneMatch: true, IfMatch: rev2})
	if !errors.Is(err, config.ErrInvalidCondition) {
		t.Fatalf("both conditions: %v", err)
	}
	doc, _ := c.Get(ctx, "", "d")
	if string(doc.Data) != `{"v":3}` || doc.Revision != rev2 {
		t.Fatalf("after the failed writes: %s at %d", doc.Data, doc.Revision)
	}
	// A deleted document can be created again, and not updated.
	if err := c.Delete(ctx, "", "d", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set(ctx, "", "d", []byte(`{"v":5}`), config.Condition{IfMatch: rev2}); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("IfMatch on a deleted document: %v", err)
	}
	if _, err := c.Set(ctx, "", "d", []byte(`{"v":6}`), create); err != nil {
		t.Fatalf("IfNoneMatch on a deleted document: %v", err)
	}
}

func TestGetAbsent(t *testing.T) {
	ctx := ctxT(t)
	c := newConfigs(t)
	if _, err := c.Get(ctx, "nobucket", "x"); !errors.Is(err, kv.ErrKeyNotFound) {
		t.Errorf("environment without a bucket: %v", err)
	}
	c.Set(ctx, "", "other", []byte(`{}`), config.Condition{})
	if _, err := c.Get(ctx, "", "x"); !errors.Is(err, kv.ErrKeyNotFound) {
		t.Errorf("absent document: %v", err)
	}
}

func TestList(t *testing.T) {
	ctx := ctxT(t)
	c := newConfigs(t)
	list, err := c.List(ctx, "staging")
	if err != nil || list == nil || len(list) != 0 {
		t.Fatalf("environment without a bucket: %#v, %v", list, err)
	}
	revs := map[string]uint64{}
	for _, name := range []string{"zeta", "alpha", "feature.flags", "mid"} {
		rev, err := c.Set(ctx, "prod", name, []byte(`{"n":"`+name+`"}`), config.Condition{})
		if err != nil {
			t.Fatal(err)
		}
		revs[name] = rev
	}
	c.Set(ctx, "", "in-default", []byte(`{}`), config.Condition{})
	if err := c.Delete(ctx, "prod", "mid", 0); err != nil {
		t.Fatal(err)
	}
	list, err = c.List(ctx, "prod")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range list {
		names = append(names, s.Name)
		if s.Revision != revs[s.Name] || s.UpdatedAt.IsZero() {
			t.Errorf("%s: revision %d (want %d), updatedAt %v", s.Name, s.Revision, revs[s.Name], s.UpdatedAt)
		}
	}
	if want := []string{"alpha", "feature.flags", "zeta"}; !slices.Equal(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
	envs, err := c.Environments(ctx)
	if err != nil || !slices.Equal(envs, []string{"default", "prod"}) {
		t.Errorf("Environments: %v, %v", envs, err)
	}
}

func TestDelete(t *testing.T) {
	ctx := ctxT(t)
	e := newEnv(t)
	c := e.c
	if err := c.Delete(ctx, "nobucket", "x", 0); err != nil {
		t.Errorf("environment without a bucket: %v", err)
	}
	if err := c.Delete(ctx, "nobucket", "x", 3); !errors.Is(err, kv.ErrConflict) {
		t.Errorf("If-Match in an environment without a bucket: %v", err)
	}
	rev, _ := c.Set(ctx, "", "d", []byte(`{"a":1}`), config.Condition{})
	b, err := e.sys.Bucket(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	// Deleting an absent document writes nothing.
	if err := c.Delete(ctx, "", "absent", 0); err != nil {
		t.Fatal(err)
	}
	if last, _ := b.Revision(ctx); last != rev {
		t.Errorf("deleting an absent document wrote revision %d", last)
	}
	if err := c.Delete(ctx, "", "d", rev+10); !errors.Is(err, kv.ErrConflict) {
		t.Errorf("stale If-Match: %v", err)
	}
	if err := c.Delete(ctx, "", "d", rev); err != nil {
		t.Errorf("current If-Match: %v", err)
	}
	if _, err := c.Get(ctx, "", "d"); !errors.Is(err, kv.ErrKeyNotFound) {
		t.Errorf("after Delete: %v", err)
	}
	if err := c.Delete(ctx, "", "d", 0); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	if err := c.Delete(ctx, "", "d", rev); !errors.Is(err, kv.ErrConflict) {
		t.Errorf("If-Match on a deleted document: %v", err)
	}
	// History keeps the deleted revision.
	h, err := b.History(ctx, "d")
	if err != nil || len(h) != 2 || string(h[0].Value) != `{"a":1}` || h[1].Op != kv.OpDelete {
		t.Errorf("history %v, %v", h, err)
	}
}

func TestInvalidNames(t *testing.T) {
	ctx := ctxT(t)
	c := newConfigs(t)
	for _, name := range []string{"", "a/b", "a b", "a:b", ".a", "a.", "a..b", "a*", ">", "é", "a\x00", strings.Repeat("a", 257)} {
		if err := config.ValidateName(name); !errors.Is(err, kv.ErrInvalidKey) {
			t.Errorf("ValidateName(%q) = %v", name, err)
		}
		if _, err := c.Set(ctx, "", name, []byte(`{}`), config.Condition{}); !errors.Is(err, kv.ErrInvalidKey) {
			t.Errorf("Set(%q) = %v", name, err)
		}
		if _, err := c.Get(ctx, "", name); !errors.Is(err, kv.ErrInvalidKey) {
			t.Errorf("Get(%q) = %v", name, err)
		}
		if _, err := c.Patch(ctx, "", name, []byte(`{}`), 0); !errors.Is(err, kv.ErrInvalidKey) {
			t.Errorf("Patch(%q) = %v", name, err)
		}
		if err := c.Delete(ctx, "", name, 0); !errors.Is(err, kv.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v", name, err)
		}
	}
	if err := config.ValidateName("a/b"); err.Error() != `invalid key: config name "a/b": character '/' at byte 1 is not allowed; use [A-Za-z0-9_.-]` {
		t.Errorf("message: %v", err)
	}
	for _, name := range []string{"a", "app-settings", "Feature_Flags.v2", strings.Repeat("a", 256)} {
		if err := config.ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q) = %v", name, err)
		}
	}
	for _, env := range []string{"a.b", "a/b", "SYS_config_x y", strings.Repeat("e", 65)} {
		if _, err := c.Set(ctx, env, "d", []byte(`{}`), config.Condition{}); !errors.Is(err, kv.ErrInvalidBucketName) {
			t.Errorf("Set in environment %q: %v", env, err)
		}
		if _, err := c.List(ctx, env); !errors.Is(err, kv.ErrInvalidBucketName) {
			t.Errorf("List of environment %q: %v", env, err)
		}
		if _, err := c.Watch(ctx, env, ""); !errors.Is(err, kv.ErrInvalidBucketName) {
			t.Errorf("Watch of environment %q: %v", env, err)
		}
	}
}

func TestPatch(t *testing.T) {
	ctx := ctxT(t)
	c := newConfigs(t)
	rev, err := c.Patch(ctx, "", "p", []byte(`{"a":1,"gone":null,"b":{"x":1}}`), 0)
	if err != nil {
		t.Fatalf("Patch creating: %v", err)
	}
	get := func() config.Document {
		t.Helper()
		d, err := c.Get(ctx, "", "p")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := get(); string(d.Data) != `{"a":1,"b":{"x":1}}` || d.Revision != rev {
		t.Fatalf("created %s at %d (Patch said %d)", d.Data, d.Revision, rev)
	}
	rev2, err := c.Patch(ctx, "", "p", []byte(`{"b":{"y":2},"a":null,"c":[1]}`), 0)
	if err != nil || rev2 <= rev {
		t.Fatalf("Patch: %d, %v", rev2, err)
	}
	// b replaced whole (shallow), a removed, c added at the end.
	if d := get(); string(d.Data) != `{"b":{"y":2},"c":[1]}` {
		t.Fatalf("merged %s", d.Data)
	}
	if _, err := c.Patch(ctx, "", "p", []byte(`{"c":2}`), rev); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("stale If-Match: %v", err)
	}
	rev3, err := c.Patch(ctx, "", "p", []byte(`{"c":2}`), rev2)
	if err != nil {
		t.Fatalf("current If-Match: %v", err)
	}
	if d := get(); string(d.Data) != `{"b":{"y":2},"c":2}` || d.Revision != rev3 {
		t.Fatalf("after If-Match patch: %s", d.Data)
	}
	if _, err := c.Patch(ctx, "", "absent", []byte(`{"c":2}`), rev3); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("If-Match on an absent document: %v", err)
	}
	if _, err := c.Get(ctx, "", "absent"); !errors.Is(err, kv.ErrKeyNotFound) {
		t.Fatalf("a failed If-Match patch created the document: %v", err)
	}
	// Patch in an environment that has no bucket creates both.
	if _, err := c.Patch(ctx, "fresh", "p", []byte(`{}`), 0); err != nil {
		t.Fatal(err)
	}
	if d, err := c.Get(ctx, "fresh", "p"); err != nil || string(d.Data) != `{}` {
		t.Fatalf("new environment: %s, %v", d.Data, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Patch(cctx, "", "p", []byte(`{"x":1}`), 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

// Sixteen writers patch different members of one document at once; the
// compare-and-swap retries must lose none of them.
func TestPatchConcurrent(t *testing.T) {
	ctx := ctxT(t)
	c := newConfigs(t)
	const writers, each = 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				body := fmt.Sprintf(`{"w%02d_%02d":%d,"last_w%02d":%d}`, w, i, i, w, i)
				if _, err := c.Patch(ctx, "", "shared", []byte(body), 0); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	d, err := c.Get(ctx, "", "shared")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]int
	if err := json.Unmarshal(d.Data, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != writers*each+writers {
		t.Errorf("%d members, want %d", len(got), writers*each+writers)
	}
	for w := range writers {
		for i := range each {
			if v, ok := got[fmt.Sprintf("w%02d_%02d", w, i)]; !ok || v != i {
				t.Errorf("member w%02d_%02d lost (%d, %v)", w, i, v, ok)
			}
		}
		if v := got[fmt.Sprintf("last_w%02d", w)]; v != each-1 {
			t.Errorf("last_w%02d = %d, want %d", w, v, each-1)
		}
	}
}

// A value written by another NATS client that is not a JSON object is
// reported, never passed on as a document.
func TestStoredNotObject(t *testing.T) {
	ctx := ctxT(t)
	e := newEnv(t)
	e.c.Set(ctx, "", "good", []byte(`{}`), config.Condition{})
	b, err := e.sys.Bucket(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	b.Put(ctx, "bad", []byte(`[1]`))
	_, err = e.c.Get(ctx, "", "bad")
	if err == nil || errors.Is(err, config.ErrNotObject) || errors.Is(err, kv.ErrKeyNotFound) || !strings.Contains(err.Error(), "outside ironkv") {
		t.Errorf("Get: %v", err)
	}
	_, err = e.c.Patch(ctx, "", "bad", []byte(`{"a":1}`), 0)
	if err == nil || errors.Is(err, config.ErrNotObject) {
		t.Errorf("Patch: %v", err)
	}
}

// A bucket deleted under a handle that Configs keeps is created again by
// the next write.
func TestBucketDeletedUnderHandle(t *testing.T) {
	ctx := ctxT(t)
	e := newEnv(t)
	if _, err := e.c.Set(ctx, "", "a", []byte(`{"v":1}`), config.Condition{}); err != nil {
		t.Fatal(err)
	}
	if err := e.sys.DeleteBucket(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Get(ctx, "", "a"); !errors.Is(err, kv.ErrKeyNotFound) {
		t.Errorf("Get after the bucket was deleted: %v", err)
	}
	if _, err := e.c.Set(ctx, "", "a", []byte(`{"v":2}`), config.Condition{}); err != nil {
		t.Fatalf("Set after the bucket was deleted: %v", err)
	}
	if d, err := e.c.Get(ctx, "", "a"); err != nil || string(d.Data) != `{"v":2}` {
		t.Errorf("Get: %s, %v", d.Data, err)
	}
	info, err := e.sys.BucketInfo(ctx, "default")
	if err != nil || info.History != config.History {
		t.Errorf("bucket: history %d, %v", info.History, err)
	}
}

// The SYS_config_ namespace is out of reach of a store of user buckets,
// whatever bucket name it is given, and invisible in its listing.
func TestNamespaceIsolation(t *testing.T) {
	ctx := ctxT(t)
	e := newEnv(t)
	for _, env := range []string{"default", "prod"} {
		if _, err := e.c.Set(ctx, env, "db", []byte(`{"secret-ish":"x"}`), config.Condition{}); err != nil {
			t.Fatal(err)
		}
	}
	if infos, err := e.app.Buckets(ctx); err != nil || len(infos) != 0 {
		t.Fatalf("user listing shows %v, %v", infos, err)
	}
	for _, name := range []string{"default", "prod", "SYS_config_default", "KV_SYS_config_default", "config_default", "_config_default"} {
		if _, err := e.app.Bucket(ctx, name); !errors.Is(err, kv.ErrBucketNotFound) {
			t.Errorf("user store, bucket %q: %v", name, err)
		}
	}
	for _, name := range []string{"../SYS_config_default", "SYS_config_default.db", "$KV.SYS_config_default", "SYS_config_*", ">"} {
		if _, err := e.app.Bucket(ctx, name); !errors.Is(err, kv.ErrInvalidBucketName) {
			t.Errorf("user store, bucket %q: %v", name, err)
		}
	}
	// A user bucket of the same name is another bucket.
	ub := kvtest.NewBucket(t, e.app, bucket.Config{Name: "default"})
	if _, err := ub.Get(ctx, "db"); !errors.Is(err, kv.ErrKeyNotFound) {
		t.Errorf("user bucket default reads the config: %v", err)
	}
	ub.Put(ctx, "db", []byte("user"))
	if d, _ := e.c.Get(ctx, "", "db"); string(d.Data) != `{"secret-ish":"x"}` {
		t.Errorf("config changed by a user write: %s", d.Data)
	}
	if envs, _ := e.c.Environments(ctx); !slices.Equal(envs, []string{"default", "prod"}) {
		t.Errorf("environments %v", envs)
	}
}
