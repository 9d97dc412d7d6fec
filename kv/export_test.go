package kv

import (
	"context"
	"time"
)

// ProbeLast runs a listing barrier's probe on b's stream: whether the
// stream's last message is the message seq written at ts, as answered by
// the stream itself.
func ProbeLast(ctx context.Context, b *Bucket, seq uint64, ts time.Time) bool {
	return b.probe(ctx, b.stream.CachedInfo().Config.Name, probeQuestion{seq: seq, time: ts.UnixNano()})
}

// WithLocalState(false) makes a Store ask over NATS for the states of
// streams even when an embedded server runs in the process, as a Store on
// a remote server does.
func WithLocalState(on bool) Option { return func(o *options) { o.noLocal = !on } }
