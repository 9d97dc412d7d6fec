package reliability_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// server is one ironkv server process: the binary of examples/server.
type server struct {
	t       testing.TB
	args    []string
	cmd     *exec.Cmd
	log     *tail
	started time.Time     // when the process was started
	base    string        // http://host:port, from the "listening" line
	natsURL string        // nats://host:port, when the server has a client port
	done    chan struct{} // closed once the process has exited
	waitErr error         // set before done is closed
}

// The "listening" line of the server's log (text format).
var (
	listeningRE = regexp.MustCompile(`\bmsg=listening\b.*\baddr=(\S+)`)
	natsURLRE   = regexp.MustCompile(`\bnats_url=(\S+)`)
)

// startServer starts the server binary with args and waits, at most 30 s,
// for its "listening" line. The process is killed, if it still runs, when
// the test ends; its log is printed if the test failed.
func startServer(t testing.TB, args ...string) *server {
	t.Helper()
	s := &server{t: t, args: args, log: newTail(256 << 10), done: make(chan struct{})}
	s.cmd = exec.Command(serverBinary(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IRONKV_") {
			s.cmd.Env = append(s.cmd.Env, kv)
		}
	}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.started = time.Now()
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type addrs struct{ base, nats string }
	ready := make(chan addrs, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			line := sc.Text()
			s.log.add(line)
			if m := listeningRE.FindStringSubmatch(line); m != nil && !found {
				found = true
				a := addrs{base: "http://" + m[1]}
				if n := natsURLRE.FindStringSubmatch(line); n != nil {
					a.nats = n[1]
				}
				ready <- a
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		if s.running() {
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("log of server %s (last %d KiB):\n%s", strings.Join(args, " "), s.log.max>>10, s.log.String())
		}
	})
	select {
	case a := <-ready:
		s.base, s.natsURL = a.base, a.nats
	case <-s.done:
		t.Fatalf("server exited before listening: %v\n%s", s.waitErr, s.log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("server not listening after 30 s:\n%s", s.log.String())
	}
	return s
}

// api is the base URL of the KV API.
func (s *server) api() string { return s.base + "/api/v1/kv" }

func (s *server) running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to end.
func (s *server) kill() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.t.Fatalf("SIGKILL: %v", err)
	}
	<-s.done
}

// stop sends SIGTERM and checks that the process exits with status 0
// within 60 s.
func (s *server) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		s.t.Fatal("server still running 60 s after SIGTERM")
	}
	if s.waitErr != nil {
		s.t.Errorf("server exit after SIGTERM: %v", s.waitErr)
	}
}

// tail keeps the last max bytes of a log, by whole lines.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTail(max int) *tail { return &tail{max: max} }

func (l *tail) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(append(l.buf, line...), '\n')
	if over := len(l.buf) - l.max; over > 0 {
		i := bytes.IndexByte(l.buf[over:], '\n')
		l.buf = append(l.buf[:0], l.buf[over+i+1:]...)
	}
}

func (l *tail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}

// newClient returns an HTTP client for conns concurrent requests to one
// server, with a per-request timeout. It never follows redirects.
func newClient(t testing.TB, conns int, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// reply is an HTTP answer with its body read, or the error that kept it
// from coming.
type reply struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func (r reply) String() string {
	if r.err != nil {
		return r.err.Error()
	}
	return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body))
}

// do sends one request; hdr holds header names and values in turn.
func do(ctx context.Context, c *http.Client, method, url string, body []byte, hdr ...string) reply {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return reply{err: err}
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

// waitReady polls base/ready until it answers 200, for at most d.
func waitReady(t testing.TB, c *http.Client, base string, d time.Duration) {
	t.Helper()
	var last reply
	if !poll(d, 20*time.Millisecond, func() bool {
		last = do(context.Background(), c, "GET", base+"/ready", nil)
		return last.err == nil && last.status == http.StatusOK
	}) {
		t.Fatalf("%s/ready not 200 after %v: %v", base, d, last)
	}
}

// poll calls cond every interval until it returns true, for at most d, and
// reports whether it did.
func poll(d, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// createBucket creates a bucket through the API of base, retrying for up
// to 30 s while a cluster cannot place its replicas yet.
func createBucket(t testing.TB, c *http.Client, api, config string) {
	t.Helper()
	var last reply
	if !poll(30*time.Second, 50*time.Millisecond, func() bool {
		last = do(context.Background(), c, "POST", api+"/buckets", []byte(config))
		return last.err == nil && last.status == http.StatusCreated
	}) {
		t.Fatalf("create bucket %s: %v", config, last)
	}
}

// freePorts returns n distinct loopback ports that were free a moment ago:
// each is held until all are picked.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
