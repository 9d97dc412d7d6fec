package embedded_test

import (
	"context"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/ironkv/ironkv/embedded"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// start starts a server for the test and shuts it down when the test ends.
func start(t testing.TB, cfg embedded.Config) *embedded.Server {
	t.Helper()
	s, err := embedded.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

// connect opens an in-process connection closed when the test ends.
func connect(t testing.TB, s *embedded.Server) *nats.Conn {
	t.Helper()
	nc, err := s.Connect()
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// testContext returns a context that ends with the test or after a bound
// generous enough for a loaded machine.
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// createBucket creates a KV bucket over nc.
func createBucket(t testing.TB, nc *nats.Conn, cfg jetstream.KeyValueConfig) jetstream.KeyValue {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream.New: %v", err)
	}
	kv, err := js.CreateKeyValue(testContext(t), cfg)
	if err != nil {
		t.Fatalf("CreateKeyValue(%s): %v", cfg.Bucket, err)
	}
	return kv
}

// mustGet returns the value of key, failing the test if it cannot.
func mustGet(t testing.TB, kv jetstream.KeyValue, key string) string {
	t.Helper()
	e, err := kv.Get(testContext(t), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	return string(e.Value())
}

// eventually calls f on a ticker until it returns nil, and fails the test
// with f's last error if ctx ends first.
func eventually(t testing.TB, ctx context.Context, f func() error) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("gave up: %v (%v)", err, ctx.Err())
		case <-tick.C:
		}
	}
}

// freePorts returns n loopback TCP ports that were free a moment ago, for
// configs in which each node must know the others' ports in advance.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

func routeURL(port int) string {
	return "nats://127.0.0.1:" + strconv.Itoa(port)
}

// isolateTempDir points os.TempDir at a fresh directory for the test and
// returns it, so that the test can check what Start leaves behind.
func isolateTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	return dir
}

// assertEmptyDir fails the test if dir holds anything.
func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in %s: %s", dir, e.Name())
	}
}
