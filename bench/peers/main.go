// Command peers compares the write throughput of ironkv, at each of its
// durability modes, with etcd and Redis on the same machine: unconditional
// puts, reads and compare-and-swap, at several numbers of concurrent
// clients.
//
//	cd bench/peers && go run .                          # everything, about 10 minutes
//	go run . -systems gc,always,etcd -ops put -rounds 1 # a quick subset
//	go run . -out ../../BENCHMARKS.md                   # and update the results there
//
// It installs etcd-server and redis-server with apt-get when they are
// missing (as root), starts every system before the first measurement
// (ironkv and NATS embedded in this process, etcd and Redis as child
// processes on loopback, each with its data in a fresh temporary
// directory), fills 10,000 keys with 128-byte values, and then measures
// every cell (system × operation × concurrency) once per round, in an
// order rotated from round to round, for -duration after a -warmup. It
// prints Markdown tables of the medians across rounds, with the min–max
// spread of ops/s and the median p50 and p99 latencies, and the ratios of
// durable puts that matter. With -out it also writes them into a Markdown
// file between the lines <!-- peers:begin --> and <!-- peers:end -->, and
// draws an SVG chart of put and cas throughput (-svg).
//
// Systems, by id and name (-systems takes either, comma-separated):
//
//	gc             ironkv group-commit       embedded.GroupCommit, kv.Store in-process
//	always         ironkv sync-always        embedded.SyncAlways (fsync per write)
//	periodic       ironkv periodic           embedded.SyncPeriodicLosesRecentWrites (not durable on power loss)
//	http           ironkv HTTP group-commit  the group-commit store behind httpapi, over loopback HTTP/1.1
//	nats-always    NATS KV sync-always       nats.go jetstream.KeyValue, fsync per write
//	nats-periodic  NATS KV periodic          nats.go jetstream.KeyValue, periodic fsync (not durable on power loss)
//	etcd           etcd                      etcd-server, one gRPC client (fsyncs its WAL per batch)
//	redis-always   Redis always              appendonly yes, appendfsync always
//	redis-none     Redis no-persist          appendonly no, no snapshots (not durable at all)
//
// Operations (-ops): put writes a random one of the 10,000 keys; get reads
// one; cas has each client loop over a key of its own, reading its value
// and revision and then writing it back on the condition that the revision
// is unchanged. Only successful operations count; errors are counted and
// printed apart (there should be none).
//
// Ctrl-C stops the run and removes every child process and data
// directory. See README.md for the caveats of measuring on one machine.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ironkv/ironkv/embedded"
)

// config is what the flags ask for.
type config struct {
	duration time.Duration
	warmup   time.Duration
	rounds   int
	concs    []int
	systems  []spec
	ops      []opKind
	out      string // Markdown file to update; "" for none
	svg      string // SVG chart to write; "" for none
	command  string // the command line, as the report shows it
}

func main() {
	// As the server binary does in its default mode: one processor more
	// than the runtime's default, so that a group-commit sync does not idle
	// a core (see embedded.ReserveSyncProc). It applies to every system's
	// clients alike.
	embedded.ReserveSyncProc()
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

// run parses args, measures, and prints the report to stdout; progress
// goes to stderr.
func run(args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, a second one kills the program at once
	// (the children die with it on Linux).
	context.AfterFunc(ctx, stop)

	l, err := newLab(stderr)
	if err != nil {
		return err
	}
	defer l.close()

	started := time.Now()
	systems, err := l.start(ctx, cfg.systems, maxOf(cfg.concs))
	if err != nil {
		return interrupted(ctx, err)
	}
	if len(systems) == 0 {
		return errors.New("no system could be started")
	}
	m, err := measure(ctx, cfg, systems, l.cpuTimes, stderr)
	if err != nil {
		return interrupted(ctx, err)
	}
	rep := newReport(cfg, m, l.versions, l.skipped, time.Now())
	fmt.Fprintf(stderr, "measured in %s\n", time.Since(started).Round(time.Second))
	if _, err := io.WriteString(stdout, rep.terminal()); err != nil {
		return err
	}
	if cfg.svg != "" {
		if err := writeFileAtomic(cfg.svg, rep.svg()); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s\n", cfg.svg)
	}
	if cfg.out != "" {
		svgLink, err := relLink(cfg.out, cfg.svg)
		if err != nil {
			return err
		}
		readmeLink, err := relLink(cfg.out, "README.md")
		if err != nil {
			return err
		}
		if err := updateMarkdown(cfg.out, rep.markdown(svgLink, readmeLink)); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "updated %s\n", cfg.out)
	}
	return nil
}

// interrupted replaces err with a plain message when the run was stopped
// by a signal, since the error is then only its consequence.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errors.New("interrupted; child processes stopped and data removed")
	}
	return err
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("peers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg     config
		concs   = fs.String("conc", "1,16,64", "comma-separated numbers of concurrent clients")
		systems = fs.String("systems", "", "comma-separated systems, by id or name (default all): "+systemIDs())
		ops     = fs.String("ops", "put,get,cas", "comma-separated operations: put, get, cas")
	)
	fs.DurationVar(&cfg.duration, "duration", 2*time.Second, "measured time per cell and round")
	fs.DurationVar(&cfg.warmup, "warmup", 300*time.Millisecond, "unmeasured load before each cell")
	fs.IntVar(&cfg.rounds, "rounds", 3, "rounds; every cell runs once per round")
	fs.StringVar(&cfg.out, "out", "", "Markdown file whose <!-- peers:begin --> … <!-- peers:end --> section to replace")
	fs.StringVar(&cfg.svg, "svg", "", "SVG chart to write (default throughput.svg when -out is set)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run . [flags]  (compares ironkv with etcd and Redis; see README.md)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if cfg.concs, err = parseConcs(*concs); err != nil {
		return cfg, err
	}
	if cfg.systems, err = parseSystems(*systems); err != nil {
		return cfg, err
	}
	if cfg.ops, err = parseOps(*ops); err != nil {
		return cfg, err
	}
	switch {
	case cfg.duration <= 0:
		return cfg, errors.New("-duration must be positive")
	case cfg.warmup < 0:
		return cfg, errors.New("-warmup must not be negative")
	case cfg.rounds < 1:
		return cfg, errors.New("-rounds must be at least 1")
	}
	if cfg.svg == "" && cfg.out != "" {
		cfg.svg = "throughput.svg"
	}
	cfg.command = commandLine(args)
	return cfg, nil
}

func parseConcs(s string) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 4096 {
			return nil, fmt.Errorf("-conc: %q is not a number of clients from 1 to 4096", f)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

func parseSystems(s string) ([]spec, error) {
	all := specs()
	if strings.TrimSpace(s) == "" {
		return all, nil
	}
	want := map[string]bool{}
	for f := range strings.SplitSeq(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		found := false
		for _, sp := range all {
			if f == sp.id || f == strings.ToLower(sp.name) {
				want[sp.id], found = true, true
			}
		}
		if !found {
			return nil, fmt.Errorf("-systems: unknown system %q (want one of %s)", f, systemIDs())
		}
	}
	var out []spec
	for _, sp := range all { // in the table's order, whatever the flag's
		if want[sp.id] {
			out = append(out, sp)
		}
	}
	return out, nil
}

func parseOps(s string) ([]opKind, error) {
	want := map[opKind]bool{}
	for f := range strings.SplitSeq(s, ",") {
		op, ok := parseOp(strings.ToLower(strings.TrimSpace(f)))
		if !ok {
			return nil, fmt.Errorf("-ops: unknown operation %q (want put, get or cas)", f)
		}
		want[op] = true
	}
	var out []opKind
	for _, op := range allOps() {
		if want[op] {
			out = append(out, op)
		}
	}
	return out, nil
}

func systemIDs() string {
	var ids []string
	for _, sp := range specs() {
		ids = append(ids, sp.id)
	}
	return strings.Join(ids, ", ")
}

// commandLine is the command that reproduces this run, from the module's
// directory.
func commandLine(args []string) string {
	parts := []string{"cd bench/peers && go run ."}
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.,/=:+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// relLink is the link from the Markdown file out to the chart svg, relative
// to out's directory, with forward slashes; "" when there is no chart.
func relLink(out, svg string) (string, error) {
	if svg == "" {
		return "", nil
	}
	o, err := filepath.Abs(out)
	if err != nil {
		return "", err
	}
	s, err := filepath.Abs(svg)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(filepath.Dir(o), s)
	if err != nil {
		return "", err
	}
	return filepath.ToSlash(rel), nil
}

func maxOf(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
