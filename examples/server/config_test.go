package main

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ironkv/ironkv/embedded"
)

// testKeyring is a master key, for the tests of parseConfig only.
const testKeyring = "k1:9a0b11c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8e"

// parse runs parseConfig with args and an environment made of env only.
func parse(args []string, env map[string]string) (Config, error) {
	lookup := func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
	return parseConfig("server", args, lookup, io.Discard)
}

func TestParseConfig(t *testing.T) {
	def := defaultConfig()
	with := func(f func(*Config)) Config {
		c := defaultConfig()
		f(&c)
		return c
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want Config
	}{
		{"defaults", nil, nil, def},
		{"env sets listen", nil, map[string]string{"IRONKV_LISTEN": "127.0.0.1:1"},
			with(func(c *Config) { c.Listen = "127.0.0.1:1" })},
		{"flag wins over env", []string{"-listen", "127.0.0.1:2"}, map[string]string{"IRONKV_LISTEN": "127.0.0.1:1"},
			with(func(c *Config) { c.Listen = "127.0.0.1:2" })},
		{"empty env counts as unset", nil, map[string]string{"IRONKV_LISTEN": "", "IRONKV_MEMORY": ""}, def},
		{"env api keys are comma-separated", nil, map[string]string{"IRONKV_API_KEYS": "alpha, beta"},
			with(func(c *Config) { c.APIKeys = []string{"alpha", "beta"} })},
		{"repeated flag adds keys", []string{"-api-key", "x", "-api-key", "y,z"}, nil,
			with(func(c *Config) { c.APIKeys = []string{"x", "y", "z"} })},
		{"a list flag replaces its variable whole", []string{"-api-key", "x"}, map[string]string{"IRONKV_API_KEYS": "alpha,beta"},
			with(func(c *Config) { c.APIKeys = []string{"x"} })},
		{"env durability", nil, map[string]string{"IRONKV_DURABILITY": "sync-periodic-loses-recent-writes"},
			with(func(c *Config) { c.Durability = embedded.SyncPeriodicLosesRecentWrites })},
		{"flag durability wins", []string{"-durability", "GROUP-COMMIT"}, map[string]string{"IRONKV_DURABILITY": "sync-periodic-loses-recent-writes"}, def},
		{"env commit delay", nil, map[string]string{"IRONKV_COMMIT_DELAY": "250us"},
			with(func(c *Config) { c.CommitDelay = 250 * time.Microsecond })},
		{"commit delay off", []string{"-commit-delay", "-1ns"}, nil,
			with(func(c *Config) { c.CommitDelay = -1 })},
		{"memory drops the default data dir", []string{"-memory"}, nil,
			with(func(c *Config) { c.Memory, c.DataDir = true, "" })},
		{"env memory", nil, map[string]string{"IRONKV_MEMORY": "true"},
			with(func(c *Config) { c.Memory, c.DataDir = true, "" })},
		{"flag memory wins over env false", []string{"-memory"}, map[string]string{"IRONKV_MEMORY": "false"},
			with(func(c *Config) { c.Memory, c.DataDir = true, "" })},
		{"flag false wins over env true", []string{"-memory=false"}, map[string]string{"IRONKV_MEMORY": "1"}, def},
		{"data dir", []string{"-data", "/srv/kv"}, nil,
			with(func(c *Config) { c.DataDir = "/srv/kv" })},
		{"remote NATS drops the default data dir", nil, map[string]string{"IRONKV_NATS_URLS": "nats://a:4222,nats://b:4222"},
			with(func(c *Config) { c.NATSURLs, c.DataDir = []string{"nats://a:4222", "nats://b:4222"}, "" })},
		{"log level and format", []string{"-log-level", "WARN"}, map[string]string{"IRONKV_LOG_LEVEL": "debug", "IRONKV_LOG_FORMAT": "json"},
			with(func(c *Config) { c.LogLevel, c.LogFormat = slog.LevelWarn, "json" })},
		{"max body and shutdown timeout", []string{"-max-body", "1024"}, map[string]string{"IRONKV_MAX_BODY": "9", "IRONKV_SHUTDOWN_TIMEOUT": "5s"},
			with(func(c *Config) { c.MaxBodyBytes, c.ShutdownTimeout = 1024, 5*time.Second })},
		{"allowed origins", []string{"-allowed-origin", "https://app.example.com,http://localhost:*"}, nil,
			with(func(c *Config) { c.AllowedOrigins = []string{"https://app.example.com", "http://localhost:*"} })},
		{"nats listen on loopback", nil, map[string]string{"IRONKV_NATS_LISTEN": "127.0.0.1:4222"},
			with(func(c *Config) { c.NATSListen = "127.0.0.1:4222" })},
		{"cluster from env, name from flag",
			[]string{"-server-name", "n1"},
			map[string]string{
				"IRONKV_SERVER_NAME":    "ignored",
				"IRONKV_CLUSTER_NAME":   "kv",
				"IRONKV_CLUSTER_LISTEN": "127.0.0.1:6222",
				"IRONKV_CLUSTER_ROUTES": "nats://127.0.0.1:6222,nats://127.0.0.1:6223,nats://127.0.0.1:6224",
			},
			with(func(c *Config) {
				c.ServerName, c.ClusterName, c.ClusterListen = "n1", "kv", "127.0.0.1:6222"
				c.ClusterRoutes = []string{"nats://127.0.0.1:6222", "nats://127.0.0.1:6223", "nats://127.0.0.1:6224"}
			})},
		{"public with an API key", []string{"-listen", "0.0.0.0:9123"}, map[string]string{"IRONKV_API_KEYS": "secret-key-0123456789"},
			with(func(c *Config) { c.Listen, c.APIKeys = "0.0.0.0:9123", []string{"secret-key-0123456789"} })},
		{"public with the insecure flag", []string{"-listen", ":9123", "-insecure-allow-public-without-key"}, nil,
			with(func(c *Config) { c.Listen, c.InsecureAllowPublicWithoutKey = ":9123", true })},
		{"public with the insecure variable", []string{"-listen", "[::]:9123"}, map[string]string{"IRONKV_INSECURE_ALLOW_PUBLIC_WITHOUT_KEY": "true"},
			with(func(c *Config) { c.Listen, c.InsecureAllowPublicWithoutKey = "[::]:9123", true })},
		{"master key from its variable", nil, map[string]string{"IRONKV_MASTER_KEY": testKeyring},
			with(func(c *Config) { c.MasterKey = testKeyring })},
		{"master key file, re-encryption and plaintext from variables", nil,
			map[string]string{"IRONKV_MASTER_KEY_FILE": "/etc/ironkv/keys", "IRONKV_REENCRYPT_SECRETS": "true", "IRONKV_INSECURE_PLAINTEXT_SECRETS": "1"},
			with(func(c *Config) {
				c.MasterKeyFile, c.ReencryptSecrets, c.InsecurePlaintextSecrets = "/etc/ironkv/keys", true, true
			})},
		{"master key file flag wins", []string{"-master-key-file", "k", "-reencrypt-secrets"}, map[string]string{"IRONKV_MASTER_KEY_FILE": "other"},
			with(func(c *Config) { c.MasterKeyFile, c.ReencryptSecrets = "k", true })},
		{"plaintext secrets flag", []string{"-insecure-plaintext-secrets"}, nil,
			with(func(c *Config) { c.InsecurePlaintextSecrets = true })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(tt.args, tt.env)
			if err != nil {
				t.Fatalf("parseConfig: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseConfig =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string // substrings of the error
	}{
		{"unknown flag", []string{"-port", "1"}, nil, []string{"-port"}},
		{"positional argument", []string{"serve"}, nil, []string{`unexpected argument "serve"`}},
		{"bad durability flag", []string{"-durability", "fast"}, nil, []string{"-durability", "group-commit"}},
		{"bad durability env", nil, map[string]string{"IRONKV_DURABILITY": "fast"}, []string{"IRONKV_DURABILITY", "group-commit"}},
		{"bad log level", []string{"-log-level", "verbose"}, nil, []string{"-log-level", "debug, info, warn or error"}},
		{"bad log level env", nil, map[string]string{"IRONKV_LOG_LEVEL": "trace"}, []string{"IRONKV_LOG_LEVEL"}},
		{"bad log format", []string{"-log-format", "xml"}, nil, []string{"-log-format", "text or json"}},
		{"bad bool env", nil, map[string]string{"IRONKV_MEMORY": "yes please"}, []string{"IRONKV_MEMORY", "true or false"}},
		{"bad max body env", nil, map[string]string{"IRONKV_MAX_BODY": "1MB"}, []string{"IRONKV_MAX_BODY"}},
		{"negative max body", []string{"-max-body", "-1"}, nil, []string{"-max-body"}},
		{"bad shutdown timeout", []string{"-shutdown-timeout", "0s"}, nil, []string{"-shutdown-timeout", "positive"}},
		{"listen without port", []string{"-listen", "localhost"}, nil, []string{"-listen", "host:port"}},
		{"listen port out of range", []string{"-listen", "127.0.0.1:70000"}, nil, []string{"-listen", "0 to 65535"}},
		{"empty item in a list", nil, map[string]string{"IRONKV_API_KEYS": "a,,b"}, []string{"IRONKV_API_KEYS", "empty item"}},
		{"API key with a space", []string{"-api-key", "a b"}, nil, nil},
		{"bad origin", []string{"-allowed-origin", "example.com"}, nil, []string{"-allowed-origin", "scheme://host"}},
		{"origin with a path", []string{"-allowed-origin", "https://example.com/app"}, nil, []string{"-allowed-origin"}},
		{"memory and data", []string{"-memory", "-data", "d"}, nil, []string{"-memory", "-data", "exclude"}},
		{"empty data dir", []string{"-data", ""}, nil, []string{"-data", "empty"}},
		{"remote and memory", []string{"-nats", "nats://a:4222", "-memory"}, nil, []string{"-memory", "-nats"}},
		{"remote and data", []string{"-nats", "nats://a:4222"}, map[string]string{"IRONKV_DATA": "d"}, []string{"-data", "-nats"}},
		{"commit delay too long", []string{"-commit-delay", "1s"}, nil, []string{"-commit-delay", "100ms"}},
		{"bad commit delay env", nil, map[string]string{"IRONKV_COMMIT_DELAY": "1"}, []string{"IRONKV_COMMIT_DELAY"}},
		{"remote and commit delay", []string{"-nats", "nats://a:4222", "-commit-delay", "2ms"}, nil, []string{"-commit-delay", "-nats"}},
		{"remote and durability", []string{"-nats", "nats://a:4222", "-durability", "sync-periodic-loses-recent-writes"}, nil, []string{"-durability", "-nats"}},
		{"remote and nats listen", []string{"-nats", "nats://a:4222", "-nats-listen", "127.0.0.1:4222"}, nil, []string{"-nats-listen", "-nats"}},
		{"remote and cluster", []string{"-nats", "nats://a:4222", "-cluster-name", "c"}, nil, []string{"-cluster", "-nats"}},
		{"bad remote URL", []string{"-nats", "http://a:4222"}, nil, []string{"-nats", "scheme"}},
		{"remote URL password is not echoed", []string{"-nats", "http://user:hunter2@a:4222"}, nil, []string{"REDACTED"}},
		{"cluster without routes", []string{"-cluster-name", "c", "-cluster-listen", "127.0.0.1:6222"}, nil, []string{"-cluster-routes", "together"}},
		{"cluster route without scheme", []string{"-cluster-name", "c", "-cluster-listen", "127.0.0.1:6222", "-cluster-routes", "127.0.0.1:6223"}, nil, []string{"-cluster-routes", "nats://host:port"}},
		{"server name with a space", []string{"-server-name", "a b"}, nil, []string{"-server-name"}},
		{"public without key", []string{"-listen", "0.0.0.0:9123"}, nil, []string{"refusing", "0.0.0.0:9123", "-api-key", "-insecure-allow-public-without-key"}},
		{"every interface without key", []string{"-listen", ":9123"}, nil, []string{"refusing"}},
		{"IPv6 any without key", []string{"-listen", "[::]:9123"}, nil, []string{"refusing"}},
		{"LAN address without key", nil, map[string]string{"IRONKV_LISTEN": "192.168.1.5:9123"}, []string{"refusing"}},
		{"host name without key", []string{"-listen", "kv.internal:9123"}, nil, []string{"refusing"}},
		{"insecure env false", []string{"-listen", "0.0.0.0:9123"}, map[string]string{"IRONKV_INSECURE_ALLOW_PUBLIC_WITHOUT_KEY": "false"}, []string{"refusing"}},
		{"public NATS port even with a key", []string{"-api-key", "secret-key-0123456789", "-nats-listen", "0.0.0.0:4222"}, nil, []string{"refusing", "NATS", "no authentication"}},
		{"no master key flag", []string{"-master-key", "hunter2"}, nil, []string{"no -master-key flag", "ps", "IRONKV_MASTER_KEY", "-master-key-file"}},
		{"no master key flag with =", []string{"-memory", "--master-key=hunter2"}, nil, []string{"no -master-key flag"}},
		{"malformed master key", nil, map[string]string{"IRONKV_MASTER_KEY": "hunter2"}, []string{"IRONKV_MASTER_KEY", "64 hex digits"}},
		{"malformed second master key", nil, map[string]string{"IRONKV_MASTER_KEY": testKeyring + ",old:hunter2"}, []string{"IRONKV_MASTER_KEY", "entry 2"}},
		{"master key twice", []string{"-master-key-file", "k"}, map[string]string{"IRONKV_MASTER_KEY": testKeyring}, []string{"IRONKV_MASTER_KEY", "-master-key-file", "one way"}},
		{"re-encryption without a key", []string{"-reencrypt-secrets"}, nil, []string{"-reencrypt-secrets", "IRONKV_MASTER_KEY"}},
		{"bad plaintext variable", nil, map[string]string{"IRONKV_INSECURE_PLAINTEXT_SECRETS": "sure"}, []string{"IRONKV_INSECURE_PLAINTEXT_SECRETS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(tt.args, tt.env)
			if err == nil {
				t.Fatal("parseConfig succeeded, want an error")
			}
			if errors.Is(err, flag.ErrHelp) {
				t.Fatalf("parseConfig = ErrHelp, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), testKeyring[3:]) {
				t.Errorf("error %q shows a password or a key", err)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var out strings.Builder
	_, err := parseConfig("server", []string{"-help"}, func(string) (string, bool) { return "", false }, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseConfig(-help) = %v, want flag.ErrHelp", err)
	}
	usage := out.String()
	for _, want := range []string{"Usage: server", "wins over its variable", `(default "127.0.0.1:9123")`, `(default "./data")`, "(default group-commit)"} {
		if !strings.Contains(usage, want) {
			t.Errorf("usage lacks %q:\n%s", want, usage)
		}
	}
	// Every flag has a variable, and every variable is documented.
	flags := 0
	for _, line := range strings.Split(usage, "\n") {
		if strings.HasPrefix(line, "  -") {
			flags++
		}
	}
	if flags != len(envVars) {
		t.Errorf("usage lists %d flags, envVars %d", flags, len(envVars))
	}
	for _, e := range envVars {
		if !strings.Contains(usage, "-"+e.flag+" ") && !strings.Contains(usage, "-"+e.flag+"\n") {
			t.Errorf("usage lacks flag -%s", e.flag)
		}
		if !strings.Contains(usage, "[$"+e.env+"]") {
			t.Errorf("usage lacks variable %s", e.env)
		}
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9123":          true,
		"127.9.8.7:1":             true,
		"localhost:9123":          true,
		"LocalHost:9123":          true,
		"[::1]:9123":              true,
		"[::ffff:127.0.0.1]:9123": true,
		":9123":                   false,
		"0.0.0.0:9123":            false,
		"[::]:9123":               false,
		"10.0.0.1:9123":           false,
		"example.com:9123":        false,
		"localhost.evil.com:9123": false,
		"127.0.0.1":               false, // no port: not an address at all
	} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"nats://a:4222":              "nats://a:4222",
		"nats://user:pass@a:4222":    "nats://REDACTED@a:4222",
		"nats://s3cr3t-token@a:4222": "nats://REDACTED@a:4222",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
