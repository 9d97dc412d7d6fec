package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
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

// streamLog is what a stream's log lines say about its request: the
// request itself is not kept for as long as a WebSocket lives.
type streamLog struct {
	ctx  context.Context
	path string
}

func logOf(r *http.Request) streamLog { return streamLog{r.Context(), r.URL.EscapedPath()} }

// endOf turns the error that ended a watch of t, or ctx's, into how the
// stream ends. ctx is the stream's context; filter is logged when the watch
// fails.
func (h *core) endOf(ctx context.Context, lg streamLog, t target, filter string, err error) streamEnd {
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
	h.log.WarnContext(lg.ctx, "httpapi: watch failed",
		"method", http.MethodGet, "path", lg.path, bucketNoun, t.bucket, "filter", filter, "err", err)
	return streamEnd{"the watch failed; reconnect to resume", websocket.StatusInternalError, "watch failed"}
}

// kvEnd is endOf for a watch of the KV API, which also forgets the cached
// handle of a bucket that was deleted.
func (h *Handler) kvEnd(ctx context.Context, lg streamLog, t target, filter string, err error) streamEnd {
	if errors.Is(err, kv.ErrBucketNotFound) {
		h.buckets.forget(t.bucket, nil)
	}
	return h.endOf(ctx, lg, t, filter, err)
}

// pacer paces an SSE stream's keepalives and bounds its writes. It works
// in periods of the keepalive interval: next waits for an event until the
// period ends and then reports errKeepalive; after the keepalive, start
// begins the next period. Every write of a period must be done by
// writeDeadline, the period's end plus streamWriteTimeout. A busy stream
// makes no more contexts than an idle one: one per period.
type pacer struct {
	parent        context.Context // the stream's: ends the waits
	every         time.Duration
	ctx           context.Context // ends with the period, for next
	cancel        context.CancelFunc
	writeDeadline time.Time
}

// newPacer returns a pacer whose waits end with parent.
func newPacer(parent context.Context, every time.Duration) *pacer {
	p := &pacer{parent: parent, every: every}
	p.start()
	return p
}

// start begins a period.
func (p *pacer) start() {
	p.stop()
	end := time.Now().Add(p.every)
	p.writeDeadline = end.Add(streamWriteTimeout)
	p.ctx, p.cancel = context.WithDeadline(p.parent, end)
}

func (p *pacer) stop() {
	if p.cancel != nil {
		p.cancel()
	}
}

// next returns the next event of sub, or errKeepalive when the period ends
// while the subscription has none.
func (p *pacer) next(sub *watch.Subscription) (kv.Event, error) {
	ev, err := sub.Next(p.ctx)
	return ev, p.due(err)
}

// due turns the error of a wait that the period's end cut short into
// errKeepalive.
func (p *pacer) due(err error) error {
	if err != nil && p.parent.Err() == nil && p.ctx.Err() != nil {
		return errKeepalive
	}
	return err
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

// watchWebSocket serves GET /buckets/{b}/watch: the changes of the bucket
// that match ?key= as WebSocket frames. Everything that can fail is checked
// before the upgrade, so that a client gets a status and a JSON body. After
// the upgrade the handler returns; the connection lives on in a wsWatch.
func (h *Handler) watchWebSocket(w http.ResponseWriter, r *http.Request) (target, error) {
	p, err := parseWatch(r, false)
	if err != nil {
		return p.t, err
	}
	if err := checkUpgrade(w, r); err != nil {
		return p.t, err
	}
	ws := h.newWSWatch()
	sub, st, err := h.subscribe(r, p, ws.shutdown)
	if err != nil {
		return p.t, err
	}
	t, filter := p.t, p.filter
	lg := streamLog{context.Background(), r.URL.EscapedPath()}
	ws.serve(w, r, st, &kvFrames{sub: sub, bucket: t.bucket}, func(ctx context.Context, err error) streamEnd {
		return h.kvEnd(ctx, lg, t, filter, err)
	}, "path", lg.path, "filter", filter)
	return p.t, nil
}

// frameSource is what a WebSocket watch sends: the kv_update frames of a
// watch.Subscription, or the config_update frames of a config.Watcher.
type frameSource interface {
	// start calls wake, now and whenever frames may be ready after
	// appendReady reported none; wake returns at once.
	start(ctx context.Context, wake func())
	// appendReady appends the next frame to b if one is ready and reports
	// whether it did. While a replay is in progress it may wait for it,
	// until ctx ends. Its error ends the stream (see endOf), after the
	// frames before it.
	appendReady(ctx context.Context, b []byte) ([]byte, bool, error)
	// close releases the source, once, after the last appendReady.
	close()
}

// kvFrames are the frames of a watch of the KV API.
type kvFrames struct {
	sub    *watch.Subscription
	bucket string
}

func (f *kvFrames) start(_ context.Context, wake func()) {
	f.sub.OnReady(wake)
	wake() // a replay's events come without OnReady
}

func (f *kvFrames) appendReady(ctx context.Context, b []byte) ([]byte, bool, error) {
	ev, ok, err := f.sub.TryNext(ctx)
	if !ok {
		return b, false, err
	}
	return appendFrame(b, f.bucket, &ev), true, nil
}

func (f *kvFrames) close() { f.sub.Close() }

// pumpFrames makes a frameSource of a source whose frames come from a
// blocking call (next), with a goroutine that waits for them, one at a
// time. closeSrc ends a call of next in progress.
type pumpFrames struct {
	next     func(ctx context.Context, b []byte) ([]byte, error)
	closeSrc func()
	ch       chan pumped // at most one frame ahead of the writer
	done     chan struct{}
	started  bool
}

type pumped struct {
	b   []byte
	err error
}

func newPumpFrames(next func(ctx context.Context, b []byte) ([]byte, error), closeSrc func()) *pumpFrames {
	return &pumpFrames{next: next, closeSrc: closeSrc, ch: make(chan pumped, 1), done: make(chan struct{})}
}

func (f *pumpFrames) start(ctx context.Context, wake func()) {
	f.started = true
	go func() {
		defer close(f.done)
		for {
			b, err := f.next(ctx, nil)
			select {
			case f.ch <- pumped{b, err}:
				wake()
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
}

func (f *pumpFrames) appendReady(_ context.Context, b []byte) ([]byte, bool, error) {
	select {
	case p := <-f.ch:
		if p.err != nil {
			return b, false, p.err
		}
		return append(b, p.b...), true, nil
	default:
		return b, false, nil
	}
}

// close ends the pump; the stream's context has ended before.
func (f *pumpFrames) close() {
	f.closeSrc()
	if f.started {
		<-f.done
	}
}

// wsBufSize is the size of the buffers that coder/websocket reads and
// writes a watch connection through. It writes only control frames on a
// watch connection (pong, close), at most 127 bytes, so each is one Write
// of a wsNetConn; clients send only control frames, and what else they
// send is read in pieces.
const wsBufSize = 256

// wsMaxBatch is how many bytes of frames a WebSocket writer gathers
// before writing them.
const wsMaxBatch = 32 << 10

// wsWatch is one WebSocket watch connection after the upgrade. It holds
// one goroutine while idle, the reader, which answers the client's control
// frames and notices when the client goes away. The writer is a goroutine
// that runs only while frames or a ping are pending: the source's wake
// starts it, and it ends when nothing is left to write. It gathers every
// frame ready into one buffer and writes it with one system call, so a
// client that has fallen behind by several events costs one write, not
// one per frame.
//
// The reader owns the connection: when it ends (the client went away or
// closed, or the connection was cut), it waits for the writer, closes the
// source and leaves the Handler's streams. The writer ends the stream when
// the source ends or the Handler closes: an error frame, then the close
// handshake, which ends the reader.
type wsWatch struct {
	h      *core
	ctx    context.Context // ends with the stream: ends a replay's wait
	cancel context.CancelFunc
	st     *stream
	conn   *websocket.Conn
	nc     *wsNetConn
	src    frameSource
	end    func(ctx context.Context, err error) streamEnd
	attrs  []any // describe the watch in the debug log
	timer  *time.Timer
	writer sync.WaitGroup

	mu       sync.Mutex
	live     bool // upgraded: the writer may run
	over     bool // no writer starts any more
	running  bool // a writer runs
	rerun    bool // wake came while the writer ran
	stopping bool // the Handler closes
	pingDue  bool // the writer is to send a ping
	pongDue  bool // a ping went out and its pong has not come
	endErr   error
}

func (h *core) newWSWatch() *wsWatch {
	ws := &wsWatch{h: h}
	ws.ctx, ws.cancel = context.WithCancel(context.Background())
	return ws
}

// serve upgrades r, which checkUpgrade accepted, and starts the
// connection's reader; it owns st and src from then on, also when the
// upgrade fails.
func (ws *wsWatch) serve(w http.ResponseWriter, r *http.Request, st *stream, src frameSource,
	end func(ctx context.Context, err error) streamEnd, attrs ...any) {
	ws.st, ws.src, ws.end, ws.attrs = st, src, end, attrs
	hj := &wsHijacker{ResponseWriter: w}
	conn, err := websocket.Accept(hj, r, &websocket.AcceptOptions{
		// The Origin was checked before routing, against the same rules as
		// the REST routes (see core.cors); websocket's own check knows
		// only the same origin and would refuse the allowed ones.
		InsecureSkipVerify: true,
		OnPongReceived:     ws.pong,
	})
	if err != nil {
		// Accept has answered; checkUpgrade leaves it little to refuse.
		ws.h.log.DebugContext(r.Context(), "httpapi: WebSocket upgrade failed", "path", r.URL.EscapedPath(), "err", err)
		ws.cancel()
		src.close()
		ws.h.streams.leave(st)
		return
	}
	conn.SetReadLimit(wsReadLimit)
	ws.h.watchClients(1)
	ws.mu.Lock()
	ws.conn, ws.nc = conn, hj.nc
	first := ws.h.wsPing
	if ws.stopping {
		first = closeWriteTimeout
	}
	ws.timer = time.AfterFunc(first, ws.keepalive)
	ws.live = true
	stopping := ws.stopping
	ws.mu.Unlock()
	if stopping {
		ws.wake()
	}
	src.start(ws.ctx, ws.wake)
	go ws.read()
}

// shutdown is the stream's cancel for Handler.Close: the writer sends
// "server shutting down", and a client that does not take it within
// closeWriteTimeout is cut.
func (ws *wsWatch) shutdown() {
	ws.mu.Lock()
	ws.stopping = true
	if ws.timer != nil {
		ws.timer.Reset(closeWriteTimeout)
	}
	ws.mu.Unlock()
	ws.cancel()
	ws.wake()
}

// keepalive runs every keepalive interval: it closes a connection whose
// last ping got no pong, or one that shutdown gave up on, and otherwise
// has the writer send a ping.
func (ws *wsWatch) keepalive() {
	ws.mu.Lock()
	if ws.over && !ws.running {
		ws.mu.Unlock()
		return
	}
	if ws.stopping || ws.pongDue {
		ws.mu.Unlock()
		_ = ws.nc.Close()
		return
	}
	ws.pingDue, ws.pongDue = true, true
	ws.timer.Reset(ws.h.wsPing)
	ws.mu.Unlock()
	ws.wake()
}

// pong is coder/websocket's OnPongReceived.
func (ws *wsWatch) pong(context.Context, []byte) {
	ws.mu.Lock()
	ws.pongDue = false
	ws.mu.Unlock()
}

// wake has the writer run: it starts it, or makes it look again.
func (ws *wsWatch) wake() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if !ws.live || ws.over {
		return
	}
	if ws.running {
		ws.rerun = true
		return
	}
	ws.running = true
	ws.writer.Add(1)
	go ws.write()
}

// read is the connection's reader, and its owner.
func (ws *wsWatch) read() {
	var err error
	for {
		// A context that never ends: ending Reader's would close the
		// connection before the writer has said why.
		var rd io.Reader
		if _, rd, err = ws.conn.Reader(context.Background()); err != nil {
			break
		}
		if _, err = io.Copy(io.Discard, rd); err != nil {
			break
		}
	}
	ws.mu.Lock()
	ws.over = true
	ws.mu.Unlock()
	ws.cancel()
	ws.writer.Wait()
	_ = ws.conn.CloseNow()
	ws.timer.Stop()
	ws.src.close()
	ws.h.watchClients(-1)
	if ws.h.log.Enabled(context.Background(), slog.LevelDebug) {
		if ws.endErr != nil {
			err = ws.endErr
		}
		ws.h.log.Debug("httpapi: WebSocket watch ended", append([]any{"reason", err}, ws.attrs...)...)
	}
	ws.h.streams.leave(ws.st)
}

// write is the writer: it sends what is pending until nothing is.
func (ws *wsWatch) write() {
	defer ws.writer.Done()
	for {
		more := ws.drain()
		ws.mu.Lock()
		if more && ws.rerun && !ws.over {
			ws.rerun = false
			ws.mu.Unlock()
			continue
		}
		ws.running, ws.rerun = false, false
		if !more {
			ws.over = true
		}
		ws.mu.Unlock()
		return
	}
}

// drain writes the frames that are ready, and a ping when one is due. It
// reports false when the stream is over: the source ended, the Handler
// closes, or the connection failed.
func (ws *wsWatch) drain() bool {
	bp, fp := getBuf(), getBuf()
	out, frame := *bp, *fp
	defer func() { putBuf(bp, out); putBuf(fp, frame) }()
	var endErr error
	for {
		ws.mu.Lock()
		over, stopping, ping := ws.over, ws.stopping, ws.pingDue
		ws.pingDue = false
		ws.mu.Unlock()
		if over {
			return false
		}
		if stopping {
			endErr = kv.ErrClosed
			break
		}
		if ping {
			out = append(out, 0x89, 0) // a ping with no payload
		}
		var ok bool
		var err error
		frame, ok, err = ws.src.appendReady(ws.ctx, frame[:0])
		if err != nil {
			endErr = err
			break
		}
		if !ok {
			break
		}
		out = appendWSText(out, frame)
		if len(out) >= wsMaxBatch {
			if err := ws.nc.writeFrames(out, streamWriteTimeout); err != nil {
				ws.fail(err)
				return false
			}
			out = out[:0]
		}
	}
	if len(out) > 0 {
		if err := ws.nc.writeFrames(out, streamWriteTimeout); err != nil {
			ws.fail(err)
			return false
		}
		out = out[:0]
	}
	if endErr == nil {
		return true
	}
	ws.finish(endErr, out)
	return false
}

// fail cuts a connection whose write failed; the reader then ends.
func (ws *wsWatch) fail(err error) {
	ws.mu.Lock()
	ws.endErr = err
	ws.mu.Unlock()
	_ = ws.nc.Close()
}

// finish ends the stream for err: the error frame, then the close
// handshake. b is a buffer to use.
func (ws *wsWatch) finish(err error, b []byte) {
	ws.mu.Lock()
	over := ws.over
	ws.endErr = err
	ws.mu.Unlock()
	if over {
		return // the client went away: nobody to tell
	}
	e := ws.end(ws.ctx, err)
	if e.message == "" {
		_ = ws.nc.Close()
		return
	}
	var fp []byte
	fp = appendErrorFrame(fp, e.message)
	b = appendWSText(b[:0], fp)
	if err := ws.nc.writeFrames(b, closeWriteTimeout); err != nil {
		_ = ws.nc.Close()
		return
	}
	_ = ws.conn.Close(e.code, e.reason)
}

// appendWSText appends a server's (unmasked) WebSocket text message of
// one frame carrying p.
func appendWSText(b, p []byte) []byte {
	const finText = 0x81
	switch n := len(p); {
	case n < 126:
		b = append(b, finText, byte(n))
	case n < 1<<16:
		b = append(b, finText, 126, byte(n>>8), byte(n))
	default:
		b = append(b, finText, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, p...)
}

// wsNetConn is the connection of a WebSocket watch as coder/websocket
// sees it. The writer of the watch writes its frames (text messages and
// pings) here itself, several in one write; coder/websocket writes only
// control frames (pongs and the close), each in one Write. Every write
// has a deadline, and no frame follows a close frame.
type wsNetConn struct {
	net.Conn
	pending []byte // read by net/http past the handshake; Read returns it first

	mu        sync.Mutex
	closeSent bool
	deadline  time.Time // of writes, as last set
}

func (c *wsNetConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			c.pending = nil
		}
		return n, nil
	}
	return c.Conn.Read(p)
}

// Write writes one control frame of coder/websocket.
func (c *wsNetConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent {
		return 0, net.ErrClosed
	}
	if len(p) > 0 && p[0]&0x0f == 0x8 {
		c.closeSent = true
	}
	return c.write(p, streamWriteTimeout)
}

// writeFrames writes whole frames of the watch's writer; timeout bounds
// the write.
func (c *wsNetConn) writeFrames(p []byte, timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent {
		return net.ErrClosed
	}
	_, err := c.write(p, timeout)
	return err
}

// write writes p within timeout. Setting a deadline costs about a tenth of
// a small write, so it is moved only when it is a second out of date (or
// too far for a shorter timeout).
func (c *wsNetConn) write(p []byte, timeout time.Duration) (int, error) {
	if want := time.Now().Add(timeout); want.Sub(c.deadline) > time.Second || c.deadline.After(want) {
		if err := c.Conn.SetWriteDeadline(want); err != nil {
			return 0, err
		}
		c.deadline = want
	}
	return c.Conn.Write(p)
}

// wsHijacker hands websocket.Accept the connection of a watch as a
// wsNetConn, with buffers of wsBufSize rather than net/http's 4 KiB ones.
type wsHijacker struct {
	http.ResponseWriter
	nc *wsNetConn
}

func (w *wsHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := findWriter[http.Hijacker](w.ResponseWriter)
	if !ok {
		return nil, nil, errors.New("the http.ResponseWriter cannot be hijacked")
	}
	c, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.nc = &wsNetConn{Conn: c}
	if n := brw.Reader.Buffered(); n > 0 {
		p, _ := brw.Reader.Peek(n)
		w.nc.pending = bytes.Clone(p)
	}
	return w.nc, bufio.NewReadWriter(bufio.NewReaderSize(w.nc, wsBufSize), bufio.NewWriterSize(w.nc, wsBufSize)), nil
}
