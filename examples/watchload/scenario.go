package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/internal/backoff"
)

// apiPrefix is where examples/server mounts the API.
const apiPrefix = "/api/v1/kv"

// bucketName is the bucket every run writes and watches.
const bucketName = "watchload"

// bucketHistory is the bucket's history per key. With the default of 1, a
// put replaces the key's previous revision in the stream, and a watcher
// that has fallen behind would never see it (see package watch): a longer
// history keeps every revision of a run, so that the event count is exact.
const bucketHistory = 64

// consumerSampleEvery is how often the consumers of the bucket's stream
// are counted during a run.
const consumerSampleEvery = 500 * time.Millisecond

// config is what a load run does; main fills it from the flags.
type config struct {
	watchers          int           // targeted watchers, one key each
	broadcastWatchers int           // broadcast watchers, whole bucket
	rate              float64       // targeted puts per second
	broadcastRate     float64       // broadcast puts per second
	duration          time.Duration // of the writing
	drain             time.Duration // longest wait for the last events after the writing
	settle            time.Duration // idle time before each memory reading
	scenarios         []scenario
	serverBin         string    // "" builds examples/server
	serverLogPath     string    // -server-log
	serverLog         io.Writer // receives the servers' logs, if not nil
	dialConcurrency   int       // WebSocket handshakes or NATS watches in flight
	writers           int       // concurrent PUTs
	watchersPerConn   int       // baseline watchers sharing a NATS connection
}

// scenario is one kind of run.
type scenario struct {
	name      string
	broadcast bool // whole-bucket watchers; otherwise one key each
	baseline  bool // one NATS KV watch per watcher; otherwise the hub over WebSocket
}

// scenarios are the runs, in the order of -scenarios' default.
var scenarios = []scenario{
	{name: "targeted"},
	{name: "broadcast", broadcast: true},
	{name: "baseline-targeted", baseline: true},
	{name: "baseline-broadcast", broadcast: true, baseline: true},
}

// parseScenarios reads a comma-separated list of scenario names.
func parseScenarios(s string) ([]scenario, error) {
	var out []scenario
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		found := false
		for _, sc := range scenarios {
			if sc.name == name {
				out = append(out, sc)
				found = true
			}
		}
		if !found {
			names := make([]string, len(scenarios))
			for i, sc := range scenarios {
				names[i] = sc.name
			}
			return nil, fmt.Errorf("unknown scenario %q: want some of %s", name, strings.Join(names, ","))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no scenario given")
	}
	return out, nil
}

// result is what one run measured.
type result struct {
	scenario
	watchers int     // asked for
	rate     float64 // puts per second asked for
	perConn  int     // baseline: watchers to a NATS connection

	connect *dialReport

	consumersIdle int // on the bucket's stream with the watchers open, before writing
	consumersMin  int // during the writing and the drain
	consumersMax  int

	putsOK, putsFailed int64
	putErr             error
	writeTook          time.Duration
	putLatency         *histogram

	latency             *histogram
	delivered, expected int64 // events received; events the watchers' filters select
	missing, extra      int64 // per watcher, below and above what it should have had
	disorder, foreign   int64
	bad                 int64
	ended               int    // watchers whose watch ended before the run did
	endedExample        string // why one did
	asyncErr            error  // baseline: nats.go's asynchronous errors
	drainTook           time.Duration
	drained             bool // every expected event arrived before the drain timeout

	rssIdle, rssWatching int64 // server RSS before and after opening the watchers
	goIdle, goWatching   goStats
	rssAfterRun          int64 // server RSS after the run, the watchers still open
	goAfterRun           goStats

	window    time.Duration // from the first put to the last event (or the drain timeout)
	serverCPU time.Duration // in window
	loadCPU   time.Duration // in window
	otherCPU  time.Duration // in window, of every other process on the machine

	maxConsumersRaised int // baseline: the stream's max_consumers, raised from the server's default; 0 if untouched

	serverProblems []string // the server's warnings and errors
	serverDropped  int
	errs           []error // what went wrong, beyond missing events
}

// perIdleWatcher returns the server's RSS growth per open watcher.
func (r *result) perIdleWatcher() float64 {
	if r.connect == nil || r.connect.opened == 0 {
		return 0
	}
	return float64(r.rssWatching-r.rssIdle) / float64(r.connect.opened)
}

// cpuPercent returns d as a percentage of one core over the window.
func (r *result) cpuPercent(d time.Duration) float64 {
	if r.window <= 0 {
		return 0
	}
	return 100 * d.Seconds() / r.window.Seconds()
}

// run builds the server unless cfg names one, then runs each scenario on a
// fresh server process. Progress goes to progress.
func run(ctx context.Context, cfg config, progress io.Writer) ([]*result, error) {
	if lim, err := raiseFileLimit(); err != nil {
		return nil, err
	} else if need := uint64(max(cfg.watchers, cfg.broadcastWatchers)) + 200; lim < need {
		fmt.Fprintf(progress, "warning: open files limited to %d, fewer than %d watchers need\n", lim, need)
	}
	bin := cfg.serverBin
	if bin == "" {
		dir, err := os.MkdirTemp("", "watchload-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		fmt.Fprintln(progress, "building examples/server")
		if bin, err = buildServer(ctx, dir); err != nil {
			return nil, err
		}
	}
	var results []*result
	for _, sc := range cfg.scenarios {
		r, err := runScenario(ctx, cfg, bin, sc, progress)
		if err != nil {
			return results, fmt.Errorf("%s: %w", sc.name, err)
		}
		results = append(results, r)
	}
	return results, nil
}

// runScenario starts a server, opens the watchers, writes for the
// duration, waits for the events, and stops everything it started.
func runScenario(ctx context.Context, cfg config, bin string, sc scenario, progress io.Writer) (*result, error) {
	logf := func(format string, args ...any) {
		fmt.Fprintf(progress, "%s: %s\n", sc.name, fmt.Sprintf(format, args...))
	}
	r := &result{scenario: sc, watchers: cfg.watchers, rate: cfg.rate, perConn: cfg.watchersPerConn}
	if sc.broadcast {
		r.watchers, r.rate = cfg.broadcastWatchers, cfg.broadcastRate
	}

	srv, err := startServer(ctx, bin, cfg.serverLog)
	if err != nil {
		return nil, err
	}
	defer func() {
		if serr := srv.stop(); serr != nil {
			r.errs = append(r.errs, serr)
		}
		r.serverProblems, r.serverDropped = srv.takeProblems()
	}()
	logf("server pid %d, HTTP %s, NATS %s", srv.pid, srv.httpAddr, srv.natsURL)

	client := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: cfg.writers + 4},
		Timeout:   30 * time.Second,
	}
	defer client.CloseIdleConnections()
	if err := createBucket(ctx, client, srv.httpAddr); err != nil {
		return nil, err
	}

	mon, err := nats.Connect(srv.natsURL, nats.Name("watchload-monitor"))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", srv.natsURL, err)
	}
	defer mon.Close()
	js, err := jetstream.New(mon)
	if err != nil {
		return nil, err
	}
	stream, err := js.Stream(ctx, bucket.App.StreamName(bucketName))
	if err != nil {
		return nil, fmt.Errorf("the bucket's stream: %w", err)
	}

	// Server memory with the bucket and no watcher.
	if err := backoff.Sleep(ctx, cfg.settle); err != nil {
		return nil, err
	}
	if r.rssIdle, err = procRSS(srv.pid); err != nil {
		return nil, err
	}
	r.goIdle, _ = scrapeGoStats(ctx, client, srv.httpAddr)

	// The watchers: watcher i watches key k.<i>, or the whole bucket.
	stats := make([]watcherStat, r.watchers)
	for i := range stats {
		stats[i].key, stats[i].want = i, "k."+strconv.Itoa(i)
		if sc.broadcast {
			stats[i].key, stats[i].want = -1, ""
		}
	}
	d := &deliveries{epoch: time.Now()}
	var fl fleet
	kind := "WebSockets"
	if sc.baseline {
		kind = "NATS KV watches"
	}
	logf("opening %d %s, %d in flight", r.watchers, kind, cfg.dialConcurrency)
	var nf *natsFleet
	if sc.baseline {
		if r.maxConsumersRaised, err = allowConsumers(ctx, js, stream, r.watchers); err != nil {
			return nil, err
		}
		natsBucket, err := bucket.App.Qualify(bucketName)
		if err != nil {
			return nil, err
		}
		nf, r.connect, err = openNATSWatchers(ctx, srv.natsURL, natsBucket, stats, cfg.watchersPerConn, cfg.dialConcurrency, d)
		if err != nil {
			return nil, err
		}
		fl = nf
	} else {
		fl, r.connect = dialWebSockets(ctx, srv.httpAddr, bucketName, stats, cfg.dialConcurrency, d)
	}
	stopped := false
	stopFleet := func() []watcherStat {
		if stopped {
			return stats
		}
		stopped = true
		return fl.stop()
	}
	defer stopFleet()
	logf("opened %d in %v (%d failed)", r.connect.opened, r.connect.took.Round(time.Millisecond), r.connect.failed)
	if r.connect.firstErr != nil {
		r.errs = append(r.errs, fmt.Errorf("%d watchers failed to open, the first: %w", r.connect.failed, r.connect.firstErr))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Server memory with the watchers open and idle.
	if err := backoff.Sleep(ctx, cfg.settle); err != nil {
		return nil, err
	}
	if r.rssWatching, err = procRSS(srv.pid); err != nil {
		return nil, err
	}
	r.goWatching, _ = scrapeGoStats(ctx, client, srv.httpAddr)
	if r.consumersIdle, err = countConsumers(ctx, stream); err != nil {
		return nil, err
	}
	logf("server RSS %s idle, %s with the watchers; %d consumers on the stream",
		fmtBytes(float64(r.rssIdle)), fmtBytes(float64(r.rssWatching)), r.consumersIdle)

	// The run: write, then wait for the events.
	w := newWriter(client, srv.httpAddr, bucketName, r.watchers, cfg.writers, d.epoch)
	cpu0, err := procCPU(srv.pid)
	if err != nil {
		return nil, err
	}
	machine0, err := machineCPU()
	if err != nil {
		return nil, err
	}
	self0 := selfCPU()
	sampler := startConsumerSampler(ctx, stream)
	defer sampler.stop()
	start := time.Now()
	logf("writing %g puts/s for %v", r.rate, cfg.duration)
	r.writeTook = w.run(ctx, r.rate, cfg.duration)
	r.putsOK, r.putsFailed, r.putErr = w.ok.Load(), w.failed.Load(), w.firstErr
	r.putLatency = &w.latency

	// Only watchers that opened can receive anything.
	for i := range stats {
		if fl.isOpen(i) {
			r.expected += w.expected(stats[i].key)
		}
	}
	logf("%d puts in %v (%d failed); waiting up to %v for %d events", r.putsOK, r.writeTook.Round(time.Millisecond), r.putsFailed, cfg.drain, r.expected)
	drainStart := time.Now()
	r.drained = waitFor(ctx, cfg.drain, func() bool { return int64(d.lat.count()) >= r.expected })
	end := time.Now()
	r.drainTook = end.Sub(drainStart)
	r.loadCPU = selfCPU() - self0
	cpu1, err := procCPU(srv.pid)
	if err != nil {
		return nil, err
	}
	r.serverCPU = cpu1 - cpu0
	if machine1, err := machineCPU(); err == nil {
		r.otherCPU = max(0, machine1-machine0-r.loadCPU-r.serverCPU)
	}
	r.window = end.Sub(start)
	if rss, err := procRSS(srv.pid); err == nil {
		r.rssAfterRun = rss
	}
	r.goAfterRun, _ = scrapeGoStats(ctx, client, srv.httpAddr)
	r.consumersMin, r.consumersMax, err = sampler.stop()
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("counting consumers: %w", err))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// The tally.
	for _, st := range stopFleet() {
		r.delivered += st.got
		r.disorder += st.disorder
		r.foreign += st.foreign
		r.bad += st.bad
		if st.ended != "" {
			r.ended++
			if r.endedExample == "" {
				r.endedExample = st.ended
			}
		}
	}
	for i, st := range stats {
		if !fl.isOpen(i) {
			continue
		}
		want := w.expected(st.key)
		if st.got < want {
			r.missing += want - st.got
		} else {
			r.extra += st.got - want
		}
	}
	r.latency = d.lat.merged()
	if nf != nil {
		r.asyncErr = nf.asyncError()
	}
	logf("%d of %d events delivered; p50 %s, p99 %s, max %s",
		r.delivered, r.expected, fmtDur(r.latency.quantile(0.5)), fmtDur(r.latency.quantile(0.99)), fmtDur(time.Duration(r.latency.max.Load())))
	return r, nil
}

// createBucket creates the run's bucket through the API: memory storage,
// bucketHistory revisions per key.
func createBucket(ctx context.Context, client *http.Client, httpAddr string) error {
	body := fmt.Sprintf(`{"name":%q,"history":%d,"storage":"memory"}`, bucketName, bucketHistory)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+httpAddr+apiPrefix+"/buckets", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketName, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("create bucket %s: %s: %s", bucketName, resp.Status, bytes.TrimSpace(b))
	}
	return nil
}

// allowConsumers makes room for n consumers, plus a few for the server's
// own, on the bucket's stream. nats-server limits a stream whose
// max_consumers is unset to a default (1,000 since 2.15), which the
// baseline's one consumer per watcher would hit; a NATS operator serving
// that many watchers would raise it the same way. It returns the new limit,
// or 0 when none was needed.
func allowConsumers(ctx context.Context, js jetstream.JetStream, stream jetstream.Stream, n int) (int, error) {
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, err
	}
	want := n + 16
	if info.Config.MaxConsumers >= want {
		return 0, nil
	}
	cfg := info.Config
	cfg.MaxConsumers = want
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		return 0, fmt.Errorf("raise the max_consumers of stream %s to %d: %w", cfg.Name, want, err)
	}
	return want, nil
}

// countConsumers returns the number of consumers on stream now.
func countConsumers(ctx context.Context, stream jetstream.Stream) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Consumers, nil
}

// consumerSampler counts the consumers of a stream every
// consumerSampleEvery on a goroutine of its own.
type consumerSampler struct {
	cancel   context.CancelFunc
	done     chan struct{}
	min, max int // -1, 0 before the first count
	err      error
}

func startConsumerSampler(ctx context.Context, stream jetstream.Stream) *consumerSampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &consumerSampler{cancel: cancel, done: make(chan struct{}), min: -1}
	go func() {
		defer close(s.done)
		t := time.NewTicker(consumerSampleEvery)
		defer t.Stop()
		for {
			n, err := countConsumers(ctx, stream)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				if s.err == nil {
					s.err = err
				}
			} else {
				if s.min < 0 || n < s.min {
					s.min = n
				}
				s.max = max(s.max, n)
			}
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the fewest and most consumers seen
// and the first error. It may be called again.
func (s *consumerSampler) stop() (lo, hi int, err error) {
	s.cancel()
	<-s.done
	return s.min, s.max, s.err
}

// waitFor polls done until it reports true, for at most timeout; it
// reports whether done did.
func waitFor(ctx context.Context, timeout time.Duration, done func() bool) bool {
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !done() {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		}
	}
	return true
}
