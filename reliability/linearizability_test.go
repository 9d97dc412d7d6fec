package reliability_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// TestLinearizability runs 16 HTTP clients against one server binary on 10
// hot keys with GET, PUT, PUT If-Match, PUT If-None-Match: * and DELETE,
// records every call and answer, and checks the history with porcupine
// against the model of SPEC section 4 (model_test.go). It then checks
// every acknowledged write against the bucket's stream, read over NATS by
// a consumer that followed the run, and against the History API.
func TestLinearizability(t *testing.T) {
	const (
		clients = 16
		nkeys   = 10
		history = 64
	)
	duration := sized(15*time.Second, 60*time.Second)
	checkTimeout := sized(2*time.Minute, 10*time.Minute)

	srv := startServer(t, "-listen", "127.0.0.1:0", "-data", t.TempDir(), "-nats-listen", "127.0.0.1:0")
	c := newClient(t, clients+1, 10*time.Second)
	waitReady(t, c, srv.base, 30*time.Second)
	createBucket(t, c, srv.api(), fmt.Sprintf(`{"name":"lin","history":%d}`, history))
	tp := startTap(t, srv.natsURL, "lin")

	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("hot.%d", i)
	}
	w := &workload{c: c, url: srv.api() + "/buckets/lin", t0: time.Now(), t: t}
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var wg sync.WaitGroup
	histories := make([][]porcupine.Operation, clients)
	for id := range clients {
		wg.Go(func() { histories[id] = w.client(ctx, id, keys) })
	}
	wg.Wait()
	ops := slices.Concat(histories...)
	// A last read of every key, after everything else.
	final := w.newSession(clients)
	for _, k := range keys {
		ops = append(ops, final.do(context.Background(), kvInput{op: opGet, key: k}))
	}
	if t.Failed() {
		return
	}

	st := summarize(ops)
	t.Logf("%d clients, %v, %d keys: %d operations checked (%s)", clients, duration, nkeys, len(ops), st)

	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(kvModel, ops, checkTimeout)
	elapsed := time.Since(start)
	t.Logf("porcupine: %s in %v", res, elapsed.Round(time.Millisecond))
	switch res {
	case porcupine.Illegal:
		t.Error("the history is not linearizable")
		explainIllegal(t, info, ops)
	case porcupine.Unknown:
		t.Errorf("the checker did not finish within %v; Unknown counts as a failure", checkTimeout)
	}
	// The visualization is kept on failure, and whenever it is asked for.
	if t.Failed() || os.Getenv("IRONKV_ARTIFACTS") != "" {
		path := filepath.Join(artifactDir(t), fmt.Sprintf("linearizability-%s.html", time.Now().Format("20060102-150405")))
		if err := porcupine.VisualizePath(kvModel, info, path); err != nil {
			t.Errorf("write the visualization: %v", err)
		} else {
			t.Logf("porcupine visualization: %s", path)
		}
	}
	for _, v := range checkRevisionOrder(ops) {
		t.Error(v)
	}

	// Every acknowledged write must be in the stream, which the tap has
	// read since before the first write.
	info2 := streamInfo(t, srv.natsURL, "lin")
	if !tp.waitFor(info2.State.LastSeq, 60*time.Second) {
		t.Fatalf("the tap did not reach the stream's last sequence %d", info2.State.LastSeq)
	}
	tp.stop()
	msgs, skipped, bad := tp.snapshot()
	for _, b := range bad {
		t.Error(b)
	}
	if skipped > 0 {
		t.Errorf("the tap missed %d sequences (pushed out of the history before it read them): the stream check is incomplete", skipped)
	}
	a := checkAcked(st.acked, msgs, history)
	a.report(t)
	for _, v := range checkReads(ops, msgs) {
		t.Error(v)
	}
	hist := checkHistoryAPI(t, c, srv.api()+"/buckets/lin", keys, st.acked, msgs)
	t.Logf("stream: %d messages read by the tap, last sequence %d; %s; %d reads matched the stream; History API: %d entries matched",
		len(msgs), info2.State.LastSeq, a, st.reads, hist)
	srv.stop()
}

// workload drives the bucket at url and records what it sees.
type workload struct {
	t   testing.TB
	c   *http.Client
	url string
	t0  time.Time
}

// session is one client: it remembers the revision it last saw of each
// key, for its If-Match writes.
type session struct {
	w    *workload
	id   int
	n    int
	seen map[string]uint64
}

func (w *workload) newSession(id int) *session {
	return &session{w: w, id: id, seen: map[string]uint64{}}
}

// client runs one client until ctx ends and returns its history.
func (w *workload) client(ctx context.Context, id int, keys []string) []porcupine.Operation {
	s := w.newSession(id)
	rng := rand.New(rand.NewPCG(uint64(id), uint64(w.t0.UnixNano())))
	var ops []porcupine.Operation
	for ctx.Err() == nil {
		in := kvInput{key: keys[rng.IntN(len(keys))]}
		switch p := rng.IntN(100); {
		case p < 35:
			in.op = opGet
		case p < 50:
			in.op = opPut
		case p < 75:
			in.op, in.rev = opUpdate, s.seen[in.key]
			if in.rev == 0 {
				in.op = opGet
			}
		case p < 87:
			in.op = opCreate
		default:
			in.op = opDelete
		}
		op := s.do(ctx, in)
		if in.op == opGet && op.Output.(kvOutput).kind == outUnknown {
			continue // a read without an answer tells nothing
		}
		ops = append(ops, op)
	}
	return ops
}

// do sends one operation and records it. A write without an answer ends
// at the end of time: it may take effect whenever after its call.
func (s *session) do(ctx context.Context, in kvInput) porcupine.Operation {
	url := s.w.url + "/keys/" + in.key
	var method string
	var body []byte
	var hdr []string
	switch in.op {
	case opGet:
		method = "GET"
	case opDelete:
		method = "DELETE"
	default:
		s.n++
		in.value = fmt.Sprintf("c%d.%d", s.id, s.n)
		method, body = "PUT", []byte(in.value)
		switch in.op {
		case opUpdate:
			hdr = []string{"If-Match", strconv.FormatUint(in.rev, 10)}
		case opCreate:
			hdr = []string{"If-None-Match", "*"}
		}
	}
	call := time.Since(s.w.t0).Nanoseconds()
	r := do(ctx, s.w.c, method, url, body, hdr...)
	ret := time.Since(s.w.t0).Nanoseconds()

	out := kvOutput{kind: outUnknown}
	var answer struct {
		Value    []byte `json:"value"`
		Revision uint64 `json:"revision"`
		Code     string `json:"code"`
	}
	if r.err == nil && len(r.body) > 0 {
		if err := json.Unmarshal(r.body, &answer); err != nil {
			s.w.t.Errorf("%s %s: %d %q: %v", method, url, r.status, r.body, err)
		}
	}
	switch {
	case r.err != nil || r.status >= 500:
	case in.op == opGet && r.status == http.StatusOK:
		out = kvOutput{kind: outOK, value: string(answer.Value), rev: answer.Revision}
		s.seen[in.key] = answer.Revision
	case in.op == opGet && r.status == http.StatusNotFound && answer.Code == "key_not_found":
		out.kind = outNotFound
		delete(s.seen, in.key)
	case in.op == opDelete && r.status == http.StatusNoContent:
		out.kind = outOK
		delete(s.seen, in.key)
	case in.op != opGet && in.op != opDelete && r.status == http.StatusOK:
		out = kvOutput{kind: outOK, rev: answer.Revision}
		s.seen[in.key] = answer.Revision
	case (in.op == opCreate || in.op == opUpdate) && r.status == http.StatusPreconditionFailed:
		out.kind = outConflict
		if answer.Revision != 0 {
			s.seen[in.key] = answer.Revision
		}
	default:
		s.w.t.Errorf("%s %s %q: unexpected answer %v", method, url, hdr, r)
	}
	if out.kind == outUnknown {
		ret = math.MaxInt64
	}
	return porcupine.Operation{ClientId: s.id, Input: in, Output: out, Call: call, Return: ret}
}

// stats counts a history's operations.
type stats struct {
	byOp    [5][4]int // [opKind][outKind]
	acked   []write
	unknown int
	reads   int // reads that returned a value
}

func summarize(ops []porcupine.Operation) stats {
	var st stats
	for _, op := range ops {
		in, out := op.Input.(kvInput), op.Output.(kvOutput)
		st.byOp[in.op][out.kind]++
		switch {
		case out.kind == outUnknown:
			st.unknown++
		case in.op == opGet && out.kind == outOK:
			st.reads++
		case out.kind == outOK && in.op != opDelete && in.op != opGet:
			st.acked = append(st.acked, write{key: in.key, value: in.value, rev: out.rev})
		}
	}
	return st
}

func (st stats) String() string {
	b := st.byOp
	return fmt.Sprintf("GET %d found/%d not found; PUT %d; If-Match %d ok/%d 412; If-None-Match %d ok/%d 412; DELETE %d; %d writes acknowledged, %d without an answer",
		b[opGet][outOK], b[opGet][outNotFound], b[opPut][outOK], b[opUpdate][outOK], b[opUpdate][outConflict],
		b[opCreate][outOK], b[opCreate][outConflict], b[opDelete][outOK], len(st.acked), st.unknown)
}

// checkRevisionOrder checks what the per-key model cannot: revisions are
// the sequence of one stream, so no two acknowledged writes share one, and
// a write that starts after another was acknowledged gets a higher
// revision, whatever their keys.
func checkRevisionOrder(ops []porcupine.Operation) []string {
	type w struct {
		call, ret int64
		rev       uint64
		desc      string
	}
	var ws []w
	byRev := map[uint64]string{}
	var errs []string
	for _, op := range ops {
		in, out := op.Input.(kvInput), op.Output.(kvOutput)
		if out.kind != outOK || in.op == opGet || in.op == opDelete {
			continue
		}
		d := kvModel.DescribeOperation(in, out)
		if prev, dup := byRev[out.rev]; dup {
			errs = append(errs, fmt.Sprintf("revision %d acknowledged twice: %s and %s", out.rev, prev, d))
		}
		byRev[out.rev] = d
		ws = append(ws, w{op.Call, op.Return, out.rev, d})
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].ret < ws[j].ret })
	// maxBefore[i] is the write with the highest revision among ws[:i+1].
	maxBefore := make([]int, len(ws))
	for i := range ws {
		maxBefore[i] = i
		if i > 0 && ws[maxBefore[i-1]].rev > ws[i].rev {
			maxBefore[i] = maxBefore[i-1]
		}
	}
	for _, b := range ws {
		n := sort.Search(len(ws), func(i int) bool { return ws[i].ret >= b.call })
		if n == 0 {
			continue
		}
		if a := ws[maxBefore[n-1]]; a.rev >= b.rev {
			errs = append(errs, fmt.Sprintf("%s was acknowledged before %s started, with a revision not lower", a.desc, b.desc))
		}
	}
	return errs
}

// checkReads checks that every value read is in the stream at the revision
// read, as a put of that key.
func checkReads(ops []porcupine.Operation, msgs map[uint64]streamMsg) []string {
	var errs []string
	for _, op := range ops {
		in, out := op.Input.(kvInput), op.Output.(kvOutput)
		if in.op != opGet || out.kind != outOK {
			continue
		}
		if m, ok := msgs[out.rev]; !ok || m.key != in.key || m.value != out.value || m.op != "put" {
			errs = append(errs, fmt.Sprintf("read %s = %q at %d, but the stream holds %+v there", in.key, out.value, out.rev, m))
		}
	}
	return errs
}

// checkHistoryAPI reads each key's history through the API and checks it
// against the stream and the acknowledged writes: the entries are the
// stream's messages of the key, and every acknowledged write at or after
// the oldest entry is among them. It returns the entries checked.
func checkHistoryAPI(t testing.TB, c *http.Client, bucketURL string, keys []string, acked []write, msgs map[uint64]streamMsg) int {
	t.Helper()
	n := 0
	for _, k := range keys {
		r := do(context.Background(), c, "GET", bucketURL+"/history/"+k, nil)
		if r.err != nil || r.status != http.StatusOK {
			t.Errorf("history of %s: %v", k, r)
			continue
		}
		var h struct {
			Entries []struct {
				Key       string `json:"key"`
				Value     []byte `json:"value"`
				Revision  uint64 `json:"revision"`
				Operation string `json:"operation"`
			} `json:"entries"`
		}
		if err := json.Unmarshal(r.body, &h); err != nil || len(h.Entries) == 0 {
			t.Errorf("history of %s: %q: %v", k, r.body, err)
			continue
		}
		have := map[uint64]string{}
		for _, e := range h.Entries {
			n++
			have[e.Revision] = string(e.Value)
			m := msgs[e.Revision]
			if e.Key != k || m.key != k || m.op != e.Operation || m.value != string(e.Value) {
				t.Errorf("history of %s: entry %s %q at %d; the stream holds %+v", k, e.Operation, e.Value, e.Revision, m)
			}
		}
		oldest := h.Entries[0].Revision
		for _, w := range acked {
			if w.key == k && w.rev >= oldest && have[w.rev] != w.value {
				t.Errorf("history of %s lacks the acknowledged write %q at %d", k, w.value, w.rev)
			}
		}
	}
	return n
}

// explainIllegal logs, for each key whose history porcupine could not
// linearize, the end of the longest linearization it found, with the
// model's state after each step, and the first operations that could not
// follow it.
func explainIllegal(t testing.TB, info porcupine.LinearizationInfo, ops []porcupine.Operation) {
	t.Helper()
	type id struct {
		client int
		call   int64
	}
	byKey := map[string][]porcupine.Operation{}
	for _, op := range ops {
		k := op.Input.(kvInput).key
		byKey[k] = append(byKey[k], op)
	}
	for _, partials := range info.PartialLinearizationsOperations() {
		if len(partials) == 0 {
			continue
		}
		longest := slices.MaxFunc(partials, func(a, b []porcupine.Operation) int { return len(a) - len(b) })
		if len(longest) == 0 {
			continue
		}
		key := longest[0].Input.(kvInput).key
		if len(longest) == len(byKey[key]) {
			continue
		}
		done := map[id]bool{}
		var lines []string
		state := kvModel.Init()
		for i, op := range longest {
			done[id{op.ClientId, op.Call}] = true
			_, state = kvModel.Step(state, op.Input, op.Output)
			if i >= len(longest)-10 {
				lines = append(lines, fmt.Sprintf("  c%-2d [%d, %d] %s => %s", op.ClientId, op.Call, op.Return,
					kvModel.DescribeOperation(op.Input, op.Output), kvModel.DescribeState(state)))
			}
		}
		rest := slices.DeleteFunc(slices.Clone(byKey[key]), func(op porcupine.Operation) bool { return done[id{op.ClientId, op.Call}] })
		slices.SortFunc(rest, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
		lines = append(lines, "  then none of:")
		for _, op := range rest[:min(len(rest), 8)] {
			lines = append(lines, fmt.Sprintf("  c%-2d [%d, %d] %s", op.ClientId, op.Call, op.Return, kvModel.DescribeOperation(op.Input, op.Output)))
		}
		t.Logf("key %s: the longest linearization found has %d of its %d operations; it ends:\n%s",
			key, len(longest), len(byKey[key]), strings.Join(lines, "\n"))
	}
}
