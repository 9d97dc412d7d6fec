package secrets_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
	"github.com/ironkv/ironkv/secrets"
	"go.uber.org/goleak"
)

// logs captures everything the tests log: the package's own logger (the
// default unless a test passes another), the NATS servers' logs, and the
// standard log package, which slog.SetDefault redirects.
var logs = &syncBuffer{}

var captured = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// sensitive holds every secret value and master key the tests use, to look
// for them in the logs.
var sensitive struct {
	sync.Mutex
	items [][]byte
}

func remember(b []byte) {
	sensitive.Lock()
	defer sensitive.Unlock()
	sensitive.items = append(sensitive.items, bytes.Clone(b))
}

// leak returns a description of the first sensitive item found in out, as
// it is or in hex or base64, or "".
func leak(out []byte) string {
	sensitive.Lock()
	defer sensitive.Unlock()
	for i, item := range sensitive.items {
		for _, form := range [][]byte{
			item,
			[]byte(hex.EncodeToString(item)),
			[]byte(strings.ToUpper(hex.EncodeToString(item))),
			[]byte(base64.StdEncoding.EncodeToString(item)),
			[]byte(base64.RawURLEncoding.EncodeToString(item)),
		} {
			if bytes.Contains(out, form) {
				return fmt.Sprintf("sensitive item %d (%d bytes)", i, len(item))
			}
		}
	}
	return ""
}

func TestMain(m *testing.M) {
	slog.SetDefault(captured)
	code := m.Run()
	if code == 0 {
		if l := leak(logs.Bytes()); l != "" {
			fmt.Fprintf(os.Stderr, "secrets tests: the logs hold %s\n", l)
			code = 1
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "secrets tests: goroutines left running: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newKey returns a fresh random master key, remembered as sensitive.
func newKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, secrets.KeySize)
	rand.Read(k)
	remember(k)
	return k
}

func keyring(t testing.TB, keys ...[]byte) *secrets.Keyring {
	t.Helper()
	kr, err := secrets.NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// value returns a distinctive secret value, remembered as sensitive.
func value(label string) []byte {
	var r [12]byte
	rand.Read(r[:])
	v := []byte("sv-" + label + "-" + hex.EncodeToString(r[:]))
	remember(v)
	return v
}

// world is a test's NATS server with stores in each namespace: sys for
// Secrets, raw (the same namespace) to read and write records as they are,
// app for user buckets, and cfg for config.
type world struct {
	srv *embedded.Server
	sys *kv.Store
	raw *kv.Store
	app *kv.Store
	cfg *kv.Store
}

func newWorld(t *testing.T) world {
	t.Helper()
	srv := kvtest.NewServer(t, embedded.Config{InMemory: true, Logger: captured})
	mem := kv.WithDefaultStorage(bucket.MemoryStorage)
	return world{
		srv: srv,
		sys: kvtest.StoreOn(t, srv, mem, kv.WithNamespace(bucket.SysSecrets)),
		raw: kvtest.StoreOn(t, srv, mem, kv.WithNamespace(bucket.SysSecrets)),
		app: kvtest.StoreOn(t, srv, mem),
		cfg: kvtest.StoreOn(t, srv, mem, kv.WithNamespace(bucket.SysConfig)),
	}
}

// secrets returns Secrets on the world's store with kr.
func (w world) secrets(t *testing.T, kr *secrets.Keyring, opts ...secrets.Option) *secrets.Secrets {
	t.Helper()
	s, err := secrets.New(w.sys, kr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// record returns the stored bytes of a secret, read as they are.
func (w world) record(t *testing.T, ctx context.Context, env, name string) []byte {
	t.Helper()
	b, err := w.raw.Bucket(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	e, err := b.Get(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return e.Value
}

// store writes bytes as the record of a secret.
func (w world) store(t *testing.T, ctx context.Context, env, name string, rec []byte) {
	t.Helper()
	b, err := w.raw.Bucket(ctx, env)
	if err != nil {
		b, err = w.raw.CreateBucket(ctx, bucket.Config{Name: env})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Put(ctx, name, rec); err != nil {
		t.Fatal(err)
	}
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

// discard is a logger that drops everything, for examples.
var discard = slog.New(slog.DiscardHandler)
