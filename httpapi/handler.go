package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/watch"
)

// Handler serves the ironkv HTTP API on a kv.Store. Make one with New; it
// is safe for concurrent use.
type Handler struct {
	core
	store   *kv.Store
	buckets *bucketCache

	// Watch routes.
	hub    *watch.Hub
	ownHub bool // made by New, closed by Close
}

// core is what every handler of the package shares: the API key check,
// the CORS and origin rules, routing with JSON 404 and 405 answers, the
// error answers and request ids, the body limit, the observer, and the
// watch connections that Close ends.
type core struct {
	mux      *http.ServeMux
	direct   func(w http.ResponseWriter, r *http.Request, path string) bool // routes some paths before mux; nil for none
	keys     apiKeys
	origins  []originRule
	maxBody  int64
	log      *slog.Logger
	observer Observer
	watchObs WatchObserver
	sseBeat  time.Duration
	wsPing   time.Duration
	streams  streams

	idPrefix string
	idSeq    atomic.Uint64
	closed   atomic.Bool
}

// newOptions applies opts over the defaults.
func newOptions(opts []Option) options {
	o := options{maxBody: DefaultMaxBodyBytes, maxBuckets: defaultMaxBuckets, bucketFresh: bucketFreshness}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	return o
}

// init sets h up from o, with a fresh ServeMux for the caller's routes.
func (h *core) init(o *options) {
	h.mux = http.NewServeMux()
	h.keys = newAPIKeys(o.keysSet, o.keys)
	h.maxBody = o.maxBody
	h.log = o.logger
	h.observer = o.observer
	h.watchObs, _ = o.observer.(WatchObserver)
	h.sseBeat, h.wsPing = DefaultSSEKeepalive, DefaultWebSocketKeepalive
	if o.keepalive > 0 {
		h.sseBeat, h.wsPing = o.keepalive, o.keepalive
	}
	if h.keys.on && len(h.keys.digests) == 0 {
		h.log.Warn("httpapi: API keys were configured but all are empty; every request will be refused with 401")
	}
	if len(o.origins) == 0 {
		h.origins = defaultOrigins
	}
	for _, s := range o.origins {
		rule, ok := parseOriginRule(s)
		if !ok {
			h.log.Warn("httpapi: ignoring an allowed origin that is not scheme://host[:port], scheme://host:* or *", "origin", s)
			continue
		}
		h.origins = append(h.origins, rule)
	}
	var id [4]byte
	_, _ = rand.Read(id[:])
	h.idPrefix = hex.EncodeToString(id[:])
}

// close refuses the requests that come after it with 503, ends every watch
// connection and waits for them. It reports whether it was the first call.
func (h *core) close() bool {
	if h.closed.Swap(true) {
		return false
	}
	h.streams.close()
	return true
}

// New returns a Handler that serves the ironkv REST API and its watch
// routes (WebSocket and Server-Sent Events) on store, with routes relative
// to "/": mount it under a prefix with http.StripPrefix. store must be in the bucket.App namespace (the
// default of kv.New and kv.Connect); every bucket name of a request is
// validated and prefixed by store, so no request reaches a system bucket.
// The Handler owns no listener and registers nothing globally; Close
// releases what it holds. New returns no error: an option value that
// cannot be used is ignored with a warning in the log. It panics when store
// is nil or works in another namespace than bucket.App, since serving
// system buckets over HTTP would be a hole.
func New(store *kv.Store, opts ...Option) *Handler {
	if store == nil {
		panic("httpapi.New: nil *kv.Store")
	}
	if ns := store.Namespace(); ns != bucket.App {
		panic(fmt.Sprintf("httpapi.New: the store works in namespace %q; the API serves only %q", ns, bucket.App))
	}
	o := newOptions(opts)
	h := &Handler{
		store:   store,
		buckets: newBucketCache(store, o.maxBuckets, o.bucketFresh),
	}
	h.init(&o)
	h.hub = o.hub
	if h.hub == nil {
		h.hub, h.ownHub = watch.NewHub(store, watch.WithLogger(o.logger)), true
	}
	h.routes()
	return h
}

// bucketFreshness is how long a cached bucket handle is used before it is
// fetched again. A variable so that tests can shorten it.
var bucketFreshness = defaultBucketFresh

// Close ends every watch connection (a WebSocket gets an error frame
// "server shutting down" and close code 1001, an SSE stream an error event)
// and waits for them, closes the watch Hub if New made it, and releases the
// cached bucket handles. Requests after Close get 503. It leaves the store
// open (the caller owns it), and a Hub given with WithHub too. It returns
// the error of closing the Hub; Close is idempotent.
//
// http.Server.Shutdown does not end hijacked WebSocket connections, and
// waits for SSE responses to finish: call Close from
// http.Server.RegisterOnShutdown so that both end at once.
func (h *Handler) Close() error {
	if !h.close() {
		return nil
	}
	var err error
	if h.ownHub {
		err = h.hub.Close()
	}
	h.buckets.close()
	return err
}

// route is a handler of one route: it returns an error for fail to answer,
// with the bucket and key the request was about.
type route func(w http.ResponseWriter, r *http.Request) (target, error)

// routes registers every route on h.mux. Each path also gets a pattern
// without a method, so that a wrong method is a JSON 405 with Allow rather
// than ServeMux's plain-text one, and "/" catches the rest as a JSON 404.
// The paths that end in {key...} get their bare parent too (".../history"),
// because ServeMux would otherwise redirect it to ".../history/", losing the
// host's mount prefix.
func (h *Handler) routes() {
	h.handle("POST /buckets", h.createBucket)
	h.handle("GET /buckets", h.listBuckets)
	h.handle("GET /buckets/{b}", h.getBucket)
	h.handle("DELETE /buckets/{b}", h.deleteBucket)
	h.handle("GET /buckets/{b}/keys", h.listKeys)
	keyRoutes := keyRoutes{
		get: h.handle(getKeyPattern, h.getKey),
		put: h.handle(putKeyPattern, h.putKey),
		del: h.handle(deleteKeyPattern, h.deleteKey),
	}
	h.direct = keyRoutes.serve
	h.handle("GET /buckets/{b}/history/{key...}", h.history)
	h.handleStream("GET /buckets/{b}/watch", h.watchWebSocket)
	h.handleStream("GET /buckets/{b}/events", h.watchSSE)

	h.notAllowed("/buckets", "GET, HEAD, POST")
	h.notAllowed("/buckets/{b}", "GET, HEAD, DELETE")
	h.notAllowed("/buckets/{b}/keys", "GET, HEAD")
	h.notAllowed("/buckets/{b}/keys/{key...}", "GET, HEAD, PUT, DELETE")
	h.notAllowed("/buckets/{b}/history/{key...}", "GET, HEAD")
	h.notAllowed("/buckets/{b}/watch", "GET")
	h.notAllowed("/buckets/{b}/events", "GET, HEAD")
	h.handle("/buckets/{b}/history", notFound)
	h.handle("/", notFound)
}

// handle registers fn for pattern behind the API key check, and returns
// what it registered.
func (h *core) handle(pattern string, fn route) http.HandlerFunc {
	f := func(w http.ResponseWriter, r *http.Request) {
		if !h.keys.check(r) {
			h.fail(w, r, errUnauthorized, target{})
			return
		}
		if t, err := fn(w, r); err != nil {
			h.fail(w, r, err, t)
		}
	}
	h.mux.HandleFunc(pattern, f)
	return f
}

// handleStream registers fn for pattern behind the API key check of the
// watch routes, which also take the key as ?token=.
func (h *core) handleStream(pattern string, fn route) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if !h.keys.checkStream(r) {
			h.fail(w, r, errUnauthorizedStream, target{})
			return
		}
		if t, err := fn(w, r); err != nil {
			h.fail(w, r, err, t)
		}
	})
}

func (h *core) notAllowed(pattern, allow string) {
	msg := "method %s is not allowed here; allowed: " + allow
	h.handle(pattern, func(w http.ResponseWriter, r *http.Request) (target, error) {
		w.Header().Set("Allow", allow)
		return target{}, &apiError{http.StatusMethodNotAllowed, codeMethodNotAllowed, fmt.Sprintf(msg, truncate(r.Method, 40))}
	})
}

func notFound(w http.ResponseWriter, r *http.Request) (target, error) {
	return target{}, &apiError{http.StatusNotFound, codeNotFound, "no such route: " + truncate(r.URL.EscapedPath(), 200)}
}

// ServeHTTP answers one API request. It never redirects. A panic in a
// route is recovered, logged with its stack and answered with a 500; when
// the answer had already started, ServeHTTP cuts the connection instead by
// panicking with http.ErrAbortHandler, which net/http handles quietly.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.serveHTTP(w, r) }

// serveHTTP is the ServeHTTP of every handler of the package: it routes r
// behind the checks that every route shares, recovers panics and reports
// the request to the observer.
func (h *core) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rw := writerPool.Get().(*respWriter)
	*rw = respWriter{ResponseWriter: w}
	start := time.Now()
	defer func() {
		p := recover()
		abort := false
		if p != nil {
			if p == http.ErrAbortHandler {
				h.finish(rw, r, start)
				panic(p)
			}
			id := h.requestID(r)
			h.log.ErrorContext(r.Context(), "httpapi: panic serving request",
				"request_id", id, "method", r.Method, "path", r.URL.EscapedPath(), "panic", p, "stack", string(debug.Stack()))
			if rw.status == 0 {
				rw.Header().Del("Etag")
				rw.Header().Set("X-Request-Id", id)
				h.writeError(rw, r, http.StatusInternalServerError, errorBody{
					Message:   "internal error; the server log has the details under request id " + id,
					Code:      codeInternal,
					RequestID: id,
				})
			} else {
				// The answer had started; cut the connection so that the
				// client does not take a partial answer for a whole one.
				abort = true
			}
		}
		h.finish(rw, r, start)
		if abort {
			panic(http.ErrAbortHandler)
		}
	}()
	h.serve(rw, r)
}

// finish reports the request to the observer and recycles rw.
func (h *core) finish(rw *respWriter, r *http.Request, start time.Time) {
	if h.observer != nil {
		route := rw.route
		if rw.routed && r.Pattern != "" && r.Pattern != "/" {
			route = r.Pattern
		}
		if route == "" {
			route = "unmatched"
		}
		status := rw.status
		if status == 0 {
			status = http.StatusOK
		}
		h.observer.ObserveRequest(route, status, time.Since(start))
	}
	*rw = respWriter{}
	writerPool.Put(rw)
}

func (h *core) serve(w *respWriter, r *http.Request) {
	if h.closed.Load() {
		h.fail(w, r, &apiError{http.StatusServiceUnavailable, codeUnavailable, "the API handler is closed"}, target{})
		return
	}
	p := r.URL.EscapedPath()
	if p == "" || p[0] != '/' {
		// Only a mount that strips too much gets here; a redirect to
		// "/..." would lose the prefix.
		h.fail(w, r, &apiError{http.StatusNotFound, codeNotFound, "no such route: " + truncate(p, 200)}, target{})
		return
	}
	if !cleanPath(p) {
		h.fail(w, r, badRequest("path %s is not clean (it has an empty, \".\" or \"..\" segment); "+
			"percent-encode '/' in keys as %%2F when a key has such segments", truncate(p, 200)), target{})
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		if h.cors(w, r, origin) {
			if w.status == http.StatusNoContent {
				w.route = "preflight"
			}
			return
		}
	}
	w.routed = true
	if h.direct != nil && h.direct(w, r, p) {
		return
	}
	h.mux.ServeHTTP(w, r)
}

// cleanPath reports whether p (which starts with '/') is what path.Clean
// leaves alone, trailing slash aside: no empty, "." or ".." segment. These
// are the paths ServeMux serves without a redirect.
func cleanPath(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		seg := p[i+1:]
		if j := indexSlash(seg); j >= 0 {
			seg = seg[:j]
			if j == 0 {
				return false // "//"
			}
		}
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

func indexSlash(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}

// respWriter records the status of a response, for the observer and for
// the panic handler.
type respWriter struct {
	http.ResponseWriter
	status int
	route  string // set when the route is known before the mux runs
	routed bool   // the mux ran, so r.Pattern is ours
}

var writerPool = sync.Pool{New: func() any { return new(respWriter) }}

func (w *respWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *respWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController access to the underlying writer.
func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
