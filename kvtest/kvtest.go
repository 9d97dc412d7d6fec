// Package kvtest gives tests a real ironkv Store in a few lines: an
// in-process NATS server with JetStream (package embedded, no TCP port) and
// a kv.Store on it, both cleaned up with t.Cleanup. Use it in your own
// tests instead of a mock: it starts in milliseconds.
//
//	func TestMyThing(t *testing.T) {
//		store := kvtest.NewStore(t)
//		b := kvtest.NewBucket(t, store, bucket.Config{Name: "things"})
//		...
//	}
package kvtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kv"
	"github.com/nats-io/nats.go"
)

// NewServer starts an in-process NATS server for the test, in memory unless
// cfg says otherwise, and shuts it down when the test ends. It fails the
// test when the server does not start.
func NewServer(t testing.TB, cfg embedded.Config) *embedded.Server {
	t.Helper()
	if cfg.DataDir == "" && !cfg.InMemory {
		cfg.DataDir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := embedded.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("kvtest: start embedded NATS: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("kvtest: shut down embedded NATS: %v", err)
		}
	})
	return srv
}

// Connect returns an in-process connection to srv, closed when the test
// ends.
func Connect(t testing.TB, srv *embedded.Server, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := srv.Connect(opts...)
	if err != nil {
		t.Fatalf("kvtest: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// NewStore returns a kv.Store on a fresh in-memory server of its own. The
// store and server are closed when the test ends.
func NewStore(t testing.TB, opts ...kv.Option) *kv.Store {
	t.Helper()
	srv := NewServer(t, embedded.Config{InMemory: true})
	return StoreOn(t, srv, append([]kv.Option{kv.WithDefaultStorage(bucket.MemoryStorage)}, opts...)...)
}

// NewFileStore returns a kv.Store on a fresh server that keeps its data in a
// temporary directory with the given durability. Use it where file storage
// matters (restarts, durability); NewStore is faster.
func NewFileStore(t testing.TB, d embedded.Durability, opts ...kv.Option) (*kv.Store, *embedded.Server) {
	t.Helper()
	srv := NewServer(t, embedded.Config{Durability: d})
	return StoreOn(t, srv, opts...), srv
}

// StoreOn returns a kv.Store on a new connection to srv, closed when the
// test ends.
func StoreOn(t testing.TB, srv *embedded.Server, opts ...kv.Option) *kv.Store {
	t.Helper()
	s, err := kv.New(Connect(t, srv), opts...)
	if err != nil {
		t.Fatalf("kvtest: kv.New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// NewBucket creates a bucket in store and fails the test if it cannot.
func NewBucket(t testing.TB, store *kv.Store, cfg bucket.Config) *kv.Bucket {
	t.Helper()
	b, err := store.CreateBucket(context.Background(), cfg)
	if err != nil {
		t.Fatalf("kvtest: create bucket %q: %v", cfg.Name, err)
	}
	return b
}

// Eventually calls cond until it returns true, at most for d, and fails the
// test with msg otherwise. It is for conditions that have no event to wait
// on; prefer waiting on a revision or a watch event.
func Eventually(t testing.TB, d time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("kvtest: %s: not true after %v", msg, d)
		}
		<-tick.C
	}
}

// NewCluster starts n embedded NATS servers on loopback that form one
// JetStream cluster, waits until JetStream is ready on every node, and shuts
// them down when the test ends. Nodes keep their data in memory unless
// cfg says otherwise; cfg's cluster fields are filled in per node.
// Creating a replicated bucket right after start can still fail briefly
// with "no suitable peers" while the meta leader hears from every peer:
// retry it (see CreateBucketEventually).
func NewCluster(t testing.TB, n int, cfg embedded.Config) []*embedded.Server {
	t.Helper()
	ports := make([]int, n)
	routes := make([]string, n)
	// Hold every port until all are picked, so that they differ.
	var held []net.Listener
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("kvtest: pick a port: %v", err)
		}
		held = append(held, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", ports[i])
	}
	for _, l := range held {
		l.Close()
	}
	if cfg.DataDir == "" {
		cfg.InMemory = true
	}
	nodes := make([]*embedded.Server, n)
	for i := range n {
		c := cfg
		c.ServerName = fmt.Sprintf("node%d", i+1)
		c.ClientListen = "127.0.0.1:0"
		c.ClusterName = "kvtest"
		c.ClusterListen = fmt.Sprintf("127.0.0.1:%d", ports[i])
		c.Routes = routes
		if cfg.DataDir != "" {
			c.DataDir = fmt.Sprintf("%s/node%d", cfg.DataDir, i+1)
		}
		nodes[i] = NewServer(t, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i, node := range nodes {
		if err := node.WaitJetStream(ctx); err != nil {
			t.Fatalf("kvtest: node %d: JetStream not ready: %v", i+1, err)
		}
	}
	return nodes
}

// CreateBucketEventually creates a bucket, retrying for up to 30 s while
// the cluster is not ready to place its replicas.
func CreateBucketEventually(t testing.TB, store *kv.Store, cfg bucket.Config) *kv.Bucket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		b, err := store.CreateBucket(ctx, cfg)
		if err == nil {
			return b
		}
		if errors.Is(err, kv.ErrBucketExists) || errors.Is(err, kv.ErrInvalidBucketName) {
			t.Fatalf("kvtest: create bucket %q: %v", cfg.Name, err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("kvtest: create bucket %q: %v", cfg.Name, err)
		case <-tick.C:
		}
	}
}
