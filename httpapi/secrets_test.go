package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/httpapi"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
	"github.com/ironkv/ironkv/secrets"
)

// newMasterKey returns a fresh random master key.
func newMasterKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, secrets.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// secretValue returns a fresh random secret value with a recognisable
// prefix.
func secretValue(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "sk_live_" + hex.EncodeToString(b)
}

// secretsStoreOn returns a store of the SysSecrets namespace on srv.
func secretsStoreOn(t testing.TB, srv *embedded.Server) *kv.Store {
	t.Helper()
	return kvtest.StoreOn(t, srv, kv.WithNamespace(bucket.SysSecrets), kv.WithDefaultStorage(bucket.MemoryStorage))
}

// newSecretsOn returns Secrets on store encrypting with key (plaintext
// mode when key is nil).
func newSecretsOn(t testing.TB, store *kv.Store, logger *slog.Logger, keys ...[]byte) *secrets.Secrets {
	t.Helper()
	opts := []secrets.Option{secrets.WithLogger(logger)}
	var kr *secrets.Keyring
	if len(keys) == 0 {
		opts = append(opts, secrets.AllowPlaintextInsecure())
	} else {
		var err error
		if kr, err = secrets.NewKeyring(keys...); err != nil {
			t.Fatal(err)
		}
	}
	s, err := secrets.New(store, kr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newSecretsEnv serves a SecretsHandler with opts on s.
func newSecretsEnv(t testing.TB, s *secrets.Secrets, opts ...httpapi.Option) *env {
	t.Helper()
	return serveEnv(t, httpapi.NewSecrets(s, opts...), nil)
}

// infoBody is a SecretInfo as clients decode it.
type infoBody struct {
	Name        string    `json:"name"`
	Revision    uint64    `json:"revision"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Description string    `json:"description"`
}

// isInfo checks that an answer is exactly a SecretInfo of name with
// description: the five fields, and no others.
func isInfo(name, description string) func(t *testing.T, r resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		var m map[string]any
		decode(t, r.body, &m)
		if len(m) != 5 {
			t.Errorf("SecretInfo %s: want exactly name, revision, created_at, updated_at, description", r.body)
		}
		var info infoBody
		decode(t, r.body, &info)
		if info.Name != name || info.Description != description || info.Revision == 0 || info.CreatedAt.IsZero() || info.UpdatedAt.Before(info.CreatedAt) {
			t.Errorf("SecretInfo %s, want name %q and description %q", r.body, name, description)
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
	}
}

func TestSecretsRoutes(t *testing.T) {
	var logs logBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
	key := newMasterKey(t)
	s := newSecretsOn(t, secretsStoreOn(t, srv), logger, key)
	e := newSecretsEnv(t, s, httpapi.WithLogger(logger), httpapi.WithMaxBodyBytes(8192))
	e.answers = &logs // every answer is checked for leaks with the logs

	v1, v2, v3, v4 := secretValue(t), secretValue(t), secretValue(t), secretValue(t)
	values := []string{v1, v2, v3, v4}
	const prod = "X-Ironflow-Environment: prod"
	list := func(names ...string) func(t *testing.T, r resp) {
		return func(t *testing.T, r resp) {
			t.Helper()
			if !bytes.HasPrefix(r.body, []byte("[")) {
				t.Fatalf("list %s: want a bare JSON array", r.body)
			}
			var infos []infoBody
			decode(t, r.body, &infos)
			var got []string
			for _, i := range infos {
				got = append(got, i.Name)
			}
			if strings.Join(got, ",") != strings.Join(names, ",") {
				t.Errorf("list %v, want %v", got, names)
			}
		}
	}
	e.run(t, []scenario{
		{name: "empty list", method: "GET", path: "/secrets", status: 200, check: func(t *testing.T, r resp) {
			if got := string(bytes.TrimSpace(r.body)); got != "[]" {
				t.Errorf("empty list %s, want []", got)
			}
		}},
		{method: "POST", path: "/secrets", body: `{"name":"STRIPE_KEY","value":"` + v1 + `","description":"payments"}`,
			status: 201, check: isInfo("STRIPE_KEY", "payments")},
		{name: "create again", method: "POST", path: "/secrets", body: `{"name":"STRIPE_KEY","value":"` + v2 + `"}`,
			status: 409, code: "secret_exists", contains: `secret \"STRIPE_KEY\" already exists in environment \"default\"`},
		{method: "GET", path: "/secrets/STRIPE_KEY", status: 200, check: isInfo("STRIPE_KEY", "payments")},
		{method: "HEAD", path: "/secrets/STRIPE_KEY", status: 200},
		{name: "replace keeps the description", method: "PUT", path: "/secrets/STRIPE_KEY", body: `{"value":"` + v2 + `"}`,
			status: 200, check: isInfo("STRIPE_KEY", "payments")},
		{name: "put creates", method: "PUT", path: "/secrets/db.password", body: `{"value":"` + v3 + `","description":"db","name":"db.password"}`,
			status: 200, check: isInfo("db.password", "db")},
		{name: "put with a description", method: "PUT", path: "/secrets/db.password", body: `{"value":"` + v4 + `","description":"main db"}`,
			status: 200, check: isInfo("db.password", "main db")},
		{name: "patch the description", method: "PATCH", path: "/secrets/STRIPE_KEY", body: `{"description":"stripe"}`,
			status: 200, check: isInfo("STRIPE_KEY", "stripe")},
		{name: "patch nothing", method: "PATCH", path: "/secrets/STRIPE_KEY", body: `{}`, status: 200, check: isInfo("STRIPE_KEY", "stripe")},
		{name: "patch with no body", method: "PATCH", path: "/secrets/STRIPE_KEY", status: 200, check: isInfo("STRIPE_KEY", "stripe")},
		{name: "patch null description", method: "PATCH", path: "/secrets/STRIPE_KEY", body: `{"description":null}`, status: 200, check: isInfo("STRIPE_KEY", "stripe")},
		{name: "patch a value", method: "PATCH", path: "/secrets/STRIPE_KEY", body: `{"value":"` + v1 + `"}`, status: 400, code: "invalid_argument", contains: "PUT"},
		{name: "patch of a missing secret", method: "PATCH", path: "/secrets/NOPE", body: `{"description":"x"}`, status: 404, code: "key_not_found"},
		{method: "GET", path: "/secrets", status: 200, check: list("STRIPE_KEY", "db.password")},
		{method: "GET", path: "/secrets", header: []string{prod}, status: 200, check: list()},
		{name: "prod create", method: "POST", path: "/secrets", header: []string{prod}, body: `{"name":"STRIPE_KEY","value":"` + v3 + `"}`,
			status: 201, check: isInfo("STRIPE_KEY", "")},
		{method: "DELETE", path: "/secrets/STRIPE_KEY", status: 204},
		{name: "delete again", method: "DELETE", path: "/secrets/STRIPE_KEY", status: 204},
		{method: "GET", path: "/secrets/STRIPE_KEY", status: 404, code: "key_not_found", contains: `secret \"STRIPE_KEY\" not found in environment \"default\"`},
		{name: "prod kept its own", method: "GET", path: "/secrets/STRIPE_KEY", header: []string{prod}, status: 200, check: isInfo("STRIPE_KEY", "")},
		{name: "create after delete", method: "POST", path: "/secrets", body: `{"name":"STRIPE_KEY","value":"` + v1 + `"}`, status: 201},

		// Bad bodies: 400, never a 5xx, and never the value in the answer.
		{method: "POST", path: "/secrets", body: ``, status: 400, code: "invalid_argument"},
		{method: "POST", path: "/secrets", body: `{`, status: 400, code: "invalid_argument"},
		{method: "POST", path: "/secrets", body: `[]`, status: 400, code: "invalid_argument"},
		{method: "POST", path: "/secrets", body: `"` + v1 + `"`, status: 400, code: "invalid_argument"},
		{method: "POST", path: "/secrets", body: `null`, status: 400, code: "invalid_argument"},
		{method: "POST", path: "/secrets", body: `{"name":"A"}`, status: 400, code: "invalid_argument", contains: `no \"value\"`},
		{method: "POST", path: "/secrets", body: `{"value":"` + v1 + `"}`, status: 400, code: "invalid_argument", contains: `no \"name\"`},
		{method: "POST", path: "/secrets", body: `{"name":"A","value":""}`, status: 400, code: "invalid_argument", contains: "empty"},
		{method: "POST", path: "/secrets", body: `{"name":"A","value":12}`, status: 400, code: "invalid_argument", contains: "JSON string"},
		{method: "POST", path: "/secrets", body: `{"name":"A","value":{"v":"` + v1 + `"}}`, status: 400, code: "invalid_argument"},
		{method: "POST", path: "/secrets", body: `{"name":"A","value":"` + v1 + `","extra":1}`, status: 400, code: "invalid_argument", contains: "unknown field"},
		{method: "POST", path: "/secrets", body: `{"name":"A","` + v1 + `":1}`, status: 400, code: "invalid_argument"},
		{method: "POST", path: "/secrets", body: `{"name":"A","value":"` + v1 + `","value":"` + v2 + `"}`, status: 400, code: "invalid_argument", contains: "twice"},
		{method: "POST", path: "/secrets", body: `{"name":"A","value":"` + v1 + `"} {}`, status: 400, code: "invalid_argument"},
		{method: "POST", path: "/secrets", body: `{"name":"A","value":"` + v1 + "\x01" + `"}`, status: 400, code: "invalid_argument"},
		{method: "POST", path: "/secrets", body: `{"name":"A","value":"` + v1 + `\q"}`, status: 400, code: "invalid_argument"},
		{method: "POST", path: "/secrets", body: `{"name":"A","value":"` + v1, status: 400, code: "invalid_argument"},
		{method: "POST", path: "/secrets", body: `{"name":"A","value":"` + v1 + "\xff" + `"}`, status: 400, code: "invalid_argument", contains: "UTF-8"},
		{method: "POST", path: "/secrets", body: `{"name":"A","value":"` + v1 + `","description":5}`, status: 400, code: "invalid_argument"},
		{method: "POST", path: "/secrets", body: `{"name":"A","value":"` + v1 + `","description":"` + strings.Repeat("d", 4097) + `"}`, status: 400, code: "invalid_argument"},
		{method: "POST", path: "/secrets", body: `{"name":"bad name","value":"` + v1 + `"}`, status: 400, code: "invalid_argument"},
		{method: "POST", path: "/secrets", body: `{"name":"","value":"` + v1 + `"}`, status: 400, code: "invalid_argument"},
		{method: "POST", path: "/secrets", body: `{"name":"A","value":"` + strings.Repeat("x", 9000) + `"}`, status: 413, code: "too_large"},
		{method: "PUT", path: "/secrets/A", body: `{"name":"B","value":"` + v1 + `"}`, status: 400, code: "invalid_argument"},
		{method: "PUT", path: "/secrets/A", body: `{"description":"no value"}`, status: 400, code: "invalid_argument"},
		{method: "PUT", path: "/secrets/A", body: ``, status: 400, code: "invalid_argument"},
		{method: "PUT", path: "/secrets/a%2Fb", body: `{"value":"` + v1 + `"}`, status: 400, code: "invalid_argument"},
		{method: "GET", path: "/secrets/a..b", status: 400, code: "invalid_argument"},
		{method: "DELETE", path: "/secrets/" + strings.Repeat("n", 257), status: 400, code: "invalid_argument"},
		{method: "GET", path: "/secrets", header: []string{"X-Ironflow-Environment: a b"}, status: 400, code: "invalid_argument"},
		{method: "POST", path: "/secrets", header: []string{"X-Ironflow-Environment: SYS_x.y"}, body: `{"name":"A","value":"` + v1 + `"}`, status: 400, code: "invalid_argument"},

		// Routes.
		{method: "PUT", path: "/secrets", body: `{}`, status: 405, code: "method_not_allowed"},
		{method: "POST", path: "/secrets/A", body: `{"value":"` + v1 + `"}`, status: 405, code: "method_not_allowed",
			check: func(t *testing.T, r resp) {
				if a := r.header.Get("Allow"); a != "GET, HEAD, PUT, PATCH, DELETE" {
					t.Errorf("Allow %q", a)
				}
			}},
		{method: "GET", path: "/secrets/A/value", status: 404, code: "not_found"},
		{method: "GET", path: "/config", status: 404, code: "not_found"},
	})

	// The values went in: the library reads them back in the process.
	ctx := ctxT(t)
	for _, tt := range []struct{ env, name, want string }{
		{"", "STRIPE_KEY", v1}, {"", "db.password", v4}, {"prod", "STRIPE_KEY", v3},
	} {
		got, err := s.Reveal(ctx, tt.env, tt.name)
		if err != nil || string(got) != tt.want {
			t.Errorf("Reveal(%q, %q) = %v, %v", tt.env, tt.name, len(got), err)
		}
	}
	if !strings.Contains(logs.String(), "httpapi: request failed") {
		t.Fatal("the log capture saw no request log")
	}
	noLeak(t, "the answers and the logs", logs.String(), values, key)
}

// noLeak fails the test when text holds one of values or key, raw or in
// base64, hex or URL encoding.
func noLeak(t testing.TB, what, text string, values []string, keys ...[]byte) {
	t.Helper()
	forms := func(b []byte) []string {
		return []string{string(b), base64.StdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
			hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)), url.QueryEscape(string(b))}
	}
	for _, v := range values {
		for _, f := range forms([]byte(v)) {
			if strings.Contains(text, f) {
				t.Errorf("%s hold a secret value (as %q)", what, f)
			}
		}
		// A part of a value is a leak too.
		if strings.Contains(text, v[8:24]) {
			t.Errorf("%s hold part of a secret value", what)
		}
	}
	for _, k := range keys {
		for _, f := range forms(k) {
			if strings.Contains(text, f) {
				t.Errorf("%s hold a master key", what)
			}
		}
	}
}

// TestSecretsUndecryptable serves secrets that the keyring cannot open: a
// 500 with a generic message and a request id, never a detail, and the
// error in the log under that id.
func TestSecretsUndecryptable(t *testing.T) {
	var logs logBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
	store := secretsStoreOn(t, srv)
	oldKey, newKey := newMasterKey(t), newMasterKey(t)
	v := secretValue(t)
	if _, err := newSecretsOn(t, store, logger, oldKey).Create(ctxT(t), "", "OLD", []byte(v), "sealed by the old key"); err != nil {
		t.Fatal(err)
	}
	e := newSecretsEnv(t, newSecretsOn(t, store, logger, newKey), httpapi.WithLogger(logger))
	e.answers = &logs
	undecryptable := func(t *testing.T, r resp) {
		t.Helper()
		m := errBody(t, r, "decrypt_failed")
		id, _ := m["request_id"].(string)
		msg, _ := m["message"].(string)
		if id == "" || r.header.Get("X-Request-Id") != id || !strings.Contains(msg, id) {
			t.Errorf("request id %q, header %q, message %q", id, r.header.Get("X-Request-Id"), msg)
		}
		if !strings.Contains(msg, "cannot be decrypted") || strings.Contains(msg, "sealed by") {
			t.Errorf("message %q", msg)
		}
		if !strings.Contains(logs.String(), id) {
			t.Errorf("the log has no line with request id %s", id)
		}
	}
	e.run(t, []scenario{
		{method: "GET", path: "/secrets/OLD", status: 500, check: undecryptable},
		{method: "GET", path: "/secrets", status: 500, check: undecryptable},
		{method: "PATCH", path: "/secrets/OLD", body: `{"description":"x"}`, status: 500, check: undecryptable},
		{method: "PUT", path: "/secrets/OLD", body: `{"value":"` + secretValue(t) + `"}`, status: 500, check: undecryptable},
		// Delete still removes it.
		{method: "DELETE", path: "/secrets/OLD", status: 204},
		{method: "GET", path: "/secrets", status: 200},
	})
	noLeak(t, "the answers and the logs", logs.String(), []string{v}, oldKey, newKey)
}

// TestSecretsNoMasterKey serves a SecretsHandler without Secrets: every
// route says how to set a key, with 503, after the usual checks.
func TestSecretsNoMasterKey(t *testing.T) {
	e := newSecretsEnv(t, nil, httpapi.WithAPIKeys("k1"))
	const auth = "Authorization: Bearer k1"
	noKey := func(t *testing.T, r resp) {
		t.Helper()
		m := errBody(t, r, "no_master_key")
		if msg, _ := m["message"].(string); !strings.Contains(msg, secrets.EnvMasterKey) || !strings.Contains(msg, "openssl rand -hex 32") {
			t.Errorf("message %q does not say how to set a key", msg)
		}
		if ra := r.header.Get("Retry-After"); ra != "" {
			t.Errorf("Retry-After %q: retrying cannot help", ra)
		}
	}
	e.run(t, []scenario{
		{method: "GET", path: "/secrets", status: 401, code: "unauthorized"},
		{method: "GET", path: "/secrets", header: []string{auth}, status: 503, check: noKey},
		{method: "POST", path: "/secrets", header: []string{auth}, body: `{"name":"A","value":"v"}`, status: 503, check: noKey},
		{method: "GET", path: "/secrets/A", header: []string{auth}, status: 503, check: noKey},
		{method: "PUT", path: "/secrets/A", header: []string{auth}, body: `{"value":"v"}`, status: 503, check: noKey},
		{method: "PATCH", path: "/secrets/A", header: []string{auth}, body: `{}`, status: 503, check: noKey},
		{method: "DELETE", path: "/secrets/A", header: []string{auth}, status: 503, check: noKey},
		{method: "PUT", path: "/secrets", header: []string{auth}, status: 405, code: "method_not_allowed"},
		{method: "GET", path: "/other", header: []string{auth}, status: 404, code: "not_found"},
	})
}

// TestSecretsPlaintextMode serves secrets of a Secrets in the insecure
// plaintext mode: the API works the same.
func TestSecretsPlaintextMode(t *testing.T) {
	srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
	e := newSecretsEnv(t, newSecretsOn(t, secretsStoreOn(t, srv), discardLogger()))
	e.run(t, []scenario{
		{method: "POST", path: "/secrets", body: `{"name":"DEV","value":"dev-value"}`, status: 201, check: isInfo("DEV", "")},
		{method: "GET", path: "/secrets/DEV", status: 200, check: isInfo("DEV", "")},
	})
}

// TestSystemNamespacesUnreachable writes settings and secrets through their
// handlers, then aims the KV API at them with every name, key and filter
// that could reach them: nothing is visible and nothing is writable.
func TestSystemNamespacesUnreachable(t *testing.T) {
	ctx := ctxT(t)
	srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
	app := kvtest.StoreOn(t, srv, kv.WithDefaultStorage(bucket.MemoryStorage))
	configs := configsOn(t, srv)
	sec := newSecretsOn(t, secretsStoreOn(t, srv), discardLogger(), newMasterKey(t))
	value := secretValue(t)

	cfgAPI := serveEnv(t, httpapi.NewConfig(configs), nil)
	secAPI := newSecretsEnv(t, sec)
	kvAPI := newEnvOn(t, app)
	kvAPI.answers = &logBuffer{}
	cfgAPI.run(t, []scenario{
		{method: "POST", path: "/config/app", body: `{"theme":"dark"}`, status: 200},
		{method: "POST", path: "/config/app", header: []string{"X-Ironflow-Environment: prod"}, body: `{"theme":"dark"}`, status: 200},
	})
	secAPI.run(t, []scenario{
		{method: "POST", path: "/secrets", body: `{"name":"app","value":"` + value + `"}`, status: 201},
	})
	// The system buckets exist, so the attempts below aim at something.
	if envs, err := configs.Environments(ctx); err != nil || strings.Join(envs, ",") != "default,prod" {
		t.Fatalf("config environments %v, %v", envs, err)
	}
	if envs, err := sec.Environments(ctx); err != nil || strings.Join(envs, ",") != "default" {
		t.Fatalf("secrets environments %v, %v", envs, err)
	}

	kvAPI.run(t, []scenario{
		{name: "nothing listed", method: "GET", path: "/buckets", status: 200, json: map[string]any{"buckets": []any{}, "count": 0}},
	})
	names := []string{"default", "prod", "SYS_config_default", "SYS_secrets_default", "SYS_config_prod",
		"config_default", "secrets_default", "_config_default", "APP_SYS_config_default"}
	var sc []scenario
	for _, b := range names {
		for _, r := range []struct{ method, path string }{
			{"GET", "/buckets/" + b}, {"GET", "/buckets/" + b + "/keys"}, {"GET", "/buckets/" + b + "/keys?filter=%3E"},
			{"GET", "/buckets/" + b + "/keys/app"}, {"GET", "/buckets/" + b + "/history/app"},
			{"PUT", "/buckets/" + b + "/keys/app"}, {"DELETE", "/buckets/" + b + "/keys/app"},
			{"DELETE", "/buckets/" + b + "/keys/app?purge=true"},
			{"GET", "/buckets/" + b + "/events"}, {"DELETE", "/buckets/" + b},
		} {
			sc = append(sc, scenario{method: r.method, path: r.path, body: `{"hacked":true}`, status: 404, code: "bucket_not_found"})
		}
	}
	// Names and keys that are not names and keys at all.
	for _, p := range []string{"/buckets/SYS_config_default.app", "/buckets/%24KV.SYS_config_default.app/keys",
		"/buckets/..%2FSYS_config_default/keys/app", "/buckets/SYS_config_*/keys", "/buckets/%3E/keys",
		"/buckets/SYS_secrets_default%2Fapp"} {
		sc = append(sc, scenario{method: "GET", path: p, status: 400, code: "invalid_argument"})
	}
	kvAPI.run(t, sc)

	// A user bucket may be called SYS_config_default: it is
	// APP_SYS_config_default, and writing to it changes no setting.
	kvAPI.run(t, []scenario{
		{method: "POST", path: "/buckets", body: `{"name":"SYS_config_default"}`, status: 201},
		{method: "POST", path: "/buckets", body: `{"name":"default"}`, status: 201},
		{method: "GET", path: "/buckets/SYS_config_default/keys", status: 200, json: map[string]any{"keys": []any{}, "count": 0}},
		{method: "GET", path: "/buckets/default/keys?filter=%3E", status: 200, json: map[string]any{"keys": []any{}, "count": 0}},
		{method: "PUT", path: "/buckets/SYS_config_default/keys/app", body: `{"theme":"hacked"}`, status: 200},
		{method: "PUT", path: "/buckets/default/keys/app", body: `{"theme":"hacked"}`, status: 200},
		{method: "GET", path: "/buckets/default/keys/app", status: 200, json: map[string]any{"revision": 1}},
		{method: "GET", path: "/buckets", status: 200, check: func(t *testing.T, r resp) {
			var l struct {
				Buckets []struct{ Name string }
			}
			decode(t, r.body, &l)
			var got []string
			for _, b := range l.Buckets {
				got = append(got, b.Name)
			}
			if strings.Join(got, ",") != "SYS_config_default,default" {
				t.Errorf("buckets %v: want only the user's two", got)
			}
		}},
	})
	doc, err := configs.Get(ctx, "", "app")
	if err != nil || string(doc.Data) != `{"theme":"dark"}` || doc.Revision != 1 {
		t.Errorf("the setting changed: %s at %d, %v", doc.Data, doc.Revision, err)
	}
	if got, err := sec.Reveal(ctx, "", "app"); err != nil || string(got) != value {
		t.Errorf("the secret changed: %v", err)
	}
	if l, err := configs.List(ctx, ""); err != nil || len(l) != 1 {
		t.Errorf("settings %v, %v", l, err)
	}
	noLeak(t, "the KV API's answers", kvAPI.answers.String(), []string{value})
	if strings.Contains(kvAPI.answers.String(), "dark") {
		t.Error("the KV API showed a setting")
	}
}

// FuzzSecretsHandler drives the Secrets handler with random methods, paths,
// headers and bodies: it must never panic, redirect or answer 5xx, every
// error must carry the JSON error body, and no answer may hold the value of
// a secret.
func FuzzSecretsHandler(f *testing.F) {
	srv := kvtest.NewServer(f, embedded.Config{InMemory: true})
	var logs logBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s := newSecretsOn(f, secretsStoreOn(f, srv), logger, newMasterKey(f))
	h := httpapi.NewSecrets(s, httpapi.WithMaxBodyBytes(4096), httpapi.WithAPIKeys("k1"), httpapi.WithLogger(logger))
	const stored = "stored-secret-value-0123456789"
	if _, err := s.Create(context.Background(), "", "KEY", []byte(stored), "d"); err != nil {
		f.Fatal(err)
	}
	const auth = "Authorization: Bearer k1\n"
	for _, sd := range []struct{ method, path, headers, body string }{
		{"GET", "/secrets", auth, ""},
		{"GET", "/secrets", auth + "X-Ironflow-Environment: prod\n", ""},
		{"POST", "/secrets", auth, `{"name":"NEW","value":"v","description":"d"}`},
		{"POST", "/secrets", auth, `{"name":"KEY","value":"v"}`},
		{"GET", "/secrets/KEY", auth, ""},
		{"PUT", "/secrets/KEY", auth, `{"value":"w"}`},
		{"PUT", "/secrets/OTHER", auth, `{"value":"w","description":null,"name":"OTHER"}`},
		{"PATCH", "/secrets/KEY", auth, `{"description":"é"}`},
		{"PATCH", "/secrets/KEY", auth, `{"value":"x"}`},
		{"DELETE", "/secrets/gone", auth, ""},
		{"POST", "/secrets", auth, `{"name":"A","value":"\u0000","extra":[1]}`},
		{"OPTIONS", "/secrets", "Origin: http://localhost:1\nAccess-Control-Request-Method: POST\n", ""},
		{"POST", "/secrets", auth + "Origin: https://evil.example\n", `{"name":"A","value":"v"}`},
		{"GET", "/secrets/a%2Fb", auth + "X-Ironflow-Environment: ..\n", ""},
	} {
		f.Add(sd.method, sd.path, sd.headers, []byte(sd.body), false)
	}
	f.Fuzz(func(t *testing.T, method, path, headers string, body []byte, chunked bool) {
		rec := fuzzServe(t, h, &logs, method, path, headers, body, chunked)
		if bytes.Contains(rec.Body.Bytes(), []byte(stored)) {
			t.Fatalf("%s %q: the answer holds a stored value: %s", method, path, rec.Body.Bytes())
		}
		if rec.Code < 300 && method != http.MethodHead && rec.Header().Get("Content-Type") == "application/json" && len(body) > 0 {
			// An answer about a secret is metadata: it holds no "value".
			var m any
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err == nil && strings.Contains(rec.Body.String(), `"value"`) {
				t.Fatalf("%s %q: the answer has a value field: %s", method, path, rec.Body.Bytes())
			}
		}
	})
}

var _ http.Handler = (*httpapi.SecretsHandler)(nil)

// ExampleNewSecrets mounts the Secrets API under /api/v1 and stores a
// secret: the answers carry its metadata, never its value, which Go code in
// the process reads with Reveal.
func ExampleNewSecrets() {
	ctx := context.Background()
	srv, err := embedded.Start(ctx, embedded.Config{InMemory: true})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(ctx)
	nc, err := srv.Connect()
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	store, err := kv.New(nc, kv.WithNamespace(bucket.SysSecrets), kv.WithDefaultStorage(bucket.MemoryStorage))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	// In a server: secrets.KeyringFromEnv(), from IRONKV_MASTER_KEY.
	kr, err := secrets.ParseKeyring("2025:" + strings.Repeat("3f", 32))
	if err != nil {
		log.Fatal(err)
	}
	vault, err := secrets.New(store, kr)
	if err != nil {
		log.Fatal(err)
	}

	api := httpapi.NewSecrets(vault)
	mux := http.NewServeMux()
	mux.Handle("/api/v1/secrets", http.StripPrefix("/api/v1", api))
	mux.Handle("/api/v1/secrets/", http.StripPrefix("/api/v1", api))
	ts := httptest.NewServer(mux)
	defer ts.Close()

	call := func(method, path, body string) {
		req, err := http.NewRequestWithContext(ctx, method, ts.URL+"/api/v1/secrets"+path, strings.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var fields map[string]any
		_ = json.Unmarshal(b, &fields)
		_, hasValue := fields["value"]
		if code, ok := fields["code"]; ok {
			fmt.Println(method, resp.StatusCode, code, "value shown:", hasValue)
			return
		}
		fmt.Println(method, resp.StatusCode, fields["name"], fields["description"], "value shown:", hasValue)
	}
	call("POST", "", `{"name":"STRIPE_KEY","value":"sk_live_123","description":"payments"}`)
	call("POST", "", `{"name":"STRIPE_KEY","value":"sk_live_456"}`)
	call("PUT", "/STRIPE_KEY", `{"value":"sk_live_789"}`)
	call("GET", "/STRIPE_KEY", "")

	value, err := vault.Reveal(ctx, "", "STRIPE_KEY")
	fmt.Println("in the process:", string(value), err)

	// Output:
	// POST 201 STRIPE_KEY payments value shown: false
	// POST 409 secret_exists value shown: false
	// PUT 200 STRIPE_KEY payments value shown: false
	// GET 200 STRIPE_KEY payments value shown: false
	// in the process: sk_live_789 <nil>
}
