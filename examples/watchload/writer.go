package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// writer puts values to the API at a steady rate, over HTTP keep-alive
// connections: PUT /api/v1/kv/buckets/{b}/keys/k.<n mod keys>. Each value
// is the time of its sending, 8 bytes big-endian, in nanoseconds since
// epoch (a monotonic clock reading of this process), so that a watcher
// computes each event's delivery latency from the event alone.
type writer struct {
	client  *http.Client
	keysURL string // http://host:port/api/v1/kv/buckets/{b}/keys/
	keys    int
	epoch   time.Time
	workers int

	okPerKey []atomic.Int64 // successful puts of each key
	ok       atomic.Int64
	failed   atomic.Int64
	latency  histogram // of the puts, send to answer

	errMu    sync.Mutex
	firstErr error
}

func newWriter(client *http.Client, httpAddr, bucketName string, keys, workers int, epoch time.Time) *writer {
	return &writer{
		client:   client,
		keysURL:  "http://" + httpAddr + apiPrefix + "/buckets/" + bucketName + "/keys/",
		keys:     keys,
		epoch:    epoch,
		workers:  workers,
		okPerKey: make([]atomic.Int64, keys),
	}
}

// run makes round(rate*d) puts, the n-th due at n/rate after the start, and
// returns when all have been answered (or ctx ends). A put that cannot go
// out on time waits in a queue of one second of puts and goes out late; the
// report shows the rate achieved.
func (w *writer) run(ctx context.Context, rate float64, d time.Duration) time.Duration {
	total := int(rate*d.Seconds() + 0.5)
	jobs := make(chan int, max(1, int(rate)))
	var wg sync.WaitGroup
	for range w.workers {
		wg.Go(func() {
			for n := range jobs {
				w.put(ctx, n)
			}
		})
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	timer := time.NewTimer(0)
	defer timer.Stop()
schedule:
	for n := range total {
		if wait := time.Until(start.Add(time.Duration(n) * interval)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				break schedule
			}
		}
		select {
		case jobs <- n:
		case <-ctx.Done():
			break schedule
		}
	}
	close(jobs)
	wg.Wait()
	return time.Since(start)
}

// put makes the n-th put.
func (w *writer) put(ctx context.Context, n int) {
	key := n % w.keys
	sent := time.Since(w.epoch)
	var value [8]byte
	binary.BigEndian.PutUint64(value[:], uint64(sent))
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, w.keysURL+"k."+strconv.Itoa(key), bytes.NewReader(value[:]))
	if err != nil {
		w.fail(err)
		return
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := w.client.Do(req)
	if err != nil {
		w.fail(err)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		w.fail(fmt.Errorf("PUT k.%d: %s: %s", key, resp.Status, bytes.TrimSpace(body)))
		return
	}
	w.latency.record(time.Since(w.epoch) - sent)
	w.okPerKey[key].Add(1)
	w.ok.Add(1)
}

func (w *writer) fail(err error) {
	w.failed.Add(1)
	w.errMu.Lock()
	if w.firstErr == nil {
		w.firstErr = err
	}
	w.errMu.Unlock()
}

// expected returns how many of the successful puts match a watcher of key
// index key, or of every key when key is negative.
func (w *writer) expected(key int) int64 {
	if key < 0 {
		return w.ok.Load()
	}
	return w.okPerKey[key].Load()
}
