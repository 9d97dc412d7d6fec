package secrets_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
	"github.com/ironkv/ironkv/secrets"
)

func TestNew(t *testing.T) {
	w := newWorld(t)
	kr := keyring(t, newKey(t))
	for _, st := range []*kv.Store{w.app, w.cfg} {
		_, err := secrets.New(st, kr)
		if !errors.Is(err, kv.ErrInvalidConfig) || !strings.Contains(err.Error(), "bucket.SysSecrets") {
			t.Errorf("namespace %s: %v", st.Namespace(), err)
		}
	}
	if _, err := secrets.New(nil, kr); !errors.Is(err, kv.ErrInvalidConfig) {
		t.Errorf("nil store: %v", err)
	}
	_, err := secrets.New(w.sys, nil)
	if !errors.Is(err, secrets.ErrNoMasterKey) {
		t.Fatalf("no keyring: %v", err)
	}
	for _, how := range []string{"IRONKV_MASTER_KEY", "openssl rand -hex 32", "IRONKV_MASTER_KEY_FILE"} {
		if !strings.Contains(err.Error(), how) {
			t.Errorf("the error does not say %q: %v", how, err)
		}
	}
	if _, err := secrets.New(w.sys, &secrets.Keyring{}); !errors.Is(err, secrets.ErrNoMasterKey) {
		t.Fatalf("empty keyring: %v", err)
	}
	s := w.secrets(t, kr)
	if !s.Encrypted() || s.Keyring() != kr {
		t.Errorf("Encrypted %v, Keyring %v", s.Encrypted(), s.Keyring())
	}
}

func TestRoundTrip(t *testing.T) {
	ctx := ctxT(t)
	w := newWorld(t)
	kr := keyring(t, newKey(t))
	s := w.secrets(t, kr)
	v1 := value("stripe")
	before := time.Now().Add(-time.Second)

	info, err := s.Create(ctx, "", "STRIPE_KEY", v1, "live key for payments")
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "STRIPE_KEY" || info.Revision == 0 || info.Description != "live key for payments" || info.KeyID != kr.ActiveID() ||
		info.CreatedAt.Before(before) || !info.UpdatedAt.Equal(info.CreatedAt) || info.CreatedAt.Location() != time.UTC {
		t.Fatalf("Create info %+v", info)
	}
	got, err := s.Reveal(ctx, "default", "STRIPE_KEY")
	if err != nil || !bytes.Equal(got, v1) {
		t.Fatalf("Reveal: %q, %v", got, err)
	}
	if i2, err := s.Info(ctx, "", "STRIPE_KEY"); err != nil || i2 != info {
		t.Fatalf("Info %+v, %v; Create said %+v", i2, err, info)
	}

	// The stored record holds neither the value nor the description.
	raw := w.record(t, ctx, "default", "STRIPE_KEY")
	if bytes.Contains(raw, v1) || bytes.Contains(raw, []byte("payments")) || raw[0] != 1 || !bytes.Contains(raw, []byte(kr.ActiveID())) {
		t.Fatalf("stored record %q", raw)
	}

	_, err = s.Create(ctx, "", "STRIPE_KEY", value("other"), "")
	if !errors.Is(err, kv.ErrConflict) || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("Create of an existing secret: %v", err)
	}

	// Put keeps created_at, and the description when it is nil.
	v2 := append(value("binary"), 0, 1, 0xff)
	pinfo, err := s.Put(ctx, "", "STRIPE_KEY", v2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pinfo.Revision <= info.Revision || !pinfo.CreatedAt.Equal(info.CreatedAt) || pinfo.UpdatedAt.Before(info.UpdatedAt) || pinfo.Description != info.Description {
		t.Fatalf("Put info %+v after %+v", pinfo, info)
	}
	if got, _ := s.Reveal(ctx, "", "STRIPE_KEY"); !bytes.Equal(got, v2) {
		t.Fatalf("after Put: %q", got)
	}
	empty := ""
	pinfo, err = s.Put(ctx, "", "STRIPE_KEY", v2, &empty)
	if err != nil || pinfo.Description != "" {
		t.Fatalf("Put with a description: %+v, %v", pinfo, err)
	}

	// SetDescription keeps the value.
	dinfo, err := s.SetDescription(ctx, "", "STRIPE_KEY", "rotated in June")
	if err != nil || dinfo.Description != "rotated in June" || dinfo.Revision <= pinfo.Revision || !dinfo.CreatedAt.Equal(info.CreatedAt) {
		t.Fatalf("SetDescription: %+v, %v", dinfo, err)
	}
	if got, _ := s.Reveal(ctx, "", "STRIPE_KEY"); !bytes.Equal(got, v2) {
		t.Fatalf("after SetDescription: %q", got)
	}

	// Put creates.
	v3 := value("db")
	desc := "primary"
	cinfo, err := s.Put(ctx, "", "db.password", v3, &desc)
	if err != nil || cinfo.Description != "primary" || !cinfo.CreatedAt.Equal(cinfo.UpdatedAt) {
		t.Fatalf("Put creating: %+v, %v", cinfo, err)
	}
	s.Create(ctx, "prod", "other-env", value("prod"), "")

	list, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range list {
		names = append(names, i.Name)
	}
	if !slices.Equal(names, []string{"STRIPE_KEY", "db.password"}) || list[0] != dinfo || list[1] != cinfo {
		t.Fatalf("List %+v", list)
	}
	if list, err := s.List(ctx, "staging"); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("List of an environment without a bucket: %#v, %v", list, err)
	}
	if envs, err := s.Environments(ctx); err != nil || !slices.Equal(envs, []string{"default", "prod"}) {
		t.Fatalf("Environments %v, %v", envs, err)
	}

	// Delete removes value and history; it is idempotent.
	if err := s.Delete(ctx, "", "STRIPE_KEY"); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		func() error { _, err := s.Reveal(ctx, "", "STRIPE_KEY"); return err }(),
		func() error { _, err := s.Info(ctx, "", "STRIPE_KEY"); return err }(),
		func() error { _, err := s.SetDescription(ctx, "", "STRIPE_KEY", "x"); return err }(),
		func() error { _, err := s.Reveal(ctx, "nobucket", "STRIPE_KEY"); return err }(),
		func() error { _, err := s.Info(ctx, "nobucket", "x"); return err }(),
		func() error { _, err := s.SetDescription(ctx, "nobucket", "x", "d"); return err }(),
	} {
		if !errors.Is(err, kv.ErrKeyNotFound) {
			t.Errorf("absent secret: %v", err)
		}
	}
	b, _ := w.raw.Bucket(ctx, "default")
	if h, err := b.History(ctx, "STRIPE_KEY"); err == nil {
		for _, e := range h {
			if e.Value != nil {
				t.Errorf("a deleted secret left a record at revision %d", e.Revision)
			}
		}
	}
	if err := s.Delete(ctx, "", "STRIPE_KEY"); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	if err := s.Delete(ctx, "nobucket", "x"); err != nil {
		t.Errorf("Delete in an environment without a bucket: %v", err)
	}
	// A deleted secret can be created again.
	if _, err := s.Create(ctx, "", "STRIPE_KEY", v1, ""); err != nil {
		t.Errorf("Create after Delete: %v", err)
	}
}

// A secret's bucket keeps one revision: replaced values do not linger.
func TestOneRevisionKept(t *testing.T) {
	ctx := ctxT(t)
	w := newWorld(t)
	s := w.secrets(t, keyring(t, newKey(t)))
	s.Create(ctx, "", "k", value("a"), "")
	s.Put(ctx, "", "k", value("b"), nil)
	info, err := w.raw.BucketInfo(ctx, "default")
	if err != nil || info.History != 1 {
		t.Fatalf("bucket %+v, %v", info, err)
	}
	b, _ := w.raw.Bucket(ctx, "default")
	if h, err := b.History(ctx, "k"); err != nil || len(h) != 1 {
		t.Fatalf("history of %d entries, %v", len(h), err)
	}
}

func TestInfoJSON(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	b, _ := json.Marshal(secrets.Info{Name: "K", Revision: 3, CreatedAt: at, UpdatedAt: at.Add(time.Hour), Description: "d", KeyID: "k1"})
	want := `{"name":"K","revision":3,"created_at":"2025-06-01T12:00:00Z","updated_at":"2025-06-01T13:00:00Z","description":"d"}`
	if string(b) != want {
		t.Errorf("JSON\n got %s\nwant %s", b, want)
	}
}

func TestInvalidInput(t *testing.T) {
	ctx := ctxT(t)
	w := newWorld(t)
	s := w.secrets(t, keyring(t, newKey(t)))
	v := value("x")
	for _, name := range []string{"", "a/b", "a b", ".a", "a..b", "a*", ">", "ключ", strings.Repeat("n", 257)} {
		if err := secrets.ValidateName(name); !errors.Is(err, kv.ErrInvalidKey) {
			t.Errorf("ValidateName(%q): %v", name, err)
		}
		if _, err := s.Create(ctx, "", name, v, ""); !errors.Is(err, kv.ErrInvalidKey) {
			t.Errorf("Create(%q): %v", name, err)
		}
		if _, err := s.Reveal(ctx, "", name); !errors.Is(err, kv.ErrInvalidKey) {
			t.Errorf("Reveal(%q): %v", name, err)
		}
		if err := s.Delete(ctx, "", name); !errors.Is(err, kv.ErrInvalidKey) {
			t.Errorf("Delete(%q): %v", name, err)
		}
	}
	for _, env := range []string{"a.b", "a b", strings.Repeat("e", 65)} {
		if _, err := s.Create(ctx, env, "n", v, ""); !errors.Is(err, kv.ErrInvalidBucketName) {
			t.Errorf("Create in %q: %v", env, err)
		}
		if _, err := s.List(ctx, env); !errors.Is(err, kv.ErrInvalidBucketName) {
			t.Errorf("List of %q: %v", env, err)
		}
		if _, err := s.Reencrypt(ctx, env); !errors.Is(err, kv.ErrInvalidBucketName) {
			t.Errorf("Reencrypt of %q: %v", env, err)
		}
	}
	long := strings.Repeat("d", secrets.MaxDescriptionLen+1)
	bad := "\xff"
	for _, err := range []error{
		func() error { _, err := s.Create(ctx, "", "n", nil, ""); return err }(),
		func() error { _, err := s.Put(ctx, "", "n", []byte{}, nil); return err }(),
		func() error { _, err := s.Create(ctx, "", "n", v, long); return err }(),
		func() error { _, err := s.Put(ctx, "", "n", v, &bad); return err }(),
		func() error { _, err := s.SetDescription(ctx, "", "n", long); return err }(),
	} {
		if !errors.Is(err, secrets.ErrInvalidSecret) {
			t.Errorf("bad value or description: %v", err)
		}
	}
	if _, err := s.Create(ctx, "", "n", v, strings.Repeat("é", secrets.MaxDescriptionLen/2)); err != nil {
		t.Errorf("description of the maximum length: %v", err)
	}
}

// Plaintext mode works only when allowed, and a keyring can take a
// development store over.
func TestPlaintextMode(t *testing.T) {
	ctx := ctxT(t)
	w := newWorld(t)
	before := len(logs.Bytes())
	plain, err := secrets.New(w.sys, nil, secrets.AllowPlaintextInsecure())
	if err != nil {
		t.Fatal(err)
	}
	if plain.Encrypted() || plain.Keyring() != nil {
		t.Fatal("plaintext mode says it encrypts")
	}
	if warn := logs.Bytes()[before:]; !bytes.Contains(warn, []byte("INSECURE plaintext mode")) {
		t.Errorf("no warning logged: %s", warn)
	}
	v := value("dev")
	if _, err := plain.Create(ctx, "", "dev", v, "dev only"); err != nil {
		t.Fatal(err)
	}
	if got, err := plain.Reveal(ctx, "", "dev"); err != nil || !bytes.Equal(got, v) {
		t.Fatalf("Reveal: %q, %v", got, err)
	}
	if raw := w.record(t, ctx, "default", "dev"); raw[0] != 0 || !bytes.Contains(raw, v) {
		t.Fatalf("a plaintext record is version 0 and holds the value: %q", raw)
	}
	if _, err := plain.Reencrypt(ctx, ""); !errors.Is(err, secrets.ErrNoMasterKey) {
		t.Errorf("Reencrypt without keys: %v", err)
	}

	// With a keyring and no permission, plaintext records do not open.
	kr := keyring(t, newKey(t))
	strict := w.secrets(t, kr)
	if _, err := strict.Reveal(ctx, "", "dev"); !errors.Is(err, secrets.ErrDecrypt) {
		t.Fatalf("a strict Secrets read a plaintext record: %v", err)
	}
	if _, err := strict.Reencrypt(ctx, ""); !errors.Is(err, secrets.ErrDecrypt) {
		t.Fatalf("a strict Reencrypt: %v", err)
	}
	// Plaintext mode does not read encrypted records either.
	strict.Create(ctx, "", "enc", value("enc"), "")
	if _, err := plain.Reveal(ctx, "", "enc"); !errors.Is(err, secrets.ErrDecrypt) {
		t.Fatalf("plaintext mode read an encrypted record: %v", err)
	}

	// A keyring with permission reads both and moves the store to
	// encryption.
	migrating := w.secrets(t, kr, secrets.AllowPlaintextInsecure())
	if !migrating.Encrypted() {
		t.Fatal("a Secrets with a keyring does not encrypt")
	}
	if got, err := migrating.Reveal(ctx, "", "dev"); err != nil || !bytes.Equal(got, v) {
		t.Fatalf("migrating Reveal: %q, %v", got, err)
	}
	rep, err := migrating.Reencrypt(ctx, "")
	if err != nil || rep.Reencrypted != 1 || rep.Current != 1 || rep.Secrets != 2 {
		t.Fatalf("Reencrypt: %+v, %v", rep, err)
	}
	if raw := w.record(t, ctx, "default", "dev"); raw[0] != 1 || bytes.Contains(raw, v) {
		t.Fatalf("still plaintext after Reencrypt: %q", raw)
	}
	if got, err := strict.Reveal(ctx, "", "dev"); err != nil || !bytes.Equal(got, v) {
		t.Fatalf("strict Reveal after Reencrypt: %q, %v", got, err)
	}
	if info, _ := strict.Info(ctx, "", "dev"); info.Description != "dev only" {
		t.Errorf("description lost: %+v", info)
	}
}

// The SYS_secrets_ namespace is out of reach of stores of user buckets and
// of config, whatever bucket name they are given.
func TestNamespaceIsolation(t *testing.T) {
	ctx := ctxT(t)
	w := newWorld(t)
	s := w.secrets(t, keyring(t, newKey(t)))
	for _, env := range []string{"default", "prod"} {
		if _, err := s.Create(ctx, env, "token", value(env), ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, other := range []*kv.Store{w.app, w.cfg} {
		if infos, err := other.Buckets(ctx); err != nil || len(infos) != 0 {
			t.Errorf("%s listing shows %v, %v", other.Namespace(), infos, err)
		}
		for _, name := range []string{"default", "prod", "SYS_secrets_default", "secrets_default", "KV_SYS_secrets_default"} {
			if _, err := other.Bucket(ctx, name); !errors.Is(err, kv.ErrBucketNotFound) {
				t.Errorf("%s store, bucket %q: %v", other.Namespace(), name, err)
			}
		}
		for _, name := range []string{"../SYS_secrets_default", "SYS_secrets_default.token", "$KV.SYS_secrets_default", "SYS_secrets_*"} {
			if _, err := other.Bucket(ctx, name); !errors.Is(err, kv.ErrInvalidBucketName) {
				t.Errorf("%s store, bucket %q: %v", other.Namespace(), name, err)
			}
		}
	}
	ub := kvtest.NewBucket(t, w.app, bucket.Config{Name: "default"})
	if _, err := ub.Get(ctx, "token"); !errors.Is(err, kv.ErrKeyNotFound) {
		t.Errorf("a user bucket named default reads the secret: %v", err)
	}
}
