// Command loadgen measures what the ironkv HTTP API costs over the kv calls
// it makes: it drives Get and Put through the API and through a bare
// net/http handler that makes the same single kv call per request, on the
// same store, in the same run, and prints a Markdown table.
//
//	go run ./examples/loadgen
//	go run ./examples/loadgen -modes periodic -ops get -rounds 3 -duration 2s
//
// # What is measured
//
// For each durability mode (-modes) the program starts an embedded NATS
// server with file storage in a fresh temporary directory (group commit,
// embedded.GroupCommit, the embedded default, with -commit-delay as its
// embedded.Config.CommitDelay; JetStream's default periodic
// sync, embedded.SyncPeriodicLosesRecentWrites; and an fsync on every
// write, embedded.SyncAlways), opens one kv.Store on an
// in-process connection, creates a bucket and preloads -keys keys with
// random values of -value-size bytes. Two net/http servers listen on
// 127.0.0.1 on free ports:
//
//   - api: httpapi.New(store) mounted under /api/v1/kv with
//     http.StripPrefix, as examples/server mounts it. GET
//     /api/v1/kv/buckets/loadgen/keys/{key} answers the entry as JSON
//     (base64 value), PUT stores the body and answers {"revision":N}.
//   - bare: one http.HandlerFunc holding the *kv.Bucket: GET /kv/{key}
//     calls Get and writes the value's bytes, PUT /kv/{key} reads the body,
//     calls Put and writes {"revision":N}. No routing, validation or
//     encoding beyond that: the floor the API is measured against.
//
// The client keeps -conns keep-alive connections per server over real TCP
// (64 by default), with -conns goroutines that each send a request for a
// random key on their own connection and wait for its answer before the
// next. By default it is internal/httpload, a lean HTTP/1.1 client that
// writes each request in one system call and reads the answer without
// allocating, as wrk does: it costs less than half the CPU per request of
// net/http's client, which on a machine shared with the servers leaves that
// CPU to them. -client net/http uses net/http's client instead. Each op runs a warm-up per contender (not reported), then
// -rounds rounds in which each contender runs for -duration, the two
// alternating and swapping who goes first each round, so that noise and
// drift hit both.
//
// Per mode, op and contender the table gives the median requests/s of the
// rounds and their range, the p50 and p99 latency over every request of the
// rounds (from a log-linear histogram, within 1%), the CPU time of the
// whole process per request, the errors (a transport error or any answer
// that is not 2xx; there should be none), and the CPU that other processes
// used during the rounds, which says how far to trust the rest. The CPU
// figures come from /proc, so only on Linux.
//
// For the API the table gives two ratios to the bare handler, against the
// target of 0.85x: its requests/s over the bare handler's (the median of
// the per-round ratios, each from two runs back to back, so that a slow
// spell of the machine cancels out), and the bare handler's CPU time per
// request over the API's, which is what the throughput ratio becomes on a
// machine that this work alone saturates, and which other load on the
// machine disturbs less than it does requests/s.
//
// Like the server binary in its default mode, it runs with one processor
// more than the runtime's default (embedded.ReserveSyncProc; set the
// GOMAXPROCS variable to choose). Progress goes to stderr, the table to
// stdout. The program exits with
// status 1 when any request failed, since the figures then do not count.
//
// # Reading the figures
//
// The load generator, both HTTP servers and NATS run in one process on the
// same CPUs, so client work takes CPU from the servers. The client's cost
// per request is nearly the same for both contenders, which narrows the gap
// between them compared with a client on another machine. Compare ratios
// from one run rather than absolute figures across machines.
//
// -cpuprofile writes a CPU profile of the whole run. Server goroutines carry
// the labels side=server and contender=api or bare (a handler's kv calls
// included), the client's side=client, and NATS's own goroutines none, so
//
//	go run ./examples/loadgen -cpuprofile cpu.out
//	go tool pprof -tagfocus contender=api -top cpu.out
//
// shows where the API's server side spends its time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/ironkv/ironkv/embedded"
)

func main() {
	cfg, profile, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(2)
	}
	// As the server binary does in its default mode (see
	// embedded.ReserveSyncProc), for every mode alike.
	embedded.ReserveSyncProc()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = runProfiled(ctx, cfg, profile)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(1)
	}
}

// runProfiled runs the load with a CPU profile written to path, if any. It
// fails when a request failed.
func runProfiled(ctx context.Context, cfg Config, path string) (err error) {
	if path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, f.Close()) }()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	results, err := run(ctx, cfg, os.Stdout, os.Stderr)
	if err != nil {
		return err
	}
	var failed int64
	for _, r := range results {
		failed += r.errors
	}
	if failed > 0 {
		return fmt.Errorf("%d requests failed; the figures do not count", failed)
	}
	return nil
}

// parseFlags returns the Config of the command line and the CPU profile
// path.
func parseFlags(args []string, stderr io.Writer) (Config, string, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./examples/loadgen [flags]\n\n"+
			"Drives Get and Put through the ironkv HTTP API and through a bare net/http\n"+
			"handler on the same store, and prints a Markdown table.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long each contender runs per op and round")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "rounds per op; the table gives the median")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "warm-up per contender and op before the rounds, not reported")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "concurrent keep-alive connections per contender, one client goroutine each")
	fs.IntVar(&cfg.Keys, "keys", cfg.Keys, "keys preloaded; each request picks one at random")
	fs.IntVar(&cfg.ValueSize, "value-size", cfg.ValueSize, "bytes per value, preloaded and PUT")
	modes := fs.String("modes", "group-commit,periodic,always", "durability `modes`, comma-separated: group-commit (the embedded default: a sync shared by the writes waiting), periodic (sync-periodic-loses-recent-writes, JetStream's default) and always (sync-always, fsync every write)")
	ops := fs.String("ops", "get,put", "operations, comma-separated: get, put")
	fs.StringVar(&cfg.Dir, "dir", "", "parent `directory` of the NATS data directories (default the system's temporary directory; on a tmpfs, fsync costs nothing)")
	fs.StringVar(&cfg.Client, "client", cfg.Client, "the HTTP client: lean (a keep-alive connection per worker, one write per request, as wrk) or net/http (Go's own client, which costs several times the CPU per request)")
	fs.DurationVar(&cfg.CommitDelay, "commit-delay", 0, "group commit's embedded.Config.CommitDelay: the longest a sync waits for as many writes as the last one served (0: the default, 1ms; negative: never wait)")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the run to `file`")
	if err := fs.Parse(args); err != nil {
		return cfg, "", err
	}
	if fs.NArg() > 0 {
		return cfg, "", fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	var err error
	if cfg.Modes, err = parseModes(*modes); err != nil {
		return cfg, "", err
	}
	cfg.Ops = splitList(*ops)
	return cfg, *profile, cfg.validate()
}

// parseModes parses a comma-separated list of durability modes, by their
// embedded names or the short forms periodic and always.
func parseModes(s string) ([]embedded.Durability, error) {
	var modes []embedded.Durability
	for _, name := range splitList(s) {
		var d embedded.Durability
		switch name {
		case "periodic":
			d = embedded.SyncPeriodicLosesRecentWrites
		case "always":
			d = embedded.SyncAlways
		default:
			var err error
			if d, err = embedded.ParseDurability(name); err != nil {
				return nil, fmt.Errorf("-modes: %w (or periodic, always)", err)
			}
		}
		modes = append(modes, d)
	}
	return modes, nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.ToLower(strings.TrimSpace(item)); item != "" {
			out = append(out, item)
		}
	}
	return out
}
