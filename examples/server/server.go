package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ironkv/ironkv/dashboard"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/config"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/httpapi"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/secrets"
)

// Where the APIs are mounted: the KV API's routes are relative to
// apiPrefix, and the Config and Secrets APIs' (/config..., /secrets...) to
// versionPrefix, so that they answer under configPrefix and secretsPrefix.
const (
	versionPrefix = "/api/v1"
	apiPrefix     = versionPrefix + "/kv"
	configPrefix  = versionPrefix + "/config"
	secretsPrefix = versionPrefix + "/secrets"
)

// Timeouts of the HTTP server. There is deliberately no server-wide
// ReadTimeout or WriteTimeout: they would cut the long-lived watch streams
// (WebSocket and SSE). Headers must arrive within readHeaderTimeout, and a
// request body within bodyReadTimeout (see serveHTTP).
const (
	readHeaderTimeout = 10 * time.Second
	bodyReadTimeout   = time.Minute
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
	readyTimeout      = 2 * time.Second
)

// run serves the API until ctx ends, then shuts down gracefully: it stops
// accepting connections, lets in-flight requests finish (for at most
// cfg.ShutdownTimeout), closes the API handler and the store, drains the
// NATS connection and stops the embedded server. A write acknowledged to a
// client is stored before its response is sent, and nothing is stopped
// before the requests in flight have their answers, so shutdown loses no
// acknowledged write.
//
// Once listening, run logs msg=listening with the bound HTTP address as
// addr (so -listen 127.0.0.1:0 is usable) and, when there is one, the
// embedded server's NATS client URL as nats_url. It returns nil after a
// shutdown that ctx asked for, and an error when the configuration is
// invalid, NATS cannot be started or reached, the address cannot be bound,
// or the HTTP server fails.
func run(ctx context.Context, cfg Config, logger *slog.Logger) (err error) {
	if err := cfg.validate(); err != nil {
		return err
	}
	kr, err := loadKeyring(cfg, logger)
	if err != nil {
		return err
	}
	be, err := openBackend(ctx, cfg, logger)
	if err != nil {
		if ctx.Err() != nil {
			// A signal during startup asks for a shutdown, not a failure.
			logger.Info("stopped during startup", "err", err)
			return nil
		}
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if cerr := be.close(cctx); cerr != nil {
			err = errors.Join(err, cerr)
			return
		}
		logger.Info("stopped")
	}()

	configs, err := config.New(be.configStore)
	if err != nil {
		return err
	}
	sec, err := openSecrets(be.secretsStore, kr, cfg, logger)
	if err != nil {
		return err
	}
	if cfg.ReencryptSecrets {
		if err := reencryptSecrets(ctx, sec, logger); err != nil {
			if ctx.Err() != nil {
				logger.Info("stopped during startup", "err", err)
				return nil
			}
			return err
		}
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}

	s := newServer(cfg, be, configs, sec, logger)
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	attrs := []any{"addr", ln.Addr().String(), "api", "http://" + ln.Addr().String() + apiPrefix, "secrets", secretsMode(sec)}
	attrs = append(attrs, be.logAttrs()...)
	logger.Info("listening", attrs...)
	s.warnInsecure(cfg)

	select {
	case <-ctx.Done():
		logger.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	case err := <-served:
		s.closeAPI()
		return fmt.Errorf("http server: %w", err)
	}

	s.stopping.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// Shutdown waits for the requests in flight but not for hijacked
	// WebSocket connections, and an SSE stream never finishes by itself:
	// the API handler's Close ends both. It runs once the REST requests in
	// flight have their answers, so none of them meets a closed handler.
	hs.RegisterOnShutdown(func() {
		select {
		case <-s.rest.idle():
		case <-sctx.Done():
		}
		s.closeAPI()
	})
	if err := hs.Shutdown(sctx); err != nil {
		logger.Warn("requests still running at the shutdown timeout; closing their connections", "err", err)
		_ = hs.Close()
	}
	<-served
	s.closeAPI()
	logger.Info("http server stopped")
	return nil
}

// server routes the HTTP requests: the APIs under apiPrefix, configPrefix
// and secretsPrefix, and the server's own routes on a ServeMux.
type server struct {
	api          *httpapi.Handler
	config       *httpapi.ConfigHandler
	apiMount     http.Handler
	configMount  http.Handler
	secretsMount http.Handler
	mux          http.Handler
	be           *backend
	js           jetstream.JetStream
	log          *slog.Logger
	stopping     atomic.Bool
	metrics      *metrics
	rest         inflight // API requests other than watch streams
	apiOnce      sync.Once
}

// newServer returns the server of the KV API on be's store, the Config API
// on configs and the Secrets API on sec (nil without a master key).
func newServer(cfg Config, be *backend, configs *config.Configs, sec *secrets.Secrets, logger *slog.Logger) *server {
	s := &server{be: be, log: logger, metrics: newMetrics(be.nc)}
	if be.srv != nil && be.srv.Durability() == embedded.GroupCommit {
		s.metrics.observeGroupCommit(be.srv.SyncStats)
	}
	s.metrics.observeKeyIndexes(be.store, be.configStore, be.secretsStore)
	s.js, _ = jetstream.New(be.nc) // fails only for a nil connection

	opts := []httpapi.Option{
		httpapi.WithLogger(logger),
		httpapi.WithObserver(s.metrics),
		httpapi.WithMaxBodyBytes(cfg.MaxBodyBytes),
	}
	if len(cfg.APIKeys) > 0 {
		opts = append(opts, httpapi.WithAPIKeys(cfg.APIKeys...))
	}
	if len(cfg.AllowedOrigins) > 0 {
		opts = append(opts, httpapi.WithAllowedOrigins(cfg.AllowedOrigins...))
	}
	s.api = httpapi.New(be.store, opts...)
	s.apiMount = http.StripPrefix(apiPrefix, s.api)
	s.config = httpapi.NewConfig(configs, opts...)
	s.configMount = http.StripPrefix(versionPrefix, s.config)
	s.secretsMount = http.StripPrefix(versionPrefix, httpapi.NewSecrets(sec, opts...))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("GET /ready", s.ready)
	mux.Handle("GET /metrics", s.metrics.handler())
	// The dashboard: static files that talk to the APIs under /api/v1.
	mux.Handle("/", dashboard.New())
	s.mux = s.metrics.instrument(mux)
	return s
}

// ServeHTTP sends requests under apiPrefix, configPrefix and secretsPrefix
// straight to their API, by their escaped path, so that ServeMux never
// cleans or redirects an API path (a redirect would lose the prefix, and a
// key may hold "%2F" or "//"). Everything else goes to the ServeMux.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		// Bound the time to send a body without cutting the watch
		// streams, which have none. The deadline is reset for the next
		// request on the connection.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyReadTimeout))
	}
	p := r.URL.EscapedPath()
	var api http.Handler
	switch {
	case under(p, apiPrefix):
		api = s.apiMount
	case under(p, configPrefix):
		api = s.configMount
	case under(p, secretsPrefix):
		api = s.secretsMount
	default:
		s.mux.ServeHTTP(w, r)
		return
	}
	if !isWatch(r.Method, p) {
		s.rest.add()
		defer s.rest.done()
	}
	api.ServeHTTP(w, r)
}

// under reports whether the escaped path p is prefix or below it.
func under(p, prefix string) bool {
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}

// isWatch reports whether an API request opens a watch stream, GET
// /api/v1/kv/buckets/{b}/watch (WebSocket), /api/v1/kv/buckets/{b}/events
// (SSE) or /api/v1/config/{name}/watch (WebSocket), which lasts until the
// client or the server ends it.
func isWatch(method, escapedPath string) bool {
	if method != http.MethodGet {
		return false
	}
	if under(escapedPath, configPrefix) {
		seg := strings.Split(strings.TrimPrefix(escapedPath, configPrefix+"/"), "/")
		return len(seg) == 2 && seg[1] == "watch"
	}
	seg := strings.Split(strings.TrimPrefix(escapedPath, apiPrefix+"/"), "/")
	return len(seg) == 3 && seg[0] == "buckets" && (seg[2] == "watch" || seg[2] == "events")
}

// closeAPI closes the API handlers once: it ends their watch streams.
func (s *server) closeAPI() {
	s.apiOnce.Do(func() {
		if err := errors.Join(s.api.Close(), s.config.Close()); err != nil {
			s.log.Warn("closing the API handlers", "err", err)
		}
	})
}

// inflight counts requests in flight and tells when there are none.
type inflight struct {
	mu      sync.Mutex
	n       int
	waiters []chan struct{}
}

func (f *inflight) add() {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
}

func (f *inflight) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n--; f.n == 0 {
		for _, w := range f.waiters {
			close(w)
		}
		f.waiters = nil
	}
}

// idle returns a channel closed once no request is in flight.
func (f *inflight) idle() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan struct{})
	if f.n == 0 {
		close(ch)
	} else {
		f.waiters = append(f.waiters, ch)
	}
	return ch
}

// health is the liveness check: the process serves HTTP.
func (s *server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// ready is the readiness check: 200 when the NATS connection is up and
// JetStream answers (on a cluster, when the node has a meta leader), 503
// with the reason otherwise and once shutdown has begun.
func (s *server) ready(w http.ResponseWriter, r *http.Request) {
	if err := s.checkReady(r.Context()); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *server) checkReady(ctx context.Context) error {
	if s.stopping.Load() {
		return errors.New("shutting down")
	}
	if st := s.be.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("NATS connection is %s", strings.ToLower(st.String()))
	}
	if s.be.srv != nil {
		if err := s.be.srv.SyncErr(); err != nil {
			return fmt.Errorf("writes cannot be made durable (%v); restart the server once the disk is healthy", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if _, err := s.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("JetStream does not answer: %v", err)
	}
	return nil
}

// warnInsecure logs the settings that weaken security on purpose.
func (s *server) warnInsecure(cfg Config) {
	if len(cfg.APIKeys) == 0 && !loopback(cfg.Listen) {
		s.log.Warn("the API is served beyond loopback without API keys: anyone who can reach it can read and change every bucket", "addr", cfg.Listen)
	}
	if cfg.NATSListen != "" && !loopback(cfg.NATSListen) {
		s.log.Warn("the NATS client port, which has no authentication, is open beyond loopback", "addr", cfg.NATSListen)
	}
	if cfg.ClusterListen != "" && !loopback(cfg.ClusterListen) {
		s.log.Warn("cluster routes have no authentication: keep the cluster port on a private network", "addr", cfg.ClusterListen)
	}
	for _, k := range cfg.APIKeys {
		if len(k) < 16 {
			s.log.Warn("an API key is shorter than 16 characters; use a long random one, such as the output of: openssl rand -hex 32")
			break
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// backend is the store and the NATS connection under it, on an embedded
// server or on remote ones.
type backend struct {
	store *kv.Store
	// configStore and secretsStore work in the SYS_config_ and
	// SYS_secrets_ namespaces, on nc.
	configStore  *kv.Store
	secretsStore *kv.Store
	nc           *nats.Conn
	srv          *embedded.Server // nil with remote NATS
	closed       chan struct{}    // closed when nc has closed
	cfg          Config
}

// openBackend starts the embedded server and connects to it, or connects
// to the remote servers of cfg.NATSURLs.
func openBackend(ctx context.Context, cfg Config, logger *slog.Logger) (*backend, error) {
	be := &backend{closed: make(chan struct{}), cfg: cfg}
	var closeOnce atomic.Bool
	natsOpts := []nats.Option{
		nats.ClosedHandler(func(*nats.Conn) {
			if !closeOnce.Swap(true) {
				close(be.closed)
			}
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("NATS reconnected", "url", redactURL(nc.ConnectedUrl()))
		}),
	}

	// Key index builds and releases are logged.
	kvOpts := []kv.Option{kv.WithLogger(logger.With("component", "kv"))}
	if cfg.remote() {
		store, err := kv.Connect(ctx, strings.Join(cfg.NATSURLs, ","), append(kvOpts, kv.WithNATSOptions(natsOpts...))...)
		if err != nil {
			return nil, fmt.Errorf("connect to NATS: %w", err)
		}
		be.store, be.nc = store, store.Conn()
		if err := be.openSystemStores(kvOpts); err != nil {
			_ = store.Close()
			return nil, err
		}
		return be, nil
	}

	clientListen := cfg.NATSListen
	if clientListen == "" && cfg.clustered() {
		// nats-server routes only once its client listener is up.
		clientListen = "127.0.0.1:0"
	}
	ecfg := embedded.Config{
		DataDir:       cfg.DataDir,
		InMemory:      cfg.Memory,
		Durability:    cfg.Durability,
		CommitDelay:   cfg.CommitDelay,
		ClientListen:  clientListen,
		ServerName:    cfg.ServerName,
		ClusterName:   cfg.ClusterName,
		ClusterListen: cfg.ClusterListen,
		Routes:        cfg.ClusterRoutes,
		Logger:        slog.New(demoteInfo{logger.Handler()}).With("component", "nats"),
	}
	srv, err := embedded.Start(ctx, ecfg)
	if err != nil {
		return nil, fmt.Errorf("start embedded NATS: %w", err)
	}
	shutdown := func() {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	nc, err := srv.Connect(natsOpts...)
	if err != nil {
		shutdown()
		return nil, err
	}
	if cfg.Memory {
		kvOpts = append(kvOpts, kv.WithDefaultStorage(bucket.MemoryStorage))
	}
	if srv.Durability() == embedded.GroupCommit {
		kvOpts = append(kvOpts, kv.WithGroupCommit(srv))
	}
	store, err := kv.New(nc, kvOpts...)
	if err != nil {
		nc.Close()
		shutdown()
		return nil, err
	}
	be.store, be.nc, be.srv = store, nc, srv
	err = be.openSystemStores(kvOpts)
	if err == nil {
		err = be.checkDurability(ctx)
	}
	if err != nil {
		_ = store.Close()
		nc.Close()
		shutdown()
		return nil, err
	}
	return be, nil
}

// openSystemStores opens the stores of the Config and Secrets APIs on
// be.nc, with opts (memory storage for -memory).
func (be *backend) openSystemStores(opts []kv.Option) error {
	var err error
	be.configStore, err = kv.New(be.nc, append(slices.Clone(opts), kv.WithNamespace(bucket.SysConfig))...)
	if err != nil {
		return err
	}
	be.secretsStore, err = kv.New(be.nc, append(slices.Clone(opts), kv.WithNamespace(bucket.SysSecrets))...)
	return err
}

// checkDurability refuses to start when group commit cannot cover a
// bucket, rather than fail each of its writes later.
func (be *backend) checkDurability(ctx context.Context) error {
	for _, st := range []*kv.Store{be.store, be.configStore, be.secretsStore} {
		if err := st.CheckDurability(ctx); err != nil {
			return fmt.Errorf("durability %s: %w", embedded.GroupCommit, err)
		}
	}
	return nil
}

// logAttrs describes the backend for the "listening" log line.
func (be *backend) logAttrs() []any {
	if be.srv == nil {
		urls := make([]string, len(be.cfg.NATSURLs))
		for i, u := range be.cfg.NATSURLs {
			urls[i] = redactURL(u)
		}
		return []any{"nats", "remote", "nats_urls", strings.Join(urls, ",")}
	}
	attrs := []any{"nats", "embedded"}
	if u := be.srv.ClientURL(); u != "" {
		attrs = append(attrs, "nats_url", u)
	}
	if be.cfg.Memory {
		attrs = append(attrs, "storage", "memory")
	} else {
		attrs = append(attrs, "storage", "file", "data", be.srv.DataDir(), "durability", be.srv.Durability().String())
	}
	if u := be.srv.ClusterURL(); u != "" {
		attrs = append(attrs, "cluster", be.cfg.ClusterName, "cluster_url", u, "server_name", be.srv.Name())
	}
	return attrs
}

// close closes the store, drains the NATS connection (its subscriptions
// finish what they hold, buffered messages are flushed) and stops the
// embedded server, which has already fsynced every acknowledged write.
func (be *backend) close(ctx context.Context) error {
	// The system stores never own the connection.
	errs := []error{be.configStore.Close(), be.secretsStore.Close()}
	if be.srv != nil {
		// The store does not own an embedded connection: close it first.
		errs = append(errs, be.store.Close())
	}
	if err := be.nc.Drain(); err != nil {
		be.nc.Close()
	}
	select {
	case <-be.closed:
	case <-ctx.Done():
		be.nc.Close()
		errs = append(errs, fmt.Errorf("drain NATS connection: %w", ctx.Err()))
	}
	if be.srv == nil {
		errs = append(errs, be.store.Close())
	} else if err := be.srv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("shut down embedded NATS: %w", err))
	}
	return errors.Join(errs...)
}

// demoteInfo logs nats-server's notices, which it writes at Info and which
// are many at startup, at Debug; its warnings and errors keep their level.
type demoteInfo struct{ slog.Handler }

func (h demoteInfo) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, demote(l))
}

func (h demoteInfo) Handle(ctx context.Context, r slog.Record) error {
	r.Level = demote(r.Level)
	return h.Handler.Handle(ctx, r)
}

func (h demoteInfo) WithAttrs(as []slog.Attr) slog.Handler {
	return demoteInfo{h.Handler.WithAttrs(as)}
}

func (h demoteInfo) WithGroup(name string) slog.Handler {
	return demoteInfo{h.Handler.WithGroup(name)}
}

func demote(l slog.Level) slog.Level {
	if l == slog.LevelInfo {
		return slog.LevelDebug
	}
	return l
}
