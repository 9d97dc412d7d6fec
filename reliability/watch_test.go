package reliability_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ironkv/ironkv/bucket"
)

// TestWatchUnderFaults runs 100 watchers with mixed filters, over WebSocket
// and Server-Sent Events, while writers write and the server is killed
// (SIGKILL) and started again on its data. Each watcher resumes from the
// last revision it got (?since=N, or Last-Event-ID for SSE). In the end
// every watcher must have got exactly the stream's changes that match its
// filter: revisions strictly increasing, no duplicate, no gap.
func TestWatchUnderFaults(t *testing.T) {
	const (
		watchers = 100
		writers  = 2
		history  = 8
	)
	kills := sized(3, 10)
	filters := []string{">", "a.*", "b.>", "c.*.*", "c.d.>", "*.*", "a.6"}
	args := []string{"-listen", "127.0.0.1:0", "-data", t.TempDir(), "-nats-listen", "127.0.0.1:0"}
	srv := startServer(t, args...)
	c := newClient(t, watchers+writers, 10*time.Second)
	waitReady(t, c, srv.base, 30*time.Second)
	createBucket(t, c, srv.api(), fmt.Sprintf(`{"name":"watched","history":%d}`, history))
	n := newNode()
	n.set(srv)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ws := make([]*watcher, watchers)
	var wg sync.WaitGroup
	for i := range ws {
		ws[i] = &watcher{filter: filters[i%len(filters)], sse: i%4 == 3}
		wg.Go(func() { ws[i].run(ctx, n, c) })
	}

	// Writers put unique keys under several prefixes, and delete some of
	// them again.
	wctx, stopWriters := context.WithCancel(ctx)
	defer stopWriters()
	var writes sync.WaitGroup
	prefixes := []string{"a", "b", "c.d", "c.e", "z", "b.x"}
	for w := range writers {
		writes.Go(func() {
			for i := 0; wctx.Err() == nil; i++ {
				srv, _ := n.current(wctx)
				if srv == nil {
					return
				}
				key := fmt.Sprintf("%s.%d", prefixes[i%len(prefixes)], w*1_000_000+i)
				method := "PUT"
				if i%10 == 9 {
					key = fmt.Sprintf("%s.%d", prefixes[(i-3)%len(prefixes)], w*1_000_000+i-3)
					method = "DELETE"
				}
				do(wctx, c, method, srv.api()+"/buckets/watched/keys/"+key, []byte("v"))
			}
		})
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 6))
	for range kills {
		<-time.After(500*time.Millisecond + time.Duration(rng.Int64N(int64(1500*time.Millisecond))))
		n.down().kill()
		srv = startServer(t, args...)
		n.set(srv)
	}
	<-time.After(time.Second)
	stopWriters()
	writes.Wait()

	msgs, info := readStream(t, srv.natsURL, "watched")
	seqs := slices.Sorted(func(yield func(uint64) bool) {
		for s := range msgs {
			if !yield(s) {
				return
			}
		}
	})
	if uint64(len(seqs)) != info.State.Msgs {
		t.Fatalf("read %d messages of the stream, which holds %d", len(seqs), info.State.Msgs)
	}
	events, resumes := 0, 0
	for i, w := range ws {
		f := bucket.MustParseFilter(w.filter)
		var want []uint64
		for _, s := range seqs {
			if f.Match(msgs[s].key) {
				want = append(want, s)
			}
		}
		if len(want) > 0 && !w.waitFor(want[len(want)-1], 60*time.Second) {
			t.Errorf("watcher %d (%s): at revision %d after 60 s, want %d", i, w.describe(), w.lastRev(), want[len(want)-1])
		}
		got, errs, r := w.result()
		for _, e := range errs {
			t.Errorf("watcher %d (%s): %s", i, w.describe(), e)
		}
		if d := diffRevs(got, want); d != "" {
			t.Errorf("watcher %d (%s): %s", i, w.describe(), d)
		}
		for _, e := range got {
			if m := msgs[e.rev]; m.key != e.key {
				t.Errorf("watcher %d (%s): revision %d for key %s; the stream has %s there", i, w.describe(), e.rev, e.key, m.key)
				break
			}
		}
		events += len(got)
		resumes += r
	}
	cancel()
	wg.Wait()
	t.Logf("%d watchers (filters %q; one in four over SSE), %d SIGKILLs: %d events checked against the %d messages of the stream, %d resumes; every watcher got exactly its filter's changes, in order",
		watchers, filters, kills, events, len(seqs), resumes)
}

// watcher is one watch client that resumes after each disconnection.
type watcher struct {
	filter  string
	sse     bool
	mu      sync.Mutex
	events  []event
	errs    []string
	resumes int
	got     progress // the last revision got, for waiters
}

// event is a change a watcher got.
type event struct {
	rev uint64
	key string
}

func (w *watcher) describe() string {
	proto := "WebSocket"
	if w.sse {
		proto = "SSE"
	}
	return fmt.Sprintf("%s %q", proto, w.filter)
}

// run watches until ctx ends, resuming from the last revision got each
// time the connection ends.
func (w *watcher) run(ctx context.Context, n *node, c *http.Client) {
	for ctx.Err() == nil {
		srv, _ := n.current(ctx)
		if srv == nil {
			return
		}
		var err error
		if w.sse {
			err = w.sseSession(ctx, c, srv)
		} else {
			err = w.wsSession(ctx, c, srv)
		}
		if ctx.Err() != nil {
			return
		}
		w.mu.Lock()
		w.resumes++
		w.mu.Unlock()
		if err != nil {
			// The server is not answering yet: try again shortly.
			select {
			case <-time.After(20 * time.Millisecond):
			case <-ctx.Done():
			}
		}
	}
}

// wsSession is one WebSocket connection. It returns an error when the
// connection could not be opened.
func (w *watcher) wsSession(ctx context.Context, c *http.Client, srv *server) error {
	u := "ws" + strings.TrimPrefix(srv.api(), "http") + "/buckets/watched/watch?key=" + url.QueryEscape(w.filter) +
		"&since=" + strconv.FormatUint(w.lastRev(), 10)
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: c})
	if err != nil {
		return err
	}
	defer conn.CloseNow()
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			return nil
		}
		if !w.frame(b) {
			return nil
		}
	}
}

// sseSession is one Server-Sent Events stream, resumed by Last-Event-ID.
func (w *watcher) sseSession(ctx context.Context, c *http.Client, srv *server) error {
	req, err := http.NewRequestWithContext(ctx, "GET", srv.api()+"/buckets/watched/events?key="+url.QueryEscape(w.filter), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Last-Event-ID", strconv.FormatUint(w.lastRev(), 10))
	// The stream lasts: no client timeout.
	resp, err := (&http.Client{Transport: c.Transport}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("events: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && !w.frame([]byte(data)) {
			return nil
		}
	}
	return nil
}

// frame records a frame and reports whether the stream goes on.
func (w *watcher) frame(b []byte) bool {
	var f struct {
		Type     string `json:"type"`
		Key      string `json:"key"`
		Revision uint64 `json:"revision"`
		Message  string `json:"message"`
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := json.Unmarshal(b, &f); err != nil {
		w.errs = append(w.errs, fmt.Sprintf("frame %q: %v", b, err))
		return false
	}
	switch f.Type {
	case "kv_update":
		if last := w.last(); f.Revision <= last {
			w.errs = append(w.errs, fmt.Sprintf("revision %d after %d", f.Revision, last))
			return true
		}
		w.events = append(w.events, event{f.Revision, f.Key})
		w.got.advance(f.Revision)
	case "kv_synced":
	case "error":
		return false // a slow consumer or a shutdown: resume
	default:
		w.errs = append(w.errs, fmt.Sprintf("frame %q", b))
	}
	return true
}

// last is the last revision got; w.mu is held.
func (w *watcher) last() uint64 {
	if len(w.events) == 0 {
		return 0
	}
	return w.events[len(w.events)-1].rev
}

func (w *watcher) lastRev() uint64 { return w.got.get() }

// waitFor waits, at most d, until the watcher has got revision rev or a
// later one.
func (w *watcher) waitFor(rev uint64, d time.Duration) bool { return w.got.waitFor(rev, d) }

func (w *watcher) result() ([]event, []string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.events), slices.Clone(w.errs), w.resumes
}

// diffRevs describes how the revisions got differ from the ones wanted:
// the first missing and the first unexpected.
func diffRevs(got []event, want []uint64) string {
	have := map[uint64]bool{}
	for _, e := range got {
		have[e.rev] = true
	}
	wanted := map[uint64]bool{}
	var missing, extra []uint64
	for _, r := range want {
		wanted[r] = true
		if !have[r] {
			missing = append(missing, r)
		}
	}
	for _, e := range got {
		if !wanted[e.rev] {
			extra = append(extra, e.rev)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d revisions missing (first %v), %d unexpected (first %v)",
		len(missing), len(want), missing[:min(len(missing), 5)], len(extra), extra[:min(len(extra), 5)])
}
