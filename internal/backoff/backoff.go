// Package backoff waits between retries: the compare-and-swap retries of
// config and secrets, and kv's publishes that no stream answered.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Pause waits a random time before attempt+1: up to 1 ms after the first
// conflict, doubling up to 64 ms, so that writers that collided spread out.
// It returns ctx's error when ctx ends first.
func Pause(ctx context.Context, attempt int) error {
	limit := time.Millisecond << min(attempt-1, 6)
	return Sleep(ctx, rand.N(limit)+time.Microsecond)
}

// Sleep waits for d, or returns ctx's error when ctx ends first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
