package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestBinary builds the server and drives the binary over HTTP.
func TestBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "ironkv-server")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	t.Run("Usage", func(t *testing.T) {
		t.Parallel()
		testUsage(t, bin)
	})
	t.Run("API", func(t *testing.T) {
		t.Parallel()
		testAPI(t, bin)
	})
	t.Run("SIGTERMDuringWrites", func(t *testing.T) {
		t.Parallel()
		testSIGTERMDuringWrites(t, bin)
	})
	t.Run("NATSListen", func(t *testing.T) {
		t.Parallel()
		testNATSListen(t, bin)
	})
	t.Run("Cluster", func(t *testing.T) {
		if testing.Short() {
			t.Skip("starts a three-node cluster")
		}
		t.Parallel()
		testCluster(t, bin)
	})
}

// proc is one running server process.
type proc struct {
	t       *testing.T
	cmd     *exec.Cmd
	logs    lockedBuffer
	base    string // http://host:port
	natsURL string
	done    chan struct{} // closed once the process has exited
	waitErr error         // set before done is closed
}

// lockedBuffer holds a process's log lines.
type lockedBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced by each add
}

func (b *lockedBuffer) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(line)
	b.buf.WriteByte('\n')
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
}

// waitFor waits until the log holds s, for at most d.
func (b *lockedBuffer) waitFor(s string, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		b.mu.Lock()
		if strings.Contains(b.buf.String(), s) {
			b.mu.Unlock()
			return true
		}
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			return false
		}
	}
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// childEnv is the environment of a child: this one without IRONKV_*
// variables, so that only the test's flags configure the server.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IRONKV_") {
			env = append(env, kv)
		}
	}
	return env
}

// startProc starts the binary with args and waits for its "listening" log
// line. The process is killed, if still running, when the test ends.
func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Env = childEnv()
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan listening, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			p.logs.add(sc.Text())
			if l, ok := parseListening(sc.Text()); ok && !found {
				found = true
				ready <- l
			}
		}
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("log of %s:\n%s", strings.Join(args, " "), p.logs.String())
		}
	})
	select {
	case l := <-ready:
		p.base, p.natsURL = "http://"+l.addr, l.natsURL
	case <-p.done:
		t.Fatalf("server exited before listening: %v\n%s", p.waitErr, p.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("no listening line after 30s:\n%s", p.logs.String())
	}
	return p
}

// stop sends SIGTERM and checks that the process exits with status 0
// after the whole shutdown sequence.
func (p *proc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM: %v", err)
	}
	p.wait(0)
}

// wait waits for the process to exit and checks its exit code.
func (p *proc) wait(code int) {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		p.t.Fatalf("process did not exit within 40s")
	}
	got := 0
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) {
		got = ee.ExitCode()
	} else if p.waitErr != nil {
		p.t.Fatalf("wait: %v", p.waitErr)
	}
	if got != code {
		p.t.Fatalf("exit code %d, want %d\n%s", got, code, p.logs.String())
	}
	if code == 0 && !strings.Contains(p.logs.String(), "msg=stopped") {
		p.t.Errorf("exit code 0 without the stopped log line:\n%s", p.logs.String())
	}
}

// runBinary runs the binary to completion and returns its exit code and
// its combined output.
func runBinary(t *testing.T, bin string, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(childEnv(), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("run %v: %v", args, err)
	return 0, ""
}

func testUsage(t *testing.T, bin string) {
	code, out := runBinary(t, bin, nil, "-help")
	if code != 0 || !strings.Contains(out, "IRONKV_LISTEN") || !strings.Contains(out, "-insecure-allow-public-without-key") ||
		!strings.Contains(out, "IRONKV_MASTER_KEY") || !strings.Contains(out, "-master-key-file") {
		t.Errorf("-help: exit %d, want 0 and the flags with their variables:\n%s", code, out)
	}
	for _, tt := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"-durability", "sometimes"}, nil, "sync-always"},
		{nil, []string{"IRONKV_LOG_LEVEL=loud"}, "IRONKV_LOG_LEVEL"},
		{[]string{"-listen", "0.0.0.0:0"}, nil, "refusing"},
		{[]string{"-master-key", "x"}, nil, "no -master-key flag"},
		{nil, []string{"IRONKV_MASTER_KEY=tooshort"}, "IRONKV_MASTER_KEY"},
	} {
		code, out := runBinary(t, bin, tt.env, tt.args...)
		if code != exitUsage || !strings.Contains(out, tt.want) {
			t.Errorf("%v %v: exit %d, want %d and %q:\n%s", tt.env, tt.args, code, exitUsage, tt.want, out)
		}
	}

	// A port in use is a failure to serve, not a usage error.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, out = runBinary(t, bin, nil, "-memory", "-listen", ln.Addr().String())
	if code != exitFailure || !strings.Contains(out, "address already in use") {
		t.Errorf("listen on a used port: exit %d, want %d and the cause:\n%s", code, exitFailure, out)
	}
}

// entry is the JSON form of a key's entry.
type entry struct {
	Key       string `json:"key"`
	Value     []byte `json:"value"` // base64 on the wire
	Revision  uint64 `json:"revision"`
	Operation string `json:"operation"`
}

func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

func testAPI(t *testing.T, bin string) {
	p := startProc(t, bin, "-listen", "127.0.0.1:0", "-data", t.TempDir())
	c := testClient(t)
	waitReady(t, c, p.base, 30*time.Second)
	api := p.base + "/api/v1/kv"

	status, body := call(t, c, "POST", api+"/buckets", `{"name":"orders","history":5}`)
	if status != http.StatusCreated {
		t.Fatalf("create bucket = %d: %s", status, body)
	}
	if status, body := call(t, c, "POST", api+"/buckets", `{"name":"orders"}`); status != http.StatusConflict {
		t.Errorf("create it again = %d, want 409: %s", status, body)
	}

	status, body = call(t, c, "PUT", api+"/buckets/orders/keys/order%2F1", `{"total":42}`)
	if status != http.StatusOK {
		t.Fatalf("PUT = %d: %s", status, body)
	}
	rev1 := decode[struct{ Revision uint64 }](t, body).Revision
	if rev1 == 0 {
		t.Fatalf("PUT revision 0: %s", body)
	}

	status, body = call(t, c, "GET", api+"/buckets/orders/keys/order%2F1", "")
	if status != http.StatusOK {
		t.Fatalf("GET = %d: %s", status, body)
	}
	if e := decode[entry](t, body); e.Key != "order/1" || string(e.Value) != `{"total":42}` || e.Revision != rev1 || e.Operation != "put" {
		t.Errorf("GET = %+v (value %q), want order/1 = {\"total\":42} at %d", e, e.Value, rev1)
	}
	if !bytes.Contains(body, []byte(base64.StdEncoding.EncodeToString([]byte(`{"total":42}`)))) {
		t.Errorf("GET body does not carry the value in standard base64: %s", body)
	}

	// Compare-and-set: the right revision wins, a stale one gets 412.
	status, body = call(t, c, "PUT", api+"/buckets/orders/keys/order%2F1", `{"total":43}`, "If-Match", strconv.FormatUint(rev1, 10))
	if status != http.StatusOK {
		t.Fatalf("PUT If-Match current = %d: %s", status, body)
	}
	if status, body := call(t, c, "PUT", api+"/buckets/orders/keys/order%2F1", `{"total":44}`, "If-Match", strconv.FormatUint(rev1, 10)); status != http.StatusPreconditionFailed {
		t.Errorf("PUT If-Match stale = %d, want 412: %s", status, body)
	}
	if status, body := call(t, c, "PUT", api+"/buckets/orders/keys/order%2F1", `x`, "If-None-Match", "*"); status != http.StatusPreconditionFailed {
		t.Errorf("PUT If-None-Match on a live key = %d, want 412: %s", status, body)
	}

	if status, body := call(t, c, "PUT", api+"/buckets/orders/keys/user:2", `two`); status != http.StatusOK {
		t.Fatalf("PUT user:2 = %d: %s", status, body)
	}
	status, body = call(t, c, "GET", api+"/buckets/orders/keys", "")
	if status != http.StatusOK {
		t.Fatalf("list = %d: %s", status, body)
	}
	list := decode[struct {
		Keys  []string
		Count int
	}](t, body)
	if strings.Join(list.Keys, " ") != "order/1 user:2" || list.Count != 2 {
		t.Errorf("list = %s, want order/1 and user:2", body)
	}

	if status, body := call(t, c, "DELETE", api+"/buckets/orders/keys/user:2", ""); status != http.StatusNoContent {
		t.Errorf("DELETE = %d, want 204: %s", status, body)
	}
	if status, body := call(t, c, "GET", api+"/buckets/orders/keys/user:2", ""); status != http.StatusNotFound {
		t.Errorf("GET deleted = %d, want 404: %s", status, body)
	}
	if status, body := call(t, c, "DELETE", api+"/buckets/orders", ""); status != http.StatusNoContent {
		t.Errorf("DELETE bucket = %d, want 204: %s", status, body)
	}
	if status, body := call(t, c, "GET", api+"/buckets/orders", ""); status != http.StatusNotFound {
		t.Errorf("GET deleted bucket = %d, want 404: %s", status, body)
	}

	_, metrics := call(t, c, "GET", p.base+"/metrics", "")
	for _, want := range []string{
		`ironkv_http_requests_total{route="PUT /buckets/{b}/keys/{key...}",status="200"} 3`,
		`ironkv_http_requests_total{route="PUT /buckets/{b}/keys/{key...}",status="412"} 2`,
		`ironkv_http_requests_total{route="POST /buckets",status="201"} 1`,
		`ironkv_http_request_duration_seconds_count{route="GET /buckets/{b}/keys/{key...}",status="200"} 1`,
		"ironkv_nats_connected 1",
		"ironkv_key_indexes ",
	} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Group commit, the default, synced for every acknowledged write: three
	// successful puts, a delete, and the bucket's creation and deletion.
	m := regexp.MustCompile(`(?m)^ironkv_group_commit_writes_total (\d+)$`).FindSubmatch(metrics)
	if m == nil {
		t.Error("/metrics lacks ironkv_group_commit_writes_total")
	} else if n, _ := strconv.Atoi(string(m[1])); n < 6 {
		t.Errorf("ironkv_group_commit_writes_total = %d, want at least 6", n)
	}
	p.stop()
}

// ack is a write the server acknowledged.
type ack struct {
	value string
	rev   uint64
}

func testSIGTERMDuringWrites(t *testing.T, bin string) {
	dir := t.TempDir()
	p := startProc(t, bin, "-listen", "127.0.0.1:0", "-data", dir)
	c := testClient(t)
	waitReady(t, c, p.base, 30*time.Second)
	api := p.base + "/api/v1/kv/buckets/stream"
	if status, body := call(t, c, "POST", p.base+"/api/v1/kv/buckets", `{"name":"stream"}`); status != http.StatusCreated {
		t.Fatalf("create bucket = %d: %s", status, body)
	}

	// One write is held in flight across the signal: the server has read
	// its headers and asked for the body (100 Continue) before SIGTERM,
	// and gets the body only once it has logged that it is shutting down.
	// It must still be answered, and kept.
	const heldValue = "sent during shutdown"
	heldClient := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}, Timeout: time.Minute}
	defer heldClient.CloseIdleConnections()
	body, bodyW := io.Pipe()
	got100 := make(chan struct{})
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got100Continue: func() { close(got100) },
	}), "PUT", api+"/keys/held", body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(heldValue))
	req.Header.Set("Expect", "100-continue")
	type result struct {
		status int
		rev    uint64
		err    error
	}
	held := make(chan result, 1)
	go func() {
		resp, err := heldClient.Do(req)
		if err != nil {
			held <- result{err: err}
			return
		}
		defer resp.Body.Close()
		var b struct{ Revision uint64 }
		err = json.NewDecoder(resp.Body).Decode(&b)
		held <- result{resp.StatusCode, b.Revision, err}
	}()
	select {
	case <-got100:
	case r := <-held:
		t.Fatalf("held write answered before its body was sent: %+v", r)
	case <-time.After(30 * time.Second):
		t.Fatal("no 100 Continue for the held write after 30s")
	}

	// Writers put unique keys until the server stops answering. Every
	// write that got a 200 is recorded with its revision.
	const (
		writers   = 8
		perWriter = 5000 // a bound; the server stops long before
		signalAt  = 200  // acknowledged writes before SIGTERM
	)
	var (
		mu      sync.Mutex
		acked   = map[string]ack{}
		nacked  atomic.Int64
		failed  atomic.Int64
		reached = make(chan struct{})
		once    sync.Once
		wg      sync.WaitGroup
	)
	for w := range writers {
		wg.Go(func() {
			for j := range perWriter {
				key := fmt.Sprintf("w%d.k%d", w, j)
				value := fmt.Sprintf("value %d/%d", w, j)
				req, _ := http.NewRequest("PUT", api+"/keys/"+key, strings.NewReader(value))
				resp, err := c.Do(req)
				if err != nil {
					failed.Add(1)
					return
				}
				var body struct{ Revision uint64 }
				derr := json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || derr != nil {
					failed.Add(1)
					return
				}
				mu.Lock()
				acked[key] = ack{value, body.Revision}
				mu.Unlock()
				if nacked.Add(1) == signalAt {
					once.Do(func() { close(reached) })
				}
			}
		})
	}
	select {
	case <-reached:
	case <-time.After(30 * time.Second):
		t.Fatalf("only %d writes acknowledged after 30s", nacked.Load())
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !p.logs.waitFor("msg=\"shutting down\"", 30*time.Second) {
		t.Fatal("no shutting down log line 30s after SIGTERM")
	}
	if _, err := io.WriteString(bodyW, heldValue); err != nil {
		t.Fatalf("send the held body: %v", err)
	}
	bodyW.Close()
	r := <-held
	if r.err != nil || r.status != http.StatusOK {
		t.Fatalf("held write = %d, %v; want 200: a request in flight at shutdown must be finished", r.status, r.err)
	}
	mu.Lock()
	acked["held"] = ack{heldValue, r.rev}
	mu.Unlock()
	p.wait(0)
	wg.Wait()
	c.CloseIdleConnections()
	t.Logf("%d writes acknowledged, %d writers stopped by the shutdown", len(acked), failed.Load())
	if failed.Load() != writers {
		t.Errorf("%d writers stopped by an error, want all %d", failed.Load(), writers)
	}

	// Restart on the same data and read every acknowledged write back.
	p2 := startProc(t, bin, "-listen", "127.0.0.1:0", "-data", dir)
	waitReady(t, c, p2.base, 30*time.Second)
	api = p2.base + "/api/v1/kv/buckets/stream"
	lost := 0
	for key, a := range acked {
		status, body := call(t, c, "GET", api+"/keys/"+key, "")
		if status != http.StatusOK {
			lost++
			t.Errorf("acknowledged write %s (revision %d) lost: GET = %d: %s", key, a.rev, status, body)
			continue
		}
		// Each key is written once, so the entry is exactly the write.
		if e := decode[entry](t, body); e.Revision != a.rev || string(e.Value) != a.value {
			t.Errorf("GET %s = %q at revision %d, want %q at %d", key, e.Value, e.Revision, a.value, a.rev)
		}
		if lost > 10 {
			t.Fatalf("giving up after %d lost writes", lost)
		}
	}
	p2.stop()
}

func testNATSListen(t *testing.T, bin string) {
	p := startProc(t, bin, "-listen", "127.0.0.1:0", "-memory", "-nats-listen", "127.0.0.1:0")
	if !strings.HasPrefix(p.natsURL, "nats://127.0.0.1:") {
		t.Fatalf("listening line has nats_url %q, want nats://127.0.0.1:PORT", p.natsURL)
	}
	c := testClient(t)
	waitReady(t, c, p.base, 30*time.Second)
	if status, body := call(t, c, "POST", p.base+"/api/v1/kv/buckets", `{"name":"shared"}`); status != http.StatusCreated {
		t.Fatalf("create bucket = %d: %s", status, body)
	}
	if status, body := call(t, c, "PUT", p.base+"/api/v1/kv/buckets/shared/keys/greeting", `hello`); status != http.StatusOK {
		t.Fatalf("PUT = %d: %s", status, body)
	}

	nc, err := nats.Connect(p.natsURL, nats.Name("test-client"))
	if err != nil {
		t.Fatalf("connect a plain NATS client to %s: %v", p.natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "KV_APP_shared")
	if err != nil {
		t.Fatalf("stream KV_APP_shared: %v", err)
	}
	if info := st.CachedInfo(); info.Config.Storage != jetstream.MemoryStorage || info.State.Msgs != 1 {
		t.Errorf("stream storage %v with %d messages, want memory with 1", info.Config.Storage, info.State.Msgs)
	}
	kvh, err := js.KeyValue(ctx, "APP_shared")
	if err != nil {
		t.Fatal(err)
	}
	e, err := kvh.Get(ctx, "greeting")
	if err != nil || string(e.Value()) != "hello" {
		t.Errorf("NATS KV get greeting = %v, %v; want hello", e, err)
	}
	nc.Close()
	p.stop()
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports
}

func testCluster(t *testing.T, bin string) {
	ports := freePorts(t, 3)
	routes := make([]string, len(ports))
	for i, port := range ports {
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", port)
	}
	nodes := make([]*proc, len(ports))
	for i, port := range ports {
		nodes[i] = startProc(t, bin,
			"-listen", "127.0.0.1:0",
			"-data", t.TempDir(),
			"-server-name", fmt.Sprintf("node%d", i+1),
			"-cluster-name", "ironkv-test",
			"-cluster-listen", fmt.Sprintf("127.0.0.1:%d", port),
			"-cluster-routes", strings.Join(routes, ","),
		)
	}
	c := testClient(t)
	for _, n := range nodes {
		waitReady(t, c, n.base, 60*time.Second)
	}
	first, third := nodes[0].base+"/api/v1/kv", nodes[2].base+"/api/v1/kv"

	// The meta leader learns about its peers from their heartbeats; until
	// it has, a replicated create fails for want of servers.
	var last string
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		status, body := call(t, c, "POST", first+"/buckets", `{"name":"replicated","replicas":3}`)
		if status == http.StatusCreated {
			break
		}
		last = fmt.Sprintf("%d: %s", status, body)
		if time.Now().After(deadline) {
			t.Fatalf("create a bucket with 3 replicas: %s", last)
		}
		<-tick.C
	}

	status, body := call(t, c, "PUT", first+"/buckets/replicated/keys/k", `written on node 1`)
	if status != http.StatusOK {
		t.Fatalf("PUT via node 1 = %d: %s", status, body)
	}
	rev := decode[struct{ Revision uint64 }](t, body).Revision

	// A read served by a replica may briefly lag the write.
	deadline = time.Now().Add(30 * time.Second)
	for {
		status, body := call(t, c, "GET", third+"/buckets/replicated/keys/k", "")
		if status == http.StatusOK {
			if e := decode[entry](t, body); string(e.Value) == "written on node 1" && e.Revision == rev {
				break
			}
		}
		last = fmt.Sprintf("%d: %s", status, body)
		if time.Now().After(deadline) {
			t.Fatalf("GET via node 3 never returned the write (revision %d): %s", rev, last)
		}
		<-tick.C
	}
	status, body = call(t, c, "GET", third+"/buckets/replicated", "")
	if status != http.StatusOK || !bytes.Contains(body, []byte(`"replicas":3`)) {
		t.Errorf("bucket info via node 3 = %d: %s, want replicas 3", status, body)
	}

	var wg sync.WaitGroup
	for _, n := range nodes {
		if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		wg.Go(func() { <-n.done })
	}
	wg.Wait()
	for _, n := range nodes {
		n.wait(0)
	}
}
