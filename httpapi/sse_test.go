package httpapi_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/httpapi"
	"github.com/ironkv/ironkv/kvtest"
)

// TestWatchResume drops a watcher after some events, writes while it is
// away, and reconnects it the way each client does: an EventSource with
// Last-Event-ID, a WebSocket client with ?since=. The first event after
// the reconnect is the first revision after the last one seen.
func TestWatchResume(t *testing.T) {
	var obs watchCounter
	e := newEnv(t, httpapi.WithObserver(&obs))
	b := kvtest.NewBucket(t, e.store, bucket.Config{Name: "rs", History: 10})

	s := e.openSSE(t, "/buckets/rs/events?key=k.*")
	c := e.ws(t, "/buckets/rs/watch?key=k.*")
	var lastSSE, lastWS string
	for i := range 5 {
		rev := put(t, b, "k."+strconv.Itoa(i%2), "before")
		put(t, b, "other", "x")
		ev := s.next(t)
		if ev.id != strconv.FormatUint(rev, 10) {
			t.Fatalf("event %q, want id %d", ev.raw, rev)
		}
		lastSSE = ev.id
		if f := readFrame(t, c); f.Revision != rev {
			t.Fatalf("frame %+v, want revision %d", f, rev)
		}
		lastWS = strconv.FormatUint(rev, 10)
	}
	// Forced disconnects.
	s.close()
	_ = c.CloseNow()
	obs.waitOpen(t, 0)

	var away []uint64
	for i := range 6 {
		away = append(away, put(t, b, "k."+strconv.Itoa(i%3), "away"))
		put(t, b, "other", "x")
	}

	s = e.openSSE(t, "/buckets/rs/events?key=k.*", "Last-Event-ID: "+lastSSE)
	c = e.ws(t, "/buckets/rs/watch?key=k.*&since="+lastWS)
	for _, rev := range away {
		if ev := s.next(t); ev.name != "kv_update" || ev.id != strconv.FormatUint(rev, 10) {
			t.Fatalf("SSE after resume: %q, want id %d", ev.raw, rev)
		}
		if f := readFrame(t, c); f.Type != "kv_update" || f.Revision != rev {
			t.Fatalf("WebSocket after resume: %+v, want revision %d", f, rev)
		}
	}
	cur, err := b.Revision(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if ev := s.next(t); ev.name != "kv_synced" || ev.id != strconv.FormatUint(cur, 10) || ev.data != `{"type":"kv_synced","revision":`+ev.id+`}` {
		t.Fatalf("SSE: %q, want kv_synced %d", ev.raw, cur)
	}
	if f := readFrame(t, c); f.Type != "kv_synced" || f.Revision != cur {
		t.Fatalf("WebSocket: %+v, want kv_synced %d", f, cur)
	}
	live := put(t, b, "k.9", "live")
	if ev := s.next(t); ev.id != strconv.FormatUint(live, 10) {
		t.Fatalf("SSE live: %q, want %d", ev.raw, live)
	}
	if f := readFrame(t, c); f.Revision != live {
		t.Fatalf("WebSocket live: %+v, want %d", f, live)
	}
}

// TestWatchKeepalive checks the keepalives: ": ping" comment lines on SSE,
// ping frames on WebSocket, and the end of a WebSocket whose pongs do not
// come.
func TestWatchKeepalive(t *testing.T) {
	var obs watchCounter
	e := newEnv(t, httpapi.WithKeepalive(20*time.Millisecond), httpapi.WithObserver(&obs))
	b := kvtest.NewBucket(t, e.store, bucket.Config{Name: "ka", History: 10})

	t.Run("sse", func(t *testing.T) {
		s := e.openSSE(t, "/buckets/ka/events")
		for range 3 {
			ev, err := s.nextRaw()
			if err != nil {
				t.Fatal(err)
			}
			if ev.raw != ": ping\n\n" {
				t.Fatalf("got %q, want a ping comment", ev.raw)
			}
		}
		rev := put(t, b, "k", "v")
		if ev := s.next(t); ev.id != strconv.FormatUint(rev, 10) {
			t.Fatalf("event %q", ev.raw)
		}
		s.close()
		obs.waitOpen(t, 0)
	})

	t.Run("websocket pings", func(t *testing.T) {
		pings := make(chan struct{}, 100)
		c, _, err := websocket.Dial(ctxT(t), e.wsURL("/buckets/ka/watch"), &websocket.DialOptions{
			HTTPClient: e.client,
			OnPingReceived: func(context.Context, []byte) bool {
				pings <- struct{}{}
				return true
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		frames := make(chan []byte, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, b, err := c.Read(context.Background())
			if err == nil {
				frames <- b
			}
		}()
		for range 3 {
			select {
			case <-pings:
			case <-ctxT(t).Done():
				t.Fatal("no ping")
			}
		}
		// Pings are not frames: the first frame is the update.
		rev := put(t, b, "k", "after pings")
		select {
		case f := <-frames:
			if want := updateFrame("ka", "k", "after pings", rev); string(f) != want {
				t.Fatalf("frame %s, want %s", f, want)
			}
		case <-done:
			t.Fatal("the connection ended")
		}
		<-done
	})

	t.Run("websocket without pongs", func(t *testing.T) {
		// A client that never reads never answers a ping.
		c := e.ws(t, "/buckets/ka/watch")
		obs.waitOpen(t, 1)
		obs.waitOpen(t, 0)
		if _, _, err := c.Read(ctxT(t)); err == nil {
			t.Fatal("read a frame from a connection the server dropped")
		}
	})
}

// TestWatchClientMessages checks that what clients send is dropped: a
// message is ignored, an oversized one closes the connection with 1009.
func TestWatchClientMessages(t *testing.T) {
	e := newEnv(t)
	b := kvtest.NewBucket(t, e.store, bucket.Config{Name: "cm"})
	c := e.ws(t, "/buckets/cm/watch?key=k")
	ctx := ctxT(t)
	for _, m := range []string{`{"type":"subscribe","key":"k"}`, `ping`, ``} {
		if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Write(ctx, websocket.MessageBinary, []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	rev := put(t, b, "k", "v")
	if got, want := string(readWS(t, c)), updateFrame("cm", "k", "v", rev); got != want {
		t.Fatalf("frame %s, want %s", got, want)
	}
	if err := c.Write(ctx, websocket.MessageText, make([]byte, 5000)); err != nil {
		t.Fatal(err)
	}
	wantClose(t, c, websocket.StatusMessageTooBig, "*")
}

// TestWatchHandlerClose closes the Handler under its watchers: each gets
// "server shutting down" and its end, and Close returns after them.
func TestWatchHandlerClose(t *testing.T) {
	var obs watchCounter
	e := newEnv(t, httpapi.WithObserver(&obs))
	kvtest.NewBucket(t, e.store, bucket.Config{Name: "cl"})
	c := e.ws(t, "/buckets/cl/watch")
	s := e.openSSE(t, "/buckets/cl/events")
	obs.waitOpen(t, 2)

	// The WebSocket client must read to take part in the close handshake.
	got := make(chan error, 1)
	go func() {
		_, b, err := c.Read(context.Background())
		if err != nil {
			got <- err
			return
		}
		if want := `{"type":"error","message":"server shutting down"}`; string(b) != want {
			got <- errorf("frame %s, want %s", b, want)
			return
		}
		_, _, err = c.Read(context.Background())
		if websocket.CloseStatus(err) != websocket.StatusGoingAway {
			got <- errorf("after the error frame: %v, want close 1001", err)
			return
		}
		got <- nil
	}()
	if err := e.h.Close(); err != nil {
		t.Fatal(err)
	}
	if open, _ := obs.counts(); open != 0 {
		t.Errorf("%d watch clients open after Close", open)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if ev := s.next(t); ev.raw != "event: error\ndata: {\"type\":\"error\",\"message\":\"server shutting down\"}\n\n" {
		t.Fatalf("event %q", ev.raw)
	}
	s.wantEnd(t)
	_, r, err := e.dialWS(ctxT(t), "/buckets/cl/watch")
	if err == nil || r.status != 503 {
		t.Fatalf("after Close: %v, status %d", err, r.status)
	}
}
