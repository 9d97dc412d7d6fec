package reliability_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// revisionAnswer is the JSON of a PUT's answer, or of a 412's.
type revisionAnswer struct {
	Revision uint64 `json:"revision"`
	Code     string `json:"code"`
}

func decodeRevision(t testing.TB, r reply) revisionAnswer {
	t.Helper()
	var a revisionAnswer
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Errorf("answer %v: %v", r, err)
	}
	return a
}

// entryAnswer is the JSON of an entry.
type entryAnswer struct {
	Key      string `json:"key"`
	Value    []byte `json:"value"`
	Revision uint64 `json:"revision"`
}

// getEntry reads key through the API at bucketURL.
func getEntry(t testing.TB, c *http.Client, bucketURL, key string) (entryAnswer, reply) {
	t.Helper()
	r := do(context.Background(), c, "GET", bucketURL+"/keys/"+key, nil)
	var e entryAnswer
	if r.err == nil && r.status == http.StatusOK {
		if err := json.Unmarshal(r.body, &e); err != nil {
			t.Errorf("GET %s: %v: %v", key, r, err)
		}
	}
	return e, r
}

// TestCreateRace sends 100 concurrent PUTs with If-None-Match: * on one key,
// 200 times: on fresh keys, on keys deleted first and on keys purged first.
// Every time exactly one must win (200) and the 99 others get 412 with the
// winner's revision; the key then holds the winner's value.
func TestCreateRace(t *testing.T) {
	const racers = 100
	rounds := sized(200, 1000)
	srv := startServer(t, "-listen", "127.0.0.1:0", "-data", t.TempDir())
	c := newClient(t, racers, 30*time.Second)
	waitReady(t, c, srv.base, 30*time.Second)
	createBucket(t, c, srv.api(), `{"name":"race"}`)
	bucketURL := srv.api() + "/buckets/race"
	ctx := context.Background()

	variants := []string{"fresh", "deleted", "purged"}
	var noRevision int
	start := time.Now()
	for round := range rounds {
		key := fmt.Sprintf("race.%d", round)
		variant := variants[round%len(variants)]
		if variant != "fresh" {
			if r := do(ctx, c, "PUT", bucketURL+"/keys/"+key, []byte("before")); r.status != http.StatusOK {
				t.Fatalf("PUT %s: %v", key, r)
			}
			url := bucketURL + "/keys/" + key
			if variant == "purged" {
				url += "?purge=true"
			}
			if r := do(ctx, c, "DELETE", url, nil); r.status != http.StatusNoContent {
				t.Fatalf("DELETE %s: %v", url, r)
			}
		}
		replies := make([]reply, racers)
		go1 := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				<-go1
				replies[i] = do(ctx, c, "PUT", bucketURL+"/keys/"+key, []byte(strconv.Itoa(i)), "If-None-Match", "*")
			})
		}
		close(go1)
		wg.Wait()

		winner, conflicts := -1, 0
		var rev uint64
		var others []string
		for i, r := range replies {
			switch {
			case r.err == nil && r.status == http.StatusOK:
				if winner >= 0 {
					others = append(others, fmt.Sprintf("racer %d also won", i))
				}
				winner, rev = i, decodeRevision(t, r).Revision
			case r.err == nil && r.status == http.StatusPreconditionFailed:
				conflicts++
			default:
				others = append(others, fmt.Sprintf("racer %d: %v", i, r))
			}
		}
		if winner < 0 || conflicts != racers-1 || len(others) > 0 {
			t.Fatalf("round %d (%s key): %d conflicts, winner %d, want one winner and %d conflicts; %v", round, variant, conflicts, winner, racers-1, others)
		}
		for _, r := range replies {
			if r.status != http.StatusPreconditionFailed {
				continue
			}
			switch got := decodeRevision(t, r).Revision; got {
			case rev:
			case 0:
				noRevision++
			default:
				t.Errorf("round %d: a 412 says the key is at revision %d; the winner wrote %d", round, got, rev)
			}
		}
		e, r := getEntry(t, c, bucketURL, key)
		if r.status != http.StatusOK || string(e.Value) != strconv.Itoa(winner) || e.Revision != rev {
			t.Fatalf("round %d: GET %s = %v; want the winner's %d at %d", round, key, r, winner, rev)
		}
	}
	t.Logf("%d rounds of %d concurrent creates (fresh, deleted and purged keys) in %v: each had exactly 1 winner and %d conflicts; %d of %d conflicts carried no revision",
		rounds, racers, time.Since(start).Round(time.Millisecond), racers-1, noRevision, rounds*(racers-1))
	if noRevision > 0 {
		t.Errorf("%d conflicts carried no revision, though the key was live", noRevision)
	}
}

// TestCASChain runs 32 clients that each loop GET, then PUT If-Match with
// the revision read, on one key, for 10 s. The successful writes must form
// one chain, each expecting the revision the previous one wrote, so that
// their number is exactly the number of revisions the key advanced by: no
// update is lost, none is applied twice.
func TestCASChain(t *testing.T) {
	const clients = 32
	duration := sized(10*time.Second, 60*time.Second)
	srv := startServer(t, "-listen", "127.0.0.1:0", "-data", t.TempDir())
	c := newClient(t, clients, 10*time.Second)
	waitReady(t, c, srv.base, 30*time.Second)
	createBucket(t, c, srv.api(), `{"name":"chain"}`)
	bucketURL := srv.api() + "/buckets/chain"
	r := do(context.Background(), c, "PUT", bucketURL+"/keys/counter", []byte("start"))
	if r.status != http.StatusOK {
		t.Fatalf("PUT: %v", r)
	}
	first := decodeRevision(t, r).Revision

	type cas struct {
		expected, rev uint64
		value         string
	}
	var (
		mu        sync.Mutex
		won       []cas
		conflicts atomic.Int64
		reads     atomic.Int64
		failures  atomic.Int64
	)
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var wg sync.WaitGroup
	for id := range clients {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				e, r := getEntry(t, c, bucketURL, "counter")
				if r.err != nil || r.status != http.StatusOK {
					if ctx.Err() == nil {
						t.Errorf("GET: %v", r)
					}
					return
				}
				reads.Add(1)
				value := fmt.Sprintf("c%d.%d", id, n)
				// The end of the run must not cut a write: it would leave
				// its outcome unknown.
				r = do(context.WithoutCancel(ctx), c, "PUT", bucketURL+"/keys/counter", []byte(value), "If-Match", strconv.FormatUint(e.Revision, 10))
				switch {
				case r.err == nil && r.status == http.StatusOK:
					mu.Lock()
					won = append(won, cas{e.Revision, decodeRevision(t, r).Revision, value})
					mu.Unlock()
				case r.err == nil && r.status == http.StatusPreconditionFailed:
					conflicts.Add(1)
				default:
					failures.Add(1)
					t.Errorf("PUT If-Match %d: %v", e.Revision, r)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	slices.SortFunc(won, func(a, b cas) int { return cmp.Compare(a.rev, b.rev) })
	prev := first
	for _, w := range won {
		if w.expected != prev {
			t.Fatalf("the write of %q at %d expected revision %d, but the key was at %d: the chain is broken", w.value, w.rev, w.expected, prev)
		}
		prev = w.rev
	}
	e, r := getEntry(t, c, bucketURL, "counter")
	if r.status != http.StatusOK {
		t.Fatalf("GET: %v", r)
	}
	last := cas{rev: first, value: "start"}
	if len(won) > 0 {
		last = won[len(won)-1]
	}
	if e.Revision != last.rev || string(e.Value) != last.value {
		t.Errorf("the key holds %q at %d; the last successful swap wrote %q at %d", e.Value, e.Revision, last.value, last.rev)
	}
	// Only this key is written in its bucket, so each write takes the next
	// revision.
	if advanced := e.Revision - first; advanced != uint64(len(won)) {
		t.Errorf("%d successful swaps, but the key advanced by %d revisions", len(won), advanced)
	}
	t.Logf("%d clients, %v: %d reads, %d successful swaps forming one chain from revision %d to %d (advanced by %d), %d conflicts",
		clients, duration, reads.Load(), len(won), first, e.Revision, e.Revision-first, conflicts.Load())
}

// TestCreateWhileDeleting checks Create against concurrent Deletes: one
// client loops DELETE then PUT If-None-Match: * on a key while eight others
// loop DELETE on it. Only that client ever gives the key a value, and it
// deletes it before each create, so the key has no live value during any
// create: every create must succeed.
func TestCreateWhileDeleting(t *testing.T) {
	const deleters = 8
	duration := sized(3*time.Second, 20*time.Second)
	srv := startServer(t, "-listen", "127.0.0.1:0", "-data", t.TempDir())
	c := newClient(t, deleters+1, 10*time.Second)
	waitReady(t, c, srv.base, 30*time.Second)
	createBucket(t, c, srv.api(), `{"name":"tomb"}`)
	url := srv.api() + "/buckets/tomb/keys/k"

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var deletes atomic.Int64
	var wg sync.WaitGroup
	for range deleters {
		wg.Go(func() {
			for ctx.Err() == nil {
				if r := do(ctx, c, "DELETE", url, nil); r.err == nil && r.status == http.StatusNoContent {
					deletes.Add(1)
				}
			}
		})
	}
	creates, refused := 0, 0
	var example string
	for n := 0; ctx.Err() == nil; n++ {
		if r := do(context.Background(), c, "DELETE", url, nil); r.status != http.StatusNoContent {
			t.Fatalf("DELETE: %v", r)
		}
		r := do(context.Background(), c, "PUT", url, []byte(strconv.Itoa(n)), "If-None-Match", "*")
		switch r.status {
		case http.StatusOK:
			creates++
		case http.StatusPreconditionFailed:
			refused++
			example = r.String()
		default:
			t.Fatalf("PUT If-None-Match: %v", r)
		}
	}
	cancel()
	wg.Wait()
	t.Logf("%v: %d creates on a deleted key succeeded, %d were refused; %d concurrent deletes", duration, creates, refused, deletes.Load())
	if refused == 0 {
		return
	}
	t.Errorf("%d of %d creates on a key with no live value were refused with 412 (for example %s)", refused, creates+refused, example)
}
