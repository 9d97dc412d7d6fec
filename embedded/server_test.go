package embedded_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ironkv/ironkv/embedded"
)

func TestZeroConfig(t *testing.T) {
	s, err := embedded.Start(context.Background(), embedded.Config{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	dir := s.DataDir()
	if dir == "" {
		t.Fatal("DataDir is empty")
	}
	if s.Name() == "" {
		t.Error("Name is empty")
	}
	if got := s.Durability(); got != embedded.GroupCommit {
		t.Errorf("Durability = %v, want %v", got, embedded.GroupCommit)
	}

	nc := connect(t, s)
	kv := createBucket(t, nc, jetstream.KeyValueConfig{Bucket: "zero"})
	if _, err := kv.Put(testContext(t), "greeting", []byte("hello")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if got := mustGet(t, kv, "greeting"); got != "hello" {
		t.Errorf("Get = %q, want hello", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil {
		t.Errorf("store not under DataDir: %v", err)
	}

	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temporary DataDir %s still there after Shutdown: %v", dir, err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if _, err := s.Connect(); !errors.Is(err, embedded.ErrServerClosed) {
		t.Errorf("Connect after Shutdown: err = %v, want ErrServerClosed", err)
	}
	if err := s.WaitJetStream(context.Background()); !errors.Is(err, embedded.ErrServerClosed) {
		t.Errorf("WaitJetStream after Shutdown: err = %v, want ErrServerClosed", err)
	}
}

func TestInMemory(t *testing.T) {
	s := start(t, embedded.Config{InMemory: true})
	kv := createBucket(t, connect(t, s), jetstream.KeyValueConfig{
		Bucket:  "mem",
		Storage: jetstream.MemoryStorage,
	})
	if _, err := kv.Put(testContext(t), "k", []byte("v")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if got := mustGet(t, kv, "k"); got != "v" {
		t.Errorf("Get = %q, want v", got)
	}
	st, err := kv.Status(testContext(t))
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if got := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Storage; got != jetstream.MemoryStorage {
		t.Errorf("storage = %v, want memory", got)
	}
}

func TestDataDirPersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // Start creates it
	ctx := testContext(t)

	s1, err := embedded.Start(ctx, embedded.Config{DataDir: dir})
	if err != nil {
		t.Fatalf("first Start: %v", err)
	}
	nc := connect(t, s1)
	kv := createBucket(t, nc, jetstream.KeyValueConfig{Bucket: "keep"})
	if _, err := kv.Put(ctx, "k", []byte("survives")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	nc.Close()
	if err := s1.Shutdown(ctx); err != nil {
		t.Fatalf("first Shutdown: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil {
		t.Fatalf("DataDir removed by Shutdown: %v", err)
	}

	s2 := start(t, embedded.Config{DataDir: dir})
	if s2.DataDir() != dir {
		t.Errorf("DataDir = %q, want %q", s2.DataDir(), dir)
	}
	js, err := jetstream.New(connect(t, s2))
	if err != nil {
		t.Fatal(err)
	}
	kv2, err := js.KeyValue(ctx, "keep")
	if err != nil {
		t.Fatalf("KeyValue after restart: %v", err)
	}
	if got := mustGet(t, kv2, "k"); got != "survives" {
		t.Errorf("Get after restart = %q, want survives", got)
	}
}

func TestDurabilityOnServer(t *testing.T) {
	periodic := embedded.SyncPeriodicLosesRecentWrites
	tests := []struct {
		name         string
		cfg          embedded.Config
		want         embedded.Durability
		syncAlways   bool
		syncInterval time.Duration
	}{
		{"zero value", embedded.Config{}, embedded.GroupCommit, false, 2 * time.Minute},
		{"sync always", embedded.Config{Durability: embedded.SyncAlways}, embedded.SyncAlways, true, 2 * time.Minute},
		{"periodic default interval", embedded.Config{Durability: periodic}, periodic, false, 2 * time.Minute},
		{"periodic custom interval", embedded.Config{Durability: periodic, SyncInterval: 5 * time.Second}, periodic, false, 5 * time.Second},
		{"in memory", embedded.Config{InMemory: true}, periodic, false, 2 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, tt.cfg)
			if got := s.Durability(); got != tt.want {
				t.Errorf("Durability() = %v, want %v", got, tt.want)
			}
			jsc := s.NATS().JetStreamConfig()
			if jsc == nil {
				t.Fatal("JetStream not enabled")
			}
			if jsc.SyncAlways != tt.syncAlways {
				t.Errorf("server SyncAlways = %v, want %v", jsc.SyncAlways, tt.syncAlways)
			}
			if jsc.SyncInterval != tt.syncInterval {
				t.Errorf("server SyncInterval = %v, want %v", jsc.SyncInterval, tt.syncInterval)
			}
			// Sync is a barrier where the mode makes one, and refused where
			// nothing is synced at acknowledgement.
			err := s.Sync(context.Background())
			if tt.want == periodic {
				if !errors.Is(err, embedded.ErrInvalidConfig) {
					t.Errorf("Sync in %v = %v, want ErrInvalidConfig", tt.want, err)
				}
			} else if err != nil {
				t.Errorf("Sync in %v = %v", tt.want, err)
			}
			if got := s.SyncStats().Syncs; (got == 1) != (tt.want == embedded.GroupCommit) {
				t.Errorf("SyncStats().Syncs = %d after one Sync in %v", got, tt.want)
			}
			if jsc.StoreDir != filepath.Join(s.DataDir(), "jetstream") {
				t.Errorf("server StoreDir = %q, want %q/jetstream", jsc.StoreDir, s.DataDir())
			}
		})
	}
}

func TestClientListen(t *testing.T) {
	t.Run("loopback random port", func(t *testing.T) {
		s := start(t, embedded.Config{ClientListen: "127.0.0.1:0"})
		u := s.ClientURL()
		if !strings.HasPrefix(u, "nats://127.0.0.1:") || strings.HasSuffix(u, ":0") {
			t.Fatalf("ClientURL = %q, want nats://127.0.0.1:<port>", u)
		}
		nc, err := nats.Connect(u)
		if err != nil {
			t.Fatalf("nats.Connect(%s): %v", u, err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.AccountInfo(testContext(t)); err != nil {
			t.Errorf("JetStream over TCP: %v", err)
		}
	})
	t.Run("every interface", func(t *testing.T) {
		s := start(t, embedded.Config{ClientListen: ":0"})
		u := s.ClientURL()
		if !strings.HasPrefix(u, "nats://127.0.0.1:") {
			t.Fatalf("ClientURL = %q, want a loopback URL", u)
		}
		nc, err := nats.Connect(u)
		if err != nil {
			t.Fatalf("nats.Connect(%s): %v", u, err)
		}
		nc.Close()
	})
	t.Run("no listener", func(t *testing.T) {
		s := start(t, embedded.Config{})
		if u := s.ClientURL(); u != "" {
			t.Errorf("ClientURL = %q, want empty", u)
		}
		if a := s.NATS().Addr(); a != nil {
			t.Errorf("NATS().Addr() = %v, want no listener", a)
		}
		if u := s.ClusterURL(); u != "" {
			t.Errorf("ClusterURL = %q, want empty", u)
		}
	})
}

func TestInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  embedded.Config
		want string // in the message
	}{
		{"routes without cluster name", embedded.Config{ClusterListen: "127.0.0.1:0", Routes: []string{"nats://127.0.0.1:6222"}}, "ClusterName"},
		{"cluster name without listen", embedded.Config{ClusterName: "c", Routes: []string{"nats://127.0.0.1:6222"}}, "ClusterListen"},
		{"cluster without routes", embedded.Config{ClusterName: "c", ClusterListen: "127.0.0.1:0"}, "Routes"},
		{"bad route", embedded.Config{ClientListen: "127.0.0.1:0", ClusterName: "c", ClusterListen: "127.0.0.1:0", Routes: []string{"127.0.0.1:6222"}}, "nats://host:port"},
		{"route scheme", embedded.Config{ClientListen: "127.0.0.1:0", ClusterName: "c", ClusterListen: "127.0.0.1:0", Routes: []string{"http://127.0.0.1:6222"}}, "scheme"},
		{"cluster without client listener", embedded.Config{ClusterName: "c", ClusterListen: "127.0.0.1:0", Routes: []string{"nats://127.0.0.1:6222"}}, "ClientListen"},
		{"negative sync interval", embedded.Config{SyncInterval: -time.Second}, "SyncInterval"},
		{"negative start timeout", embedded.Config{StartTimeout: -time.Second}, "StartTimeout"},
		{"commit delay too long", embedded.Config{CommitDelay: time.Second}, "CommitDelay"},
		{"negative max payload", embedded.Config{MaxPayload: -1}, "MaxPayload"},
		{"unknown durability", embedded.Config{Durability: 7}, "Durability"},
		{"memory with data dir", embedded.Config{InMemory: true, DataDir: "x"}, "mutually exclusive"},
		{"listen without port", embedded.Config{ClientListen: "127.0.0.1"}, "host:port"},
		{"listen port out of range", embedded.Config{ClientListen: "127.0.0.1:70000"}, "port"},
		{"cluster listen not a port", embedded.Config{ClientListen: "127.0.0.1:0", ClusterName: "c", ClusterListen: "127.0.0.1:x", Routes: []string{"nats://127.0.0.1:6222"}}, "ClusterListen"},
		{"server name with space", embedded.Config{ServerName: "a b"}, "ServerName"},
		{"payload above max pending", embedded.Config{MaxPayload: 1 << 30}, "max_payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := isolateTempDir(t)
			s, err := embedded.Start(context.Background(), tt.cfg)
			assertEmptyDir(t, tmp)
			if err == nil {
				_ = s.Shutdown(context.Background())
				t.Fatal("Start succeeded, want error")
			}
			if !errors.Is(err, embedded.ErrInvalidConfig) {
				t.Errorf("error %q does not wrap ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestStartFailsOnBusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tmp := isolateTempDir(t)
	// The listener failure must be reported as such, not by running into
	// StartTimeout.
	s, err := embedded.Start(context.Background(), embedded.Config{
		ClientListen: l.Addr().String(),
		StartTimeout: time.Minute,
	})
	assertEmptyDir(t, tmp)
	if err == nil {
		_ = s.Shutdown(context.Background())
		t.Fatal("Start succeeded on a busy port")
	}
	if !strings.Contains(err.Error(), "listening") || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Errorf("error %q does not report the listen failure", err)
	}
}

func TestStartCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := embedded.Start(ctx, embedded.Config{})
	if err == nil {
		_ = s.Shutdown(context.Background())
		t.Fatal("Start succeeded with a cancelled context")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestShutdownCancelledContext(t *testing.T) {
	s, err := embedded.Start(context.Background(), embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Either the shutdown was quick enough or Shutdown gave up on ctx; it
	// must not block either way.
	if err := s.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown(cancelled) = %v, want nil or context.Canceled", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after cancelled Shutdown: %v", err)
	}
	if _, err := os.Stat(s.DataDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temporary DataDir still there: %v", err)
	}
}

func TestShutdownConcurrent(t *testing.T) {
	s, err := embedded.Start(context.Background(), embedded.Config{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = s.Shutdown(context.Background()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Shutdown %d: %v", i, err)
		}
	}
}

func TestShutdownClosesConnections(t *testing.T) {
	s, err := embedded.Start(context.Background(), embedded.Config{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	nc, err := s.Connect(nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if got := nc.Opts.Name; got != embedded.ConnName {
		t.Errorf("connection name = %q, want %q", got, embedded.ConnName)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-testContext(t).Done():
		t.Fatal("in-process connection still open after Shutdown")
	}
	if err := nc.Publish("x", nil); !errors.Is(err, nats.ErrConnectionClosed) {
		t.Errorf("Publish after Shutdown: %v, want nats.ErrConnectionClosed", err)
	}
}

func TestWaitJetStreamStandalone(t *testing.T) {
	s := start(t, embedded.Config{InMemory: true})
	if err := s.WaitJetStream(testContext(t)); err != nil {
		t.Errorf("WaitJetStream: %v", err)
	}
}

func TestLogger(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := embedded.Start(context.Background(), embedded.Config{InMemory: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"level=INFO", "Starting nats-server", "Server is ready"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "level=DEBUG") {
		t.Errorf("debug records with an Info logger:\n%s", out)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestStartAbortedByContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel while nats-server is starting: its first log line says so.
	log := slog.New(onMessage{"Starting nats-server", cancel})
	tmp := isolateTempDir(t)
	s, err := embedded.Start(ctx, embedded.Config{Logger: log})
	assertEmptyDir(t, tmp)
	if err == nil {
		_ = s.Shutdown(context.Background())
		t.Fatal("Start succeeded although ctx was cancelled during startup")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	// goleak in TestMain checks that no goroutine was left running.
}

// onMessage is a slog.Handler that calls f when it sees msg.
type onMessage struct {
	msg string
	f   func()
}

func (h onMessage) Enabled(context.Context, slog.Level) bool { return true }
func (h onMessage) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h onMessage) WithGroup(string) slog.Handler            { return h }
func (h onMessage) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.f()
	}
	return nil
}
