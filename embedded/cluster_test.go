package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/internal/inproc"
)

func TestCluster(t *testing.T) {
	ports := freePorts(t, 3)
	routes := []string{routeURL(ports[0]), routeURL(ports[1]), routeURL(ports[2])}
	// A meta leader election that has to be retried takes several seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()

	nodes := make([]*embedded.Server, 3)
	for i := range nodes {
		nodes[i] = start(t, embedded.Config{
			ServerName:    fmt.Sprintf("n%d", i),
			ClientListen:  "127.0.0.1:0", // needed for routing
			ClusterName:   "t",
			ClusterListen: fmt.Sprintf("127.0.0.1:%d", ports[i]),
			Routes:        routes, // each node's own URL is ignored
			InMemory:      true,   // its own temporary store; no fsync to wait for
		})
		if got, want := nodes[i].ClusterURL(), routes[i]; got != want {
			t.Errorf("node %d ClusterURL = %q, want %q", i, got, want)
		}
	}
	for i, n := range nodes {
		if err := n.WaitJetStream(ctx); err != nil {
			t.Fatalf("node %d WaitJetStream: %v", i, err)
		}
		// A stream's leader may be another node: kv must ask over NATS.
		if offer := inproc.Lookup(n.NATS().ID()); offer == nil || offer.StreamState != nil {
			t.Errorf("node %d offers kv %+v; want no in-process stream state", i, offer)
		}
	}

	a, c := connect(t, nodes[0]), connect(t, nodes[2])
	jsA, err := jetstream.New(a)
	if err != nil {
		t.Fatal(err)
	}
	var kvA jetstream.KeyValue
	// Until the meta leader has had statistics from every peer, it may
	// refuse to place three replicas ("no suitable peers for placement").
	eventually(t, ctx, func() error {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		kvA, err = jsA.CreateKeyValue(actx, jetstream.KeyValueConfig{Bucket: "r3", Replicas: 3})
		return err
	})
	rev, err := kvA.Put(ctx, "k", []byte("replicated"))
	if err != nil {
		t.Fatalf("Put via node A: %v", err)
	}

	jsC, err := jetstream.New(c)
	if err != nil {
		t.Fatal(err)
	}
	kvC, err := jsC.KeyValue(ctx, "r3")
	if err != nil {
		t.Fatalf("KeyValue via node C: %v", err)
	}
	// A read served by a follower may briefly lag the write.
	eventually(t, ctx, func() error {
		e, err := kvC.Get(ctx, "k")
		if err != nil {
			return err
		}
		if e.Revision() != rev || string(e.Value()) != "replicated" {
			return fmt.Errorf("got %q at revision %d, want %q at %d", e.Value(), e.Revision(), "replicated", rev)
		}
		return nil
	})
	st, err := kvC.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas; got != 3 {
		t.Errorf("replicas = %d, want 3", got)
	}
}

func TestClusterNameGeneratedAndKept(t *testing.T) {
	dir := t.TempDir()
	ports := freePorts(t, 2) // the peer at ports[1] never starts
	cfg := embedded.Config{
		DataDir:       dir,
		ClientListen:  "127.0.0.1:0",
		ClusterName:   "t",
		ClusterListen: fmt.Sprintf("127.0.0.1:%d", ports[0]),
		Routes:        []string{routeURL(ports[1])},
	}
	ctx := context.Background()
	s1, err := embedded.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	name := s1.Name()
	if err := s1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(name, "ironkv-") {
		t.Errorf("generated name = %q, want ironkv-...", name)
	}
	s2, err := embedded.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.Name(); got != name {
		t.Errorf("name after restart = %q, want %q", got, name)
	}
	// Alone, the node cannot elect a meta leader.
	wctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s2.WaitJetStream(wctx); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitJetStream without peers = %v, want context.Canceled", err)
	}
	if err := s2.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
