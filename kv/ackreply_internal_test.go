package kv

import (
	"testing"

	"github.com/nats-io/nats.go"
)

// FuzzParsePosition checks parsePosition against nats.go's own reading of
// a reply subject.
func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{
		"$JS.ACK.KV_APP_a.idx.1.42.7.1732600000123456789.3",
		"$JS.ACK._.ACCHASH.KV_APP_a.idx.1.42.7.1732600000123456789.0.r4nd",
		"$JS.ACK.hub.ACCHASH.KV_APP_a.idx.1.42.7.1732600000123456789.5",
		"$JS.ACK.hub.ACCHASH.KV_APP_a.idx.1.42.7.1732600000123456789.5.x.y",
		"$JS.ACK.a.b.c.d.e.f.g.h",
		"$JS.ACK.KV_APP_a.idx.1.4x2.7.17.3",
		"$JS.ACK.KV.a.1.2.3.4",
		"$JS.ACK...........",
		"$JS.ACKX.a.b.c.d.e.f.g",
		"_INBOX.abc",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, reply string) {
		got, ok := parsePosition(reply)
		md, err := (&nats.Msg{Subject: "s", Reply: reply, Sub: &nats.Subscription{}}).Metadata()
		if ok != (err == nil) {
			t.Fatalf("parsePosition(%q) ok = %v; nats.go: %+v, %v", reply, ok, md, err)
		}
		if !ok {
			return
		}
		want := msgPosition{seq: md.Sequence.Stream, time: md.Timestamp.UnixNano(), pending: md.NumPending}
		if got != want {
			t.Fatalf("parsePosition(%q) = %+v; nats.go reads %+v", reply, got, want)
		}
	})
}
