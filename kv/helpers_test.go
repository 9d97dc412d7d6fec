package kv_test

import (
	"testing"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
	"github.com/nats-io/nats.go"
)

func embedded0() embedded.Config { return embedded.Config{InMemory: true} }

func embeddedTCP() embedded.Config {
	return embedded.Config{InMemory: true, ClientListen: "127.0.0.1:0"}
}

// spy returns the requests that clients of srv send on subjects, copied
// to a connection of its own, which subscribes before spy returns.
func spy(t *testing.T, srv *embedded.Server, subjects ...string) <-chan *nats.Msg {
	t.Helper()
	nc := kvtest.Connect(t, srv)
	ch := make(chan *nats.Msg, 64)
	for _, subj := range subjects {
		if _, err := nc.ChanSubscribe(subj, ch); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return ch
}

// stateSources runs f twice: with Stores that read the states of streams
// from the embedded server in process, and with Stores that ask over NATS,
// as on a remote server. src is the Store option for each.
func stateSources(t *testing.T, f func(t *testing.T, src kv.Option)) {
	for _, local := range []bool{true, false} {
		name := "over NATS"
		if local {
			name = "in process"
		}
		t.Run(name, func(t *testing.T) { f(t, kv.WithLocalState(local)) })
	}
}

// memStoreOn is a Store on srv with src (see stateSources) that creates
// memory buckets by default.
func memStoreOn(t *testing.T, srv *embedded.Server, src kv.Option) *kv.Store {
	return kvtest.StoreOn(t, srv, src, kv.WithDefaultStorage(bucket.MemoryStorage))
}
