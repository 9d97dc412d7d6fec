package reliability_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestCrashSafety runs the server binary on a data directory with writers
// that record every acknowledged write, kills it with SIGKILL at random
// moments and starts it again on the same directory, in each durability
// mode. No acknowledged write may be lost, no revision may go backwards,
// and the first write after each restart must be acknowledged within 5 s
// of the start.
//
// SIGKILL ends the process, not the machine: what the server wrote to the
// operating system survives in the page cache whether or not it was
// fsynced, so every mode must lose nothing here. The difference between
// the modes (power loss, kernel crash) is not what this test can show; the
// ordering tests of packages embedded and kv prove group commit's part.
func TestCrashSafety(t *testing.T) {
	for _, mode := range []string{"group-commit", "sync-always", "sync-periodic-loses-recent-writes"} {
		t.Run(mode, func(t *testing.T) { testCrashSafety(t, mode) })
	}
}

// crashWriters is how many writers put unique keys, and how many overwrite
// a few keys each (whose older revisions leave the history).
const (
	uniqueWriters    = 4
	overwriteWriters = 2
	overwriteKeys    = 8
	crashHistory     = 8
)

func testCrashSafety(t *testing.T, mode string) {
	kills := sized(5, 20)
	maxDelay := sized(1500*time.Millisecond, 3*time.Second)
	dir := t.TempDir()
	args := []string{"-listen", "127.0.0.1:0", "-data", dir, "-durability", mode, "-nats-listen", "127.0.0.1:0"}
	c := newClient(t, uniqueWriters+overwriteWriters+1, 10*time.Second)
	srv := startServer(t, args...)
	waitReady(t, c, srv.base, 30*time.Second)
	createBucket(t, c, srv.api(), fmt.Sprintf(`{"name":"crash","history":%d}`, crashHistory))
	n := newNode()
	n.set(srv)

	var led ledger
	var mu sync.Mutex
	maxRev := map[int]uint64{} // per generation
	minRev := map[int]uint64{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for w := range uniqueWriters + overwriteWriters {
		wg.Go(func() {
			var last uint64
			for i := 0; ctx.Err() == nil; i++ {
				srv, gen := n.current(ctx)
				if srv == nil {
					return
				}
				wr := write{key: fmt.Sprintf("u%d.%d", w, i), value: fmt.Sprintf("v%d.%d", w, i)}
				if w >= uniqueWriters {
					wr.key = fmt.Sprintf("o%d.%d", w, i%overwriteKeys)
				}
				call := time.Now()
				rev, err := led.put(ctx, c, srv.api()+"/buckets/crash", wr)
				if err != nil {
					t.Error(err)
					return
				}
				if rev == 0 {
					continue
				}
				wr.rev = rev
				n.acked(call)
				if wr.rev <= last {
					t.Errorf("writer %d: revision %d acknowledged after %d: a revision went backwards", w, wr.rev, last)
				}
				last = wr.rev
				mu.Lock()
				maxRev[gen] = max(maxRev[gen], wr.rev)
				if minRev[gen] == 0 || wr.rev < minRev[gen] {
					minRev[gen] = wr.rev
				}
				mu.Unlock()
			}
		})
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	var restarts []time.Duration
	n.waitAck(t, 30*time.Second)
	for range kills {
		// A random moment after the first write of this run was
		// acknowledged; the writers keep several writes in flight.
		<-time.After(time.Duration(rng.Int64N(int64(maxDelay))))
		n.down().kill()
		srv = startServer(t, args...)
		n.set(srv)
		restarts = append(restarts, n.waitAck(t, 30*time.Second))
	}
	<-time.After(time.Duration(rng.Int64N(int64(maxDelay))))
	cancel()
	wg.Wait()

	acked, unknown := led.writes()
	msgs, info := readStream(t, srv.natsURL, "crash")
	a := checkAcked(acked, msgs, crashHistory)
	a.report(t)
	keys := checkLatest(t, acked, unknown, msgs)

	// Revisions never go back across a restart: the first write after each
	// one is above every write acknowledged before it.
	highest := uint64(0)
	for gen := 1; gen <= kills+1; gen++ {
		if lo := minRev[gen]; lo <= highest {
			t.Errorf("restart %d: revision %d acknowledged after %d had been before the kill", gen-1, lo, highest)
		}
		highest = max(highest, maxRev[gen])
	}

	// And the API serves the latest writes of every generation.
	slices.SortFunc(acked, func(x, y write) int { return cmp.Compare(y.rev, x.rev) })
	latest := map[string]bool{}
	served := 0
	for _, w := range acked {
		if latest[w.key] {
			continue
		}
		latest[w.key] = true
		if len(latest) > 200 {
			break
		}
		e, r := getEntry(t, c, srv.api()+"/buckets/crash", w.key)
		if r.status == http.StatusOK && string(e.Value) == w.value && e.Revision == w.rev {
			served++
		} else if m := msgs[e.Revision]; r.status != http.StatusOK || m.key != w.key || e.Revision < w.rev {
			t.Errorf("GET %s = %v; the latest acknowledged write is %q at %d", w.key, r, w.value, w.rev)
		}
	}

	slow := 0
	for _, d := range restarts {
		if d > 5*time.Second {
			slow++
		}
	}
	if slow > 0 {
		t.Errorf("%d of %d restarts took more than 5 s to the first acknowledged write: %v", slow, len(restarts), restarts)
	}
	t.Logf("%s: %d SIGKILLs; %s; %d writes without an answer; %d latest values checked in the stream and %d through the API; stream at revision %d; start to first acknowledged write after each restart: %v",
		mode, kills, a, len(unknown), keys, served, info.State.LastSeq, roundAll(restarts))
	srv.stop()
}

// roundAll rounds durations to milliseconds, for the log.
func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}
