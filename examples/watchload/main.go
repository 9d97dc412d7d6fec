// Command watchload measures the watch fan-out of the ironkv server: many
// clients watching one bucket, the server in one process and the load
// generator in another, on loopback. It prints a Markdown table.
//
//	go run ./examples/watchload
//	go run ./examples/watchload -scenarios targeted,broadcast -duration 10s
//
// The full default run takes a few minutes.
//
// # What it does
//
// It builds examples/server (or takes -server-bin) and, for each scenario,
// starts it as a child process with memory storage, HTTP and NATS on free
// loopback ports (-listen 127.0.0.1:0 -memory -nats-listen 127.0.0.1:0),
// reading both addresses from its "listening" log line. It creates the
// bucket "watchload" (memory storage, 64 revisions per key so that a
// watcher that falls behind still finds every revision and the count of
// events is exact), opens the watchers, at most -dial-concurrency
// handshakes in flight, and then writes for -duration.
//
//   - targeted: -watchers WebSockets on the hub's watch route, watcher i
//     filtering its own key (GET /api/v1/kv/buckets/watchload/watch?key=k.<i>),
//     and -rate puts/s across those keys.
//   - broadcast: -broadcast-watchers WebSockets on the whole bucket (no key
//     filter), and -broadcast-rate puts/s: every put goes to every watcher.
//   - baseline-targeted and baseline-broadcast: the same, with each watcher
//     a nats.go jetstream KeyValue.Watch of its own (updates only, so one
//     ordered consumer each) on the server's NATS client port instead of the
//     hub. Each watcher has a NATS connection of its own by default, as
//     each hub watcher has its WebSocket and as independent clients (browser
//     tabs, processes) would: -watchers-per-conn N puts N watchers on one
//     connection instead, which lets nats-server write the messages of N
//     consumers in one system call and so measures the consumers more than
//     the sockets (the table then says "N to a connection"; an earlier
//     default was 100). nats-server limits a stream whose max_consumers is
//     unset, as a KV bucket's is, to 1,000 consumers; the program raises the
//     bucket stream's limit to the number of watchers first.
//
// The writer is the same in every scenario: HTTP PUT to the API on
// keep-alive connections (-writers in flight), keys k.0, k.1, ... in turn,
// each put due at its slot of a steady schedule. Each value is the time of
// its sending (8 bytes, nanoseconds on this process's monotonic clock), so
// the load generator computes the latency of every event it receives from
// the event alone.
//
// After the writing it waits (at most -drain) until every watcher has the
// events its filter selects, then closes the watchers and stops the server
// with SIGTERM. Ctrl-C does the same at any point.
//
// # What it reports
//
// Per scenario: the watchers opened and the time to open them all; the
// consumers on the bucket's stream (JetStream stream info, sampled every
// half second during the run; the hub must hold exactly one); delivery
// latency p50, p99 and max from the put's sending to the event's arrival;
// events delivered against expected (the sum over watchers of the successful
// puts their filter selects), with events missing, extra, out of order and
// for a key outside the filter counted per watcher; the server's RSS
// (VmRSS of /proc/<pid>/status) per idle watcher, from before and after
// opening them, with the goroutines, heap and stacks per watcher that the
// server's /metrics shows; and the CPU time of the server (utime+stime of
// /proc/<pid>/stat) and of the load generator over the writing and the
// wait for the last events, as a share of one core. The report ends with how
// the hub runs fare against the aims of the watch design: p99 under 100 ms,
// every event delivered, one consumer, under 32 KiB per idle watcher, and
// better than the baseline.
//
// # Limits
//
// The server, its embedded NATS server and the load generator share the
// machine's CPUs, so the load generator's work (reading 100,000 frames a
// second in the broadcast run) takes CPU from the server, and the figures
// are a floor for a server with the machine to itself. Ten thousand
// WebSockets need as many open files on each side: the program raises its
// soft limit to the hard limit, and the server inherits it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "watchload: %v\n", err)
		os.Exit(2)
	}
	if cfg.serverLogPath != "" {
		f, err := os.Create(cfg.serverLogPath)
		if err != nil {
			fmt.Fprintf(os.Stderr, "watchload: -server-log: %v\n", err)
			os.Exit(2)
		}
		defer f.Close()
		cfg.serverLog = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results, err := run(ctx, cfg, os.Stderr)
	if len(results) > 0 {
		writeReport(os.Stdout, cfg, results)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "watchload: %v\n", err)
		stop()
		os.Exit(1)
	}
}

// parseFlags reads the configuration from the command line.
func parseFlags(args []string, out io.Writer) (config, error) {
	cfg := config{}
	fs := flag.NewFlagSet("watchload", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&cfg.watchers, "watchers", 10000, "`number` of watchers in the targeted runs, one key each")
	fs.IntVar(&cfg.broadcastWatchers, "broadcast-watchers", 1000, "`number` of watchers of the whole bucket in the broadcast runs")
	fs.Float64Var(&cfg.rate, "rate", 1000, "puts per second in the targeted runs")
	fs.Float64Var(&cfg.broadcastRate, "broadcast-rate", 100, "puts per second in the broadcast runs")
	fs.DurationVar(&cfg.duration, "duration", 30*time.Second, "how long each run writes")
	fs.DurationVar(&cfg.drain, "drain", 15*time.Second, "longest wait for the last events after the writing")
	fs.DurationVar(&cfg.settle, "settle", 2*time.Second, "idle time before each reading of the server's memory")
	list := fs.String("scenarios", "targeted,broadcast,baseline-targeted,baseline-broadcast", "comma-separated `runs`: targeted, broadcast, baseline-targeted, baseline-broadcast")
	fs.StringVar(&cfg.serverBin, "server-bin", "", "`path` of a prebuilt examples/server binary; empty builds one")
	fs.StringVar(&cfg.serverLogPath, "server-log", "", "`file` to write the servers' logs to (their warnings and errors are in the report anyway)")
	fs.IntVar(&cfg.dialConcurrency, "dial-concurrency", 200, "WebSocket handshakes (or NATS watches) in flight while opening the watchers")
	fs.IntVar(&cfg.writers, "writers", 32, "concurrent PUTs")
	fs.IntVar(&cfg.watchersPerConn, "watchers-per-conn", 1, "baseline watchers sharing one NATS connection")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q: watchload takes only flags", fs.Arg(0))
	}
	var err error
	if cfg.scenarios, err = parseScenarios(*list); err != nil {
		return cfg, fmt.Errorf("-scenarios: %w", err)
	}
	switch {
	case cfg.watchers < 1 || cfg.broadcastWatchers < 1:
		return cfg, errors.New("-watchers and -broadcast-watchers must be at least 1")
	case cfg.rate <= 0 || cfg.broadcastRate <= 0:
		return cfg, errors.New("-rate and -broadcast-rate must be positive")
	case cfg.duration <= 0 || cfg.drain < 0 || cfg.settle < 0:
		return cfg, errors.New("-duration must be positive, -drain and -settle not negative")
	case cfg.dialConcurrency < 1 || cfg.writers < 1 || cfg.watchersPerConn < 1:
		return cfg, errors.New("-dial-concurrency, -writers and -watchers-per-conn must be at least 1")
	}
	return cfg, nil
}
