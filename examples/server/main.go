package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/secrets"
)

// Exit codes: 0 after a clean shutdown (and for -help), 1 when the server
// fails, 2 for bad flags or environment variables.
const (
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	name := filepath.Base(os.Args[0])
	cfg, err := parseConfig(name, os.Args[1:], os.LookupEnv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\nRun %s -help for the flags.\n", name, err, name)
		os.Exit(exitUsage)
	}
	logger := newLogger(os.Stderr, cfg.LogFormat, cfg.LogLevel)
	if !cfg.remote() && !cfg.Memory && cfg.Durability == embedded.GroupCommit && !cfg.clustered() {
		// A sync blocks its thread; one more P keeps the cores busy.
		logger.Debug("group commit", "gomaxprocs", embedded.ReserveSyncProc())
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one kills the process at once.
		<-ctx.Done()
		stop()
	}()
	err = run(ctx, cfg, logger)
	stop()
	if err != nil {
		logger.Error("server failed", "err", err)
		os.Exit(exitFailure)
	}
}

// envVars names the environment variable behind each flag. A flag given on
// the command line wins over its variable, which wins over the default; an
// empty variable counts as unset.
var envVars = []struct{ flag, env string }{
	{"listen", "IRONKV_LISTEN"},
	{"data", "IRONKV_DATA"},
	{"memory", "IRONKV_MEMORY"},
	{"durability", "IRONKV_DURABILITY"},
	{"commit-delay", "IRONKV_COMMIT_DELAY"},
	{"nats", "IRONKV_NATS_URLS"},
	{"api-key", "IRONKV_API_KEYS"},
	{"allowed-origin", "IRONKV_ALLOWED_ORIGINS"},
	{"max-body", "IRONKV_MAX_BODY"},
	{"nats-listen", "IRONKV_NATS_LISTEN"},
	{"server-name", "IRONKV_SERVER_NAME"},
	{"cluster-name", "IRONKV_CLUSTER_NAME"},
	{"cluster-listen", "IRONKV_CLUSTER_LISTEN"},
	{"cluster-routes", "IRONKV_CLUSTER_ROUTES"},
	{"log-level", "IRONKV_LOG_LEVEL"},
	{"log-format", "IRONKV_LOG_FORMAT"},
	{"insecure-allow-public-without-key", "IRONKV_INSECURE_ALLOW_PUBLIC_WITHOUT_KEY"},
	{"shutdown-timeout", "IRONKV_SHUTDOWN_TIMEOUT"},
	{"master-key-file", "IRONKV_MASTER_KEY_FILE"},
	{"insecure-plaintext-secrets", "IRONKV_INSECURE_PLAINTEXT_SECRETS"},
	{"reencrypt-secrets", "IRONKV_REENCRYPT_SECRETS"},
}

// masterKeyFlags are flags that do not exist on purpose: a key on a command
// line shows in ps and in shell history. They get an error that says where
// the key goes instead.
var masterKeyFlags = []string{"master-key", "master-keys", "secrets-key", "secret-key"}

// parseConfig reads the configuration from args (without the program name)
// and from the environment through lookupEnv. With -help it writes the
// usage to out and returns flag.ErrHelp. Any other error describes a flag
// or variable that is wrong and how to fix it.
func parseConfig(name string, args []string, lookupEnv func(string) (string, bool), out io.Writer) (Config, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned; usage is written only for -help
	fs.Usage = func() {}

	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "HTTP listen `address` (host:port). Beyond loopback it needs -api-key")
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "`directory` of the embedded server's data (JetStream store)")
	fs.BoolVar(&cfg.Memory, "memory", false, "keep everything in memory, nothing on disk: all data is lost at exit")
	fs.TextVar(&cfg.Durability, "durability", cfg.Durability, "when the embedded server's writes reach stable storage: `mode` group-commit (before each write is acknowledged, one sync shared by the writes waiting at that moment), sync-always (an fsync per write, also for plain NATS clients) or sync-periodic-loses-recent-writes (every 2 minutes; a power loss can lose acknowledged writes)")
	fs.DurationVar(&cfg.CommitDelay, "commit-delay", 0, "with group-commit, the longest a sync waits for as many writes as the last one served (as PostgreSQL's commit_delay); 0 means 1ms, negative never waits, at most "+embedded.MaxCommitDelay.String())
	fs.Var((*listValue)(&cfg.NATSURLs), "nats", "`urls` of remote NATS servers (comma-separated, repeatable) to use instead of the embedded server")
	fs.Var((*listValue)(&cfg.APIKeys), "api-key", "API `key` clients must send as \"Authorization: Bearer <key>\" (comma-separated, repeatable; several keys allow rotation). Prefer the variable: flags show in ps")
	fs.Var((*listValue)(&cfg.AllowedOrigins), "allowed-origin", "browser `origin` allowed for CORS and watch requests: scheme://host[:port], scheme://host:* for any port, or * (comma-separated, repeatable). It replaces the default, which allows the same origin and http://localhost:*, http://127.0.0.1:* and http://[::1]:*")
	fs.Int64Var(&cfg.MaxBodyBytes, "max-body", cfg.MaxBodyBytes, "largest request body in `bytes` (a bucket's max_value_size and NATS's max payload, 1 MiB by default, also apply)")
	fs.StringVar(&cfg.NATSListen, "nats-listen", "", "`address` (host:port) on which the embedded server accepts NATS clients, such as the nats CLI; empty means none")
	fs.StringVar(&cfg.ServerName, "server-name", "", "`name` of the embedded server, unique in a cluster; empty means generated (and kept in the data directory)")
	fs.StringVar(&cfg.ClusterName, "cluster-name", "", "`name` of the JetStream cluster, the same on every node")
	fs.StringVar(&cfg.ClusterListen, "cluster-listen", "", "`address` (host:port) on which this node accepts routes from the other nodes")
	fs.Var((*listValue)(&cfg.ClusterRoutes), "cluster-routes", "route `urls` of the cluster's nodes, nats://host:port (comma-separated, repeatable; this node's own is ignored)")
	fs.Var((*levelValue)(&cfg.LogLevel), "log-level", "log `level`: debug, info (the default), warn or error; debug also shows the embedded NATS server's notices")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "log `format`: text or json")
	fs.BoolVar(&cfg.InsecureAllowPublicWithoutKey, "insecure-allow-public-without-key", false, "allow listening beyond loopback with no API key (and a NATS client port beyond loopback); only behind something that authenticates")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "how long in-flight requests may finish after SIGINT or SIGTERM")
	fs.StringVar(&cfg.MasterKeyFile, "master-key-file", "", "`file` holding the master keys of secrets, one per line, the active one first (chmod 600). The key can also come from $"+secrets.EnvMasterKey+", never from a flag: command lines show in ps")
	fs.BoolVar(&cfg.InsecurePlaintextSecrets, "insecure-plaintext-secrets", false, "without a master key, store secrets UNENCRYPTED, for development only (with a key: keep reading plaintext records, to encrypt them with -reencrypt-secrets)")
	fs.BoolVar(&cfg.ReencryptSecrets, "reencrypt-secrets", false, "at startup, move every secret to the active master key (after a key rotation), log the report, then serve")
	for _, e := range envVars {
		f := fs.Lookup(e.flag)
		f.Usage += " [$" + e.env + "]"
	}

	if err := refuseKeyFlags(args); err != nil {
		return Config{}, err
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fs, out)
		}
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q: the server takes only flags", fs.Arg(0))
	}

	// explicit holds what the command line or the environment set, as
	// opposed to defaults.
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	for _, e := range envVars {
		v, ok := lookupEnv(e.env)
		if !ok || v == "" || explicit[e.flag] {
			continue
		}
		f := fs.Lookup(e.flag)
		if err := f.Value.Set(v); err != nil {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				err = errors.New("want true or false")
			}
			return Config{}, fmt.Errorf("invalid value %q for %s (flag -%s): %w", v, e.env, e.flag, err)
		}
		explicit[e.flag] = true
	}

	// The master key has no flag, only its variable.
	if v, ok := lookupEnv(secrets.EnvMasterKey); ok && strings.TrimSpace(v) != "" {
		cfg.MasterKey = masterKey(v)
	}

	// The data directory defaults to ./data only for an embedded server
	// that keeps its data on disk.
	if (cfg.Memory || cfg.remote()) && !explicit["data"] {
		cfg.DataDir = ""
	}
	if err := cfg.validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// refuseKeyFlags returns an error for a master key given as a flag. The
// error does not repeat the argument, which may hold the key.
func refuseKeyFlags(args []string) error {
	for _, a := range args {
		if a == "--" {
			return nil
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || !slices.Contains(masterKeyFlags, name) {
			continue
		}
		return fmt.Errorf("there is no -%s flag, on purpose: command lines show in ps and in shell history. "+
			"Set the key in %s, or put it in a file readable by the server's user only and pass -master-key-file", name, secrets.EnvMasterKey)
	}
	return nil
}

// printUsage writes the -help text.
func printUsage(fs *flag.FlagSet, out io.Writer) {
	fmt.Fprintf(out, `Usage: %s [flags]

Serves the ironkv HTTP API at /api/v1/kv, /api/v1/config and /api/v1/secrets,
the dashboard at /, with /health, /ready and /metrics,
on an embedded NATS server with JetStream (or remote NATS with -nats).
With no flags: data in ./data, each write on disk before it is acknowledged, http://127.0.0.1:9123.

Secrets need a master key: set IRONKV_MASTER_KEY (generate one with
openssl rand -hex 32) or -master-key-file. There is no flag for the key
itself: command lines show in ps. Without a key, /api/v1/secrets answers 503.

Every flag can also be set by the environment variable shown in brackets.
A flag on the command line wins over its variable, which wins over the
default; an empty variable counts as unset. List variables are
comma-separated, and a list flag given at all replaces its variable whole.

Flags:
`, fs.Name())
	fs.SetOutput(out)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// listValue is a repeatable flag whose values may also be comma-separated.
type listValue []string

func (l *listValue) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

func (l *listValue) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			return errors.New("empty item in the list")
		}
		*l = append(*l, v)
	}
	return nil
}

// levelValue is a log level flag that takes exactly the four level names.
type levelValue slog.Level

func (l *levelValue) String() string {
	if l == nil {
		return ""
	}
	return strings.ToLower(slog.Level(*l).String())
}

func (l *levelValue) Set(s string) error {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		*l = levelValue(slog.LevelDebug)
	case "info":
		*l = levelValue(slog.LevelInfo)
	case "warn", "warning":
		*l = levelValue(slog.LevelWarn)
	case "error":
		*l = levelValue(slog.LevelError)
	default:
		return errors.New("want debug, info, warn or error")
	}
	return nil
}

// newLogger returns the server's logger, writing text or JSON to w.
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
