package httpapi

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/watch"
)

// Keepalive defaults of the watch routes; WithKeepalive sets both.
const (
	// DefaultSSEKeepalive is how often an SSE stream gets a ": ping"
	// comment line.
	DefaultSSEKeepalive = 15 * time.Second
	// DefaultWebSocketKeepalive is how often a WebSocket gets a ping frame;
	// a connection whose pong does not come within as long is closed.
	DefaultWebSocketKeepalive = 30 * time.Second
)

const (
	// wsReadLimit caps a client's WebSocket message. Clients send nothing
	// in this protocol; what they send anyway is read and dropped.
	wsReadLimit = 4 << 10
	// streamWriteTimeout bounds one write of a frame or an event: a client
	// that takes no bytes for that long is cut without ceremony.
	streamWriteTimeout = 30 * time.Second
	// closeWriteTimeout bounds the last error frame or event of a stream.
	closeWriteTimeout = 5 * time.Second
)

// streams holds the watch connections of a Handler, so that Close can end
// them and wait for them.
type streams struct {
	mu      sync.Mutex
	closing bool
	cancels map[*stream]struct{}
	wg      sync.WaitGroup
}

// stream is one watch connection; cancel ends its work.
type stream struct{ cancel context.CancelFunc }

// enter adds a stream that cancel ends; it returns nil once the Handler
// closes.
func (s *streams) enter(cancel context.CancelFunc) *stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil
	}
	if s.cancels == nil {
		s.cancels = map[*stream]struct{}{}
	}
	st := &stream{cancel: cancel}
	s.cancels[st] = struct{}{}
	s.wg.Add(1)
	return st
}

// leave removes a stream that has ended.
func (s *streams) leave(st *stream) {
	s.mu.Lock()
	delete(s.cancels, st)
	s.mu.Unlock()
	s.wg.Done()
}

// close refuses new streams, ends every stream and waits for them.
func (s *streams) close() {
	s.mu.Lock()
	s.closing = true
	for st := range s.cancels {
		st.cancel()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// errHandlerClosed answers a watch request that arrives while the Handler
// closes.
var errHandlerClosed = &apiError{http.StatusServiceUnavailable, codeUnavailable, "the API handler is closed"}

// watchRequest is what a request to a watch route asks for.
type watchRequest struct {
	t      target
	filter string
	opts   []watch.SubOption
}

// parseWatch reads and validates the bucket, ?key=, ?snapshot= and ?since=
// of a watch request and, for SSE (lastEventID), the Last-Event-ID header,
// which wins over both query parameters so that a reconnecting EventSource
// resumes where it stopped.
func parseWatch(r *http.Request, lastEventID bool) (watchRequest, error) {
	p := watchRequest{t: target{bucket: r.PathValue("b")}}
	if err := bucket.ValidateName(p.t.bucket); err != nil {
		return p, err
	}
	q := r.URL.Query()
	p.filter = q.Get("key")
	if _, err := bucket.ParseFilter(p.filter); err != nil {
		return p, err
	}
	snapshot := false
	if s := q.Get("snapshot"); s != "" {
		var err error
		if snapshot, err = strconv.ParseBool(s); err != nil {
			return p, badRequest("snapshot %q: must be true or false", truncate(s, 40))
		}
	}
	if lastEventID {
		if s := r.Header.Get("Last-Event-ID"); s != "" {
			rev, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return p, badRequest("Last-Event-ID %q: must be a revision, a non-negative integer", truncate(s, 40))
			}
			p.opts = []watch.SubOption{watch.Since(rev)}
			return p, nil
		}
	}
	if s, ok := q["since"]; ok {
		rev, err := strconv.ParseUint(s[0], 10, 64)
		if err != nil {
			return p, badRequest("since %q: must be a revision, a non-negative integer (0 for every retained change)", truncate(s[0], 40))
		}
		if snapshot {
			return p, badRequest("snapshot=true and since= contradict each other; use one")
		}
		p.opts = []watch.SubOption{watch.Since(rev)}
		return p, nil
	}
	if snapshot {
		p.opts = []watch.SubOption{watch.Snapshot()}
	}
	return p, nil
}

// subscribe enters a stream that cancel ends and subscribes for p. When it
// returns no error, the caller closes the subscription and leaves the
// stream.
func (h *Handler) subscribe(r *http.Request, p watchRequest, cancel context.CancelFunc) (*watch.Subscription, *stream, error) {
	st := h.streams.enter(cancel)
	if st == nil {
		return nil, nil, errHandlerClosed
	}
	sub, err := h.hub.Subscribe(r.Context(), p.t.bucket, p.filter, p.opts...)
	if err != nil {
		h.streams.leave(st)
		if errors.Is(err, kv.ErrBucketNotFound) {
			h.buckets.forget(p.t.bucket, nil)
		}
		return nil, nil, err
	}
	return sub, st, nil
}

// watchClients tells the WatchObserver, if any, about delta clients.
func (h *core) watchClients(delta int) {
	if h.watchObs != nil {
		h.watchObs.WatchClients(delta)
	}
}

// streamEnd is how a stream ends, for its last frame or event.
type streamEnd struct {
	// message is the text of the error frame or event; "" for none (the
	// client went away).
	message string
	// code and reason close a WebSocket.
	code   websocket.StatusCode
	reason string
}

// endOf turns the error that ended a watch of t, or ctx's, into how the
// stream ends. ctx is the stream's context; filter is logged when the watch
// fails.
func (h *core) endOf(ctx context.Context, r *http.Request, t target, filter string, err error) streamEnd {
	var sce *kv.SlowConsumerError
	keyNoun, bucketNoun := t.nouns()
	switch {
	case h.closed.Load() || errors.Is(err, kv.ErrClosed):
		return streamEnd{"server shutting down", websocket.StatusGoingAway, "server shutting down"}
	case ctx.Err() != nil:
		return streamEnd{}
	case errors.As(err, &sce) && t.kind == kindKV:
		msg := sce.Error() // "slow consumer; resume from N"
		return streamEnd{msg, websocket.StatusTryAgainLater, msg}
	case errors.As(err, &sce):
		// The config watch has no ?since=: a client that fell behind
		// reconnects and reads the document again.
		msg := "slow consumer; reconnect and read the " + keyNoun + " again"
		return streamEnd{msg, websocket.StatusTryAgainLater, "slow consumer; reconnect"}
	case errors.Is(err, kv.ErrBucketNotFound):
		return streamEnd{fmt.Sprintf("%s %q was deleted", bucketNoun, t.bucket), websocket.StatusNormalClosure, bucketNoun + " deleted"}
	}
	h.log.WarnContext(r.Context(), "httpapi: watch failed",
		"method", r.Method, "path", r.URL.EscapedPath(), bucketNoun, t.bucket, "filter", filter, "err", err)
	return streamEnd{"the watch failed; reconnect to resume", websocket.StatusInternalError, "watch failed"}
}

// kvEnd is endOf for a watch of the KV API, which also forgets the cached
// handle of a bucket that was deleted.
func (h *Handler) kvEnd(ctx context.Context, r *http.Request, p watchRequest, err error) streamEnd {
	if errors.Is(err, kv.ErrBucketNotFound) {
		h.buckets.forget(p.t.bucket, nil)
	}
	return h.endOf(ctx, r, p.t, p.filter, err)
}

// pacer paces a stream's keepalives and bounds its writes. It works in
// periods of the keepalive interval: next waits for an event until the
// period ends and then reports errKeepalive; after the keepalive, start
// begins the next period. Every write of a period must be done by the
// period's end plus streamWriteTimeout, and ends with writeParent. A busy
// stream makes no more contexts than an idle one: two per period.
type pacer struct {
	parent      context.Context // the stream's: ends the waits
	writeParent context.Context // ends the writes
	every       time.Duration
	end         time.Time // of the period

	ctx           context.Context // ends with the period, for next
	cancel        context.CancelFunc
	writeCtx      context.Context // ends at the period's write deadline
	writeCancel   context.CancelFunc
	writeDeadline time.Time
}

// newPacer returns a pacer whose waits end with parent and whose writes end
// with writeParent.
func newPacer(parent, writeParent context.Context, every time.Duration) *pacer {
	p := &pacer{parent: parent, writeParent: writeParent, every: every}
	p.start()
	return p
}

// start begins a period.
func (p *pacer) start() {
	p.stop()
	p.end = time.Now().Add(p.every)
	p.writeDeadline = p.end.Add(streamWriteTimeout)
	p.ctx, p.cancel = context.WithDeadline(p.parent, p.end)
	p.writeCtx, p.writeCancel = context.WithDeadline(p.writeParent, p.writeDeadline)
}

func (p *pacer) stop() {
	if p.cancel != nil {
		p.cancel()
		p.writeCancel()
	}
}

// next returns the next event of sub, or errKeepalive when the period ends
// while the subscription has none.
func (p *pacer) next(sub *watch.Subscription) (kv.Event, error) {
	ev, err := sub.Next(p.ctx)
	return ev, p.due(err)
}

// nextFrame appends the next frame of src to b, or returns errKeepalive
// when the period ends while src has none.
func (p *pacer) nextFrame(src frameSource, b []byte) ([]byte, error) {
	b, err := src.appendNext(p.ctx, b)
	return b, p.due(err)
}

// due turns the error of a wait that the period's end cut short into
// errKeepalive.
func (p *pacer) due(err error) error {
	if err != nil && p.parent.Err() == nil && p.ctx.Err() != nil {
		return errKeepalive
	}
	return err
}

// frameSource is what a WebSocket watch sends: the KV API's kv_update
// frames of a watch.Subscription, or the config_update frames of a
// config.Watcher.
type frameSource interface {
	// appendNext waits for the next change, until ctx ends, and appends
	// its frame to b. Its error ends the stream (see endOf).
	appendNext(ctx context.Context, b []byte) ([]byte, error)
}

// kvFrames are the frames of a watch of the KV API.
type kvFrames struct {
	sub    *watch.Subscription
	bucket string
}

func (f kvFrames) appendNext(ctx context.Context, b []byte) ([]byte, error) {
	ev, err := f.sub.Next(ctx)
	if err != nil {
		return b, err
	}
	return appendFrame(b, f.bucket, &ev), nil
}

// errKeepalive says that a stream is due its keepalive.
var errKeepalive = errors.New("keepalive due")

// The frames of the watch routes, the same JSON over WebSocket and in the
// data of SSE events, field for field Ironflow's.

// appendFrame appends the frame of ev: a kv_update, or a kv_synced.
func appendFrame(b []byte, bucketName string, ev *kv.Event) []byte {
	if ev.Kind == kv.EventSynced {
		b = append(b, `{"type":"kv_synced","revision":`...)
		b = strconv.AppendUint(b, ev.Revision, 10)
		return append(b, '}')
	}
	e := &ev.Entry
	b = append(b, `{"type":"kv_update","bucket":`...)
	b = appendString(b, bucketName)
	b = append(b, `,"key":`...)
	b = appendString(b, e.Key)
	if e.Op == kv.OpPut {
		b = append(b, `,"value":"`...)
		b = base64.StdEncoding.AppendEncode(b, e.Value)
		b = append(b, '"')
	}
	b = append(b, `,"revision":`...)
	b = strconv.AppendUint(b, e.Revision, 10)
	b = append(b, `,"operation":`...)
	b = appendString(b, string(e.Op))
	return append(b, '}')
}

// appendErrorFrame appends {"type":"error","message":msg}.
func appendErrorFrame(b []byte, msg string) []byte {
	b = append(b, `{"type":"error","message":`...)
	b = appendString(b, msg)
	return append(b, '}')
}

// putBuf recycles a buffer of getBuf.
func putBuf(bp *[]byte, b []byte) {
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		bufPool.Put(bp)
	}
}

// findWriter returns the first writer in w's Unwrap chain that is a T, as
// http.ResponseController looks for one.
func findWriter[T any](w http.ResponseWriter) (T, bool) {
	for {
		if t, ok := w.(T); ok {
			return t, true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			var zero T
			return zero, false
		}
		w = u.Unwrap()
	}
}

// watchWebSocket serves GET /buckets/{b}/watch: the changes of the bucket
// that match ?key= as WebSocket frames. Everything that can fail is checked
// before the upgrade, so that a client gets a status and a JSON body.
func (h *Handler) watchWebSocket(w http.ResponseWriter, r *http.Request) (target, error) {
	p, err := parseWatch(r, false)
	if err != nil {
		return p.t, err
	}
	if err := checkUpgrade(w, r); err != nil {
		return p.t, err
	}
	// The request's context is of no use after the upgrade: the stream
	// ends with the Handler or the client.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, st, err := h.subscribe(r, p, cancel)
	if err != nil {
		return p.t, err
	}
	defer h.streams.leave(st)
	defer sub.Close()
	h.serveWebSocket(ctx, cancel, w, r, kvFrames{sub, p.t.bucket}, func(err error) streamEnd {
		return h.kvEnd(ctx, r, p, err)
	}, "filter", p.filter)
	return p.t, nil
}

// checkUpgrade checks that r is a WebSocket handshake that
// websocket.Accept will take, and that w can be hijacked.
func checkUpgrade(w http.ResponseWriter, r *http.Request) error {
	if !r.ProtoAtLeast(1, 1) || !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		return &apiError{http.StatusUpgradeRequired, codeInvalidArgument,
			"this route is a WebSocket: send an HTTP/1.1 upgrade (Connection: Upgrade, Upgrade: websocket); " +
				"for Server-Sent Events use .../events"}
	}
	if v := r.Header.Get("Sec-WebSocket-Version"); v != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		return &apiError{http.StatusUpgradeRequired, codeInvalidArgument,
			fmt.Sprintf("WebSocket version %q is not supported; use 13", truncate(v, 40))}
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return badRequest("a WebSocket handshake needs exactly one Sec-WebSocket-Key header")
	}
	if k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(keys[0])); err != nil || len(k) != 16 {
		return badRequest("Sec-WebSocket-Key %q is not 16 bytes in base64", truncate(keys[0], 40))
	}
	if _, ok := findWriter[http.Hijacker](w); !ok {
		return errors.New("httpapi: WebSocket: the http.ResponseWriter cannot be hijacked (a middleware wraps it without an Unwrap method)")
	}
	return nil
}

// headerHasToken reports whether a comma-separated header holds token,
// case-insensitively.
func headerHasToken(hd http.Header, name, token string) bool {
	for _, v := range hd.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// serveWebSocket upgrades r, which checkUpgrade accepted, and runs one
// WebSocket watch of src: a reader loop on a goroutine of its own that drops
// what the client sends and answers its control frames, and the writer loop
// here, which sends src's frames and the keepalive pings. Each ends the
// other: the writer closes the connection when it stops, which ends the
// reader, and the reader calls cancel, which ends ctx, when the client goes
// away. end says how the stream ends for the error that stopped src;
// logAttrs describe the watch in the debug log. serveWebSocket returns
// after both loops.
func (h *core) serveWebSocket(ctx context.Context, cancel context.CancelFunc, w http.ResponseWriter, r *http.Request,
	src frameSource, end func(error) streamEnd, logAttrs ...any) {
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// The Origin was checked before routing, against the same rules as
		// the REST routes (see core.cors); websocket's own check knows
		// only the same origin and would refuse the allowed ones.
		InsecureSkipVerify: true,
	})
	if err != nil {
		// Accept has answered; checkUpgrade leaves it little to refuse.
		h.log.DebugContext(r.Context(), "httpapi: WebSocket upgrade failed", "path", r.URL.EscapedPath(), "err", err)
		return
	}
	h.watchClients(1)
	defer h.watchClients(-1)
	conn.SetReadLimit(wsReadLimit)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer cancel()
		for {
			// A context that never ends: ending Reader's would close the
			// connection before the writer has said why.
			_, rd, err := conn.Reader(context.Background())
			if err != nil {
				return
			}
			if _, err := io.Copy(io.Discard, rd); err != nil {
				return
			}
		}
	}()

	// A write must not end with ctx: the websocket package closes the
	// connection when the context of a write ends, even one that has just
	// sent its frame, and the client would then miss the error frame and
	// the close code. Writes get closeWriteTimeout more than ctx; one stuck
	// that long (a client that reads nothing) is cut then.
	wctx, wcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer wcancel()
	stopCut := context.AfterFunc(ctx, func() {
		t := time.NewTimer(closeWriteTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			wcancel()
		case <-wctx.Done():
		}
	})
	defer stopCut()

	err = h.writeWebSocket(ctx, wctx, conn, src)
	if err != nil {
		e := end(err)
		if e.message != "" {
			bp := getBuf()
			b := appendErrorFrame(*bp, e.message)
			wctx, wcancel := context.WithTimeout(context.Background(), closeWriteTimeout)
			err = conn.Write(wctx, websocket.MessageText, b)
			wcancel()
			putBuf(bp, b)
			if err == nil {
				_ = conn.Close(e.code, e.reason)
			}
		}
		if h.log.Enabled(r.Context(), slog.LevelDebug) {
			h.log.DebugContext(r.Context(), "httpapi: WebSocket watch ended",
				append([]any{"path", r.URL.EscapedPath(), "reason", err, "message", e.message}, logAttrs...)...)
		}
	}
	_ = conn.CloseNow()
	<-readDone
}

// writeWebSocket sends the frames of src until src or ctx ends, or the
// client stops taking them; its writes and pings end with wctx. It returns
// why; a nil error means that the connection failed.
func (h *core) writeWebSocket(ctx, wctx context.Context, conn *websocket.Conn, src frameSource) error {
	pc := newPacer(ctx, wctx, h.wsPing)
	defer pc.stop()
	for {
		bp := getBuf()
		b, err := pc.nextFrame(src, *bp)
		if err == nil {
			err = conn.Write(pc.writeCtx, websocket.MessageText, b)
			putBuf(bp, b)
			if err != nil {
				return nil
			}
			continue
		}
		putBuf(bp, b)
		if err != errKeepalive {
			return err
		}
		pctx, pcancel := context.WithTimeout(wctx, h.wsPing)
		err = conn.Ping(pctx)
		pcancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return nil
		}
		pc.start()
	}
}
