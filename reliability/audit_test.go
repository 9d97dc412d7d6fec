package reliability_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ironkv/ironkv/bucket"
)

// streamMsg is one message of a bucket's stream: a revision of a key.
type streamMsg struct {
	key   string
	value string
	op    string // "put", "delete" or "purge"
}

// tap reads the stream of an APP_ bucket over NATS with an ordered
// consumer, from its first message on, and keeps every message it gets.
// Sequences it never got were removed from the stream before it reached
// them (a later revision of the same key pushed them out of the history).
type tap struct {
	nc      *nats.Conn
	cc      jetstream.ConsumeContext
	mu      sync.Mutex
	msgs    map[uint64]streamMsg
	last    uint64 // highest sequence got
	skipped uint64 // sequences below last never got
	bad     []string
	got     progress // last, for waiters
}

// connectJS connects to the NATS server at natsURL. The caller closes the
// connection.
func connectJS(t testing.TB, natsURL string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(natsURL, nats.Name("reliability"))
	if err != nil {
		t.Fatalf("connect to %s: %v", natsURL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	return nc, js
}

// streamName is the JetStream stream of the APP_ bucket name.
func streamName(name string) string { return bucket.App.StreamName(name) }

// startTap starts a tap on the stream of bucket name on the NATS server
// at natsURL. Stop it with stop.
func startTap(t testing.TB, natsURL, name string) *tap {
	t.Helper()
	nc, js := connectJS(t, natsURL)
	tp := &tap{nc: nc, msgs: map[uint64]streamMsg{}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, streamName(name), jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		nc.Close()
		t.Fatalf("ordered consumer on %s: %v", streamName(name), err)
	}
	prefix := "$KV." + string(bucket.App) + name + "."
	tp.cc, err = cons.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		tp.mu.Lock()
		defer tp.mu.Unlock()
		if err != nil {
			tp.bad = append(tp.bad, err.Error())
			return
		}
		seq := md.Sequence.Stream
		sm := streamMsg{value: string(m.Data()), op: "put"}
		switch m.Headers().Get("KV-Operation") {
		case "DEL":
			sm.op = "delete"
		case "PURGE":
			sm.op = "purge"
		}
		if sm.op != "put" {
			sm.value = ""
		}
		sm.key, err = bucket.DecodeKey(strings.TrimPrefix(m.Subject(), prefix))
		if err != nil || !strings.HasPrefix(m.Subject(), prefix) {
			tp.bad = append(tp.bad, fmt.Sprintf("sequence %d: subject %q", seq, m.Subject()))
		}
		if seq <= tp.last {
			tp.bad = append(tp.bad, fmt.Sprintf("sequence %d after %d", seq, tp.last))
			return
		}
		tp.skipped += seq - tp.last - 1
		tp.last = seq
		tp.msgs[seq] = sm
		tp.got.advance(seq)
	})
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	t.Cleanup(tp.stop)
	return tp
}

// waitFor waits until the tap has got sequence seq (or a later one), for
// at most d.
func (tp *tap) waitFor(seq uint64, d time.Duration) bool { return tp.got.waitFor(seq, d) }

// stop ends the tap. It may be called more than once.
func (tp *tap) stop() {
	tp.cc.Stop()
	tp.nc.Close()
}

// snapshot returns what the tap has got so far.
func (tp *tap) snapshot() (msgs map[uint64]streamMsg, skipped uint64, bad []string) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return maps.Clone(tp.msgs), tp.skipped, slices.Clone(tp.bad)
}

// streamInfo returns the info of bucket name's stream, asked of the NATS
// server at natsURL.
func streamInfo(t testing.TB, natsURL, name string) *jetstream.StreamInfo {
	t.Helper()
	nc, js := connectJS(t, natsURL)
	defer nc.Close()
	var info *jetstream.StreamInfo
	var last error
	if !poll(30*time.Second, 100*time.Millisecond, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, streamName(name))
		if err != nil {
			last = err
			return false
		}
		info = s.CachedInfo()
		return true
	}) {
		t.Fatalf("stream info of %s: %v", streamName(name), last)
	}
	return info
}

// readStream reads every message that bucket name's stream holds now.
func readStream(t testing.TB, natsURL, name string) (map[uint64]streamMsg, *jetstream.StreamInfo) {
	t.Helper()
	info := streamInfo(t, natsURL, name)
	tp := startTap(t, natsURL, name)
	defer tp.stop()
	if info.State.Msgs > 0 && !tp.waitFor(info.State.LastSeq, 60*time.Second) {
		t.Fatalf("reading stream %s: not at its last sequence %d after 60 s", streamName(name), info.State.LastSeq)
	}
	msgs, _, bad := tp.snapshot()
	for _, b := range bad {
		t.Errorf("stream %s: %s", streamName(name), b)
	}
	return msgs, info
}

// write is one write a client sent: acknowledged with a revision, or with
// an unknown outcome (rev 0) when no answer came.
type write struct {
	key, value string
	rev        uint64
}

// ledger records the writes of concurrent clients.
type ledger struct {
	mu      sync.Mutex
	acked   []write
	unknown []write
}

func (l *ledger) ack(w write) {
	l.mu.Lock()
	l.acked = append(l.acked, w)
	l.mu.Unlock()
}

func (l *ledger) unanswered(w write) {
	l.mu.Lock()
	l.unknown = append(l.unknown, write{key: w.key, value: w.value})
	l.mu.Unlock()
}

// put writes w unconditionally through the API at bucketURL and records
// it: acknowledged, with its revision, or without an answer (a transport
// error or a 5xx), which put reports as revision 0. Any other answer is
// an error.
func (l *ledger) put(ctx context.Context, c *http.Client, bucketURL string, w write) (uint64, error) {
	r := do(ctx, c, "PUT", bucketURL+"/keys/"+w.key, []byte(w.value))
	if r.err != nil || r.status >= 500 {
		l.unanswered(w)
		return 0, nil
	}
	var a revisionAnswer
	if err := json.Unmarshal(r.body, &a); r.status != http.StatusOK || err != nil || a.Revision == 0 {
		return 0, fmt.Errorf("PUT %s: %v", w.key, r)
	}
	w.rev = a.Revision
	l.ack(w)
	return w.rev, nil
}

func (l *ledger) writes() (acked, unknown []write) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.acked), slices.Clone(l.unknown)
}

// audit is what checking acknowledged writes against a stream found.
type audit struct {
	acked      int // acknowledged writes checked
	found      int // found at their revision, key and value
	superseded int // pushed out of the history by later acknowledged writes
	lost       []string
}

// checkAcked checks every acknowledged write against the messages of a
// stream whose bucket keeps history revisions per key: each write must be
// at its revision with its key and value, or superseded: gone from the
// stream, which holds history later revisions of its key, at least one of
// them acknowledged.
func checkAcked(acked []write, msgs map[uint64]streamMsg, history int) audit {
	a := audit{acked: len(acked)}
	lastAcked := map[string]uint64{}
	for _, w := range acked {
		lastAcked[w.key] = max(lastAcked[w.key], w.rev)
	}
	retained := map[string][]uint64{}
	for seq, m := range msgs {
		retained[m.key] = append(retained[m.key], seq)
	}
	for k := range retained {
		slices.Sort(retained[k])
	}
	for _, w := range acked {
		m, ok := msgs[w.rev]
		switch {
		case ok && m.key == w.key && m.value == w.value && m.op == "put":
			a.found++
		case ok:
			a.lost = append(a.lost, fmt.Sprintf("%s=%q acknowledged at revision %d, which holds %s %s=%q", w.key, w.value, w.rev, m.op, m.key, m.value))
		default:
			seqs := retained[w.key]
			i, _ := slices.BinarySearch(seqs, w.rev)
			if later := len(seqs) - i; later >= history && lastAcked[w.key] > w.rev {
				a.superseded++
				continue
			}
			a.lost = append(a.lost, fmt.Sprintf("%s=%q acknowledged at revision %d is not in the stream, which holds %d later revisions of the key (history %d)",
				w.key, w.value, w.rev, len(seqs)-i, history))
		}
	}
	return a
}

func (a audit) String() string {
	return fmt.Sprintf("%d acknowledged writes: %d found, %d superseded, %d lost", a.acked, a.found, a.superseded, len(a.lost))
}

// report fails the test for each lost write, at most 20 of them.
func (a audit) report(t testing.TB) {
	t.Helper()
	for i, l := range a.lost {
		if i == 20 {
			t.Errorf("... and %d more lost writes", len(a.lost)-20)
			break
		}
		t.Errorf("lost: %s", l)
	}
}

// checkLatest checks that the latest message of each key in msgs is the
// key's latest acknowledged write, or a write sent after it whose answer
// never came. It returns the number of keys checked.
func checkLatest(t testing.TB, acked, unknown []write, msgs map[uint64]streamMsg) int {
	t.Helper()
	latest := map[string]uint64{}
	for seq, m := range msgs {
		if seq > latest[m.key] {
			latest[m.key] = seq
		}
	}
	lastAck := map[string]write{}
	for _, w := range acked {
		if w.rev > lastAck[w.key].rev {
			lastAck[w.key] = w
		}
	}
	maybe := map[string]bool{}
	for _, w := range unknown {
		maybe[w.key+"\x00"+w.value] = true
	}
	for key, w := range lastAck {
		seq := latest[key]
		m := msgs[seq]
		switch {
		case seq == w.rev && m.value == w.value:
		case seq > w.rev && maybe[key+"\x00"+m.value]:
		default:
			t.Errorf("key %s: latest revision %d holds %q; the latest acknowledged write is %q at %d", key, seq, m.value, w.value, w.rev)
		}
	}
	return len(lastAck)
}
