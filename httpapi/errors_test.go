package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/httpapi"
	"github.com/ironkv/ironkv/kvtest"
)

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func TestInternalErrors(t *testing.T) {
	var logs logBuffer
	e := newEnv(t, httpapi.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	e.h.HandleTest("GET /test/error", func(w http.ResponseWriter, r *http.Request) error {
		return errors.New("secret detail: disk on fire")
	})
	e.h.HandleTest("GET /test/panic", func(w http.ResponseWriter, r *http.Request) error {
		panic("kaboom")
	})
	e.h.HandleTest("GET /test/panic-after-write", func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("partial"))
		panic("late kaboom")
	})

	internal := func(detail string) func(t *testing.T, r resp) {
		return func(t *testing.T, r resp) {
			t.Helper()
			m := errBody(t, r, "internal")
			id, _ := m["request_id"].(string)
			if id == "" || r.header.Get("X-Request-Id") != id {
				t.Fatalf("request id %q, header %q", id, r.header.Get("X-Request-Id"))
			}
			if strings.Contains(string(r.body), detail) {
				t.Fatalf("the cause leaked to the client: %s", r.body)
			}
			if !strings.Contains(m["message"].(string), id) {
				t.Fatalf("message %q does not name the request id", m["message"])
			}
			log := logs.String()
			if !strings.Contains(log, id) || !strings.Contains(log, detail) {
				t.Fatalf("log lacks request id %q or cause %q:\n%s", id, detail, log)
			}
		}
	}
	e.run(t, []scenario{
		{name: "unknown error", method: "GET", path: "/test/error", status: 500, code: "internal", check: internal("disk on fire")},
		{name: "panic", method: "GET", path: "/test/panic", status: 500, code: "internal", check: internal("kaboom")},
		{name: "client's request id is used", method: "GET", path: "/test/error", header: []string{"X-Request-Id: abc-123"},
			status: 500, code: "internal", json: map[string]any{"request_id": "abc-123"}},
		{name: "insane request id is replaced", method: "GET", path: "/test/error", header: []string{"X-Request-Id: a b"},
			status: 500, code: "internal", check: func(t *testing.T, r resp) {
				if m := errBody(t, r, "internal"); m["request_id"] == "a b" {
					t.Fatal("request id taken as given")
				}
			}},
		{name: "the handler still works", method: "GET", path: "/buckets", status: 200},
	})
	if !strings.Contains(logs.String(), "goroutine") {
		t.Errorf("panic logged without a stack:\n%s", logs.String())
	}

	// A panic after the answer started cuts the connection.
	req, err := http.NewRequestWithContext(ctxT(t), "GET", e.srv.URL+"/test/panic-after-write", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := e.client.Do(req); err == nil {
		var b bytes.Buffer
		_, rerr := b.ReadFrom(r.Body)
		r.Body.Close()
		if rerr == nil {
			t.Fatalf("a panic after the header gave a clean answer: %d %q", r.StatusCode, b.String())
		}
	}
}

func TestClientGone(t *testing.T) {
	store := kvtest.NewStore(t)
	h := httpapi.New(store)
	t.Cleanup(func() { _ = h.Close() })
	kvtest.NewBucket(t, store, bucket.Config{Name: "gone"})
	for _, path := range []string{"/buckets/gone/keys/k", "/buckets", "/buckets/gone"} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req := httptest.NewRequestWithContext(ctx, "GET", path, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 499 || rec.Body.Len() != 0 {
			t.Fatalf("GET %s with the client gone: %d %q, want 499 and no body", path, rec.Code, rec.Body.String())
		}
	}
}

func TestClose(t *testing.T) {
	e := newEnv(t)
	e.run(t, []scenario{{method: "GET", path: "/buckets", status: 200}})
	for i := 0; i < 2; i++ {
		if err := e.h.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	e.run(t, []scenario{{method: "GET", path: "/buckets", status: 503, code: "unavailable"}})
}

// observed is one ObserveRequest call.
type observed struct {
	route  string
	status int
}

// recorder is an Observer that hands each call to the test.
type recorder struct{ ch chan observed }

func (r *recorder) ObserveRequest(route string, status int, d time.Duration) {
	if d <= 0 {
		panic(fmt.Sprintf("duration %v", d))
	}
	r.ch <- observed{route, status}
}

// next waits for the next call.
func (r *recorder) next(t *testing.T) observed {
	t.Helper()
	select {
	case o := <-r.ch:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("no ObserveRequest call")
		return observed{}
	}
}

func TestObserver(t *testing.T) {
	rec := &recorder{ch: make(chan observed, 100)}
	e := newEnv(t, httpapi.WithObserver(rec), httpapi.WithAPIKeys("k"))
	auth := "Authorization: Bearer k"
	for _, tc := range []struct {
		method, path, body string
		header             []string
		want               observed
	}{
		{"POST", "/buckets", `{"name":"o"}`, []string{auth}, observed{"POST /buckets", 201}},
		{"PUT", "/buckets/o/keys/a/b", "v", []string{auth}, observed{"PUT /buckets/{b}/keys/{key...}", 200}},
		{"GET", "/buckets/o/keys/a%2Fb", "", []string{auth}, observed{"GET /buckets/{b}/keys/{key...}", 200}},
		{"HEAD", "/buckets/o/keys/a%2Fb", "", []string{auth}, observed{"GET /buckets/{b}/keys/{key...}", 200}},
		{"GET", "/buckets/o/keys/zz", "", []string{auth}, observed{"GET /buckets/{b}/keys/{key...}", 404}},
		{"DELETE", "/buckets/o/keys/zz", "", []string{auth}, observed{"DELETE /buckets/{b}/keys/{key...}", 204}},
		{"GET", "/buckets/o/keys", "", nil, observed{"GET /buckets/{b}/keys", 401}},
		{"POST", "/buckets/o", "", []string{auth}, observed{"/buckets/{b}", 405}},
		{"GET", "/elsewhere", "", []string{auth}, observed{"unmatched", 404}},
		{"GET", "//buckets", "", []string{auth}, observed{"unmatched", 400}},
		{"OPTIONS", "/buckets", "", preflight("http://localhost:1"), observed{"preflight", 204}},
		{"OPTIONS", "/buckets", "", preflight("https://evil.example"), observed{"unmatched", 403}},
	} {
		r := e.do(tc.method, tc.path, tc.body, tc.header...)
		if got := rec.next(t); got != tc.want || r.status != tc.want.status {
			t.Errorf("%s %s: observed %+v (answer %d), want %+v", tc.method, tc.path, got, r.status, tc.want)
		}
	}
}
