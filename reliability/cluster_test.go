package reliability_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestCluster runs three server binaries as one JetStream cluster, with a
// bucket of three replicas and writers on every node, then finds the
// stream's leader and kills it (SIGKILL), twice (five times under
// IRONKV_LONG=1), starting it again 5 s later. No acknowledged write may
// be lost, writes must be accepted again within 15 s of each kill, and all
// three replicas must hold the same values within 30 s of the end.
func TestCluster(t *testing.T) {
	const (
		nodes   = 3
		writers = 2 // per node
		keys    = 64
		history = 64
	)
	stops := sized(2, 5)
	ports := freePorts(t, nodes)
	routes := make([]string, nodes)
	for i, p := range ports {
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", p)
	}
	args := make([][]string, nodes)
	ns := make([]*node, nodes)
	for i := range nodes {
		args[i] = []string{
			"-listen", "127.0.0.1:0", "-data", t.TempDir(), "-nats-listen", "127.0.0.1:0",
			"-server-name", nodeName(i), "-cluster-name", "reliability",
			"-cluster-listen", fmt.Sprintf("127.0.0.1:%d", ports[i]), "-cluster-routes", strings.Join(routes, ","),
		}
		ns[i] = newNode()
		ns[i].set(startServer(t, args[i]...))
	}
	c := newClient(t, nodes*writers+4, 10*time.Second)
	// Writers give up on a write after 2 s (its outcome is then unknown)
	// and send the next: while the stream has no leader, JetStream drops
	// writes and nats.go waits 5 s for their answers.
	wc := newClient(t, nodes*writers, 2*time.Second)
	for _, n := range ns {
		waitReady(t, c, n.srv.base, 60*time.Second)
	}
	createBucket(t, c, ns[0].srv.api(), fmt.Sprintf(`{"name":"cluster","replicas":3,"history":%d}`, history))

	var led ledger
	var rec firstAck // since the last kill
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i, n := range ns {
		for w := range writers {
			wg.Go(func() {
				for j := 0; ctx.Err() == nil; j++ {
					srv, _ := n.current(ctx)
					if srv == nil {
						return
					}
					wr := write{key: fmt.Sprintf("n%dw%d.%d", i, w, j%keys), value: fmt.Sprintf("n%dw%d.%d", i, w, j)}
					call := time.Now()
					rev, err := led.put(ctx, wc, srv.api()+"/buckets/cluster", wr)
					if err != nil {
						t.Errorf("through %s: %v", nodeName(i), err)
						return
					}
					if rev == 0 {
						continue
					}
					n.acked(call)
					rec.acked(call)
				}
			})
		}
	}

	var reaccept, ready, restart, catchUp []time.Duration
	var leaders []string
	for range stops {
		// Wait for every replica to be current, so that the kill
		// removes one voter of three, and find the leader.
		start := time.Now()
		leader := waitCurrent(t, ns, 60*time.Second)
		catchUp = append(catchUp, time.Since(start))
		leaders = append(leaders, nodeName(leader))
		stopped := time.Now()
		rec.reset(stopped)
		ns[leader].down().kill()
		<-time.After(time.Until(stopped.Add(5 * time.Second)))
		srv := startServer(t, args[leader]...)
		ns[leader].set(srv)
		waitReady(t, c, srv.base, 60*time.Second)
		ready = append(ready, time.Since(srv.started))
		reaccept = append(reaccept, rec.wait(t, 15*time.Second))
		restart = append(restart, ns[leader].waitAck(t, 60*time.Second))
	}
	start := time.Now()
	waitCurrent(t, ns, 60*time.Second)
	catchUp = append(catchUp, time.Since(start))
	cancel()
	wg.Wait()

	// All replicas converge: each node's API (whose reads NATS serves from
	// the node's own replica) gives the same entry for every key.
	acked, unknown := led.writes()
	start = time.Now()
	var diff string
	if !poll(30*time.Second, 100*time.Millisecond, func() bool {
		diff = compareReplicas(t, c, ns, acked)
		return diff == ""
	}) {
		t.Errorf("replicas still differ 30 s after the writes stopped: %s", diff)
	}
	converged := time.Since(start)

	msgs, info := readStream(t, ns[0].srv.natsURL, "cluster")
	a := checkAcked(acked, msgs, history)
	a.report(t)
	latest := checkLatest(t, acked, unknown, msgs)
	t.Logf("%d nodes, bucket of 3 replicas, %d writers per node; killed the stream leader %d times (%s), each restarted 5 s after its kill",
		nodes, writers, stops, strings.Join(leaders, ", "))
	t.Logf("writes accepted again after each kill in %v; the restarted node was ready (/ready 200) %v and acknowledged its first write %v after its start; all replicas current again in %v",
		roundAll(reaccept), roundAll(ready), roundAll(restart), roundAll(catchUp))
	t.Logf("%s; %d writes without an answer; %d keys' latest values checked; the three replicas agreed %v after the writes stopped; stream at revision %d",
		a, len(unknown), latest, converged.Round(time.Millisecond), info.State.LastSeq)
	for _, n := range ns {
		n.down().stop()
	}
}

func nodeName(i int) string { return fmt.Sprintf("n%d", i+1) }

// waitCurrent waits until the bucket's stream has a leader and every
// replica is current, and returns the leader's index.
func waitCurrent(t testing.TB, ns []*node, d time.Duration) int {
	t.Helper()
	leader := -1
	var last string
	if !poll(d, 100*time.Millisecond, func() bool {
		// Every node is up here; any of them answers for the stream.
		srv, _ := ns[0].current(context.Background())
		ci := streamInfo(t, srv.natsURL, "cluster").Cluster
		if ci == nil || ci.Leader == "" {
			last = "no leader"
			return false
		}
		last = describeCluster(ci)
		for _, p := range ci.Replicas {
			if !p.Current || p.Offline || p.Lag > 0 {
				return false
			}
		}
		for i := range ns {
			if nodeName(i) == ci.Leader {
				leader = i
			}
		}
		return leader >= 0 && len(ci.Replicas) == len(ns)-1
	}) {
		t.Fatalf("the stream's replicas are not all current after %v: %s", d, last)
	}
	return leader
}

func describeCluster(ci *jetstream.ClusterInfo) string {
	s := "leader " + ci.Leader
	for _, p := range ci.Replicas {
		s += fmt.Sprintf("; %s current=%t offline=%t lag=%d", p.Name, p.Current, p.Offline, p.Lag)
	}
	return s
}

// compareReplicas reads every acknowledged key through each node's API and
// returns how they differ, or "" when all nodes give the same entry.
func compareReplicas(t testing.TB, c *http.Client, ns []*node, acked []write) string {
	t.Helper()
	keys := map[string]bool{}
	for _, w := range acked {
		keys[w.key] = true
	}
	for k := range keys {
		var first entryAnswer
		for i, n := range ns {
			srv, _ := n.current(context.Background())
			e, r := getEntry(t, c, srv.api()+"/buckets/cluster", k)
			if r.err != nil || r.status != http.StatusOK {
				return fmt.Sprintf("GET %s through %s: %v", k, nodeName(i), r)
			}
			if i == 0 {
				first = e
			} else if e.Revision != first.Revision || string(e.Value) != string(first.Value) {
				return fmt.Sprintf("%s is %q at %d on %s, %q at %d on %s", k, first.Value, first.Revision, nodeName(0), e.Value, e.Revision, nodeName(i))
			}
		}
	}
	return ""
}
