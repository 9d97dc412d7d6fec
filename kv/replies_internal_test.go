package kv

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ironkv/ironkv/embedded"
	"github.com/nats-io/nats.go"
)

// repliesOn returns replies on a fresh connection to a fresh in-memory
// server, sweeping every 5 ms and ending a request without a deadline at
// its third sweep; and the connection. Both end with the test.
func repliesOn(t *testing.T) (*replies, *nats.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := embedded.Start(ctx, embedded.Config{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	r, err := newReplies(nc)
	if err != nil {
		t.Fatal(err)
	}
	r.every, r.limit = 5*time.Millisecond, 2
	t.Cleanup(func() { r.close(ErrClosed) })
	return r, nc
}

// sink subscribes to subject and never answers: requests to it wait.
func sink(t *testing.T, nc *nats.Conn, subject string) {
	t.Helper()
	if _, err := nc.Subscribe(subject, func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("waited a minute for %s", what)
		}
	}
}

// await returns what a request of requestAsync returned, failing the test
// when it has not returned in a minute.
func await(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("the request has not returned in a minute")
		return nil
	}
}

func (r *replies) state() (waiting int, sweeps uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.waiting), r.sweeps
}

// requestAsync runs request in a goroutine that the test's end stops.
func requestAsync(t *testing.T, r *replies, ctx context.Context, subject string) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		r.close(ErrClosed) // ends the request if it still waits
		wg.Wait()
	})
	wg.Go(func() {
		_, err := r.request(ctx, &nats.Msg{Subject: subject})
		done <- err
	})
	return done
}

func TestRepliesMatchAnswers(t *testing.T) {
	r, nc := repliesOn(t)
	if _, err := nc.Subscribe("echo", func(m *nats.Msg) { _ = m.Respond(append([]byte("re:"), m.Data...)) }); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 100 {
				body := fmt.Sprintf("%d/%d", w, i)
				resp, err := r.request(context.Background(), &nats.Msg{Subject: "echo", Data: []byte(body)})
				if err != nil || string(resp.Data) != "re:"+body {
					t.Errorf("request %s: %v, %q", body, err, respData(resp))
					return
				}
			}
		})
	}
	wg.Wait()
	if n, _ := r.state(); n != 0 {
		t.Errorf("%d calls still registered after every answer", n)
	}
}

func respData(m *nats.Msg) []byte {
	if m == nil {
		return nil
	}
	return m.Data
}

func TestRepliesNoResponders(t *testing.T) {
	r, _ := repliesOn(t)
	if _, err := r.request(context.Background(), &nats.Msg{Subject: "nobody"}); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("request to a subject nobody takes: %v, want nats.ErrNoResponders", err)
	}
}

// A request whose ctx has no deadline ends with context.DeadlineExceeded
// after limit sweeps, not before.
func TestRepliesBoundWithoutDeadline(t *testing.T) {
	r, nc := repliesOn(t)
	sink(t, nc, "sink")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, before := r.state()
	err := await(t, requestAsync(t, r, ctx, "sink"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("request nobody answers: %v, want context.DeadlineExceeded", err)
	}
	if _, after := r.state(); after-before <= r.limit {
		t.Errorf("ended after %d sweeps, want more than %d", after-before, r.limit)
	}
	if n, _ := r.state(); n != 0 {
		t.Errorf("%d calls still registered", n)
	}
}

// A request whose ctx has a deadline outlives the sweeps: its ctx bounds
// it.
func TestRepliesDeadlineCtxNotSwept(t *testing.T) {
	r, nc := repliesOn(t)
	sink(t, nc, "sink")
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	_, before := r.state()
	done := requestAsync(t, r, ctx, "sink")
	waitFor(t, "three times the sweeps of the bound", func() bool {
		_, s := r.state()
		return s-before > 3*r.limit
	})
	select {
	case err := <-done:
		t.Fatalf("request with an hour's deadline ended after %d sweeps: %v", 3*r.limit, err)
	default:
	}
	cancel()
	if err := await(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("request after cancel: %v, want context.Canceled", err)
	}
	if n, _ := r.state(); n != 0 {
		t.Errorf("%d calls still registered after cancel", n)
	}
}

// A request waiting when its connection closes, or its Store, ends with
// the error of that, and so does every request after it.
func TestRepliesEndedByClose(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(*replies, *nats.Conn)
		want error
	}{
		{"connection", func(_ *replies, nc *nats.Conn) { nc.Close() }, nats.ErrConnectionClosed},
		{"store", func(r *replies, _ *nats.Conn) { r.close(ErrClosed) }, ErrClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, nc := repliesOn(t)
			sink(t, nc, "sink")
			r.limit = 1 << 60 // no sweep ends it for its age
			done := requestAsync(t, r, context.Background(), "sink")
			waitFor(t, "the request to wait", func() bool { n, _ := r.state(); return n == 1 })
			tc.end(r, nc)
			if err := await(t, done); !errors.Is(err, tc.want) {
				t.Fatalf("request waiting at the close: %v, want %v", err, tc.want)
			}
			if _, err := r.request(context.Background(), &nats.Msg{Subject: "sink"}); !errors.Is(err, tc.want) {
				t.Fatalf("request after the close: %v, want %v", err, tc.want)
			}
			if n, _ := r.state(); n != 0 {
				t.Errorf("%d calls still registered", n)
			}
		})
	}
}

// Sweeps stop with close: a sweep the timer had begun counts nothing.
func TestRepliesCloseStopsSweeps(t *testing.T) {
	r, _ := repliesOn(t)
	r.close(ErrClosed)
	_, at := r.state()
	r.sweepNow()
	if _, now := r.state(); now != at {
		t.Errorf("a sweep after close counted: %d, then %d", at, now)
	}
}

func TestRepliesEndedCtx(t *testing.T) {
	r, _ := repliesOn(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.request(ctx, &nats.Msg{Subject: "nobody"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("request with an ended ctx: %v, want context.Canceled", err)
	}
}
