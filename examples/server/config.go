package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/httpapi"
	"github.com/ironkv/ironkv/secrets"
)

// Config is what run serves. main fills it from flags and IRONKV_*
// environment variables; tests build it directly. defaultConfig returns the
// settings of a server started with no flags.
type Config struct {
	// Listen is the HTTP "host:port"; port 0 picks a free port, which the
	// "listening" log line reports.
	Listen string

	// DataDir is the embedded server's JetStream store directory. It is
	// empty with Memory or NATSURLs.
	DataDir string

	// Memory runs the embedded server without a store directory and
	// creates memory-storage buckets by default: nothing survives a
	// restart.
	Memory bool

	// Durability says when the embedded server's writes reach stable
	// storage; the zero value, embedded.GroupCommit, acknowledges a write
	// once a sync shared with the writes waiting at that moment flushed it.
	Durability embedded.Durability

	// CommitDelay is the embedded server's embedded.Config.CommitDelay:
	// the longest a group-commit sync waits for as many writes as the last
	// one served. Zero means the default (1 ms), negative never waits.
	CommitDelay time.Duration

	// NATSURLs, when set, connect to these NATS servers instead of running
	// one in process.
	NATSURLs []string

	// APIKeys are the bearer tokens the API accepts; empty means no
	// authentication.
	APIKeys []string

	// AllowedOrigins are the browser origins allowed for CORS and watch
	// requests beyond the loopback defaults of package httpapi.
	AllowedOrigins []string

	// MaxBodyBytes caps a request body; 0 means httpapi's default.
	MaxBodyBytes int64

	// NATSListen is the "host:port" on which the embedded server accepts
	// NATS clients; empty means in-process connections only.
	NATSListen string

	// ServerName, ClusterName, ClusterListen and ClusterRoutes make the
	// embedded server one node of a JetStream cluster (see embedded.Config).
	ServerName    string
	ClusterName   string
	ClusterListen string
	ClusterRoutes []string

	// LogLevel and LogFormat ("text" or "json") shape the log on stderr.
	LogLevel  slog.Level
	LogFormat string

	// InsecureAllowPublicWithoutKey lets the server listen beyond loopback
	// without API keys, and expose the unauthenticated NATS client port
	// beyond loopback.
	InsecureAllowPublicWithoutKey bool

	// ShutdownTimeout bounds how long in-flight requests may run after a
	// shutdown signal, and again how long closing NATS may take.
	ShutdownTimeout time.Duration

	// MasterKey is the keyring of secrets in the form of
	// secrets.ParseKeyring: one key of 64 hex digits, or "id:hex" entries,
	// the active key first. It comes from IRONKV_MASTER_KEY only, never
	// from a flag: command lines show in ps. It never prints.
	MasterKey masterKey

	// MasterKeyFile names a file that holds the keyring, one key per line
	// (see secrets.LoadKeyring). It excludes MasterKey.
	MasterKeyFile string

	// InsecurePlaintextSecrets lets the secrets routes work without a
	// master key, storing values in plaintext, for development. With a
	// key, writes stay encrypted and plaintext records are still read, so
	// that ReencryptSecrets can encrypt a development store.
	InsecurePlaintextSecrets bool

	// ReencryptSecrets moves every secret of every environment to the
	// active master key at startup, before serving; the server then serves
	// as usual.
	ReencryptSecrets bool
}

// masterKey holds key material: it prints as "REDACTED", in %v, %+v, %#v
// and log/slog alike, so that no log line or error shows it.
type masterKey string

func (masterKey) String() string       { return "REDACTED" }
func (masterKey) GoString() string     { return `"REDACTED"` }
func (masterKey) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// hasMasterKey reports whether a master key is configured, in the
// environment or as a file.
func (c *Config) hasMasterKey() bool { return c.MasterKey != "" || c.MasterKeyFile != "" }

// Defaults of the settings that have one.
const (
	defaultListen          = "127.0.0.1:9123"
	defaultDataDir         = "./data"
	defaultLogFormat       = "text"
	defaultShutdownTimeout = 30 * time.Second
)

// defaultConfig returns the settings of a server started with no flags and
// no IRONKV_* variables.
func defaultConfig() Config {
	return Config{
		Listen:          defaultListen,
		MaxBodyBytes:    httpapi.DefaultMaxBodyBytes,
		DataDir:         defaultDataDir,
		Durability:      embedded.GroupCommit,
		LogLevel:        slog.LevelInfo,
		LogFormat:       defaultLogFormat,
		ShutdownTimeout: defaultShutdownTimeout,
	}
}

// remote reports whether the server uses remote NATS servers.
func (c *Config) remote() bool { return len(c.NATSURLs) > 0 }

// clustered reports whether the embedded server is a cluster node.
func (c *Config) clustered() bool {
	return c.ClusterName != "" || c.ClusterListen != "" || len(c.ClusterRoutes) > 0
}

// validate checks the settings that can be checked without starting
// anything. Its errors name the flag and the environment variable at fault
// and say how to fix them.
func (c *Config) validate() error {
	if err := checkListen(c.Listen); err != nil {
		return fmt.Errorf("-listen (IRONKV_LISTEN): %w", err)
	}
	if c.MaxBodyBytes < 0 {
		return fmt.Errorf("-max-body (IRONKV_MAX_BODY) %d: must be a number of bytes, 0 for the default", c.MaxBodyBytes)
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("-shutdown-timeout (IRONKV_SHUTDOWN_TIMEOUT) %v: must be positive, such as 30s", c.ShutdownTimeout)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("-log-format (IRONKV_LOG_FORMAT) %q: want text or json", c.LogFormat)
	}
	for _, k := range c.APIKeys {
		if k == "" || strings.IndexFunc(k, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			return errors.New("-api-key (IRONKV_API_KEYS): an API key is empty or contains white space or control characters")
		}
	}
	for _, o := range c.AllowedOrigins {
		if err := checkOrigin(o); err != nil {
			return fmt.Errorf("-allowed-origin (IRONKV_ALLOWED_ORIGINS) %q: %w", o, err)
		}
	}
	if err := c.validateNATS(); err != nil {
		return err
	}
	if err := c.validateSecrets(); err != nil {
		return err
	}
	if !c.InsecureAllowPublicWithoutKey {
		if len(c.APIKeys) == 0 && !loopback(c.Listen) {
			return fmt.Errorf("refusing to serve the API on %s without an API key: anyone who can reach that address could read and change every bucket. "+
				"Set -api-key (IRONKV_API_KEYS), listen on loopback (-listen 127.0.0.1:9123), "+
				"or, if something in front of the server authenticates every request, pass -insecure-allow-public-without-key", c.Listen)
		}
		if c.NATSListen != "" && !loopback(c.NATSListen) {
			return fmt.Errorf("refusing to open the NATS client port on %s: it has no authentication, so anyone who can reach it could read and change every bucket, API keys or not. "+
				"Listen on loopback (-nats-listen 127.0.0.1:4222), or pass -insecure-allow-public-without-key if the network is trusted", c.NATSListen)
		}
	}
	return nil
}

// validateNATS checks the choice between embedded and remote NATS and the
// embedded server's settings.
func (c *Config) validateNATS() error {
	if c.remote() {
		for _, u := range c.NATSURLs {
			if err := checkNATSURL(u); err != nil {
				return fmt.Errorf("-nats (IRONKV_NATS_URLS): %w", err)
			}
		}
		embeddedOnly := []struct {
			set  bool
			name string
		}{
			{c.DataDir != "", "-data (IRONKV_DATA)"},
			{c.Memory, "-memory (IRONKV_MEMORY)"},
			{c.Durability != embedded.GroupCommit, "-durability (IRONKV_DURABILITY)"},
			{c.CommitDelay != 0, "-commit-delay (IRONKV_COMMIT_DELAY)"},
			{c.NATSListen != "", "-nats-listen (IRONKV_NATS_LISTEN)"},
			{c.ServerName != "", "-server-name (IRONKV_SERVER_NAME)"},
			{c.clustered(), "-cluster-* (IRONKV_CLUSTER_*)"},
		}
		for _, f := range embeddedOnly {
			if f.set {
				return fmt.Errorf("%s configures the embedded NATS server and cannot be used with -nats (IRONKV_NATS_URLS): the remote servers' own configuration decides", f.name)
			}
		}
		return nil
	}
	if _, err := embedded.ParseDurability(c.Durability.String()); err != nil {
		return fmt.Errorf("-durability (IRONKV_DURABILITY): %w", err)
	}
	// Checked here too, so that the error names the flag.
	if c.CommitDelay > embedded.MaxCommitDelay {
		return fmt.Errorf("-commit-delay (IRONKV_COMMIT_DELAY) %v is more than %v: give a shorter delay, or a negative one to turn it off", c.CommitDelay, embedded.MaxCommitDelay)
	}
	if c.Memory && c.DataDir != "" {
		return fmt.Errorf("-memory (IRONKV_MEMORY) and -data (IRONKV_DATA) %q exclude each other: a memory server keeps nothing on disk", c.DataDir)
	}
	if !c.Memory && c.DataDir == "" {
		return errors.New("-data (IRONKV_DATA) is empty: give a directory, or -memory to keep nothing on disk")
	}
	if c.NATSListen != "" {
		if err := checkListen(c.NATSListen); err != nil {
			return fmt.Errorf("-nats-listen (IRONKV_NATS_LISTEN): %w", err)
		}
	}
	if strings.ContainsAny(c.ServerName, " \t\r\n") {
		return fmt.Errorf("-server-name (IRONKV_SERVER_NAME) %q: must not contain white space", c.ServerName)
	}
	if !c.clustered() {
		return nil
	}
	switch {
	case c.ClusterName == "" || c.ClusterListen == "" || len(c.ClusterRoutes) == 0:
		return errors.New("-cluster-name, -cluster-listen and -cluster-routes (IRONKV_CLUSTER_NAME, IRONKV_CLUSTER_LISTEN, IRONKV_CLUSTER_ROUTES) go together: " +
			"a node needs the cluster's name, its own route address and the route URLs of the nodes")
	case strings.ContainsAny(c.ClusterName, " \t\r\n"):
		return fmt.Errorf("-cluster-name (IRONKV_CLUSTER_NAME) %q: must not contain white space", c.ClusterName)
	}
	if err := checkListen(c.ClusterListen); err != nil {
		return fmt.Errorf("-cluster-listen (IRONKV_CLUSTER_LISTEN): %w", err)
	}
	for _, r := range c.ClusterRoutes {
		if err := checkNATSURL(r); err != nil {
			return fmt.Errorf("-cluster-routes (IRONKV_CLUSTER_ROUTES): %w", err)
		}
	}
	return nil
}

// validateSecrets checks the master key settings. The key itself is
// parsed, so that a malformed one stops the server at once; no error quotes
// key material.
func (c *Config) validateSecrets() error {
	if c.MasterKey != "" && c.MasterKeyFile != "" {
		return fmt.Errorf("%s and -master-key-file (%s) are both set: give the keyring one way", secrets.EnvMasterKey, secrets.EnvMasterKeyFile)
	}
	if c.MasterKey != "" {
		if _, err := secrets.ParseKeyring(string(c.MasterKey)); err != nil {
			return fmt.Errorf("%s: %w", secrets.EnvMasterKey, err)
		}
	}
	if c.ReencryptSecrets && !c.hasMasterKey() {
		return fmt.Errorf("-reencrypt-secrets (IRONKV_REENCRYPT_SECRETS) needs a master key to encrypt with: set %s or -master-key-file (%s)",
			secrets.EnvMasterKey, secrets.EnvMasterKeyFile)
	}
	return nil
}

// checkListen checks a "host:port" listen address.
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: want host:port, such as 127.0.0.1:9123", addr)
	}
	if strings.ContainsAny(host, " \t\r\n/") {
		return fmt.Errorf("%q: host %q is not a host name or IP address", addr, host)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	return nil
}

// checkOrigin checks an allowed origin: "*", or scheme://host[:port] with
// a port of "*" for any port.
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	want := errors.New("want scheme://host[:port], scheme://host:* or *, such as https://app.example.com")
	scheme, hostport, ok := strings.Cut(o, "://")
	if !ok || (scheme != "http" && scheme != "https") || hostport == "" || strings.ContainsAny(hostport, "/?#@ \t\r\n") {
		return want
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port.
		if strings.Contains(hostport, ":") && !strings.HasPrefix(hostport, "[") {
			return want
		}
		return nil
	}
	if host == "" {
		return want
	}
	if port != "*" {
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return want
		}
	}
	return nil
}

// checkNATSURL checks one NATS server or route URL, "nats://host:port"
// (the port may be omitted for a client URL).
func checkNATSURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("%q: want nats://host:port", redactURL(s))
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss", "nats-route":
	default:
		return fmt.Errorf("%q: scheme %q: want nats://host:port", redactURL(s), u.Scheme)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: port %q is not a number from 1 to 65535", redactURL(s), p)
		}
	}
	return nil
}

// loopback reports whether the listen address addr accepts connections
// only from this machine: its host is "localhost", in 127.0.0.0/8 or ::1.
// An empty host means every interface, and any other name may resolve to
// anything, so both count as public.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// redactURL hides the user information of a URL (a user and password, or
// a token in the user's place), for logs and errors.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if i := strings.LastIndex(s, "@"); i >= 0 {
			return "REDACTED@" + s[i+1:]
		}
		return s
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	return u.String()
}
