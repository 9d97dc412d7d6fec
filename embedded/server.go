package embedded

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ironkv/ironkv/internal/inproc"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ErrServerClosed is returned by Connect and WaitJetStream once Shutdown
// has been called.
var ErrServerClosed = errors.New("embedded: server closed")

// ConnName is the client name Connect gives its connections unless the
// caller passes nats.Name.
const ConnName = "ironkv-embedded"

// serverNameFile holds a generated cluster node name inside DataDir.
const serverNameFile = "server-name"

// pollInterval paces the readiness checks of Start and WaitJetStream.
const pollInterval = 5 * time.Millisecond

// Server is a nats-server with JetStream running in this process. It is
// safe for concurrent use. Create one with Start and stop it with Shutdown.
type Server struct {
	ns         *server.Server
	name       string
	dataDir    string
	tempDir    bool // dataDir was created by Start and is removed by Shutdown
	durability Durability
	clientURL  string
	clusterURL string

	commit     *groupCommit // nil unless durability is GroupCommit
	unregister func()       // removes the server's offer to kv (see inproc)

	closed       atomic.Bool
	shutdownOnce sync.Once
	done         chan struct{} // closed when shutdown has completed
	shutdownErr  error         // written before done is closed
}

// Start validates cfg, starts the server and returns once it is ready for
// connections and JetStream is enabled on it. A cluster member may not yet
// have found its peers and a meta leader then; call WaitJetStream before
// the first JetStream request.
//
// A cfg that cannot work is an error wrapping ErrInvalidConfig, and a server
// that fails to start (a listen address that cannot be bound, a store that
// cannot be opened) an error carrying nats-server's message. If ctx ends or
// cfg.StartTimeout passes first, Start stops the server, removes a
// temporary directory it created, and returns an error wrapping ctx.Err() or
// saying what was not ready. Whatever the cause, nothing is left running.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embedded: start: %w", err)
	}
	client, cluster, routes, err := cfg.validate()
	if err != nil {
		return nil, err
	}

	s := &Server{
		dataDir:    cfg.DataDir,
		durability: cfg.effectiveDurability(),
		done:       make(chan struct{}),
	}
	if s.dataDir == "" {
		dir, err := os.MkdirTemp("", "ironkv-embedded-")
		if err != nil {
			return nil, fmt.Errorf("embedded: create temporary data dir: %w", err)
		}
		s.dataDir, s.tempDir = dir, true
	} else if err := os.MkdirAll(s.dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded: create data dir: %w", err)
	}
	removeTemp := func() {
		if s.tempDir {
			_ = os.RemoveAll(s.dataDir)
		}
	}

	name := cfg.ServerName
	if name == "" && cluster != nil {
		if name, err = clusterServerName(s.dataDir, !s.tempDir); err != nil {
			removeTemp()
			return nil, err
		}
	}

	opts := &server.Options{
		ServerName:   name,
		JetStream:    true,
		StoreDir:     s.dataDir,
		SyncAlways:   s.durability == SyncAlways,
		SyncInterval: cfg.syncInterval(),
		MaxPayload:   cfg.MaxPayload,
		NoSigs:       true,
		NoLog:        true, // the logAdapter below is installed instead
		DontListen:   client == nil,
	}
	if client != nil {
		opts.Host, opts.Port = client.host, serverPort(client.port)
	}
	if cluster != nil {
		opts.Cluster.Name = cfg.ClusterName
		opts.Cluster.Host, opts.Cluster.Port = cluster.host, serverPort(cluster.port)
		opts.Routes = routes
	}

	ns, err := server.NewServer(opts)
	if err != nil {
		removeTemp()
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	logs := newLogAdapter(cfg.Logger)
	ns.SetLoggerV2(logs, logs.debugEnabled(), false, false)

	started := make(chan struct{})
	go func() {
		defer close(started)
		ns.Start()
	}()
	s.ns = ns

	if err := waitReady(ctx, ns, started, logs.fatal, cfg.startTimeout()); err != nil {
		// Shut down only once Start has returned: a Shutdown that overtakes
		// Start can let Start launch goroutines that nothing stops.
		<-started
		ns.Shutdown()
		ns.WaitForShutdown()
		removeTemp()
		return nil, err
	}

	s.name = ns.Name()
	if s.durability == GroupCommit {
		if s.commit, err = newGroupCommit(s.dataDir, cfg.commitDelay(), cfg.OnSync); err != nil {
			ns.Shutdown()
			ns.WaitForShutdown()
			removeTemp()
			return nil, err
		}
	}
	offer := &inproc.Server{}
	if s.commit != nil {
		offer.Syncer = s
	}
	if cluster == nil {
		offer.StreamState = (&streamStates{ns: ns, account: ns.GlobalAccount().GetName()}).state
	}
	s.unregister = inproc.Register(ns.ID(), offer)
	if client != nil {
		s.clientURL = listenURL(client.host, ns.Addr())
	}
	if cluster != nil {
		if a := ns.ClusterAddr(); a != nil {
			s.clusterURL = listenURL(cluster.host, a)
		}
	}
	return s, nil
}

// serverPort maps Config's "port 0 picks a free port" to nats-server's
// spelling of it, RANDOM_PORT; nats-server reads 0 as "the default port".
func serverPort(p int) int {
	if p == 0 {
		return server.RANDOM_PORT
	}
	return p
}

// waitReady returns nil once ns is ready for connections with JetStream
// enabled, or an error once it failed, ctx ended or timeout passed.
func waitReady(ctx context.Context, ns *server.Server, started <-chan struct{}, fatal <-chan error, timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	failed := func(err error) error { return fmt.Errorf("embedded: start: %w", err) }

	select {
	case <-started:
	case err := <-fatal:
		return failed(err)
	case <-ctx.Done():
		return failed(ctx.Err())
	case <-timer.C:
		return fmt.Errorf("embedded: start: server not started after %v", timeout)
	}

	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		select {
		case err := <-fatal:
			return failed(err)
		default:
		}
		if err := ctx.Err(); err != nil {
			return failed(err)
		}
		h := ns.Healthz(&server.HealthzOptions{JSEnabledOnly: true})
		if h.Error == "" && h.StatusCode == http.StatusOK {
			return nil
		}
		select {
		case err := <-fatal:
			return failed(err)
		case <-ctx.Done():
			return failed(ctx.Err())
		case <-timer.C:
			return fmt.Errorf("embedded: start: server not ready after %v: %s", timeout, h.Error)
		case <-ticker.C:
		}
	}
}

// clusterServerName returns a generated name for a cluster node. With
// persist, the name is read from, or on first use written to, a file in
// dir, so that the node keeps its identity across restarts.
func clusterServerName(dir string, persist bool) (string, error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails
	name := "ironkv-" + hex.EncodeToString(b)
	if !persist {
		return name, nil
	}
	path := filepath.Join(dir, serverNameFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		stored := strings.TrimSpace(string(data))
		if stored == "" || strings.ContainsAny(stored, " \t\r\n") {
			return "", fmt.Errorf("%w: %s holds no valid server name; set ServerName or remove the file", ErrInvalidConfig, path)
		}
		return stored, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("embedded: read server name: %w", err)
	}
	if err := os.WriteFile(path, []byte(name+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("embedded: store server name: %w", err)
	}
	return name, nil
}

// listenURL is the nats:// URL at which a local client reaches a listener
// configured with host and bound to addr.
func listenURL(host string, addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp == nil {
		return ""
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "nats://" + net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}

// Connect returns a new in-process connection to the server, which needs
// no TCP listener. The caller closes it. Defaults, which opts may override:
// the client name ConnName, and no reconnecting, because an in-process
// connection has nothing to reconnect to once the server shuts down; the
// connection then closes, and its calls fail with nats.ErrConnectionClosed
// instead of waiting. It returns ErrServerClosed after Shutdown, or the
// error of nats.Connect.
func (s *Server) Connect(opts ...nats.Option) (*nats.Conn, error) {
	if s.closed.Load() {
		return nil, ErrServerClosed
	}
	all := make([]nats.Option, 0, len(opts)+3)
	all = append(all, nats.Name(ConnName), nats.NoReconnect())
	all = append(all, opts...)
	all = append(all, nats.InProcessServer(s.ns))
	nc, err := nats.Connect("", all...)
	if err != nil {
		return nil, fmt.Errorf("embedded: connect: %w", err)
	}
	return nc, nil
}

// ClientURL returns the URL at which TCP clients reach the server, such as
// "nats://127.0.0.1:4222", with the port actually bound; a listener on every
// interface is reported as loopback. It returns "" when Config.ClientListen
// was empty.
func (s *Server) ClientURL() string { return s.clientURL }

// ClusterURL returns the route URL of the server, such as
// "nats://127.0.0.1:6222", with the port actually bound, or "" when the
// server is not a cluster member.
func (s *Server) ClusterURL() string { return s.clusterURL }

// Name returns the server's name: Config.ServerName, or the generated one.
func (s *Server) Name() string { return s.name }

// DataDir returns the JetStream store directory: Config.DataDir, or the
// temporary directory Start created and Shutdown removes.
func (s *Server) DataDir() string { return s.dataDir }

// Durability returns the mode the server runs with: Config.Durability,
// SyncPeriodicLosesRecentWrites for an InMemory server, or SyncAlways where
// GroupCommit was asked for but cannot work (a cluster member, a system
// other than Linux).
func (s *Server) Durability() Durability { return s.durability }

// Sync is the group-commit barrier: it returns nil once everything the
// server acknowledged before the call is on stable storage. Concurrent
// callers share one sync of the data dir's file system (syncfs(2)): a call
// joins the next sync to begin and waits for it. A kv.Store on a
// connection from Connect calls Sync after every write by itself when the
// server runs in GroupCommit mode (kv.WithGroupCommit does it for other
// connections).
//
// In SyncAlways mode every write is already synced and Sync returns nil at
// once; with SyncPeriodicLosesRecentWrites or InMemory nothing is synced
// at acknowledgement and Sync returns an error wrapping ErrInvalidConfig.
// Once a sync has failed, every call returns an error wrapping
// ErrSyncFailed. After Shutdown it returns ErrServerClosed; if ctx ends
// first it returns an error wrapping ctx.Err().
func (s *Server) Sync(ctx context.Context) error {
	switch {
	case s.commit != nil:
		return s.commit.wait(ctx)
	case s.closed.Load():
		return ErrServerClosed
	case s.durability == SyncAlways:
		return nil
	}
	return fmt.Errorf("%w: Sync needs durability %s or %s; this server runs %s", ErrInvalidConfig, GroupCommit, SyncAlways, s.durability)
}

// SyncErr returns the error of the group-commit sync that failed, which
// every later Sync returns too (it wraps ErrSyncFailed), or nil while
// syncs succeed or when the server does not run GroupCommit. A server
// reports it as not ready: no write can be made durable until a restart.
func (s *Server) SyncErr() error {
	if s.commit == nil {
		return nil
	}
	s.commit.mu.Lock()
	defer s.commit.mu.Unlock()
	return s.commit.failed
}

// SyncStats returns the running totals of the group-commit barrier; all
// zero unless the server runs in GroupCommit mode.
func (s *Server) SyncStats() SyncStats {
	if s.commit == nil {
		return SyncStats{}
	}
	return s.commit.stats()
}

// NATS returns the underlying nats-server, for what this package does not
// cover, such as monitoring data. Do not shut it down directly: call
// Shutdown, which also removes a temporary DataDir.
func (s *Server) NATS() *server.Server { return s.ns }

// WaitJetStream returns nil once the server can serve JetStream API
// requests. A standalone server can as soon as Start returns; a cluster
// member can once it has joined the JetStream meta group, knows its leader
// and is current with it (nats-server's /healthz?js-meta-only=true), which
// needs a majority of the nodes up. It returns ErrServerClosed after
// Shutdown, or an error wrapping ctx.Err() with the last reason the server
// gave for not being ready.
func (s *Server) WaitJetStream(ctx context.Context) error {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		if s.closed.Load() {
			return ErrServerClosed
		}
		h := s.ns.Healthz(&server.HealthzOptions{JSMetaOnly: true})
		if h.Error == "" && h.StatusCode == http.StatusOK {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("embedded: wait for JetStream (%s): %w", h.Error, ctx.Err())
		case <-ticker.C:
		}
	}
}

// Shutdown stops the server, closing its client and route connections, and
// removes the temporary data directory if Start created one. It returns nil
// once the server has fully stopped, or the error of removing the
// directory. If ctx ends first it returns ctx.Err() and the shutdown goes
// on in the background; call Shutdown again to wait for it. Shutdown is
// idempotent and safe to call concurrently.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() {
		s.closed.Store(true)
		go func() {
			defer close(s.done)
			if s.unregister != nil {
				s.unregister()
			}
			s.ns.Shutdown()
			s.ns.WaitForShutdown()
			if s.commit != nil {
				s.commit.close()
			}
			if s.tempDir {
				if err := os.RemoveAll(s.dataDir); err != nil {
					s.shutdownErr = fmt.Errorf("embedded: remove temporary data dir: %w", err)
				}
			}
		}()
	})
	select {
	case <-s.done:
		return s.shutdownErr
	default:
	}
	select {
	case <-s.done:
		return s.shutdownErr
	case <-ctx.Done():
		return ctx.Err()
	}
}
