package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ironkv/ironkv/httpapi"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// env is a handler served by httptest: a Handler on a fresh in-process
// store (store and h set), or another handler of the package.
type env struct {
	t      testing.TB
	store  *kv.Store
	h      *httpapi.Handler
	srv    *httptest.Server
	client *http.Client
	// answers, when not nil, gets the header and body of every answer.
	answers *logBuffer
}

// newEnv starts a Handler with opts on a new store, mounted at the root.
func newEnv(t testing.TB, opts ...httpapi.Option) *env {
	t.Helper()
	return newEnvOn(t, kvtest.NewStore(t), opts...)
}

// newEnvOn starts a Handler with opts on store, mounted at the root.
func newEnvOn(t testing.TB, store *kv.Store, opts ...httpapi.Option) *env {
	t.Helper()
	h := httpapi.New(store, opts...)
	e := serveEnv(t, h, h.Close)
	e.store, e.h = store, h
	return e
}

// serveEnv serves h with httptest until the test ends, then calls
// closeHandler (nil for none).
func serveEnv(t testing.TB, h http.Handler, closeHandler func() error) *env {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		if closeHandler == nil {
			return
		}
		if err := closeHandler(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &env{t: t, srv: srv, client: client}
}

// resp is a response with its body read.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request. path is sent as written (percent-encoding and all);
// hdr holds "Name: value" pairs.
func (e *env) do(method, path string, body string, hdr ...string) resp {
	e.t.Helper()
	r, err := e.tryDo(ctxT(e.t), method, path, body, hdr...)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// tryDo is do for goroutines other than the test's: it returns the error.
func (e *env) tryDo(ctx context.Context, method, path string, body string, hdr ...string) (resp, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.srv.URL+path, rd)
	if err != nil {
		return resp{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	for _, h := range hdr {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return resp{}, fmt.Errorf("bad header %q", h)
		}
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	r, err := e.client.Do(req)
	if err != nil {
		return resp{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return resp{}, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	if e.answers != nil {
		_ = r.Header.Write(e.answers)
		_, _ = e.answers.Write(append(b, '\n'))
	}
	return resp{status: r.StatusCode, header: r.Header, body: b}, nil
}

// scenario is one request of a scenario table and what it must get.
type scenario struct {
	name   string
	method string
	path   string
	body   string
	header []string
	status int
	// code is the error code a non-2xx answer must carry.
	code string
	// json holds fields the JSON body must have, compared after a JSON round
	// trip (so 1 matches 1.0, and nested values compare structurally).
	json map[string]any
	// contains is text the error message (or the body) must contain.
	contains string
	// check runs extra assertions.
	check func(t *testing.T, r resp)
}

// run sends the scenarios in order, each as a subtest.
func (e *env) run(t *testing.T, scenarios []scenario) {
	t.Helper()
	parent := e.t
	defer func() { e.t = parent }()
	for _, sc := range scenarios {
		name := sc.name
		if name == "" {
			name = sc.method + " " + sc.path
		}
		t.Run(name, func(t *testing.T) {
			e.t = t
			r := e.do(sc.method, sc.path, sc.body, sc.header...)
			if r.status != sc.status {
				t.Fatalf("%s %s: status %d, want %d; body %s", sc.method, sc.path, r.status, sc.status, r.body)
			}
			if r.status >= 300 && sc.method != http.MethodHead {
				errBody(t, r, sc.code)
			}
			if len(sc.json) > 0 {
				jsonHas(t, r.body, sc.json)
			}
			if sc.contains != "" && !bytes.Contains(r.body, []byte(sc.contains)) {
				t.Errorf("body %s does not contain %q", r.body, sc.contains)
			}
			if sc.check != nil {
				sc.check(t, r)
			}
		})
	}
}

// errBody checks that r carries the JSON error body of the API with code
// (any code when code is ""), and returns it.
func errBody(t testing.TB, r resp, code string) map[string]any {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q, want application/json; body %s", ct, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, r.body)
	}
	msg, _ := m["message"].(string)
	if msg == "" || m["error"] != msg {
		t.Errorf("error body %s: want equal non-empty error and message", r.body)
	}
	c, _ := m["code"].(string)
	if c == "" || (code != "" && c != code) {
		t.Errorf("error code %q, want %q; body %s", c, code, r.body)
	}
	return m
}

// jsonHas checks that the JSON object body has the fields of want.
func jsonHas(t testing.TB, body []byte, want map[string]any) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, body)
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("body %s: no field %q", body, k)
			continue
		}
		if !reflect.DeepEqual(g, roundTrip(t, w)) {
			t.Errorf("body field %q = %#v, want %#v", k, g, w)
		}
	}
}

func roundTrip(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// decode unmarshals a JSON body into v.
func decode(t testing.TB, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

// entryBody is the JSON of an entry as clients decode it.
type entryBody struct {
	Key       string  `json:"key"`
	Value     *[]byte `json:"value"`
	Revision  uint64  `json:"revision"`
	CreatedAt string  `json:"created_at"`
	Operation string  `json:"operation"`
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
