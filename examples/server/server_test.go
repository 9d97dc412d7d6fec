package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kvtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The "listening" log line, in the default text format.
var (
	listeningRE = regexp.MustCompile(`\bmsg=listening\b.*\baddr=(\S+)`)
	natsURLRE   = regexp.MustCompile(`\bnats_url=(\S+)`)
)

// listening is what the "listening" log line says.
type listening struct {
	addr    string // HTTP host:port
	natsURL string // "" without -nats-listen
}

// parseListening returns what line says when it is the "listening" line.
func parseListening(line string) (listening, bool) {
	m := listeningRE.FindStringSubmatch(line)
	if m == nil {
		return listening{}, false
	}
	l := listening{addr: m[1]}
	if m := natsURLRE.FindStringSubmatch(line); m != nil {
		l.natsURL = m[1]
	}
	return l, true
}

// logSink collects log output and reports the "listening" line.
type logSink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte
	once    sync.Once
	ready   chan listening
}

func newLogSink() *logSink { return &logSink{ready: make(chan listening, 1)} }

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.line(string(s.partial[:i]))
		s.partial = s.partial[i+1:]
	}
	return len(p), nil
}

func (s *logSink) line(l string) {
	if got, ok := parseListening(l); ok {
		s.once.Do(func() { s.ready <- got })
	}
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// startRun runs the server in process with cfg and returns its HTTP base
// URL. The server stops, and must return nil, when the test ends.
func startRun(t *testing.T, cfg Config) string {
	t.Helper()
	return start(t, cfg).base
}

// running is a server that start runs in process.
type running struct {
	base   string // HTTP base URL
	listen listening
	logs   *logSink
	// stop stops the server and checks that run returned nil; the test's
	// cleanup calls it too. It is idempotent.
	stop func()
}

// start runs the server in process with cfg, logging at debug level to a
// sink, and returns once it listens.
func start(t *testing.T, cfg Config) *running {
	t.Helper()
	sink := newLogSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, newLogger(sink, "text", slog.LevelDebug)) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("run did not return after cancel")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", sink)
		}
	}
	t.Cleanup(stop)
	select {
	case l := <-sink.ready:
		return &running{base: "http://" + l.addr, listen: l, logs: sink, stop: stop}
	case err := <-done:
		stopped = true
		t.Fatalf("run returned before listening: %v\n%s", err, sink)
	case <-time.After(30 * time.Second):
		t.Fatalf("no listening line after 30s:\n%s", sink)
	}
	return nil
}

// testClient returns an HTTP client whose idle connections are closed when
// the test ends.
func testClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport: tr,
		Timeout:   15 * time.Second,
		// Fail on a redirect instead of following it: no route of the
		// server redirects.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// call sends one request and returns the status and body.
func call(t *testing.T, c *http.Client, method, url, body string, header ...string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, b
}

// waitReady polls /ready until it answers 200, for at most d.
func waitReady(t *testing.T, c *http.Client, base string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := c.Get(base + "/ready")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = &readyError{resp.StatusCode, string(body)}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/ready not 200 after %v: %v", base, d, err)
		}
		<-tick.C
	}
}

type readyError struct {
	status int
	body   string
}

func (e *readyError) Error() string { return http.StatusText(e.status) + ": " + e.body }

func TestRunServesOwnRoutes(t *testing.T) {
	base := startRun(t, Config{
		Listen:          "127.0.0.1:0",
		Memory:          true,
		LogFormat:       "text",
		ShutdownTimeout: 10 * time.Second,
	})
	c := testClient(t)
	waitReady(t, c, base, 10*time.Second)

	tests := []struct {
		method, path string
		status       int
		contains     []string
		header       map[string]string
	}{
		{"GET", "/health", 200, []string{`{"status":"ok"}`}, map[string]string{"Content-Type": "application/json"}},
		{"HEAD", "/health", 200, nil, nil},
		{"GET", "/ready", 200, []string{`"status":"ready"`}, nil},
		{"GET", "/", 200, []string{"ironkv", `name="ironkv-api"`}, map[string]string{"Content-Type": "text/html; charset=utf-8"}},
		{"POST", "/", 405, nil, map[string]string{"Allow": "GET, HEAD"}},
		{"GET", "/nothing-here", 404, nil, nil},
		{"POST", "/health", 404, nil, nil},
		{"GET", "/api/v1/kv/buckets", 200, []string{`"buckets":[]`, `"count":0`}, nil},
		// API paths are never cleaned or redirected by the outer mux.
		{"GET", "/api/v1/kv/../../health", 0, nil, nil},
		{"GET", "/api/v1/kv//buckets", 0, nil, nil},
		// An escaped slash does not end the prefix.
		{"GET", "/api/v1/kv%2Fbuckets", 404, nil, nil},
		// The Config and Secrets APIs, the latter without a master key.
		{"GET", "/api/v1/config", 200, []string{`{"configs":[]}`}, nil},
		{"GET", "/api/v1/config/", 404, []string{`"code":"not_found"`}, nil},
		{"GET", "/api/v1/config/../kv/buckets", 0, nil, nil},
		{"GET", "/api/v1/configs", 404, nil, nil},
		{"GET", "/api/v1/secrets", 503, []string{`"code":"no_master_key"`}, nil},
		{"GET", "/api/v1/secrets/a//b", 0, nil, nil},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, base+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(tt.path, "..") {
			req.URL.Opaque = tt.path // keep the dots: the client would clean them
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.method, tt.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case tt.status != 0 && resp.StatusCode != tt.status:
			t.Errorf("%s %s = %d, want %d: %s", tt.method, tt.path, resp.StatusCode, tt.status, body)
		case tt.status == 0 && (resp.StatusCode < 400 || resp.StatusCode >= 500):
			t.Errorf("%s %s = %d, want a 4xx (never a redirect or the route it leads to): %s", tt.method, tt.path, resp.StatusCode, body)
		}
		for _, w := range tt.contains {
			if !bytes.Contains(body, []byte(w)) {
				t.Errorf("%s %s body lacks %q: %s", tt.method, tt.path, w, body)
			}
		}
		for k, v := range tt.header {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s %s header %s = %q, want %q", tt.method, tt.path, k, got, v)
			}
		}
	}

	status, body := call(t, c, "GET", base+"/metrics", "")
	if status != 200 {
		t.Fatalf("GET /metrics = %d", status)
	}
	for _, want := range []string{
		`ironkv_http_requests_total{route="GET /buckets",status="200"} 1`,
		`ironkv_http_requests_total{route="GET /health",status="200"} 2`,
		`ironkv_http_requests_total{route="/",status="404"} 4`,
		`ironkv_http_request_duration_seconds_bucket{route="GET /buckets",status="200",le="+Inf"} 1`,
		"ironkv_nats_connected 1",
		"ironkv_nats_reconnects_total 0",
		"ironkv_watch_clients 0",
		"go_goroutines ",
		"process_start_time_seconds ",
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestRunRemoteReadiness runs the server on a remote NATS server and checks
// that /ready reports the loss of that server with 503 and a reason, while
// /health stays 200.
func TestRunRemoteReadiness(t *testing.T) {
	ctx := context.Background()
	nsrv, err := embedded.Start(ctx, embedded.Config{InMemory: true, ClientListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	shutdownNATS := func() {
		once.Do(func() {
			if err := nsrv.Shutdown(ctx); err != nil {
				t.Errorf("shut down NATS: %v", err)
			}
		})
	}
	t.Cleanup(shutdownNATS) // after the server's own cleanup, which runs first

	base := startRun(t, Config{
		Listen:          "127.0.0.1:0",
		NATSURLs:        []string{nsrv.ClientURL()},
		LogFormat:       "text",
		ShutdownTimeout: 10 * time.Second,
	})
	c := testClient(t)
	waitReady(t, c, base, 10*time.Second)
	if status, body := call(t, c, "POST", base+"/api/v1/kv/buckets", `{"name":"remote","storage":"memory"}`); status != http.StatusCreated {
		t.Fatalf("create bucket = %d: %s", status, body)
	}

	shutdownNATS()
	var last string
	kvtest.Eventually(t, 10*time.Second, "/ready turns 503", func() bool {
		status, body := call(t, c, "GET", base+"/ready", "")
		last = string(body)
		return status == http.StatusServiceUnavailable
	})
	var got struct{ Status, Reason string }
	if err := json.Unmarshal([]byte(last), &got); err != nil || got.Status != "unavailable" || got.Reason == "" {
		t.Errorf("/ready body = %s, want status unavailable with a reason", last)
	}
	if status, _ := call(t, c, "GET", base+"/health", ""); status != http.StatusOK {
		t.Errorf("/health = %d without NATS, want 200", status)
	}
	status, body := call(t, c, "GET", base+"/metrics", "")
	if status != 200 || !bytes.Contains(body, []byte("ironkv_nats_connected 0")) {
		t.Errorf("/metrics = %d, want ironkv_nats_connected 0", status)
	}
}

func TestInflight(t *testing.T) {
	var f inflight
	select {
	case <-f.idle():
	default:
		t.Fatal("idle not closed with nothing in flight")
	}
	f.add()
	f.add()
	idle := f.idle()
	f.done()
	select {
	case <-idle:
		t.Fatal("idle closed with a request in flight")
	default:
	}
	f.done()
	select {
	case <-idle:
	default:
		t.Fatal("idle not closed once the last request is done")
	}
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	l := newLogger(&buf, "json", slog.LevelInfo)
	l.Debug("hidden")
	l.Info("shown", "k", 1)
	nats := slog.New(demoteInfo{l.Handler()}).With("component", "nats")
	nats.Info("a nats-server notice")
	nats.Warn("a nats-server warning")

	var got []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		got = append(got, m)
	}
	if len(got) != 2 || got[0]["msg"] != "shown" || got[1]["msg"] != "a nats-server warning" || got[1]["component"] != "nats" {
		t.Errorf("log at info = %v, want the info line and the nats warning only", got)
	}

	buf.Reset()
	l = newLogger(&buf, "text", slog.LevelDebug)
	slog.New(demoteInfo{l.Handler()}).Info("a nats-server notice")
	if !strings.Contains(buf.String(), `level=DEBUG msg="a nats-server notice"`) {
		t.Errorf("nats notice at debug = %q, want it logged at DEBUG", buf.String())
	}
}

// TestRunOptions checks that the API keys, allowed origins and body limit
// of the config reach the API, and that the server's own routes need no
// key.
func TestRunOptions(t *testing.T) {
	const key = "test-key-0123456789abcdef"
	base := startRun(t, Config{
		Listen:          "127.0.0.1:0",
		Memory:          true,
		APIKeys:         []string{"old-key-0123456789abcdef", key},
		AllowedOrigins:  []string{"https://app.example.com"},
		MaxBodyBytes:    16,
		LogFormat:       "text",
		ShutdownTimeout: 10 * time.Second,
	})
	c := testClient(t)
	waitReady(t, c, base, 10*time.Second)
	api := base + "/api/v1/kv"
	auth := []string{"Authorization", "Bearer " + key}

	if status, body := call(t, c, "GET", api+"/buckets", ""); status != http.StatusUnauthorized {
		t.Errorf("no key = %d, want 401: %s", status, body)
	}
	if status, body := call(t, c, "GET", api+"/buckets", "", "Authorization", "Bearer wrong"); status != http.StatusUnauthorized {
		t.Errorf("wrong key = %d, want 401: %s", status, body)
	}
	if status, body := call(t, c, "GET", api+"/buckets", "", auth...); status != http.StatusOK {
		t.Errorf("second key = %d, want 200: %s", status, body)
	}
	for _, path := range []string{"/health", "/ready", "/metrics", "/"} {
		if status, _ := call(t, c, "GET", base+path, ""); status != http.StatusOK {
			t.Errorf("GET %s without a key = %d, want 200", path, status)
		}
	}

	if status, body := call(t, c, "POST", api+"/buckets", `{"name":"small"}`, auth...); status != http.StatusCreated {
		t.Fatalf("create bucket = %d: %s", status, body)
	}
	if status, body := call(t, c, "PUT", api+"/buckets/small/keys/k", strings.Repeat("x", 17), auth...); status != http.StatusRequestEntityTooLarge {
		t.Errorf("17-byte body over a 16-byte limit = %d, want 413: %s", status, body)
	}

	req, _ := http.NewRequest("GET", api+"/buckets", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Origin", "https://app.example.com")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
		t.Errorf("allowed origin: Access-Control-Allow-Origin = %q", got)
	}
}

func TestIsWatch(t *testing.T) {
	for _, tt := range []struct {
		method, path string
		want         bool
	}{
		{"GET", "/api/v1/kv/buckets/b/watch", true},
		{"GET", "/api/v1/kv/buckets/b/events", true},
		{"PUT", "/api/v1/kv/buckets/b/watch", false},
		{"GET", "/api/v1/kv/buckets/b/keys/watch", false},
		{"GET", "/api/v1/kv/buckets/b/keys/a/events", false},
		{"GET", "/api/v1/kv/buckets/b", false},
		{"GET", "/api/v1/config/app/watch", true},
		{"POST", "/api/v1/config/app/watch", false},
		{"GET", "/api/v1/config/watch", false},
		{"GET", "/api/v1/config/a/b/watch", false},
		{"GET", "/api/v1/secrets/app/watch", false},
	} {
		if got := isWatch(tt.method, tt.path); got != tt.want {
			t.Errorf("isWatch(%s %s) = %v, want %v", tt.method, tt.path, got, tt.want)
		}
	}
}

// TestWatchClientsMetric checks that a watch client shows in the
// ironkv_watch_clients gauge while it is connected.
func TestWatchClientsMetric(t *testing.T) {
	base := startRun(t, Config{
		Listen:          "127.0.0.1:0",
		Memory:          true,
		LogFormat:       "text",
		ShutdownTimeout: 10 * time.Second,
	})
	c := testClient(t)
	waitReady(t, c, base, 10*time.Second)
	resp, err := c.Post(base+"/api/v1/kv/buckets", "application/json", strings.NewReader(`{"name":"w"}`))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create bucket: %v %v", resp, err)
	}
	resp.Body.Close()
	gauge := func() string {
		resp, err := c.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "ironkv_watch_clients ") {
				return strings.TrimPrefix(line, "ironkv_watch_clients ")
			}
		}
		return ""
	}
	if g := gauge(); g != "0" {
		t.Fatalf("watch clients before = %q", g)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/kv/buckets/w/events", nil)
	sse := &http.Client{Transport: &http.Transport{}}
	resp, err = sse.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("events: %v %v", resp, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for gauge() != "1" {
		if time.Now().After(deadline) {
			t.Fatalf("watch clients while connected = %q, want 1", gauge())
		}
		time.Sleep(10 * time.Millisecond) // bounded poll of the metric
	}
	cancel()
	resp.Body.Close()
	for gauge() != "0" {
		if time.Now().After(deadline) {
			t.Fatalf("watch clients after disconnect = %q, want 0", gauge())
		}
		time.Sleep(10 * time.Millisecond) // bounded poll of the metric
	}
}
