package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/config"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/httpapi"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
)

// configsOn returns Configs on a store of the SysConfig namespace on srv.
func configsOn(t testing.TB, srv *embedded.Server) *config.Configs {
	t.Helper()
	c, err := config.New(kvtest.StoreOn(t, srv, kv.WithNamespace(bucket.SysConfig), kv.WithDefaultStorage(bucket.MemoryStorage)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// configEnv is a ConfigHandler served by httptest on a fresh server.
type configEnv struct {
	*env
	configs *config.Configs
	h       *httpapi.ConfigHandler
}

// newConfigEnv serves a ConfigHandler with opts on a fresh server.
func newConfigEnv(t testing.TB, opts ...httpapi.Option) configEnv {
	t.Helper()
	c := configsOn(t, kvtest.NewServer(t, embedded.Config{InMemory: true}))
	h := httpapi.NewConfig(c, opts...)
	return configEnv{serveEnv(t, h, h.Close), c, h}
}

func TestConfigRoutes(t *testing.T) {
	e := newConfigEnv(t, httpapi.WithMaxBodyBytes(1024))
	etagIs := func(want string) func(t *testing.T, r resp) {
		return func(t *testing.T, r resp) {
			t.Helper()
			if got := r.header.Get("ETag"); got != want {
				t.Errorf("ETag %q, want %q", got, want)
			}
		}
	}
	names := func(want ...string) func(t *testing.T, r resp) {
		return func(t *testing.T, r resp) {
			t.Helper()
			var got struct {
				Configs []struct {
					Name      string    `json:"name"`
					Revision  uint64    `json:"revision"`
					UpdatedAt time.Time `json:"updatedAt"`
				} `json:"configs"`
			}
			decode(t, r.body, &got)
			if got.Configs == nil {
				t.Fatalf("configs is null or absent: %s", r.body)
			}
			var ns []string
			for _, c := range got.Configs {
				if c.Revision == 0 || c.UpdatedAt.IsZero() {
					t.Errorf("summary without revision or updatedAt: %s", r.body)
				}
				ns = append(ns, c.Name)
			}
			if strings.Join(ns, ",") != strings.Join(want, ",") {
				t.Errorf("configs %v, want %v", ns, want)
			}
		}
	}
	const prod = "X-Ironflow-Environment: prod"
	e.run(t, []scenario{
		{method: "GET", path: "/config", status: 200, check: names()},
		{method: "GET", path: "/config/app", status: 404, code: "key_not_found", contains: `config \"app\" not found in environment \"default\"`},
		{name: "create keeps every digit", method: "POST", path: "/config/app", body: `{"theme":"dark", "n":12345678901234567890, "f":1.10}`,
			status: 200, json: map[string]any{"name": "app", "revision": 1}, check: etagIs(`"1"`)},
		{method: "GET", path: "/config/app", status: 200, json: map[string]any{"name": "app", "revision": 1},
			contains: `"data":{"theme":"dark","n":12345678901234567890,"f":1.10}`,
			check: func(t *testing.T, r resp) {
				etagIs(`"1"`)(t, r)
				var d struct{ UpdatedAt time.Time }
				decode(t, r.body, &d)
				if d.UpdatedAt.IsZero() || time.Since(d.UpdatedAt) > time.Hour {
					t.Errorf("updatedAt %v", d.UpdatedAt)
				}
			}},
		{name: "create of an existing config", method: "POST", path: "/config/app", body: `{}`, header: []string{"If-None-Match: *"},
			status: 412, code: "conflict", json: map[string]any{"revision": 1}},
		{name: "replace of a stale revision", method: "POST", path: "/config/app", body: `{}`, header: []string{"If-Match: 7"},
			status: 412, code: "conflict", contains: "its current revision is 1"},
		{name: "replace of the current revision", method: "POST", path: "/config/app", body: `{"theme":"light"}`, header: []string{`If-Match: "1"`},
			status: 200, json: map[string]any{"name": "app", "revision": 2}},
		{method: "POST", path: "/config/app", body: `[1]`, status: 400, code: "invalid_argument", contains: "config body must be a JSON object, got array"},
		{method: "POST", path: "/config/app", body: ``, status: 400, code: "invalid_argument", contains: "config body must be a JSON object"},
		{method: "POST", path: "/config/app", body: `{"a":1,"a":2}`, status: 400, code: "invalid_argument"},
		{method: "POST", path: "/config/app", body: `{}`, header: []string{"If-Match: 1", "If-None-Match: *"}, status: 400, code: "invalid_argument"},
		{method: "POST", path: "/config/app", body: `{"big":"` + strings.Repeat("x", 1100) + `"}`, status: 413, code: "too_large"},
		{name: "patch merges the top level", method: "PATCH", path: "/config/app", body: `{"beta":true,"theme":null}`,
			status: 200, json: map[string]any{"name": "app", "revision": 3}},
		{method: "GET", path: "/config/app", status: 200, contains: `"data":{"beta":true}`},
		{name: "patch creates", method: "PATCH", path: "/config/flags", body: `{"a":1,"gone":null}`, status: 200, json: map[string]any{"name": "flags"}},
		{method: "GET", path: "/config/flags", status: 200, contains: `"data":{"a":1}`},
		{name: "patch of a stale revision", method: "PATCH", path: "/config/app", body: `{"x":1}`, header: []string{"If-Match: 1"},
			status: 412, code: "conflict"},
		{method: "PATCH", path: "/config/app", body: `{"x":1}`, header: []string{"If-None-Match: *"}, status: 400, code: "invalid_argument"},
		{method: "PATCH", path: "/config/app", body: `"x"`, status: 400, code: "invalid_argument", contains: "config body must be a JSON object"},
		{method: "GET", path: "/config", status: 200, check: names("app", "flags")},
		{name: "delete of a stale revision", method: "DELETE", path: "/config/app", header: []string{"If-Match: 1"}, status: 412, code: "conflict"},
		{method: "DELETE", path: "/config/app", status: 204},
		{name: "delete again", method: "DELETE", path: "/config/app", status: 204},
		{name: "delete of a config that never was", method: "DELETE", path: "/config/never", status: 204},
		{method: "GET", path: "/config/app", status: 404, code: "key_not_found"},
		{method: "GET", path: "/config", status: 200, check: names("flags")},
		{name: "create after a delete", method: "POST", path: "/config/app", body: `{"v":2}`, header: []string{"If-None-Match: *"}, status: 200},

		// Environments are separate.
		{name: "prod is empty", method: "GET", path: "/config", header: []string{prod}, status: 200, check: names()},
		{name: "prod create", method: "POST", path: "/config/app", body: `{"env":"prod"}`, header: []string{prod}, status: 200},
		{name: "prod read", method: "GET", path: "/config/app", header: []string{prod}, status: 200, contains: `"data":{"env":"prod"}`},
		{name: "default unchanged", method: "GET", path: "/config/app", status: 200, contains: `"data":{"v":2}`},
		{name: "explicit default", method: "GET", path: "/config/app", header: []string{"X-Ironflow-Environment: default"}, status: 200, contains: `"data":{"v":2}`},

		// Bad environments, names and routes.
		{method: "GET", path: "/config", header: []string{"X-Ironflow-Environment: bad env"}, status: 400, code: "invalid_argument", contains: "X-Ironflow-Environment"},
		{method: "GET", path: "/config/app", header: []string{"X-Ironflow-Environment: a.b"}, status: 400, code: "invalid_argument"},
		{method: "POST", path: "/config/app", body: `{}`, header: []string{"X-Ironflow-Environment: " + strings.Repeat("e", 65)}, status: 400, code: "invalid_argument"},
		{method: "DELETE", path: "/config/app", header: []string{"X-Ironflow-Environment: a", "X-Ironflow-Environment: b"}, status: 400, code: "invalid_argument"},
		{method: "GET", path: "/config/a%2Fb", status: 400, code: "invalid_argument"},
		{method: "POST", path: "/config/a..b", body: `{}`, status: 400, code: "invalid_argument"},
		{method: "PATCH", path: "/config/a%20b", body: `{}`, status: 400, code: "invalid_argument"},
		{method: "DELETE", path: "/config/" + strings.Repeat("n", 257), status: 400, code: "invalid_argument"},
		{method: "GET", path: "/config/a/../b", status: 400, code: "invalid_argument"},
		{method: "PUT", path: "/config/app", body: `{}`, status: 405, code: "method_not_allowed",
			check: func(t *testing.T, r resp) {
				if a := r.header.Get("Allow"); a != "GET, HEAD, POST, PATCH, DELETE" {
					t.Errorf("Allow %q", a)
				}
			}},
		{method: "DELETE", path: "/config", status: 405, code: "method_not_allowed"},
		{method: "POST", path: "/config/app/watch", status: 405, code: "method_not_allowed"},
		{method: "GET", path: "/config/app/watch", status: 426, code: "invalid_argument"},
		{method: "GET", path: "/config/a/b", status: 404, code: "not_found"},
		{method: "GET", path: "/buckets", status: 404, code: "not_found"},
		{method: "HEAD", path: "/config/flags", status: 200},
	})
}

func TestConfigAuthAndOrigins(t *testing.T) {
	e := newConfigEnv(t, httpapi.WithAPIKeys("k1"))
	e.run(t, []scenario{
		{method: "GET", path: "/config", status: 401, code: "unauthorized"},
		{method: "POST", path: "/config/app?token=k1", body: `{}`, status: 401, code: "unauthorized"},
		{method: "GET", path: "/config/app/watch", status: 401, code: "unauthorized"},
		{method: "POST", path: "/config/app", body: `{}`, header: []string{"Authorization: Bearer k1"}, status: 200},
		{method: "GET", path: "/config/app", header: []string{"Authorization: Bearer k1", "Origin: https://evil.example"}, status: 403, code: "forbidden"},
		{name: "preflight of a PATCH", method: "OPTIONS", path: "/config/app",
			header: []string{"Origin: http://localhost:3000", "Access-Control-Request-Method: PATCH", "Access-Control-Request-Headers: authorization, x-ironflow-environment"},
			status: 204, check: func(t *testing.T, r resp) {
				if m := r.header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "PATCH") {
					t.Errorf("Access-Control-Allow-Methods %q lacks PATCH", m)
				}
				if h := r.header.Get("Access-Control-Allow-Headers"); !strings.Contains(h, "x-ironflow-environment") {
					t.Errorf("Access-Control-Allow-Headers %q", h)
				}
			}},
	})
}

// TestConfigPatchConcurrent patches different members of one document
// from 16 clients at once: every member lands.
func TestConfigPatchConcurrent(t *testing.T) {
	e := newConfigEnv(t)
	c := e.configs
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.tryDo(ctxT(t), "PATCH", "/config/shared", fmt.Sprintf(`{"f%d":%d}`, i, i))
			if err == nil && r.status != 200 {
				err = fmt.Errorf("patch %d: %d %s", i, r.status, r.body)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	doc, err := c.Get(ctxT(t), "", "shared")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]int
	if err := json.Unmarshal(doc.Data, &m); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if v, ok := m[fmt.Sprintf("f%d", i)]; !ok || v != i {
			t.Errorf("member f%d = %d, %v in %s", i, v, ok, doc.Data)
		}
	}
}

// configFrame is a config watch frame as clients decode it.
type configFrame struct {
	Type      string          `json:"type"`
	Name      string          `json:"name"`
	Data      json.RawMessage `json:"data"`
	Revision  uint64          `json:"revision"`
	UpdatedAt time.Time       `json:"updatedAt"`
	Message   string          `json:"message"`
}

func readConfigFrame(t testing.TB, c *websocket.Conn) (configFrame, string) {
	t.Helper()
	b := readWS(t, c)
	var f configFrame
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("frame %s: %v", b, err)
	}
	return f, string(b)
}

func TestConfigWatch(t *testing.T) {
	var obs watchCounter
	e := newConfigEnv(t, httpapi.WithObserver(&obs))
	c := e.configs
	ctx := ctxT(t)
	if _, err := c.Set(ctx, "", "app", []byte(`{"before":true}`), config.Condition{}); err != nil {
		t.Fatal(err)
	}
	ws := e.ws(t, "/config/app/watch")
	prod := e.ws(t, "/config/app/watch", "X-Ironflow-Environment: prod")
	obs.waitOpen(t, 2)

	// Updates only: the document as it was is not sent; writes to other
	// documents and environments are not either.
	e.run(t, []scenario{
		{method: "POST", path: "/config/other", body: `{"x":1}`, status: 200},
		{method: "POST", path: "/config/app", body: `{"x":1}`, header: []string{"X-Ironflow-Environment: staging"}, status: 200},
		{method: "POST", path: "/config/app", body: `{"theme":"dark"}`, status: 200},
		{method: "PATCH", path: "/config/app", body: `{"beta":true}`, status: 200},
		{method: "DELETE", path: "/config/app", status: 204},
		{method: "POST", path: "/config/app", body: `{"p":1}`, header: []string{"X-Ironflow-Environment: prod"}, status: 200},
	})
	for _, want := range []struct {
		data string
		rev  uint64
	}{{`{"theme":"dark"}`, 3}, {`{"theme":"dark","beta":true}`, 4}, {`null`, 5}} {
		f, raw := readConfigFrame(t, ws)
		if f.Type != "config_update" || f.Name != "app" || string(f.Data) != want.data || f.Revision != want.rev || f.UpdatedAt.IsZero() {
			t.Fatalf("frame %s, want data %s at revision %d", raw, want.data, want.rev)
		}
		if !strings.HasPrefix(raw, `{"type":"config_update","name":"app","data":`+want.data+`,"revision":`) || !strings.Contains(raw, `"updatedAt":"`) {
			t.Fatalf("frame %s: not in the wire order of Ironflow's config_update", raw)
		}
	}
	if f, raw := readConfigFrame(t, prod); f.Name != "app" || string(f.Data) != `{"p":1}` || f.Revision != 1 {
		t.Fatalf("prod frame %s", raw)
	}

	// Bad input is refused before the upgrade.
	for _, tt := range []struct {
		path   string
		hdr    []string
		status int
	}{
		{"/config/a..b/watch", nil, 400},
		{"/config/app/watch", []string{"X-Ironflow-Environment: no way"}, 400},
		{"/config/app/watch", []string{"Origin: https://evil.example"}, 403},
	} {
		if _, r, err := e.dialWS(ctx, tt.path, tt.hdr...); err == nil || r.status != tt.status {
			t.Errorf("dial %s %v: %v, status %d, want %d", tt.path, tt.hdr, err, r.status, tt.status)
		}
	}

	// Close ends the watches with 1001.
	closed := make(chan error, 1)
	go func() { closed <- e.h.Close() }()
	for _, conn := range []*websocket.Conn{ws, prod} {
		if f, raw := readConfigFrame(t, conn); f.Type != "error" || f.Message != "server shutting down" {
			t.Fatalf("frame %s, want the shutdown error", raw)
		}
		wantClose(t, conn, websocket.StatusGoingAway, "server shutting down")
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	obs.waitOpen(t, 0)
	e.run(t, []scenario{{method: "GET", path: "/config", status: 503, code: "unavailable"}})
}

// FuzzConfigHandler drives the Config handler with random methods, paths,
// headers and bodies: it must never panic, redirect or answer 5xx, and
// every error must carry the JSON error body.
func FuzzConfigHandler(f *testing.F) {
	c := configsOn(f, kvtest.NewServer(f, embedded.Config{InMemory: true}))
	var logs logBuffer
	h := httpapi.NewConfig(c, httpapi.WithMaxBodyBytes(4096), httpapi.WithAPIKeys("k1"),
		httpapi.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	f.Cleanup(func() { _ = h.Close() })
	if _, err := c.Set(context.Background(), "", "app", []byte(`{"a":1}`), config.Condition{}); err != nil {
		f.Fatal(err)
	}
	const auth = "Authorization: Bearer k1\n"
	for _, s := range []struct{ method, path, headers, body string }{
		{"GET", "/config", auth, ""},
		{"GET", "/config", auth + "X-Ironflow-Environment: prod\n", ""},
		{"GET", "/config/app", auth, ""},
		{"POST", "/config/app", auth + "If-Match: 1\n", `{"a":2}`},
		{"POST", "/config/new", auth + "If-None-Match: *\n", `{"n":[1,{"x":null}]}`},
		{"POST", "/config/app", auth, `[1,2]`},
		{"PATCH", "/config/app", auth, `{"a":null,"b":"\u00e9"}`},
		{"PATCH", "/config/app", auth + "If-Match: \"9\"\n", `{}`},
		{"DELETE", "/config/app", auth + "If-Match: 2\n", ""},
		{"DELETE", "/config/gone", auth + "X-Ironflow-Environment: e-1\n", ""},
		{"GET", "/config/app/watch", auth, ""},
		{"GET", "/config/app/watch?token=k1", "Connection: Upgrade\nUpgrade: websocket\nSec-WebSocket-Version: 13\n", ""},
		{"PUT", "/config/app", auth, "{}"},
		{"OPTIONS", "/config/app", "Origin: http://localhost:1\nAccess-Control-Request-Method: PATCH\n", ""},
		{"POST", "/config/a%2Fb", auth + "X-Ironflow-Environment: ../x\n", "{"},
	} {
		f.Add(s.method, s.path, s.headers, []byte(s.body), false)
	}
	f.Fuzz(func(t *testing.T, method, path, headers string, body []byte, chunked bool) {
		fuzzServe(t, h, &logs, method, path, headers, body, chunked)
	})
}

var _ http.Handler = (*httpapi.ConfigHandler)(nil)

// ExampleNewConfig mounts the Config API under /api/v1, as the server
// binary does, and writes, patches and reads a settings document.
func ExampleNewConfig() {
	ctx := context.Background()
	srv, err := embedded.Start(ctx, embedded.Config{InMemory: true})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(ctx)
	nc, err := srv.Connect()
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	store, err := kv.New(nc, kv.WithNamespace(bucket.SysConfig), kv.WithDefaultStorage(bucket.MemoryStorage))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	configs, err := config.New(store)
	if err != nil {
		log.Fatal(err)
	}

	api := httpapi.NewConfig(configs)
	defer api.Close()
	mux := http.NewServeMux()
	mux.Handle("/api/v1/config", http.StripPrefix("/api/v1", api))
	mux.Handle("/api/v1/config/", http.StripPrefix("/api/v1", api))
	ts := httptest.NewServer(mux)
	defer ts.Close()

	call := func(method, path, body string) {
		req, err := http.NewRequestWithContext(ctx, method, ts.URL+"/api/v1/config"+path, strings.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		req.Header.Set("X-Ironflow-Environment", "prod")
		resp, err := ts.Client().Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		var doc struct {
			Name     string          `json:"name"`
			Data     json.RawMessage `json:"data"`
			Revision uint64          `json:"revision"`
			Error    string          `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&doc)
		switch {
		case doc.Error != "":
			fmt.Println(method, resp.StatusCode, doc.Error)
		case doc.Data != nil:
			fmt.Println(method, resp.StatusCode, doc.Name, doc.Revision, string(doc.Data))
		default:
			fmt.Println(method, resp.StatusCode, doc.Name, doc.Revision)
		}
	}
	call("POST", "/app-settings", `{"theme":"dark"}`)
	call("PATCH", "/app-settings", `{"beta":true}`)
	call("GET", "/app-settings", "")
	call("POST", "/app-settings", `["not","an","object"]`)

	// Output:
	// POST 200 app-settings 1
	// PATCH 200 app-settings 2
	// GET 200 app-settings 2 {"theme":"dark","beta":true}
	// POST 400 config body must be a JSON object, got array
}
