package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/httpapi"
	"github.com/ironkv/ironkv/internal/httpload"
	"github.com/ironkv/ironkv/internal/loadstat"
	"github.com/ironkv/ironkv/kv"
	"github.com/nats-io/nats.go/jetstream"
)

// A lab holds everything the systems run on: the temporary directory,
// the embedded servers, the child processes, and what to close at the end.
type lab struct {
	root     string    // temporary directory for every data dir and log
	log      io.Writer // progress
	closers  []func()  // run in reverse by close
	servers  map[embedded.Durability]*embedded.Server
	stores   map[embedded.Durability]ironkvStore
	versions versions
	skipped  []string // systems not run, with the reason
	pids     []int    // the running child servers
}

func newLab(log io.Writer) (*lab, error) {
	root, err := os.MkdirTemp("", "ironkv-peers-")
	if err != nil {
		return nil, err
	}
	l := &lab{
		root:    root,
		log:     log,
		servers: map[embedded.Durability]*embedded.Server{},
		stores:  map[embedded.Durability]ironkvStore{},
	}
	l.versions.nats = natsVersions()
	return l, nil
}

// cpuTimes returns the CPU time used by this process and the child
// servers, and by the whole machine (see loadstat.CPUTimes).
func (l *lab) cpuTimes() (ours, machine time.Duration, ok bool) {
	return loadstat.CPUTimes(append([]int{os.Getpid()}, l.pids...)...)
}

// onClose registers f to run at close, before everything registered
// earlier.
func (l *lab) onClose(f func()) { l.closers = append(l.closers, f) }

// close stops everything in reverse order of starting and removes the
// temporary directory.
func (l *lab) close() {
	for i := len(l.closers) - 1; i >= 0; i-- {
		l.closers[i]()
	}
	l.closers = nil
	if err := os.RemoveAll(l.root); err != nil {
		fmt.Fprintf(l.log, "removing %s: %v\n", l.root, err)
	}
}

// start installs what is missing, starts every system of sps and fills
// it; a system whose program cannot be installed is skipped with a
// message. maxConc is the most concurrent clients any cell will use.
func (l *lab) start(ctx context.Context, sps []spec, maxConc int) ([]*system, error) {
	missing := l.install(ctx, sps)
	var out []*system
	for _, sp := range sps {
		if why, ok := missing[sp.peer]; ok && sp.peer != "" {
			l.skip(sp, why)
			continue
		}
		t0 := time.Now()
		s, err := l.startSystem(ctx, sp, maxConc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sp.name, err)
		}
		if err := fill(ctx, s.c, maxConc); err != nil {
			return nil, fmt.Errorf("%s: filling the keys: %w", sp.name, err)
		}
		fmt.Fprintf(l.log, "%-26s ready in %s\n", sp.name, time.Since(t0).Round(time.Millisecond))
		out = append(out, s)
	}
	return out, nil
}

func (l *lab) skip(sp spec, why string) {
	msg := fmt.Sprintf("%s: skipped: %s", sp.name, why)
	fmt.Fprintln(l.log, msg)
	l.skipped = append(l.skipped, msg)
}

func (l *lab) startSystem(ctx context.Context, sp spec, maxConc int) (*system, error) {
	s := &system{spec: sp}
	switch sp.id {
	case "gc", "always", "periodic":
		mode := map[string]embedded.Durability{
			"gc": embedded.GroupCommit, "always": embedded.SyncAlways, "periodic": embedded.SyncPeriodicLosesRecentWrites,
		}[sp.id]
		st, err := l.ironkv(ctx, mode)
		if err != nil {
			return nil, err
		}
		s.c = ironkvClient{st.b}
		if mode == embedded.GroupCommit {
			s.stats = l.syncStats(mode)
		}
	case "http":
		st, err := l.ironkv(ctx, embedded.GroupCommit)
		if err != nil {
			return nil, err
		}
		c, err := l.serveHTTP(st.store, maxConc)
		if err != nil {
			return nil, err
		}
		s.c = c
		s.stats = l.syncStats(embedded.GroupCommit)
	case "nats-always", "nats-periodic":
		mode := embedded.SyncAlways
		if sp.id == "nats-periodic" {
			mode = embedded.SyncPeriodicLosesRecentWrites
		}
		c, err := l.natsKV(ctx, mode)
		if err != nil {
			return nil, err
		}
		s.c = c
	case "etcd":
		c, err := l.startEtcd(ctx)
		if err != nil {
			return nil, err
		}
		s.c = c
	case "redis-always", "redis-none":
		c, err := l.startRedis(ctx, sp.id == "redis-always", maxConc)
		if err != nil {
			return nil, err
		}
		s.c = c
	default:
		return nil, fmt.Errorf("unknown system id %q", sp.id)
	}
	return s, nil
}

// syncStats returns the group-commit totals of the embedded server of
// mode.
func (l *lab) syncStats(mode embedded.Durability) func() (uint64, uint64) {
	srv := l.servers[mode]
	return func() (uint64, uint64) {
		st := srv.SyncStats()
		return st.Syncs, st.Waiters
	}
}

// server returns the embedded server of a durability mode, starting it the
// first time. Systems of the same mode share it (with buckets of their
// own); only one cell runs at a time.
func (l *lab) server(ctx context.Context, mode embedded.Durability) (*embedded.Server, error) {
	if srv := l.servers[mode]; srv != nil {
		return srv, nil
	}
	srv, err := embedded.Start(ctx, embedded.Config{
		DataDir:    filepath.Join(l.root, "nats-"+mode.String()),
		Durability: mode,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the embedded %s server: %w", mode, err)
	}
	if srv.Durability() != mode {
		_ = srv.Shutdown(context.Background())
		return nil, fmt.Errorf("the embedded server runs %s, not %s (group commit needs Linux)", srv.Durability(), mode)
	}
	l.onClose(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			fmt.Fprintf(l.log, "stopping the embedded %s server: %v\n", mode, err)
		}
	})
	l.servers[mode] = srv
	return srv, nil
}

// An ironkvStore is a kv.Store and its bench bucket.
type ironkvStore struct {
	store *kv.Store
	b     *kv.Bucket
}

// ironkv returns the kv.Store on the embedded server of mode and its bench
// bucket, creating both the first time. kv.New finds the group-commit
// barrier by itself on a connection from Connect; it is passed explicitly
// all the same, and checked, so that the measurement cannot silently lose
// it.
func (l *lab) ironkv(ctx context.Context, mode embedded.Durability) (ironkvStore, error) {
	if st, ok := l.stores[mode]; ok {
		return st, nil
	}
	srv, err := l.server(ctx, mode)
	if err != nil {
		return ironkvStore{}, err
	}
	nc, err := srv.Connect()
	if err != nil {
		return ironkvStore{}, err
	}
	l.onClose(nc.Close)
	var opts []kv.Option
	if mode == embedded.GroupCommit {
		opts = append(opts, kv.WithGroupCommit(srv))
	}
	store, err := kv.New(nc, opts...)
	if err != nil {
		return ironkvStore{}, err
	}
	l.onClose(func() { _ = store.Close() })
	if want := mode == embedded.GroupCommit; store.GroupCommit() != want {
		return ironkvStore{}, fmt.Errorf("kv.Store group commit is %v on a %s server", store.GroupCommit(), mode)
	}
	b, err := store.CreateBucket(ctx, bucket.Config{Name: benchBucket, History: 1})
	if err != nil {
		return ironkvStore{}, err
	}
	st := ironkvStore{store: store, b: b}
	l.stores[mode] = st
	return st, nil
}

// natsKV returns a nats.go KeyValue bucket of its own (History 1, file
// storage) on the embedded server of mode, over a connection of its own.
func (l *lab) natsKV(ctx context.Context, mode embedded.Durability) (client, error) {
	srv, err := l.server(ctx, mode)
	if err != nil {
		return nil, err
	}
	nc, err := srv.Connect()
	if err != nil {
		return nil, err
	}
	l.onClose(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:  "raw_" + benchBucket,
		History: 1,
		Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, err
	}
	return natsClient{kv}, nil
}

// serveHTTP serves store through httpapi on a loopback port and returns a
// client with a keep-alive connection per concurrent client.
func (l *lab) serveHTTP(store *kv.Store, maxConc int) (client, error) {
	h := httpapi.New(store)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.Close()
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(l.log, "HTTP server: %v\n", err)
		}
	})
	c := httpClient{
		addr:  ln.Addr().String(),
		base:  "/buckets/" + benchBucket + "/keys/",
		conns: make(chan *httpload.Conn, maxConc),
	}
	l.onClose(func() {
		c.close()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		_ = h.Close()
		wg.Wait()
	})
	return c, nil
}
