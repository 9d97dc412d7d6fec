package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/internal/loadstat"
	"github.com/ironkv/ironkv/kv"
)

// Config is what one run measures.
type Config struct {
	Duration  time.Duration         // per contender, per op, per round
	Rounds    int                   // rounds per op; the report gives the median
	Warmup    time.Duration         // per contender and op, before the rounds, not reported
	Conns     int                   // concurrent connections, one goroutine each
	Keys      int                   // preloaded keys; each request picks one at random
	ValueSize int                   // bytes per value, preloaded and PUT
	Modes     []embedded.Durability // one embedded NATS server per mode, in turn
	Ops       []string              // opGet, opPut
	Dir       string                // parent of the NATS data directories; "" = os.TempDir()
	Client    string                // clientLean or clientNetHTTP
	// CommitDelay is the servers' embedded.Config.CommitDelay: zero is
	// the default, negative turns the delay off.
	CommitDelay time.Duration
}

// The operations.
const (
	opGet = "get"
	opPut = "put"
)

// bucketName is the bucket the load goes to.
const bucketName = "loadgen"

func defaultConfig() Config {
	return Config{
		Duration:  3 * time.Second,
		Rounds:    5,
		Warmup:    time.Second,
		Conns:     64,
		Keys:      10000,
		ValueSize: 128,
		Modes:     []embedded.Durability{embedded.GroupCommit, embedded.SyncPeriodicLosesRecentWrites, embedded.SyncAlways},
		Ops:       []string{opGet, opPut},
		Client:    clientLean,
	}
}

func (c Config) validate() error {
	switch {
	case c.Duration <= 0:
		return errors.New("-duration must be positive")
	case c.Rounds < 1:
		return errors.New("-rounds must be at least 1")
	case c.Warmup < 0:
		return errors.New("-warmup cannot be negative")
	case c.Conns < 1:
		return errors.New("-conns must be at least 1")
	case c.Keys < 1:
		return errors.New("-keys must be at least 1")
	case c.ValueSize < 0 || c.ValueSize > 512<<10:
		return errors.New("-value-size must be between 0 and 524288 bytes")
	case len(c.Modes) == 0:
		return errors.New("-modes names no durability mode")
	case c.Client != clientLean && c.Client != clientNetHTTP:
		return fmt.Errorf("-client %q: use %s or %s", c.Client, clientLean, clientNetHTTP)
	case len(c.Ops) == 0:
		return errors.New("-ops names no operation")
	}
	for _, op := range c.Ops {
		if op != opGet && op != opPut {
			return fmt.Errorf("-ops: unknown operation %q (want get, put)", op)
		}
	}
	return nil
}

// A result is what one contender did for one op in one mode, over all the
// rounds.
type result struct {
	mode      embedded.Durability
	op        string
	contender string
	rates     []float64 // requests per second, one per round
	requests  int64     // in the rounds
	errors    int64     // in the rounds and the warm-up
	firstErr  string
	hist      loadstat.Histogram // latencies of the rounds
	elapsed   time.Duration      // of the rounds
	cpu       time.Duration      // used by this process in the rounds; -1 if unknown
	others    time.Duration      // used by the rest of the machine in the rounds; -1 if unknown
}

func (r *result) add(s *sample) {
	r.rates = append(r.rates, s.rate())
	r.requests += s.requests
	r.errors += s.errors
	if r.firstErr == "" {
		r.firstErr = s.firstErr
	}
	r.hist.Merge(&s.hist)
	r.elapsed += s.elapsed
	r.cpu = addKnown(r.cpu, s.cpu)
	r.others = addKnown(r.others, s.others)
}

// addKnown adds two CPU times of which -1 means unknown.
func addKnown(a, b time.Duration) time.Duration {
	if a < 0 || b < 0 {
		return -1
	}
	return a + b
}

// cpuPerRequest returns the process CPU time per request of the rounds, and
// false when it is unknown.
func (r *result) cpuPerRequest() (time.Duration, bool) {
	if r.cpu <= 0 || r.requests == 0 {
		return 0, false
	}
	return r.cpu / time.Duration(r.requests), true
}

// othersShare returns the CPU time that other processes used in the rounds
// as a share of every CPU of the machine, and false when it is unknown.
func (r *result) othersShare() (float64, bool) {
	if r.others < 0 || r.elapsed <= 0 {
		return 0, false
	}
	return float64(r.others) / (float64(r.elapsed) * float64(runtime.NumCPU())), true
}

// run measures every op of cfg in every mode, reports progress to log and
// writes the Markdown report to out. It returns the results it has, with an
// error, when something fails or ctx ends; errors of requests are not a
// failure of run but counts in the results.
func run(ctx context.Context, cfg Config, out, log io.Writer) ([]*result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var results []*result
	for _, mode := range cfg.Modes {
		rs, err := runMode(ctx, cfg, mode, log)
		results = append(results, rs...)
		if err != nil {
			return results, fmt.Errorf("%s: %w", mode, err)
		}
	}
	return results, writeReport(out, cfg, results)
}

// runMode starts an embedded NATS server in mode, a store and bucket on
// it, preloads the keys and serves the API and the bare handler, then runs
// the rounds of every op, and stops everything it started.
func runMode(ctx context.Context, cfg Config, mode embedded.Durability, log io.Writer) (results []*result, err error) {
	dir, err := os.MkdirTemp(cfg.Dir, "ironkv-loadgen-")
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()

	srv, err := embedded.Start(ctx, embedded.Config{DataDir: dir, Durability: mode, CommitDelay: cfg.CommitDelay})
	if err != nil {
		return nil, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err = errors.Join(err, srv.Shutdown(sctx))
	}()
	nc, err := srv.Connect()
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	store, err := kv.New(nc)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, store.Close()) }()
	b, err := store.CreateBucket(ctx, bucket.Config{Name: bucketName})
	if err != nil {
		return nil, err
	}

	keys := makeKeys(cfg.Keys)
	t0 := time.Now()
	if err := preload(ctx, b, keys, cfg.ValueSize, cfg.Conns); err != nil {
		return nil, fmt.Errorf("preload: %w", err)
	}
	fmt.Fprintf(log, "%s: preloaded %d keys of %d bytes in %v\n", mode, len(keys), cfg.ValueSize, time.Since(t0).Round(time.Millisecond))

	api := newAPI(store)
	defer func() { err = errors.Join(err, api.Close()) }()
	servers := map[string]*server{}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, s := range servers {
			err = errors.Join(err, s.shutdown(sctx))
		}
	}()
	clients := map[string]client{}
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()
	for name, h := range map[string]http.Handler{contenderAPI: apiHandler(api), contenderBare: bareHandler(b)} {
		s, err := startServer(name, h)
		if err != nil {
			return nil, err
		}
		servers[name] = s
		clients[name] = newClient(cfg.Client, strings.TrimPrefix(s.url, "http://"), cfg.Conns)
	}

	value := make([]byte, cfg.ValueSize)
	_, _ = rand.Read(value)
	for _, op := range cfg.Ops {
		targets := map[string]target{
			contenderAPI:  newTarget(op, apiPrefix+"/buckets/"+bucketName+"/keys/", keys, value),
			contenderBare: newTarget(op, barePrefix, keys, value),
		}
		byName := map[string]*result{}
		for _, name := range []string{contenderBare, contenderAPI} {
			r := &result{mode: mode, op: op, contender: name}
			byName[name] = r
			results = append(results, r)
			if cfg.Warmup > 0 {
				s := drive(ctx, clients[name], targets[name], cfg.Conns, cfg.Warmup)
				r.errors += s.errors
				r.firstErr = s.firstErr
			}
		}
		for round := range cfg.Rounds {
			// Alternate who goes first, so that drift (the page cache, the
			// stream growing, the disk) does not favour one contender.
			order := []string{contenderBare, contenderAPI}
			if round%2 == 1 {
				order[0], order[1] = order[1], order[0]
			}
			line := fmt.Sprintf("%s %s round %d/%d:", mode, op, round+1, cfg.Rounds)
			for _, name := range order {
				before := srv.SyncStats()
				s := drive(ctx, clients[name], targets[name], cfg.Conns, cfg.Duration)
				byName[name].add(s)
				line += fmt.Sprintf(" %s %.0f req/s (%d errors)", name, s.rate(), s.errors)
				if st := srv.SyncStats(); st.Syncs > before.Syncs {
					n := float64(st.Syncs - before.Syncs)
					line += fmt.Sprintf(" [%.1f writes/sync, %.2f ms/sync]", float64(st.Waiters-before.Waiters)/n, (st.Time-before.Time).Seconds()*1000/n)
				}
			}
			fmt.Fprintln(log, line)
			if err := ctx.Err(); err != nil {
				return results, err
			}
		}
		for _, name := range []string{contenderBare, contenderAPI} {
			r := byName[name]
			fmt.Fprintf(log, "%s %s %s: %d requests in the rounds, %d errors", mode, op, name, r.requests, r.errors)
			if r.errors > 0 {
				fmt.Fprintf(log, ", the first: %s", r.firstErr)
			}
			fmt.Fprintln(log)
		}
	}
	return results, nil
}

// makeKeys returns n keys that need no escaping in a URL or in NATS.
func makeKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%07d", i)
	}
	return keys
}

// newTarget returns the requests of op on the keys, under base.
func newTarget(op, base string, keys []string, value []byte) target {
	t := target{method: http.MethodGet, paths: make([]string, len(keys))}
	if op == opPut {
		t.method, t.value = http.MethodPut, value
	}
	for i, k := range keys {
		t.paths[i] = base + k
	}
	return t
}

// preload puts a random value of size bytes under every key, from conns
// goroutines.
func preload(ctx context.Context, b *kv.Bucket, keys []string, size, conns int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan string)
	var wg sync.WaitGroup
	for range min(conns, len(keys)) {
		wg.Go(func() {
			value := make([]byte, size)
			for k := range next {
				_, _ = rand.Read(value)
				if _, err := b.Put(ctx, k, value); err != nil {
					cancel(fmt.Errorf("put %s: %w", k, err))
				}
			}
		})
	}
feed:
	for _, k := range keys {
		select {
		case next <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}
