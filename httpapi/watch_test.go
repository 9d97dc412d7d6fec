package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/httpapi"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
	"github.com/ironkv/ironkv/watch"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
)

// watchCounter is an Observer that counts watch clients.
type watchCounter struct {
	mu      sync.Mutex
	open    int
	started int
}

func (c *watchCounter) ObserveRequest(string, int, time.Duration) {}

func (c *watchCounter) WatchClients(delta int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open += delta
	if delta > 0 {
		c.started += delta
	}
}

func (c *watchCounter) counts() (open, started int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open, c.started
}

// waitOpen waits until n watch clients are open.
func (c *watchCounter) waitOpen(t testing.TB, n int) {
	t.Helper()
	kvtest.Eventually(t, 20*time.Second, fmt.Sprintf("%d open watch clients", n), func() bool {
		open, _ := c.counts()
		return open == n
	})
}

// wsURL is the WebSocket URL of path on e's server.
func (e *env) wsURL(path string) string { return "ws" + strings.TrimPrefix(e.srv.URL, "http") + path }

// dialWS opens a WebSocket to path with the "Name: value" headers hdr. It
// returns the answer of a refused handshake with its body read.
func (e *env) dialWS(ctx context.Context, path string, hdr ...string) (*websocket.Conn, resp, error) {
	h := http.Header{}
	for _, kv := range hdr {
		k, v, _ := strings.Cut(kv, ":")
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	c, r, err := websocket.Dial(ctx, e.wsURL(path), &websocket.DialOptions{HTTPClient: e.client, HTTPHeader: h})
	if err != nil {
		var rr resp
		if r != nil {
			rr = resp{status: r.StatusCode, header: r.Header}
			if r.Body != nil {
				rr.body, _ = io.ReadAll(r.Body)
				r.Body.Close()
			}
		}
		return nil, rr, err
	}
	return c, resp{status: r.StatusCode, header: r.Header}, nil
}

// ws opens a WebSocket to path and fails the test if it cannot; the
// connection is closed when the test ends.
func (e *env) ws(t testing.TB, path string, hdr ...string) *websocket.Conn {
	t.Helper()
	c, r, err := e.dialWS(ctxT(t), path, hdr...)
	if err != nil {
		t.Fatalf("dial %s: %v (status %d, body %s)", path, err, r.status, r.body)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// frame is a watch frame as clients decode it.
type frame struct {
	Type      string  `json:"type"`
	Bucket    string  `json:"bucket"`
	Key       string  `json:"key"`
	Value     *[]byte `json:"value"`
	Revision  uint64  `json:"revision"`
	Operation string  `json:"operation"`
	Message   string  `json:"message"`
}

// readWS reads one text frame.
func readWS(t testing.TB, c *websocket.Conn) []byte {
	t.Helper()
	typ, b, err := c.Read(ctxT(t))
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("frame of type %v, want text: %q", typ, b)
	}
	return b
}

func readFrame(t testing.TB, c *websocket.Conn) frame {
	t.Helper()
	b := readWS(t, c)
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("frame %s: %v", b, err)
	}
	return f
}

// wantClose reads until the connection closes and checks its close code
// and reason ("*" for any).
func wantClose(t testing.TB, c *websocket.Conn, code websocket.StatusCode, reason string) {
	t.Helper()
	_, b, err := c.Read(ctxT(t))
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("after the last frame: %q, %v; want close %d %q", b, err, code, reason)
	}
	if ce.Code != code || (reason != "*" && ce.Reason != reason) {
		t.Fatalf("close %d %q, want %d %q", ce.Code, ce.Reason, code, reason)
	}
}

// sseStream is a hand-written Server-Sent Events client.
type sseStream struct {
	resp   *http.Response
	rd     *bufio.Reader
	cancel context.CancelFunc
}

// sseEvent is one event, or a comment when comment is set.
type sseEvent struct {
	name, id, data string
	comment        string
	raw            string
}

// openSSE opens an event stream; the status must be 200.
func (e *env) openSSE(t testing.TB, path string, hdr ...string) *sseStream {
	t.Helper()
	s, r := e.trySSE(t, path, hdr...)
	if s == nil {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	return s
}

// trySSE opens an event stream and returns it on 200, or the answer.
func (e *env) trySSE(t testing.TB, path string, hdr ...string) (*sseStream, resp) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctxT(t))
	req, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	r, err := e.client.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", path, err)
	}
	if r.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		cancel()
		return nil, resp{status: r.StatusCode, header: r.Header, body: b}
	}
	s := &sseStream{resp: r, rd: bufio.NewReader(r.Body), cancel: cancel}
	t.Cleanup(s.close)
	return s, resp{status: r.StatusCode, header: r.Header}
}

// close drops the connection, as a browser tab that goes away does.
func (s *sseStream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// nextRaw reads the next event or comment; io.EOF when the stream ended.
func (s *sseStream) nextRaw() (sseEvent, error) {
	var ev sseEvent
	var raw strings.Builder
	for {
		line, err := s.rd.ReadString('\n')
		raw.WriteString(line)
		if err != nil {
			if err == io.EOF && raw.Len() > 0 {
				return ev, io.ErrUnexpectedEOF
			}
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			ev.raw = raw.String()
			return ev, nil
		case strings.HasPrefix(line, ":"):
			ev.comment = strings.TrimSpace(line[1:])
		case strings.HasPrefix(line, "event: "):
			ev.name = line[len("event: "):]
		case strings.HasPrefix(line, "id: "):
			ev.id = line[len("id: "):]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[len("data: "):]
		default:
			return ev, fmt.Errorf("unexpected SSE line %q", line)
		}
	}
}

// next reads the next event, skipping comments.
func (s *sseStream) next(t testing.TB) sseEvent {
	t.Helper()
	for {
		ev, err := s.nextRaw()
		if err != nil {
			t.Fatalf("read event: %v", err)
		}
		if ev.comment == "" {
			return ev
		}
	}
}

// wantEnd checks that the stream ends after what was read.
func (s *sseStream) wantEnd(t testing.TB) {
	t.Helper()
	for {
		ev, err := s.nextRaw()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("stream did not end cleanly: %v", err)
		}
		if ev.comment == "" {
			t.Fatalf("event %q after the end", ev.raw)
		}
	}
}

func put(t testing.TB, b *kv.Bucket, key, value string) uint64 {
	t.Helper()
	rev, err := b.Put(context.Background(), key, []byte(value))
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return rev
}

func updateFrame(bucketName, key, value string, rev uint64) string {
	b64, _ := json.Marshal([]byte(value))
	return fmt.Sprintf(`{"type":"kv_update","bucket":%q,"key":%q,"value":%s,"revision":%d,"operation":"put"}`, bucketName, key, b64, rev)
}

// TestWatchFrames checks that WebSocket frames and SSE events carry
// Ironflow's JSON byte for byte, updates only by default.
func TestWatchFrames(t *testing.T) {
	e := newEnv(t)
	b := kvtest.NewBucket(t, e.store, bucket.Config{Name: "fr", History: 10})
	c := e.ws(t, "/buckets/fr/watch")
	s := e.openSSE(t, "/buckets/fr/events")
	ctx := ctxT(t)

	// Each write waits for its frame and event: a purge erases the earlier
	// revisions of its key, and the shared upstream may not have read
	// them yet.
	for i, step := range []struct {
		write func() error
		want  string
	}{
		{func() error { _, err := b.Put(ctx, "user:1", []byte("hi")); return err },
			`{"type":"kv_update","bucket":"fr","key":"user:1","value":"aGk=","revision":1,"operation":"put"}`},
		{func() error { _, err := b.Put(ctx, "empty", nil); return err },
			`{"type":"kv_update","bucket":"fr","key":"empty","value":"","revision":2,"operation":"put"}`},
		{func() error { return b.Delete(ctx, "user:1") },
			`{"type":"kv_update","bucket":"fr","key":"user:1","revision":3,"operation":"delete"}`},
		{func() error { return b.Purge(ctx, "empty") },
			`{"type":"kv_update","bucket":"fr","key":"empty","revision":4,"operation":"purge"}`},
		{func() error { _, err := b.Put(ctx, "é \"q\"", []byte("<&>")); return err },
			`{"type":"kv_update","bucket":"fr","key":"é \"q\"","value":"PCY+","revision":5,"operation":"put"}`},
	} {
		if err := step.write(); err != nil {
			t.Fatal(err)
		}
		if got := readWS(t, c); string(got) != step.want {
			t.Errorf("frame %d:\n got %s\nwant %s", i, got, step.want)
		}
		ev := s.next(t)
		wantRaw := "event: kv_update\nid: " + strconv.Itoa(i+1) + "\ndata: " + step.want + "\n\n"
		if ev.raw != wantRaw {
			t.Errorf("event %d:\n got %q\nwant %q", i, ev.raw, wantRaw)
		}
	}
	if ct := s.resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := s.resp.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control %q", cc)
	}
}

// TestWatchSnapshot checks ?snapshot=true: the latest entry of each key,
// tombstones included, in revision order, then kv_synced, then live.
func TestWatchSnapshot(t *testing.T) {
	e := newEnv(t)
	b := kvtest.NewBucket(t, e.store, bucket.Config{Name: "sn", History: 5})
	ctx := ctxT(t)
	put(t, b, "a", "1")
	put(t, b, "b", "2")
	put(t, b, "a", "3")
	put(t, b, "c", "4")
	if err := b.Delete(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	put(t, b, "x.1", "6") // not matched by the filter below

	check := func(t *testing.T, next func() (typ string, data []byte)) {
		want := []string{
			updateFrame("sn", "b", "2", 2),
			updateFrame("sn", "a", "3", 3),
			`{"type":"kv_update","bucket":"sn","key":"c","revision":5,"operation":"delete"}`,
			`{"type":"kv_synced","revision":6}`,
		}
		for i, w := range want {
			if _, got := next(); string(got) != w {
				t.Fatalf("frame %d:\n got %s\nwant %s", i, got, w)
			}
		}
	}
	c := e.ws(t, "/buckets/sn/watch?key=*&snapshot=true")
	check(t, func() (string, []byte) { return "", readWS(t, c) })
	s := e.openSSE(t, "/buckets/sn/events?key=*&snapshot=true")
	var names []string
	check(t, func() (string, []byte) {
		ev := s.next(t)
		names = append(names, ev.name+" "+ev.id)
		return ev.name, []byte(ev.data)
	})
	if got := strings.Join(names, ","); got != "kv_update 2,kv_update 3,kv_update 5,kv_synced 6" {
		t.Errorf("SSE events %s", got)
	}

	r := put(t, b, "d", "live")
	if got, w := string(readWS(t, c)), updateFrame("sn", "d", "live", r); got != w {
		t.Errorf("live frame %s, want %s", got, w)
	}
	if ev := s.next(t); ev.data != updateFrame("sn", "d", "live", r) || ev.id != strconv.FormatUint(r, 10) {
		t.Errorf("live event %q", ev.raw)
	}

	// An empty bucket's snapshot is a kv_synced alone.
	kvtest.NewBucket(t, e.store, bucket.Config{Name: "empty"})
	c2 := e.ws(t, "/buckets/empty/watch?snapshot=true")
	if got := string(readWS(t, c2)); got != `{"type":"kv_synced","revision":0}` {
		t.Errorf("empty snapshot: %s", got)
	}
}

// writer writes puts to keys in turn from a goroutine, and records the
// revision of each write.
type writer struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	revs map[uint64]string // revision -> key
	err  error
}

func startWriter(b *kv.Bucket, keys []string, n int) *writer {
	w := &writer{revs: map[uint64]string{}}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for i := range n {
			k := keys[i%len(keys)]
			rev, err := b.Put(context.Background(), k, []byte(strconv.Itoa(i)))
			w.mu.Lock()
			if err != nil {
				w.err = err
				w.mu.Unlock()
				return
			}
			w.revs[rev] = k
			w.mu.Unlock()
		}
	}()
	return w
}

// wait waits for the writes and returns the revisions of matching keys, in
// order.
func (w *writer) wait(t testing.TB, match func(key string) bool) []uint64 {
	t.Helper()
	w.wg.Wait()
	if w.err != nil {
		t.Fatal(w.err)
	}
	var revs []uint64
	for rev, k := range w.revs {
		if match(k) {
			revs = append(revs, rev)
		}
	}
	sortRevs(revs)
	return revs
}

func sortRevs(r []uint64) {
	for i := 1; i < len(r); i++ {
		for j := i; j > 0 && r[j] < r[j-1]; j-- {
			r[j], r[j-1] = r[j-1], r[j]
		}
	}
}

// TestWatchSince checks ?since=N and Last-Event-ID: every retained change
// after N, one kv_synced, then the live changes written meanwhile, with
// strictly increasing revisions and no gap against what was written.
func TestWatchSince(t *testing.T) {
	e := newEnv(t)
	b := kvtest.NewBucket(t, e.store, bucket.Config{Name: "sc", History: 64})
	keys := []string{"k.0", "k.1", "k.2", "other"}
	written := map[uint64]string{} // every write of the test: revision -> key
	for i := range 20 {
		k := keys[i%len(keys)]
		written[put(t, b, k, "v")] = k
	}
	wsNext := func(t *testing.T, path string, hdr ...string) func() (string, uint64) {
		c := e.ws(t, path, hdr...)
		return func() (string, uint64) { f := readFrame(t, c); return f.Type, f.Revision }
	}
	sseNext := func(t *testing.T, path string, hdr ...string) func() (string, uint64) {
		s := e.openSSE(t, path, hdr...)
		return func() (string, uint64) { return sseKindRev(t, s.next(t)) }
	}
	all := func(string) bool { return true }
	for _, tc := range []struct {
		name   string
		path   string
		header string
		match  func(string) bool
		open   func(t *testing.T, path string, hdr ...string) func() (string, uint64)
	}{
		{"websocket", "/buckets/sc/watch?since=7", "", all, wsNext},
		{"websocket exact key", "/buckets/sc/watch?since=7&key=k.1", "", func(k string) bool { return k == "k.1" }, wsNext},
		{"websocket since 0", "/buckets/sc/watch?since=0&key=k.*", "", func(k string) bool { return strings.HasPrefix(k, "k.") }, wsNext},
		{"sse since", "/buckets/sc/events?since=7&key=k.*", "", func(k string) bool { return strings.HasPrefix(k, "k.") }, sseNext},
		// Last-Event-ID wins over ?snapshot=true, as when an EventSource
		// opened with a snapshot reconnects.
		{"sse Last-Event-ID", "/buckets/sc/events?snapshot=true&key=%3E", "Last-Event-ID: 7", all, sseNext},
	} {
		t.Run(tc.name, func(t *testing.T) {
			since := uint64(7)
			if strings.Contains(tc.path, "since=0") {
				since = 0
			}
			start, err := b.Revision(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			var hdr []string
			if tc.header != "" {
				hdr = append(hdr, tc.header)
			}
			next := tc.open(t, tc.path, hdr...)
			w := startWriter(b, keys, 30)
			var want []uint64
			for rev := since + 1; rev <= start; rev++ {
				if tc.match(written[rev]) {
					want = append(want, rev)
				}
			}
			replayed := len(want)
			live := w.wait(t, tc.match)
			want = append(want, live...)
			for rev, k := range w.revs {
				written[rev] = k
			}

			var got []uint64
			syncedAt := -1
			for len(got) < len(want) {
				kind, rev := next()
				switch kind {
				case "kv_synced":
					if syncedAt >= 0 || rev != start {
						t.Fatalf("kv_synced at revision %d (again: %v), want once at %d", rev, syncedAt >= 0, start)
					}
					syncedAt = len(got)
				case "kv_update":
					if len(got) > 0 && rev <= got[len(got)-1] {
						t.Fatalf("revision %d after %d", rev, got[len(got)-1])
					}
					got = append(got, rev)
				default:
					t.Fatalf("frame of type %q", kind)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("revisions\n got %v\nwant %v", got, want)
			}
			if syncedAt != replayed {
				if syncedAt < 0 && replayed == len(want) {
					if kind, rev := next(); kind != "kv_synced" || rev != start {
						t.Fatalf("after the replay: %s %d, want kv_synced %d", kind, rev, start)
					}
					return
				}
				t.Fatalf("kv_synced after %d updates, want after the %d replayed", syncedAt, replayed)
			}
		})
	}
}

func sseKindRev(t testing.TB, ev sseEvent) (string, uint64) {
	t.Helper()
	var f frame
	if err := json.Unmarshal([]byte(ev.data), &f); err != nil {
		t.Fatalf("event %q: %v", ev.raw, err)
	}
	if ev.name != f.Type || ev.id != strconv.FormatUint(f.Revision, 10) {
		t.Fatalf("event %q: name and id do not match its data", ev.raw)
	}
	return f.Type, f.Revision
}

// TestWatchFilters gives each client its own filter: a wildcard token, an
// exact key, everything. Each gets exactly its keys, in order.
func TestWatchFilters(t *testing.T) {
	e := newEnv(t)
	// A history of 1 would let a write replace an earlier one of its key
	// before the upstream read it, and clients would not see that one.
	b := kvtest.NewBucket(t, e.store, bucket.Config{Name: "fl", History: 10})
	type client struct {
		path  string
		match func(string) bool
		next  func() frame
	}
	clients := []*client{
		{path: "/buckets/fl/watch?key=user.*", match: func(k string) bool { return strings.HasPrefix(k, "user.") && strings.Count(k, ".") == 1 }},
		{path: "/buckets/fl/watch?key=user.1", match: func(k string) bool { return k == "user.1" }},
		{path: "/buckets/fl/watch?key=%3E", match: func(string) bool { return true }},
		{path: "/buckets/fl/watch", match: func(string) bool { return true }},
		{path: "/buckets/fl/watch?key=user.%3E", match: func(k string) bool { return strings.HasPrefix(k, "user.") }},
		{path: "/buckets/fl/watch?key=*.1", match: func(k string) bool { return strings.HasSuffix(k, ".1") && strings.Count(k, ".") == 1 }},
		{path: "/buckets/fl/events?key=user.*", match: func(k string) bool { return strings.HasPrefix(k, "user.") && strings.Count(k, ".") == 1 }},
	}
	for _, c := range clients {
		if strings.Contains(c.path, "/events") {
			s := e.openSSE(t, c.path)
			c.next = func() frame {
				ev := s.next(t)
				var f frame
				decode(t, []byte(ev.data), &f)
				return f
			}
			continue
		}
		conn := e.ws(t, c.path)
		c.next = func() frame { return readFrame(t, conn) }
	}
	keys := []string{"user.1", "user.2", "user.1.x", "order.1", "user", "a:b", "user.2", "order.1.x"}
	var revs []uint64
	for _, k := range keys {
		revs = append(revs, put(t, b, k, k))
	}
	// The last write, user.1, is one every client watches: reading up to it
	// shows everything each client got.
	last := put(t, b, "user.1", "end")
	for _, c := range clients {
		var want, got []string
		for i, k := range keys {
			if c.match(k) {
				want = append(want, fmt.Sprintf("%s@%d", k, revs[i]))
			}
		}
		want = append(want, fmt.Sprintf("user.1@%d", last))
		for len(got) < len(want) {
			f := c.next()
			if f.Type != "kv_update" || f.Bucket != "fl" || f.Value == nil || string(*f.Value) != map[bool]string{true: "end", false: f.Key}[f.Revision == last] {
				t.Fatalf("%s: frame %+v", c.path, f)
			}
			got = append(got, fmt.Sprintf("%s@%d", f.Key, f.Revision))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s:\n got %v\nwant %v", c.path, got, want)
		}
	}
}

// TestWatchAuth checks the API key on the watch routes: the Bearer header
// or ?token=, checked before the upgrade or the first byte, and never
// logged.
func TestWatchAuth(t *testing.T) {
	const key, wrong = "tok-7f3a9c2e", "bad-5b2e8d41"
	var logs logBuffer
	e := newEnv(t, httpapi.WithAPIKeys(key), httpapi.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	e.run(t, []scenario{{method: "POST", path: "/buckets", body: `{"name":"au","history":10}`, header: []string{"Authorization: Bearer " + key}, status: 201}})

	for _, path := range []string{"/buckets/au/watch", "/buckets/au/events"} {
		for _, tc := range []struct {
			name   string
			query  string
			header []string
			ok     bool
		}{
			{"token", "?token=" + key, nil, true},
			{"bearer", "", []string{"Authorization: Bearer " + key}, true},
			{"token with a wrong bearer", "?token=" + key, []string{"Authorization: Bearer " + wrong}, true},
			{"wrong token", "?token=" + wrong, nil, false},
			{"empty token", "?token=", nil, false},
			{"none", "", nil, false},
			{"wrong bearer", "", []string{"Authorization: Bearer " + wrong}, false},
		} {
			t.Run(path+" "+tc.name, func(t *testing.T) {
				if strings.HasSuffix(path, "/watch") {
					c, r, err := e.dialWS(ctxT(t), path+tc.query, tc.header...)
					if !tc.ok {
						if err == nil {
							c.CloseNow()
							t.Fatal("upgraded without a valid key")
						}
						if r.status != 401 {
							t.Fatalf("status %d, want 401; body %s", r.status, r.body)
						}
						errBody(t, r, "unauthorized")
						return
					}
					if err != nil {
						t.Fatalf("dial: %v (status %d, body %s)", err, r.status, r.body)
					}
					defer c.CloseNow()
					rev := put(t, bucketOf(t, e, "au"), "k", "v")
					if f := readFrame(t, c); f.Revision != rev {
						t.Fatalf("frame %+v, want revision %d", f, rev)
					}
					return
				}
				s, r := e.trySSE(t, path+tc.query, tc.header...)
				if !tc.ok {
					if s != nil {
						t.Fatal("streaming without a valid key")
					}
					if r.status != 401 {
						t.Fatalf("status %d, want 401; body %s", r.status, r.body)
					}
					errBody(t, r, "unauthorized")
					return
				}
				if s == nil {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				rev := put(t, bucketOf(t, e, "au"), "k", "v")
				if ev := s.next(t); ev.id != strconv.FormatUint(rev, 10) {
					t.Fatalf("event %q, want id %d", ev.raw, rev)
				}
			})
		}
	}
	// ?token= is for the watch routes only.
	e.run(t, []scenario{{method: "GET", path: "/buckets/au?token=" + key, status: 401, code: "unauthorized"}})
	if strings.Contains(logs.String(), key) || strings.Contains(logs.String(), wrong) {
		t.Errorf("a token is in the log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "/buckets/au/watch") {
		t.Errorf("the log has no watch request (the check above proves nothing):\n%s", logs.String())
	}
}

// bucketOf returns a handle on bucket name of e's store.
func bucketOf(t testing.TB, e *env, name string) *kv.Bucket {
	t.Helper()
	b, err := e.store.Bucket(ctxT(t), name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWatchOrigin checks the Origin of watch requests against the allowed
// origins before the upgrade: same origin and loopback by default, the
// configured list otherwise.
func TestWatchOrigin(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    []httpapi.Option
		origin  string
		allowed bool
	}{
		{"none", nil, "", true},
		{"loopback", nil, "http://localhost:3000", true},
		{"loopback ip", nil, "http://127.0.0.1:8080", true},
		{"same origin", nil, "SAME", true},
		{"foreign", nil, "https://evil.example", false},
		{"https localhost", nil, "https://localhost:3000", false},
		{"null", nil, "null", false},
		{"configured", []httpapi.Option{httpapi.WithAllowedOrigins("https://app.example.com")}, "https://app.example.com", true},
		{"not configured", []httpapi.Option{httpapi.WithAllowedOrigins("https://app.example.com")}, "http://localhost:3000", false},
		{"any port", []httpapi.Option{httpapi.WithAllowedOrigins("http://dev.example.com:*")}, "http://dev.example.com:5173", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts...)
			kvtest.NewBucket(t, e.store, bucket.Config{Name: "or"})
			origin := tc.origin
			if origin == "SAME" {
				origin = e.srv.URL
			}
			var hdr []string
			if origin != "" {
				hdr = append(hdr, "Origin: "+origin)
			}
			c, r, err := e.dialWS(ctxT(t), "/buckets/or/watch", hdr...)
			if err == nil {
				c.CloseNow()
			}
			if tc.allowed && err != nil {
				t.Fatalf("WebSocket: %v (status %d, body %s)", err, r.status, r.body)
			}
			if !tc.allowed {
				if err == nil || r.status != 403 {
					t.Fatalf("WebSocket: status %d, want 403", r.status)
				}
				errBody(t, r, "forbidden")
			}
			s, r := e.trySSE(t, "/buckets/or/events", hdr...)
			if s != nil {
				s.close()
				if !tc.allowed {
					t.Fatal("SSE: streaming to a foreign origin")
				}
				if origin != "" && r.header.Get("Access-Control-Allow-Origin") != origin {
					t.Errorf("SSE: Access-Control-Allow-Origin %q", r.header.Get("Access-Control-Allow-Origin"))
				}
			} else if tc.allowed || r.status != 403 {
				t.Fatalf("SSE: status %d: %s", r.status, r.body)
			}
		})
	}
}

// TestWatchRefusals checks what is refused before the upgrade or the first
// byte, with a status and a JSON error.
func TestWatchRefusals(t *testing.T) {
	e := newEnv(t)
	kvtest.NewBucket(t, e.store, bucket.Config{Name: "rf"})
	for _, route := range []string{"watch", "events"} {
		for _, tc := range []struct {
			path   string
			header []string
			status int
			code   string
		}{
			{"/buckets/nope/" + route, nil, 404, "bucket_not_found"},
			{"/buckets/bad.name/" + route, nil, 400, "invalid_argument"},
			{"/buckets/rf/" + route + "?key=user-*", nil, 400, "invalid_argument"},
			{"/buckets/rf/" + route + "?key=a..b", nil, 400, "invalid_argument"},
			{"/buckets/rf/" + route + "?since=-1", nil, 400, "invalid_argument"},
			{"/buckets/rf/" + route + "?since=x", nil, 400, "invalid_argument"},
			{"/buckets/rf/" + route + "?since=", nil, 400, "invalid_argument"},
			{"/buckets/rf/" + route + "?since=1.5", nil, 400, "invalid_argument"},
			{"/buckets/rf/" + route + "?snapshot=maybe", nil, 400, "invalid_argument"},
			{"/buckets/rf/" + route + "?snapshot=true&since=3", nil, 400, "invalid_argument"},
		} {
			t.Run(tc.path, func(t *testing.T) {
				if route == "watch" {
					c, r, err := e.dialWS(ctxT(t), tc.path, tc.header...)
					if err == nil {
						c.CloseNow()
						t.Fatal("upgraded")
					}
					if r.status != tc.status {
						t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.body)
					}
					errBody(t, r, tc.code)
					return
				}
				s, r := e.trySSE(t, tc.path, tc.header...)
				if s != nil {
					t.Fatal("streaming")
				}
				if r.status != tc.status {
					t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.body)
				}
				errBody(t, r, tc.code)
			})
		}
	}
	e.run(t, []scenario{
		{name: "plain GET of the WebSocket route", method: "GET", path: "/buckets/rf/watch", status: 426, code: "invalid_argument",
			check: func(t *testing.T, r resp) {
				if r.header.Get("Upgrade") != "websocket" {
					t.Errorf("Upgrade %q", r.header.Get("Upgrade"))
				}
			}},
		{name: "old WebSocket version", method: "GET", path: "/buckets/rf/watch", status: 426, code: "invalid_argument",
			header: []string{"Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 8", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="}},
		{name: "bad WebSocket key", method: "GET", path: "/buckets/rf/watch", status: 400, code: "invalid_argument",
			header: []string{"Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: short"}},
		{name: "SSE Last-Event-ID", method: "GET", path: "/buckets/rf/events", header: []string{"Last-Event-ID: x"}, status: 400, code: "invalid_argument"},
		{method: "POST", path: "/buckets/rf/watch", status: 405, code: "method_not_allowed"},
		{method: "DELETE", path: "/buckets/rf/events", status: 405, code: "method_not_allowed"},
		{name: "HEAD events", method: "HEAD", path: "/buckets/rf/events", status: 200, check: func(t *testing.T, r resp) {
			if r.header.Get("Content-Type") != "text/event-stream" || len(r.body) != 0 {
				t.Errorf("HEAD: %v %q", r.header, r.body)
			}
		}},
		{name: "HEAD events of a missing bucket", method: "HEAD", path: "/buckets/nope/events", status: 404},
	})
}

// TestWatchBucketDeleted deletes a bucket under its watchers: each gets an
// error frame or event, then the end.
func TestWatchBucketDeleted(t *testing.T) {
	var obs watchCounter
	e := newEnv(t, httpapi.WithObserver(&obs))
	b := kvtest.NewBucket(t, e.store, bucket.Config{Name: "gone"})
	c := e.ws(t, "/buckets/gone/watch")
	s := e.openSSE(t, "/buckets/gone/events?snapshot=true")
	if ev := s.next(t); ev.name != "kv_synced" {
		t.Fatalf("event %q", ev.raw)
	}
	rev := put(t, b, "k", "v")
	if f := readFrame(t, c); f.Revision != rev {
		t.Fatalf("frame %+v", f)
	}
	e.run(t, []scenario{{method: "DELETE", path: "/buckets/gone", status: 204}})

	const msg = `{"type":"error","message":"bucket \"gone\" was deleted"}`
	if got := string(readWS(t, c)); got != msg {
		t.Fatalf("frame %s, want %s", got, msg)
	}
	wantClose(t, c, websocket.StatusNormalClosure, "bucket deleted")
	if ev := s.next(t); ev.id != strconv.FormatUint(rev, 10) {
		t.Fatalf("event %q", ev.raw)
	}
	if ev := s.next(t); ev.raw != "event: error\ndata: "+msg+"\n\n" {
		t.Fatalf("event %q", ev.raw)
	}
	s.wantEnd(t)
	obs.waitOpen(t, 0)
	// And a new watcher gets 404 before the upgrade.
	if _, r, err := e.dialWS(ctxT(t), "/buckets/gone/watch"); err == nil || r.status != 404 {
		t.Fatalf("after the delete: %v, status %d", err, r.status)
	}
}

// smallBuffers makes the server's sockets buffer little, so that a client
// that does not read stops the server's writes after a few frames.
func smallBuffers(c net.Conn, state http.ConnState) {
	if state == http.StateNew {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetWriteBuffer(32 << 10)
			_ = tc.SetReadBuffer(32 << 10)
		}
	}
}

// smallClient is an HTTP client whose connections buffer little.
func smallClient() *http.Client {
	var d net.Dialer
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(32 << 10)
		}
		return c, err
	}}}
}

// TestWatchSlowConsumer has a WebSocket and an SSE client that do not read
// while the bucket changes, beside a fast one. The slow ones are cut: each
// gets what was buffered, then an error frame and close code 1013, or an
// error event and the end, with the revision to resume from; resuming from
// it misses nothing. The fast one gets every event.
func TestWatchSlowConsumer(t *testing.T) {
	store := kvtest.NewStore(t)
	hub := watch.NewHub(store, watch.WithBuffer(4))
	t.Cleanup(func() { _ = hub.Close() })
	e := newEnvOn(t, store, httpapi.WithHub(hub))
	slowSrv := httptest.NewUnstartedServer(e.h)
	slowSrv.Config.ConnState = smallBuffers
	slowSrv.Start()
	t.Cleanup(slowSrv.Close)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "slow", History: 64})

	client := smallClient()
	defer client.CloseIdleConnections()
	slow, _, err := websocket.Dial(ctxT(t), "ws"+strings.TrimPrefix(slowSrv.URL, "http")+"/buckets/slow/watch", &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.CloseNow()
	req, err := http.NewRequestWithContext(ctxT(t), "GET", slowSrv.URL+"/buckets/slow/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := client.Do(req)
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("SSE: %v %v", r, err)
	}
	slowSSE := &sseStream{resp: r, rd: bufio.NewReader(r.Body), cancel: func() {}}
	defer slowSSE.close()
	fast := e.ws(t, "/buckets/slow/watch")

	// Write in step with the fast client, so that it never lags; the slow
	// ones take nothing. 16 KiB values fill the small socket buffers in
	// about six frames, and the hub's buffer in four more.
	value := strings.Repeat("v", 16<<10)
	const n = 60
	var revs []uint64
	for i := range n + 1 {
		rev := put(t, b, "k."+strconv.Itoa(i%3), value)
		revs = append(revs, rev)
		if f := readFrame(t, fast); f.Revision != rev {
			t.Fatalf("fast client: revision %d, want %d", f.Revision, rev)
		}
	}
	// The fast client has the last write: the hub has handed the one
	// before it to the slow clients too, or cut them.

	var lastSSE uint64
	for {
		ev := slowSSE.next(t)
		if ev.name == "error" {
			want := fmt.Sprintf(`{"type":"error","message":"slow consumer; resume from %d"}`, lastSSE)
			if ev.data != want || ev.id != "" {
				t.Fatalf("SSE error event %q, want data %s", ev.raw, want)
			}
			break
		}
		if ev.name != "kv_update" || ev.id != strconv.FormatUint(lastSSE+1, 10) {
			t.Fatalf("slow SSE client: event %q after %d", ev.raw, lastSSE)
		}
		lastSSE++
	}
	slowSSE.wantEnd(t)
	if lastSSE >= revs[n-1] {
		t.Fatalf("the slow SSE client was cut at %d, after everything (%d); the test proves nothing", lastSSE, revs[n-1])
	}
	// An EventSource reconnects with the id of the last event it got.
	resumed := e.openSSE(t, "/buckets/slow/events", "Last-Event-ID: "+strconv.FormatUint(lastSSE, 10))
	if ev := resumed.next(t); ev.id != strconv.FormatUint(lastSSE+1, 10) {
		t.Fatalf("SSE resumed from %d: first event %q", lastSSE, ev.raw)
	}
	resumed.close()

	var last uint64
	for {
		b := readWS(t, slow)
		var f frame
		decode(t, b, &f)
		if f.Type == "error" {
			want := fmt.Sprintf(`{"type":"error","message":"slow consumer; resume from %d"}`, last)
			if string(b) != want {
				t.Fatalf("error frame %s, want %s", b, want)
			}
			break
		}
		want := revs[0]
		if last > 0 {
			want = last + 1
		}
		if f.Type != "kv_update" || f.Revision != want {
			t.Fatalf("slow client: frame %s %d, want kv_update %d", f.Type, f.Revision, want)
		}
		last = f.Revision
	}
	wantClose(t, slow, websocket.StatusTryAgainLater, fmt.Sprintf("slow consumer; resume from %d", last))
	if last >= revs[n-1] {
		t.Fatalf("the slow client was cut at %d, after everything (%d); the test proves nothing", last, revs[n-1])
	}
	t.Logf("slow client cut after revision %d of %d", last, revs[n])

	// Resuming from there misses nothing and repeats nothing. With a
	// buffer of 4 the replay itself may outrun the client and be cut in
	// turn; the client then resumes again, as a real one does.
	got := last
	for attempt := 0; ; attempt++ {
		if attempt == 20 {
			t.Fatalf("no kv_synced after %d resumptions", attempt)
		}
		again := e.ws(t, fmt.Sprintf("/buckets/slow/watch?since=%d", got))
		from := got
		for {
			f := readFrame(t, again)
			if f.Type == "kv_update" && f.Revision == got+1 && got < revs[n] {
				got++
				continue
			}
			if f.Type == "kv_synced" && got == revs[n] && f.Revision == revs[n] {
				return
			}
			if f.Type == "error" && f.Message == fmt.Sprintf("slow consumer; resume from %d", got) && got > from {
				break
			}
			t.Fatalf("resumed from %d: frame %+v after revision %d", from, f, got)
		}
	}
}

// TestWatchManyClients opens 1,000 WebSocket watchers on one bucket, each
// on its own key: the NATS server has one consumer for all of them, each
// gets its key's change, and once they close no goroutine and no consumer
// is left.
func TestWatchManyClients(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 connections")
	}
	var obs watchCounter
	e := newEnv(t, httpapi.WithObserver(&obs))
	b := kvtest.NewBucket(t, e.store, bucket.Config{Name: "many"})
	js, err := jetstream.New(e.store.Conn())
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctxT(t), bucket.App.StreamName("many"))
	if err != nil {
		t.Fatal(err)
	}
	consumers := func() int {
		info, err := stream.Info(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Consumers
	}
	if n := consumers(); n != 0 {
		t.Fatalf("%d consumers before the test", n)
	}
	ignore := goleak.IgnoreCurrent()

	const n = 1000
	conns := make([]*websocket.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, r, err := e.dialWS(ctxT(t), "/buckets/many/watch?key=k."+strconv.Itoa(i))
				if err != nil {
					errs <- fmt.Errorf("client %d: %v (status %d, body %s)", i, err, r.status, r.body)
					continue
				}
				conns[i] = c
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	obs.waitOpen(t, n)
	if got := consumers(); got != 1 {
		t.Errorf("%d NATS consumers for %d watchers, want 1", got, n)
	}
	if st := e.h.HubStats(); st.Buckets != 1 || st.Subscribers != n {
		t.Errorf("hub stats %+v", st)
	}

	revs := make([]uint64, n)
	for i := range n {
		revs[i] = put(t, b, "k."+strconv.Itoa(i), "v")
	}
	for i, c := range conns {
		if f := readFrame(t, c); f.Key != "k."+strconv.Itoa(i) || f.Revision != revs[i] {
			t.Fatalf("client %d: frame %+v", i, f)
		}
	}
	// Half close cleanly, half drop the connection.
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				_ = c.Close(websocket.StatusNormalClosure, "")
			} else {
				_ = c.CloseNow()
			}
		}()
	}
	wg.Wait()
	obs.waitOpen(t, 0)
	if _, started := obs.counts(); started != n {
		t.Errorf("%d clients started, want %d", started, n)
	}
	kvtest.Eventually(t, 10*time.Second, "no hub subscription", func() bool { return e.h.HubStats() == watch.Stats{} })
	kvtest.Eventually(t, 10*time.Second, "no NATS consumer", func() bool { return consumers() == 0 })
	e.client.CloseIdleConnections()
	goleak.VerifyNone(t, ignore)
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
