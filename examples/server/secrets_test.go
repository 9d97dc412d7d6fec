package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ironkv/ironkv/secrets"
)

// hexKey returns a fresh master key in hex.
func hexKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, secrets.KeySize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// randomValue returns a fresh secret value.
func randomValue(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "pw-" + hex.EncodeToString(b)
}

// memoryConfig is the config of an in-process test server in memory.
func memoryConfig() Config {
	return Config{
		Listen:          "127.0.0.1:0",
		Memory:          true,
		LogFormat:       "text",
		ShutdownTimeout: 10 * time.Second,
	}
}

// noSecretIn fails the test when text holds one of secrets, raw, in hex or
// in base64.
func noSecretIn(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		for _, f := range []string{s, hex.EncodeToString([]byte(s)), base64.StdEncoding.EncodeToString([]byte(s))} {
			if strings.Contains(text, f) {
				t.Errorf("%s holds a secret value or master key", what)
			}
		}
	}
}

// TestRunConfig makes a round trip through the Config API of the server:
// write, read, patch, list, watch and delete, in two environments, and
// checks that the KV API does not see any of it.
func TestRunConfig(t *testing.T) {
	base := startRun(t, memoryConfig())
	c := testClient(t)
	api := base + configPrefix
	prod := []string{"X-Ironflow-Environment", "prod"}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(api, "http")+"/app/watch", &websocket.DialOptions{HTTPClient: c})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()

	steps := []struct {
		method, path, body string
		header             []string
		status             int
		want               string
	}{
		{"GET", "", "", nil, 200, `{"configs":[]}`},
		{"POST", "/app", `{"theme":"dark"}`, nil, 200, `{"name":"app","revision":1}`},
		{"GET", "/app", "", nil, 200, `"data":{"theme":"dark"},"revision":1,"updatedAt":"`},
		{"POST", "/app", `{"theme":"light"}`, []string{"If-None-Match", "*"}, 412, `"code":"conflict"`},
		{"PATCH", "/app", `{"beta":true}`, []string{"If-Match", "1"}, 200, `{"name":"app","revision":2}`},
		{"GET", "/app", "", nil, 200, `"data":{"theme":"dark","beta":true}`},
		{"POST", "/app", `["not","an","object"]`, nil, 400, "config body must be a JSON object"},
		{"POST", "/app", `{"env":"prod"}`, prod, 200, `{"name":"app","revision":1}`},
		{"GET", "", "", prod, 200, `"configs":[{"name":"app","revision":1,`},
		{"DELETE", "/app", "", nil, 204, ""},
		{"DELETE", "/app", "", nil, 204, ""},
		{"GET", "/app", "", nil, 404, `"code":"key_not_found"`},
		{"GET", "/app", "", []string{"X-Ironflow-Environment", "no good"}, 400, "X-Ironflow-Environment"},
	}
	for _, s := range steps {
		status, body := call(t, c, s.method, api+s.path, s.body, s.header...)
		if status != s.status || !strings.Contains(string(body), s.want) {
			t.Errorf("%s %s %v = %d %s, want %d and %s", s.method, s.path, s.header, status, body, s.status, s.want)
		}
	}
	for _, want := range []string{`"data":{"theme":"dark"},"revision":1`, `"data":{"theme":"dark","beta":true},"revision":2`, `"data":null,"revision":3`} {
		_, b, err := ws.Read(ctx)
		if err != nil || !bytes.HasPrefix(b, []byte(`{"type":"config_update","name":"app",`)) || !bytes.Contains(b, []byte(want)) {
			t.Fatalf("watch frame %s, %v; want %s", b, err, want)
		}
	}
	if status, body := call(t, c, "GET", base+apiPrefix+"/buckets", ""); status != 200 || !strings.Contains(string(body), `"count":0`) {
		t.Errorf("the KV API lists %s", body)
	}
	status, body := call(t, c, "GET", base+"/metrics", "")
	if status != 200 || !bytes.Contains(body, []byte(`route="PATCH /config/{name}",status="200"`)) {
		t.Errorf("/metrics lacks the config routes")
	}
	// The watch is still open: shutting down must end it (checked by the
	// cleanup of startRun, which wants run to return nil in time).
}

// TestRunSecrets serves secrets with a master key from IRONKV_MASTER_KEY:
// values go in encrypted, only metadata comes out, and neither the values
// nor the key appear in the log.
func TestRunSecrets(t *testing.T) {
	key := hexKey(t)
	cfg, err := parse([]string{"-memory", "-listen", "127.0.0.1:0", "-nats-listen", "127.0.0.1:0"},
		map[string]string{"IRONKV_MASTER_KEY": "k1:" + key})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sprintConfig(cfg), key) {
		t.Fatal("the Config prints its master key")
	}
	srv := start(t, cfg)
	c := testClient(t)
	api := srv.base + secretsPrefix
	v1, v2 := randomValue(t), randomValue(t)

	var answers bytes.Buffer
	do := func(method, path, body string, status int, want string) []byte {
		t.Helper()
		got, b := call(t, c, method, api+path, body)
		answers.Write(b)
		if got != status || !strings.Contains(string(b), want) {
			t.Errorf("%s %s = %d %s, want %d and %s", method, path, got, b, status, want)
		}
		return b
	}
	do("GET", "", "", 200, "[]")
	b := do("POST", "", `{"name":"DB_PASSWORD","value":"`+v1+`","description":"main db"}`, 201, `"name":"DB_PASSWORD"`)
	var info map[string]any
	if err := json.Unmarshal(b, &info); err != nil || len(info) != 5 || info["description"] != "main db" || info["created_at"] == nil {
		t.Errorf("SecretInfo %s", b)
	}
	do("POST", "", `{"name":"DB_PASSWORD","value":"`+v2+`"}`, 409, `"code":"secret_exists"`)
	do("GET", "/DB_PASSWORD", "", 200, `"description":"main db"`)
	do("PUT", "/DB_PASSWORD", `{"value":"`+v2+`"}`, 200, `"description":"main db"`)
	do("PATCH", "/DB_PASSWORD", `{"description":"primary db"}`, 200, `"description":"primary db"`)
	do("GET", "", "", 200, `[{"name":"DB_PASSWORD",`)
	do("POST", "", `{"name":"TMP","value":"`+v1+`"}`, 201, `"name":"TMP"`)
	do("DELETE", "/TMP", "", 204, "")
	do("GET", "/TMP", "", 404, `"code":"key_not_found"`)

	// At rest, in NATS, the value is sealed.
	nc, err := nats.Connect(srv.listen.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kvb, err := js.KeyValue(ctx, "SYS_secrets_default")
	if err != nil {
		t.Fatal(err)
	}
	e, err := kvb.Get(ctx, "DB_PASSWORD")
	if err != nil {
		t.Fatal(err)
	}
	noSecretIn(t, "the stored record", string(e.Value()), v1, v2, "primary db")
	if !strings.Contains(string(e.Value()), "k1") {
		t.Errorf("the stored record does not name its key id k1")
	}

	logs := srv.logs.String()
	if !strings.Contains(logs, "secrets=encrypted") || !strings.Contains(logs, "active k1") {
		t.Errorf("the log does not say that secrets are encrypted with key k1:\n%s", logs)
	}
	srv.stop()
	noSecretIn(t, "the answers", answers.String(), v1, v2, key)
	noSecretIn(t, "the log", srv.logs.String(), v1, v2, key)
}

// sprintConfig prints cfg as a careless log line or error would.
func sprintConfig(cfg Config) string {
	var b strings.Builder
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		b.WriteString(fmt.Sprintf(f, cfg))
	}
	return b.String()
}

// TestRunSecretsWithoutKey runs the server with no master key: the secrets
// routes say how to set one with 503, and the rest of the server works.
func TestRunSecretsWithoutKey(t *testing.T) {
	srv := start(t, memoryConfig())
	c := testClient(t)
	for _, r := range []struct{ method, path, body string }{
		{"GET", "", ""}, {"POST", "", `{"name":"A","value":"v"}`}, {"GET", "/A", ""}, {"DELETE", "/A", ""},
	} {
		status, body := call(t, c, r.method, srv.base+secretsPrefix+r.path, r.body)
		if status != http.StatusServiceUnavailable || !strings.Contains(string(body), `"code":"no_master_key"`) ||
			!strings.Contains(string(body), "IRONKV_MASTER_KEY") || !strings.Contains(string(body), "openssl rand -hex 32") {
			t.Errorf("%s %s = %d %s, want 503 and how to set a key", r.method, r.path, status, body)
		}
	}
	if status, body := call(t, c, "POST", srv.base+configPrefix+"/app", `{"a":1}`); status != 200 {
		t.Errorf("config without a master key = %d %s", status, body)
	}
	if status, body := call(t, c, "POST", srv.base+apiPrefix+"/buckets", `{"name":"b"}`); status != 201 {
		t.Errorf("KV without a master key = %d %s", status, body)
	}
	logs := srv.logs.String()
	if !strings.Contains(logs, "secrets are disabled") || !strings.Contains(logs, "secrets=disabled") {
		t.Errorf("the log does not say that secrets are disabled:\n%s", logs)
	}
}

// TestRunPlaintextSecrets runs the insecure development mode: secrets work,
// and the log says loudly that they are stored in plaintext.
func TestRunPlaintextSecrets(t *testing.T) {
	cfg := memoryConfig()
	cfg.InsecurePlaintextSecrets = true
	srv := start(t, cfg)
	c := testClient(t)
	if status, body := call(t, c, "POST", srv.base+secretsPrefix, `{"name":"DEV","value":"dev"}`); status != 201 {
		t.Errorf("create = %d %s", status, body)
	}
	logs := srv.logs.String()
	for _, want := range []string{"level=WARN msg=\"SECRETS ARE STORED IN PLAINTEXT", "secrets=PLAINTEXT-INSECURE", "INSECURE plaintext mode"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
}

// TestRunReencryptSecrets rotates the master key across restarts of a
// server with file storage: secrets written under key a are moved to key b
// by -reencrypt-secrets, after which a server with key b alone reads them.
func TestRunReencryptSecrets(t *testing.T) {
	dir := t.TempDir()
	keyA, keyB := hexKey(t), hexKey(t)
	cfg := memoryConfig()
	cfg.Memory, cfg.DataDir = false, filepath.Join(dir, "data")
	c := testClient(t)
	values := []string{randomValue(t), randomValue(t)}

	cfg.MasterKey = masterKey("a:" + keyA)
	srv := start(t, cfg)
	for i, v := range values {
		name := []string{"ONE", "TWO"}[i]
		if status, body := call(t, c, "POST", srv.base+secretsPrefix, `{"name":"`+name+`","value":"`+v+`"}`); status != 201 {
			t.Fatalf("create = %d %s", status, body)
		}
	}
	srv.stop()
	logs := srv.logs.String()

	// Rotate: b is active, a still reads; the keyring comes from a file
	// that others can read, which the server warns about.
	keyFile := filepath.Join(dir, "keys")
	if err := os.WriteFile(keyFile, []byte("# rotated\nb:"+keyB+"\na:"+keyA+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.MasterKey, cfg.MasterKeyFile, cfg.ReencryptSecrets = "", keyFile, true
	srv = start(t, cfg)
	if status, body := call(t, c, "GET", srv.base+secretsPrefix, ""); status != 200 || !strings.Contains(string(body), `"name":"TWO"`) {
		t.Errorf("list after re-encryption = %d %s", status, body)
	}
	srv.stop()
	l := srv.logs.String()
	logs += l
	for _, want := range []string{"every secret is under the active key", "reencrypted=2", "failed=[]", "active_key=b", "chmod 600"} {
		if !strings.Contains(l, want) {
			t.Errorf("the log of the re-encrypting run lacks %q:\n%s", want, l)
		}
	}

	// Key a is gone: every secret opens with b alone.
	cfg.MasterKeyFile, cfg.ReencryptSecrets = "", false
	cfg.MasterKey = masterKey("b:" + keyB)
	srv = start(t, cfg)
	for _, name := range []string{"ONE", "TWO"} {
		if status, body := call(t, c, "GET", srv.base+secretsPrefix+"/"+name, ""); status != 200 {
			t.Errorf("GET %s with key b alone = %d %s", name, status, body)
		}
	}
	srv.stop()
	logs += srv.logs.String()
	noSecretIn(t, "the logs", logs, append(values, keyA, keyB)...)
}
