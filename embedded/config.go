package embedded

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidConfig is wrapped by every error Start and ParseDurability
// return for a configuration that cannot work; the message says which field
// is wrong and why.
var ErrInvalidConfig = errors.New("embedded: invalid config")

// MaxCommitDelay is the longest Config.CommitDelay Start accepts,
// PostgreSQL's bound on commit_delay.
const MaxCommitDelay = 100 * time.Millisecond

const (
	defaultSyncInterval = 2 * time.Minute
	defaultCommitDelay  = time.Millisecond
	defaultStartTimeout = 10 * time.Second
)

// Config describes the server Start runs. The zero value is useful: a
// standalone JetStream server in a fresh temporary directory, in
// GroupCommit mode, reachable only in-process through Server.Connect, and
// removed, directory and all, by Server.Shutdown.
type Config struct {
	// DataDir is the JetStream store directory (nats-server's StoreDir;
	// streams live under DataDir/jetstream). It is created if missing and
	// kept at Shutdown. Empty means a fresh temporary directory that
	// Shutdown removes. Only one server may use a directory at a time.
	DataDir string

	// InMemory runs a server whose data lives only as long as the process:
	// the store directory is a temporary one removed at Shutdown, and
	// Durability does not apply (fsync protects nothing that is thrown away
	// anyway, so the server syncs periodically and Server.Durability reports
	// SyncPeriodicLosesRecentWrites). Callers should create memory-storage
	// streams and KV buckets (jetstream.MemoryStorage); file-storage ones
	// still work but go to the temporary directory. InMemory with a
	// DataDir is an error.
	InMemory bool

	// Durability chooses when file-storage writes reach stable storage. The
	// zero value, GroupCommit, makes a kv.Store on this server acknowledge a
	// write once a sync shared with the other waiting writes has flushed it.
	Durability Durability

	// OnSync, if set, is called after every group-commit sync, from the
	// goroutine that syncs: keep it short. It serves metrics and tests.
	OnSync func(SyncRecord)

	// CommitDelay is the longest a group-commit sync waits for writes to
	// join it, as PostgreSQL's commit_delay: once a sync has served two
	// writes or more, the next one begins when as many writes wait as the
	// last one served, or CommitDelay after the last one ended, whichever
	// comes first. Under a steady load a sync rarely waits the whole
	// delay, and fewer syncs, each serving more writes, leave more of the
	// machine to the writes themselves; when the load falls, one sync
	// waits the whole delay. A lone writer never waits. Zero means 1 ms;
	// negative means never wait; more than MaxCommitDelay is an error. It applies to GroupCommit only.
	CommitDelay time.Duration

	// SyncInterval is the background fsync period of GroupCommit and
	// SyncPeriodicLosesRecentWrites; zero means two minutes, JetStream's
	// default. It is ignored with SyncAlways. Negative is an error.
	SyncInterval time.Duration

	// ClientListen is the "host:port" on which the server accepts NATS
	// clients over TCP, for example "127.0.0.1:4222"; port 0 picks a free
	// port (see Server.ClientURL) and an empty host means every interface.
	// Empty means no TCP listener at all: connections are in-process only,
	// through Server.Connect. A cluster member needs one, because
	// nats-server starts routing only once its client listener is up.
	ClientListen string

	// MaxPayload is the largest message, and so the largest KV value plus
	// headers, the server accepts, in bytes. Zero means the server default
	// of 1 MiB. nats-server warns above 8 MiB.
	MaxPayload int32

	// ServerName names the server in logs, in the cluster and in the
	// JetStream meta group; it must be unique within a cluster and may not
	// contain spaces. Empty means generated: standalone, the random server
	// ID; in a cluster, "ironkv-" and random hex, stored in DataDir (file
	// server-name) when DataDir is set so that a restarted node keeps its
	// identity in the cluster.
	ServerName string

	// ClusterName, ClusterListen and Routes, set together, make the server
	// a member of a JetStream cluster. ClusterName must be the same on every
	// node.
	ClusterName string

	// ClusterListen is the "host:port" on which the server accepts routes
	// from the other nodes, for example "127.0.0.1:6222"; port 0 picks a
	// free port (see Server.ClusterURL).
	ClusterListen string

	// Routes are the route URLs of the cluster's nodes,
	// "nats://host:port" each. Giving every node the same list, its own URL
	// included, is fine: nats-server ignores a route to itself.
	Routes []string

	// Logger receives nats-server's log: notices at Info, warnings at
	// Warn, errors and fatal errors at Error, debug at Debug (only when the
	// logger is enabled for Debug). Nil means silent. Protocol tracing is
	// never turned on. To tell nodes apart, pass a logger with an attribute
	// such as slog.Default().With("node", "a").
	Logger *slog.Logger

	// StartTimeout bounds how long Start waits for the server to be ready;
	// zero means 10 seconds. Negative is an error.
	StartTimeout time.Duration
}

// clustered reports whether the config asks for a cluster member.
func (c *Config) clustered() bool {
	return c.ClusterName != "" || c.ClusterListen != "" || len(c.Routes) > 0
}

// effectiveDurability is the mode the server actually runs with.
func (c *Config) effectiveDurability() Durability {
	switch {
	case c.InMemory:
		return SyncPeriodicLosesRecentWrites
	case c.Durability == GroupCommit && (c.clustered() || !groupCommitSupported):
		// A member's R1 streams may live on another node, whose disk this
		// process cannot sync; replicated streams rely on Raft.
		return SyncAlways
	}
	return c.Durability
}

func (c *Config) commitDelay() time.Duration {
	switch {
	case c.CommitDelay == 0:
		return defaultCommitDelay
	case c.CommitDelay < 0:
		return 0
	}
	return c.CommitDelay
}

func (c *Config) syncInterval() time.Duration {
	if c.SyncInterval == 0 {
		return defaultSyncInterval
	}
	return c.SyncInterval
}

func (c *Config) startTimeout() time.Duration {
	if c.StartTimeout == 0 {
		return defaultStartTimeout
	}
	return c.StartTimeout
}

// hostPort is a validated listen address; port 0 means any free port.
type hostPort struct {
	host string
	port int
}

// validate checks everything that can be checked before starting and
// returns the parsed listen addresses and routes.
func (c *Config) validate() (client, cluster *hostPort, routes []*url.URL, err error) {
	invalid := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, a...))
	}
	if !c.Durability.valid() {
		return nil, nil, nil, invalid("Durability %d is not a known mode (want GroupCommit, SyncAlways or SyncPeriodicLosesRecentWrites)", int(c.Durability))
	}
	if c.SyncInterval < 0 {
		return nil, nil, nil, invalid("SyncInterval %v is negative", c.SyncInterval)
	}
	if c.CommitDelay > MaxCommitDelay {
		return nil, nil, nil, invalid("CommitDelay %v is more than %v; a delay that long would hold writes far longer than a sync takes (negative turns the delay off)", c.CommitDelay, MaxCommitDelay)
	}
	if c.StartTimeout < 0 {
		return nil, nil, nil, invalid("StartTimeout %v is negative", c.StartTimeout)
	}
	if c.MaxPayload < 0 {
		return nil, nil, nil, invalid("MaxPayload %d is negative", c.MaxPayload)
	}
	if c.InMemory && c.DataDir != "" {
		return nil, nil, nil, invalid("InMemory and DataDir %q are mutually exclusive: an in-memory server keeps nothing on disk", c.DataDir)
	}
	if strings.ContainsAny(c.ServerName, " \t\r\n") {
		return nil, nil, nil, invalid("ServerName %q contains white space", c.ServerName)
	}
	if c.ClientListen != "" {
		if client, err = parseListen(c.ClientListen); err != nil {
			return nil, nil, nil, invalid("ClientListen: %v", err)
		}
	}
	if !c.clustered() {
		return client, nil, nil, nil
	}
	switch {
	case c.ClusterName == "":
		return nil, nil, nil, invalid("ClusterListen and Routes need a ClusterName, the same on every node")
	case strings.ContainsAny(c.ClusterName, " \t\r\n"):
		return nil, nil, nil, invalid("ClusterName %q contains white space", c.ClusterName)
	case c.ClusterListen == "":
		return nil, nil, nil, invalid("ClusterName and Routes need a ClusterListen address for the other nodes' routes")
	case len(c.Routes) == 0:
		return nil, nil, nil, invalid("ClusterName and ClusterListen need Routes to the other nodes (list every node; a route to itself is ignored)")
	case c.ClientListen == "":
		// nats-server starts routing only once the client listener is up.
		return nil, nil, nil, invalid("a cluster member needs a ClientListen address too; nats-server does not route without one (127.0.0.1:0 keeps it on loopback)")
	}
	if cluster, err = parseListen(c.ClusterListen); err != nil {
		return nil, nil, nil, invalid("ClusterListen: %v", err)
	}
	for _, r := range c.Routes {
		u, err := parseRoute(r)
		if err != nil {
			return nil, nil, nil, invalid("Routes: %v", err)
		}
		routes = append(routes, u)
	}
	return client, cluster, routes, nil
}

// parseListen parses a "host:port" listen address.
func parseListen(s string) (*hostPort, error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return nil, fmt.Errorf("%q: want host:port, for example 127.0.0.1:0", s)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("%q: port %q is not a number from 0 to 65535", s, p)
	}
	return &hostPort{host: host, port: port}, nil
}

// parseRoute parses one route URL, "nats://host:port".
func parseRoute(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Port() == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%q: want nats://host:port", s)
	}
	switch u.Scheme {
	case "nats", "nats-route":
	default:
		return nil, fmt.Errorf("%q: scheme %q: want nats://host:port", s, u.Scheme)
	}
	if port, err := strconv.Atoi(u.Port()); err != nil || port < 1 || port > 65535 {
		return nil, fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, u.Port())
	}
	return u, nil
}
