package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/watch"
)

// sseHeaders are set on every SSE answer. X-Accel-Buffering keeps nginx
// from holding events back.
var sseHeaders = map[string][]string{
	"Content-Type":      {"text/event-stream"},
	"Cache-Control":     {"no-cache"},
	"X-Accel-Buffering": {"no"},
}

// ssePing is the keepalive of an SSE stream: a comment line, which
// EventSource ignores.
var ssePing = []byte(": ping\n\n")

// watchSSE serves GET /buckets/{b}/events: the changes of the bucket that
// match ?key= as Server-Sent Events. Everything that can fail is checked
// before the first byte, so that a client gets a status and a JSON body.
// HEAD checks the request and the bucket and streams nothing.
func (h *Handler) watchSSE(w http.ResponseWriter, r *http.Request) (target, error) {
	p, err := parseWatch(r, true)
	if err != nil {
		return p.t, err
	}
	if _, ok := findWriter[http.Flusher](w); !ok {
		return p.t, errors.New("httpapi: SSE: the http.ResponseWriter cannot flush (a middleware wraps it without an Unwrap method)")
	}
	if r.Method == http.MethodHead {
		if _, err := h.bucketFor(r, p.t); err != nil {
			return p.t, err
		}
		setSSEHeaders(w)
		w.WriteHeader(http.StatusOK)
		return p.t, nil
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	sub, st, err := h.subscribe(r, p, cancel)
	if err != nil {
		return p.t, err
	}
	defer h.streams.leave(st)
	defer sub.Close()
	rc := http.NewResponseController(w)
	setSSEHeaders(w)
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return p.t, nil
	}
	h.watchClients(1)
	defer h.watchClients(-1)
	// A deadline set here outlives the request on a kept-alive connection
	// unless it is cleared.
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()

	// When the stream ends (Handler.Close, the client gone), a write the
	// client does not take must not hold it up.
	aborted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(aborted)
		_ = rc.SetWriteDeadline(time.Now())
	})
	err = h.writeSSE(ctx, w, rc, p, sub)
	if !stop() {
		<-aborted
	}
	if err == nil {
		return p.t, nil
	}
	end := h.kvEnd(ctx, logOf(r), p.t, p.filter, err)
	if end.message != "" {
		_ = rc.SetWriteDeadline(time.Now().Add(closeWriteTimeout))
		bp := getBuf()
		b := append(*bp, "event: error\ndata: "...)
		b = appendErrorFrame(b, end.message)
		b = append(b, "\n\n"...)
		if _, err := w.Write(b); err == nil {
			_ = rc.Flush()
		}
		putBuf(bp, b)
	}
	if h.log.Enabled(r.Context(), slog.LevelDebug) {
		h.log.DebugContext(r.Context(), "httpapi: SSE watch ended",
			"path", r.URL.EscapedPath(), "filter", p.filter, "reason", err, "message", end.message)
	}
	return p.t, nil
}

func setSSEHeaders(w http.ResponseWriter) {
	hd := w.Header()
	for k, v := range sseHeaders {
		hd[k] = v
	}
}

// writeSSE sends the events of sub until the subscription or ctx ends, or
// the client stops taking them. It returns why; a nil error means that the
// connection failed.
func (h *Handler) writeSSE(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController, p watchRequest, sub *watch.Subscription) error {
	pc := newPacer(ctx, h.sseBeat)
	defer pc.stop()
	// An error means the writer has no deadlines (not net/http's); the
	// stream then relies on the client's going away.
	_ = rc.SetWriteDeadline(pc.writeDeadline)
	for {
		ev, err := pc.next(sub)
		switch {
		case err == nil:
			bp := getBuf()
			b := appendEvent(*bp, p.t.bucket, &ev)
			_, err = w.Write(b)
			putBuf(bp, b)
		case err == errKeepalive:
			_, err = w.Write(ssePing)
			pc.start()
			_ = rc.SetWriteDeadline(pc.writeDeadline)
		default:
			return err
		}
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			return nil
		}
	}
}

// appendEvent appends the SSE event of ev: its frame as data, with its
// type as the event name and its revision as the id, so that a reconnecting
// EventSource resumes after it.
func appendEvent(b []byte, bucketName string, ev *kv.Event) []byte {
	if ev.Kind == kv.EventSynced {
		b = append(b, "event: kv_synced\nid: "...)
	} else {
		b = append(b, "event: kv_update\nid: "...)
	}
	b = strconv.AppendUint(b, ev.Revision, 10)
	b = append(b, "\ndata: "...)
	b = appendFrame(b, bucketName, ev)
	return append(b, "\n\n"...)
}
