package httpapi

import (
	"log/slog"
	"time"

	"github.com/ironkv/ironkv/watch"
)

// DefaultMaxBodyBytes is the request body limit of a Handler made without
// WithMaxBodyBytes: 8 MiB.
const DefaultMaxBodyBytes = 8 << 20

// maxConfigBodyBytes caps the body of POST /buckets, a small JSON document,
// whatever WithMaxBodyBytes says.
const maxConfigBodyBytes = 64 << 10

// options is what the Options of New, NewConfig and NewSecrets set.
type options struct {
	keys        []string
	keysSet     bool
	origins     []string
	maxBody     int64
	logger      *slog.Logger
	observer    Observer
	maxBuckets  int
	bucketFresh time.Duration
	hub         *watch.Hub
	keepalive   time.Duration
}

// Option configures a Handler made by New, a ConfigHandler made by NewConfig
// or a SecretsHandler made by NewSecrets. Options that concern only the KV
// API's buckets and watch Hub (WithHub) are ignored by the other two.
type Option func(*options)

// WithAPIKeys requires every request to carry one of keys as
// "Authorization: Bearer <key>"; a request without a valid key gets 401
// before any NATS call. Give several keys to rotate one out without
// downtime. Without this option the API is open, which only suits a server
// that listens on loopback. Empty strings never match a request; passing
// only empty strings still turns authentication on, so a key that a
// deployment forgot to set locks the API instead of opening it. Calling
// WithAPIKeys again adds keys.
func WithAPIKeys(keys ...string) Option {
	return func(c *options) {
		c.keysSet = true
		c.keys = append(c.keys, keys...)
	}
}

// WithAllowedOrigins sets the browser origins that may call the API across
// origins (CORS), as "scheme://host[:port]", "scheme://host:*" for any port,
// or "*" for any origin. It replaces the default list, which allows the
// same origin and http://localhost:*, http://127.0.0.1:* and
// http://[::1]:*. The same origin is always allowed.
// Entries that do not parse are ignored with a warning in the log.
func WithAllowedOrigins(origins ...string) Option {
	return func(c *options) { c.origins = append(c.origins, origins...) }
}

// WithMaxBodyBytes sets the largest request body the Handler reads, in
// bytes; DefaultMaxBodyBytes without this option. A larger body gets 413
// without being read: a Content-Length over the limit is refused at once,
// and a body without one is cut off at the limit. A bucket's own
// max_value_size, when smaller, is enforced the same way. n <= 0 keeps the
// default.
func WithMaxBodyBytes(n int64) Option {
	return func(c *options) {
		if n > 0 {
			c.maxBody = n
		}
	}
}

// WithLogger sets the logger for server errors (5xx, with the request id
// that the response carries) and recovered panics; slog.Default() without
// this option or with nil. Client errors (4xx) are logged at Debug level.
func WithLogger(l *slog.Logger) Option {
	return func(c *options) { c.logger = l }
}

// WithHub makes the watch routes subscribe through hub, which must be a Hub
// on the Handler's store; without this option New makes a Hub of its own,
// with the watch package's defaults, and Close closes it. Share one Hub
// between several Handlers on a store, or give one with watch.WithBuffer to
// change how far a watcher may fall behind. The Handler never closes a Hub
// given with WithHub; close it after the Handler. Nil keeps the default.
func WithHub(hub *watch.Hub) Option {
	return func(c *options) { c.hub = hub }
}

// WithKeepalive sets how often the watch routes keep an idle connection
// alive: an SSE stream gets a ": ping" comment line every d, and a
// WebSocket a ping frame every d, the connection being closed when its
// pong does not come within d. Without this option (or with d <= 0) it is
// DefaultSSEKeepalive for SSE and DefaultWebSocketKeepalive for WebSocket.
func WithKeepalive(d time.Duration) Option {
	return func(c *options) { c.keepalive = max(d, 0) }
}

// WithObserver registers o to be told about every request once its
// response is written, for metrics. If o also implements WatchObserver, it
// is told when watch clients come and go. Nil removes the observer.
func WithObserver(o Observer) Option {
	return func(c *options) { c.observer = o }
}

// Observer receives one call per request, for metrics. The server binary
// implements it with Prometheus; httpapi itself imports no metrics library.
type Observer interface {
	// ObserveRequest is called once per request after the response is written, with the route pattern
	// (e.g. "PUT /buckets/{b}/keys/{key...}", or "unmatched"), the status code and the duration.
	// Route is one of the registered patterns (for a method the route does not
	// serve, the pattern without a method, such as "/buckets/{b}"),
	// "preflight" for a CORS preflight, or "unmatched". The status of a request
	// whose client went away before the answer is 499. An SSE watch request
	// is observed when its stream ends, with the stream's duration; a
	// WebSocket one after the upgrade, with 101 and the handshake's duration
	// (WatchObserver sees it end). ObserveRequest must be safe for concurrent use
	// and should return quickly.
	ObserveRequest(route string, status int, d time.Duration)
}

// WatchObserver is an Observer that also counts watch clients, for a gauge
// of open WebSocket and SSE connections. Give it with WithObserver.
type WatchObserver interface {
	// WatchClients is called with +1 when a watch client starts receiving
	// (after the WebSocket upgrade, or the SSE response header) and with -1
	// when it ends. It must be safe for concurrent use and return quickly.
	WatchClients(delta int)
}
