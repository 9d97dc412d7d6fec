package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ironkv/ironkv/embedded"
)

func TestCluster(t *testing.T) {
	t.Logf("DEBUGSTEP begin %s", time.Now().Format("15:04:05.000"))
	t.Cleanup(func() { t.Logf("DEBUGSTEP cleaned %s", time.Now().Format("15:04:05.000")) })
	ports := freePorts(t, 3)
	routes := []string{routeURL(ports[0]), routeURL(ports[1]), routeURL(ports[2])}
	ctx := testContext(t)

	nodes := make([]*embedded.Server, 3)
	for i := range nodes {
		nodes[i] = start(t, embedded.Config{
			ServerName:    fmt.Sprintf("n%d", i),
			ClientListen:  "127.0.0.1:0", // needed for routing
			ClusterName:   "t",
			ClusterListen: fmt.Sprintf("127.0.0.1:%d", ports[i]),
			Routes:        routes, // each node's own URL is ignored
		})
		if got, want := nodes[i].ClusterURL(), routes[i]; got != want {
			t.Errorf("node %d ClusterURL = %q, want %q", i, got, want)
		}
	}
	t.Logf("DEBUGSTEP started %s", time.Now().Format("15:04:05.000"))
	for i, n := range nodes {
		if err := n.WaitJetStream(ctx); err != nil {
			t.Fatalf("node %d WaitJetStream: %v", i, err)
		}
	}

	t.Logf("DEBUGSTEP waited %s", time.Now().Format("15:04:05.000"))
	a, c := connect(t, nodes[0]), connect(t, nodes[2])
	jsA, err := jetstream.New(a)
	if err != nil {
		t.Fatal(err)
	}
	var kvA jetstream.KeyValue
	// Until the meta leader has had statistics from every peer, it may
	// refuse to place three replicas ("no suitable peers for placement").
	eventually(t, ctx, func() error {
		kvA, err = jsA.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "r3", Replicas: 3})
		if err != nil { t.Logf("DEBUGCREATE %s %v", time.Now().Format("15:04:05.000"), err) }
		return err
	})
	t.Logf("DEBUGSTEP created %s", time.Now().Format("15:04:05.000"))
	rev, err := kvA.Put(ctx, "k", []byte("replicated"))
	t.Logf("DEBUGSTEP put %s", time.Now().Format("15:04:05.000"))
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
			t.Logf("DEBUGGET %s %v", time.Now().Format("15:04:05.000"), err)
			return err
		}
		if e.Revision() != rev || string(e.Value()) != "replicated" {
			return fmt.Errorf("got %q at revision %d, want %q at %d", e.Value(), e.Revision(), "replicated", rev)
		}
		return nil
	})
	t.Logf("DEBUGSTEP got %s", time.Now().Format("15:04:05.000"))
	st, err := kvC.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas; got != 3 {
		t.Errorf("replicas = %d, want 3", got)
	}
	t.Logf("DEBUGSTEP end %s", time.Now().Format("15:04:05.000"))
}

func TestClusterNameGeneratedAndKept(t *testing.T) {
	dir := t.TempDir()
	ports := freePorts(t, 2) // the peer at ports[1] never starts
	cfg := embedded.Config{
		DataDir:       dir,
		ClientListen:  "127.0.0.1:0",
		ClusterName:   "t",
		ClusterListen: routeURL(ports[0])[len("nats://"):],
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
	// Alone, the node never finds a meta leader.
	wctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s2.WaitJetStream(wctx); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitJetStream without peers = %v, want context.Canceled", err)
	}
	if err := s2.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
