package reliability_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/kv"
)

// hostileMaxBody is the -max-body of the server under attack.
const hostileMaxBody = 64 << 10

// TestHostileInput attacks one server binary: namespace escapes, slow
// clients, oversized WebSocket messages and request bodies.
func TestHostileInput(t *testing.T) {
	srv := startServer(t, "-listen", "127.0.0.1:0", "-data", t.TempDir(), "-nats-listen", "127.0.0.1:0",
		"-max-body", fmt.Sprint(hostileMaxBody))
	c := newClient(t, 32, 30*time.Second)
	waitReady(t, c, srv.base, 30*time.Second)
	createBucket(t, c, srv.api(), `{"name":"app","max_value_size":1024}`)

	// Slow clients take the header timeout (10 s) to be cut: they run
	// beside the other checks.
	t.Run("Slowloris", func(t *testing.T) {
		t.Parallel()
		testSlowloris(t, c, srv)
	})
	t.Run("NamespaceEscape", func(t *testing.T) { testNamespaceEscape(t, c, srv) })
	t.Run("WebSocketReadLimit", func(t *testing.T) { testWebSocketReadLimit(t, c, srv) })
	t.Run("BodyLimit", func(t *testing.T) { testBodyLimit(t, c, srv) })
}

// escapeTargets are what an attacker would name to reach system state: the
// system buckets, their streams and subjects, and JetStream's API.
var escapeTargets = []string{
	"SYS_config_x", "SYS_secrets_x", "SYS_config_", "SYS_secrets_", "SYS_", "KV_SYS_config_x",
	"$KV.SYS_config_x", "$KV.SYS_secrets_x.k", "$JS.API.STREAM.DELETE.KV_SYS_config_x",
	"$JS.API.STREAM.PURGE.KV_SYS_secrets_x", "$SYS.REQ.SERVER.PING", "APP_..SYS_config_x", "_INBOX.x",
}

// escapeVariants returns the attempts made of one target: traversal, NATS
// wildcards and tokens, case, look-alike characters, control characters
// and encodings.
func escapeVariants(target string) []string {
	look := strings.NewReplacer("S", "Ѕ", "Y", "Ү", "_", "＿", "c", "с", "e", "е")
	v := []string{
		target, strings.ToLower(target), strings.ToUpper(target), look.Replace(target),
		"../" + target, "../../" + target, "..%2F" + target, "%2e%2e%2f" + target, "./" + target, "/" + target,
		target + "/..", target + "%00", target + "\x00", target + "\r\nX-Injected: 1", " " + target, target + "\t",
		target + ".>", target + ".*", target + ">", target + ".k", target + "/keys/k", target + "?x=1", target + "#f",
		"SYS\u200b" + target, target + "\ufeff", "\u202e" + target, target + "\xc0\xae", strings.Repeat(target, 8),
		url.PathEscape(target), url.PathEscape(url.PathEscape(target)),
	}
	return v
}

// escapeCorpus is every variant of every target, without repeats.
func escapeCorpus() []string {
	seen := map[string]bool{}
	var out []string
	for _, target := range escapeTargets {
		for _, s := range escapeVariants(target) {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// rawURL builds a URL from base and a path or query part sent as written
// where the client library allows, and percent-encoded where it does not.
func rawURL(base, part string) string {
	if _, err := url.Parse(base + part); err == nil && !strings.ContainsAny(part, " \t\r\n\x00#?") {
		return base + part
	}
	return base + url.PathEscape(part)
}

// streamSnapshot is a stream's config and state, to tell whether anything
// touched it.
type streamSnapshot struct {
	Config jetstream.StreamConfig
	State  jetstream.StreamState
}

func snapshotStreams(t testing.TB, natsURL string) map[string]streamSnapshot {
	t.Helper()
	nc, js := connectJS(t, natsURL)
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string]streamSnapshot{}
	l := js.ListStreams(ctx)
	for si := range l.Info() {
		out[si.Config.Name] = streamSnapshot{si.Config, si.State}
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// testNamespaceEscape sends every route a corpus of bucket names, keys and
// filters that try to reach the system buckets, and checks on the NATS
// server that the SYS_ streams are untouched and that no stream appeared
// outside the APP_ namespace.
func testNamespaceEscape(t *testing.T, c *http.Client, srv *server) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seeds := map[string]string{"k": "v", "secret": "hunter2", "a/b": "c"}
	for _, ns := range []bucket.Namespace{bucket.SysConfig, bucket.SysSecrets} {
		store, err := kv.Connect(ctx, srv.natsURL, kv.WithNamespace(ns))
		if err != nil {
			t.Fatal(err)
		}
		b, err := store.CreateBucket(ctx, bucket.Config{Name: "x", History: 5})
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range seeds {
			if _, err := b.Put(ctx, k, []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
		_ = store.Close()
	}
	before := snapshotStreams(t, srv.natsURL)
	for _, name := range []string{"KV_SYS_config_x", "KV_SYS_secrets_x"} {
		if before[name].State.Msgs != uint64(len(seeds)) {
			t.Fatalf("stream %s holds %d messages, want the %d seeds", name, before[name].State.Msgs, len(seeds))
		}
	}

	api := srv.api()
	corpus := escapeCorpus()
	type attempt struct{ method, url, body string }
	var attempts []attempt
	for _, s := range corpus {
		name, _ := json.Marshal(s)
		body := `{"name":` + string(name) + `}`
		filter := url.QueryEscape(s)
		attempts = append(attempts,
			// As a bucket name.
			attempt{"POST", api + "/buckets", body},
			attempt{"GET", rawURL(api+"/buckets/", s), ""},
			attempt{"DELETE", rawURL(api+"/buckets/", s), ""},
			attempt{"GET", rawURL(api+"/buckets/", s) + "/keys", ""},
			attempt{"PUT", rawURL(api+"/buckets/", s) + "/keys/k", "pwned"},
			attempt{"DELETE", rawURL(api+"/buckets/", s) + "/keys/secret?purge=true", ""},
			attempt{"GET", rawURL(api+"/buckets/", s) + "/history/secret", ""},
			attempt{"HEAD", rawURL(api+"/buckets/", s) + "/events", ""},
			// As a key of a user bucket.
			attempt{"PUT", rawURL(api+"/buckets/app/keys/", s), "pwned"},
			attempt{"GET", rawURL(api+"/buckets/app/keys/", s), ""},
			attempt{"DELETE", rawURL(api+"/buckets/app/keys/", s) + "?purge=true", ""},
			attempt{"GET", rawURL(api+"/buckets/app/history/", s), ""},
			// As a filter.
			attempt{"GET", api + "/buckets/app/keys?filter=" + filter, ""},
			attempt{"HEAD", api + "/buckets/app/events?key=" + filter, ""},
			attempt{"GET", api + "/buckets/app/watch?key=" + filter, ""},
		)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
		work     = make(chan attempt)
	)
	for range 16 {
		wg.Go(func() {
			for a := range work {
				var body []byte
				if a.body != "" {
					body = []byte(a.body)
				}
				r := do(ctx, c, a.method, a.url, body)
				mu.Lock()
				statuses[r.status]++
				mu.Unlock()
				switch {
				case r.err != nil:
					t.Errorf("%s %s: %v", a.method, a.url, r.err)
				case r.status >= 500:
					t.Errorf("%s %s: %v", a.method, a.url, r)
				case r.status >= 300 && r.status < 400:
					t.Errorf("%s %s: redirect %d to %q", a.method, a.url, r.status, r.header.Get("Location"))
				}
			}
		})
	}
	for _, a := range attempts {
		work <- a
	}
	close(work)
	wg.Wait()

	after := snapshotStreams(t, srv.natsURL)
	for name, b := range before {
		if !strings.HasPrefix(name, "KV_SYS_") {
			continue
		}
		if a, ok := after[name]; !ok {
			t.Errorf("stream %s disappeared", name)
		} else if !reflect.DeepEqual(a, b) {
			t.Errorf("stream %s changed:\nbefore %+v\nafter  %+v", name, b, a)
		}
	}
	var created []string
	for name := range after {
		if _, old := before[name]; !old {
			if !strings.HasPrefix(name, "KV_APP_") {
				t.Errorf("new stream %s outside the APP_ namespace", name)
			}
			created = append(created, name)
		}
	}
	t.Logf("%d escape attempts (%d targets, as bucket names, keys and filters): %d requests, answers %v; SYS_ streams unchanged; %d new APP_ buckets (names that are valid there)",
		len(corpus)*3, len(escapeTargets), len(attempts), statuses, len(created))
	if len(corpus)*3 < 500 {
		t.Errorf("only %d escape attempts, want at least 500", len(corpus)*3)
	}
}

// testSlowloris opens connections that send their headers too slowly, or
// nothing at all, and checks that the server closes each within 15 s (its
// header timeout is 10 s) while it goes on serving others.
func testSlowloris(t *testing.T, c *http.Client, srv *server) {
	const conns = 30
	addr := strings.TrimPrefix(srv.base, "http://")
	type result struct {
		kind    string
		elapsed time.Duration
		err     error
	}
	results := make(chan result, conns)
	kinds := []string{"silent", "trickle", "stalled"}
	for i := range conns {
		kind := kinds[i%len(kinds)]
		go func() {
			start := time.Now()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				results <- result{kind, 0, err}
				return
			}
			defer conn.Close()
			closed := make(chan time.Duration, 1)
			go func() {
				// Whatever the server says (nothing, or a 408), it then
				// closes.
				_, _ = io.Copy(io.Discard, conn)
				closed <- time.Since(start)
			}()
			var feed <-chan time.Time
			header := "GET /api/v1/kv/buckets HTTP/1.1\r\nHost: x\r\nX-Slow: "
			switch kind {
			case "stalled":
				// All but the end of the headers, at once.
				_, _ = io.WriteString(conn, header)
			case "trickle":
				// One byte every 500 ms: each read makes progress, none
				// completes the headers.
				tick := time.NewTicker(500 * time.Millisecond)
				defer tick.Stop()
				feed = tick.C
			}
			limit := time.After(20 * time.Second)
			for i := 0; ; i++ {
				select {
				case d := <-closed:
					results <- result{kind, d, nil}
					return
				case <-feed:
					_, _ = conn.Write([]byte{header[i%len(header)]})
				case <-limit:
					results <- result{kind, 0, errors.New("still open after 20 s")}
					return
				}
			}
		}()
	}
	// Meanwhile the server answers others.
	if r := do(context.Background(), c, "GET", srv.api()+"/buckets", nil); r.status != http.StatusOK {
		t.Errorf("GET /buckets during the attack: %v", r)
	}
	var slowest time.Duration
	for range conns {
		r := <-results
		switch {
		case r.err != nil:
			t.Errorf("%s connection: %v", r.kind, r.err)
		case r.elapsed > 15*time.Second || r.elapsed < 9*time.Second:
			t.Errorf("%s connection closed after %v, want about 10 s (the header timeout)", r.kind, r.elapsed)
		}
		slowest = max(slowest, r.elapsed)
	}
	t.Logf("%d slow connections (silent, trickling a byte every 500 ms, stalled before the end of the headers) all closed by the server, the last after %v",
		conns, slowest.Round(time.Millisecond))
}

// testWebSocketReadLimit checks that a watch WebSocket takes a client
// message of 4 KiB (and drops it) but closes with 1009 on a larger one.
func testWebSocketReadLimit(t *testing.T, c *http.Client, srv *server) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(srv.api(), "http") + "/buckets/app/watch"
	conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: c})
	if err != nil {
		t.Fatalf("dial %s: %v", wsURL, err)
	}
	defer conn.CloseNow()
	if err := conn.Write(ctx, websocket.MessageText, make([]byte, 4<<10)); err != nil {
		t.Fatal(err)
	}
	// The connection lives on: a write reaches it.
	if r := do(ctx, c, "PUT", srv.api()+"/buckets/app/keys/ws", []byte("after 4 KiB")); r.status != http.StatusOK {
		t.Fatalf("PUT: %v", r)
	}
	if _, b, err := conn.Read(ctx); err != nil || !strings.Contains(string(b), `"key":"ws"`) {
		t.Fatalf("after a 4 KiB message: %q, %v; want the update", b, err)
	}
	if err := conn.Write(ctx, websocket.MessageBinary, make([]byte, 4<<10+1)); err != nil {
		t.Fatal(err)
	}
	for {
		_, b, err := conn.Read(ctx)
		if err == nil {
			continue // an update or the error frame before the close
		}
		if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
			t.Errorf("after a message of 4 KiB + 1: %v (close status %d, last frame %q); want close 1009", err, got, b)
		}
		break
	}
	t.Log("a 4 KiB client message was dropped and the watch went on; 4 KiB + 1 closed it with 1009")
}

// testBodyLimit checks that bodies over -max-body, a bucket's
// max_value_size or the bucket config limit get 413, whether or not they
// declare their length, and that a huge declared length is refused before
// the body is sent.
func testBodyLimit(t *testing.T, c *http.Client, srv *server) {
	ctx := context.Background()
	big := make([]byte, hostileMaxBody+1)
	for _, tt := range []struct {
		name, method, url string
		body              io.Reader
		length            int64 // -1: chunked
	}{
		{"declared, over -max-body", "PUT", "/buckets/app/keys/big", bytes.NewReader(big), int64(len(big))},
		{"chunked, over -max-body", "PUT", "/buckets/app/keys/big", io.MultiReader(bytes.NewReader(big)), -1},
		{"declared, over max_value_size", "PUT", "/buckets/app/keys/big", bytes.NewReader(big[:1025]), 1025},
		{"chunked, over max_value_size", "PUT", "/buckets/app/keys/big", io.MultiReader(bytes.NewReader(big[:1025])), -1},
		{"bucket config over 64 KiB", "POST", "/buckets", strings.NewReader(`{"name":"n","description":"` + strings.Repeat("d", 64<<10) + `"}`), -1},
	} {
		req, err := http.NewRequestWithContext(ctx, tt.method, srv.api()+tt.url, tt.body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = tt.length
		resp, err := c.Do(req)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), `"code":"too_large"`) {
			t.Errorf("%s: %d %s, want 413 too_large", tt.name, resp.StatusCode, b)
		}
	}
	if e, r := getEntry(t, c, srv.api()+"/buckets/app", "big"); r.status != http.StatusNotFound {
		t.Errorf("GET big = %v (%q), want 404: a refused body was stored", r, e.Value)
	}

	// A declared gigabyte is refused at once, before its body is sent.
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "PUT /api/v1/kv/buckets/app/keys/huge HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 1<<30)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("declared 1 GiB: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("declared 1 GiB: %d, want 413", resp.StatusCode)
	}
	t.Log("bodies over -max-body and over max_value_size (declared and chunked), a 64 KiB bucket config and a declared 1 GiB body got 413")
}
