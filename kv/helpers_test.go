package kv_test

import (
	"testing"

	"github.com/ironkv/ironkv/embedded"
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
