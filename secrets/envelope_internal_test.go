package secrets

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
)

// testKeys are fixed keys for the internal tests; they protect nothing.
var testKeys = [][]byte{bytes.Repeat([]byte{0x5a}, KeySize), bytes.Repeat([]byte{0xa5}, KeySize)}

func testKeyring(t testing.TB, keys ...[]byte) *Keyring {
	t.Helper()
	kr, err := NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// 1,000,000 encryptions under one key never repeat a nonce. The map holds
// the nonces as [12]byte, about 40 MB.
func TestNonceNeverRepeats(t *testing.T) {
	mk := testKeyring(t, testKeys[0]).active()
	const n = 1_000_000
	seen := make(map[[nonceSize]byte]struct{}, n)
	off := 2 + len(mk.id)
	pt := []byte("x")
	var prev []byte
	for i := range n {
		env := seal(mk, "default", "S", pt)
		var nonce [nonceSize]byte
		copy(nonce[:], env[off:off+nonceSize])
		if _, dup := seen[nonce]; dup {
			t.Fatalf("encryption %d repeated the nonce %x", i, nonce)
		}
		seen[nonce] = struct{}{}
		if bytes.Equal(env, prev) {
			t.Fatalf("encryption %d repeated the envelope", i)
		}
		prev = env
	}
	if len(seen) != n {
		t.Fatalf("%d nonces for %d encryptions", len(seen), n)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)
	for _, r := range []record{
		{created: at, updated: at.Add(time.Hour), description: "", value: []byte{0}},
		{created: at, updated: at, description: "déjà vu", value: bytes.Repeat([]byte{0xff}, 1000)},
		{created: at, updated: at, description: string(bytes.Repeat([]byte{'d'}, MaxDescriptionLen)), value: []byte("v")},
	} {
		got, err := unmarshalRecord(r.marshal())
		if err != nil || !got.created.Equal(r.created) || !got.updated.Equal(r.updated) || got.description != r.description || !bytes.Equal(got.value, r.value) {
			t.Errorf("round trip of %q: %+v, %v", r.description, got, err)
		}
	}
	for _, b := range [][]byte{nil, make([]byte, 16), append(make([]byte, 16), 0x80), append(make([]byte, 16), 5, 'a'), append(make([]byte, 16), 1, 0xff)} {
		if _, err := unmarshalRecord(b); !errors.Is(err, errOpen) {
			t.Errorf("unmarshalRecord(%x): %v", b, err)
		}
	}
}

func TestParseEnvelopeBounds(t *testing.T) {
	mk := testKeyring(t, testKeys[0]).active()
	env := seal(mk, "e", "n", []byte("v"))
	if _, _, err := open(testKeyring(t, testKeys[0]), env, "e", "n"); err != nil {
		t.Fatal(err)
	}
	for i := range len(env) {
		if _, _, _, _, err := parseEnvelope(env[:i]); err == nil && i < 2+len(mk.id)+nonceSize+tagSize {
			t.Errorf("a %d-byte prefix parses", i)
		}
	}
}

// newInternal returns Secrets with kr on a fresh server, and Secrets with
// other on the same store.
func newInternal(t *testing.T, kr, other *Keyring) (*Secrets, *Secrets) {
	t.Helper()
	srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
	store := kvtest.StoreOn(t, srv, kv.WithNamespace(bucket.SysSecrets), kv.WithDefaultStorage(bucket.MemoryStorage))
	s, err := New(store, kr)
	if err != nil {
		t.Fatal(err)
	}
	o, err := New(store, other)
	if err != nil {
		t.Fatal(err)
	}
	return s, o
}

// A write between Reencrypt's read and its compare-and-swap is never
// overwritten: the swap fails, Reencrypt reads again and starts over.
func TestReencryptLosesNoConcurrentWrite(t *testing.T) {
	krB := testKeyring(t, testKeys[1], testKeys[0])
	krA := testKeyring(t, testKeys[0], testKeys[1])
	for _, tc := range []struct {
		name        string
		writer      func(s, o *Secrets) *Secrets
		delete      bool
		reencrypted int
		current     int
		secrets     int
		want        string
	}{
		{name: "write under the old key", writer: func(s, o *Secrets) *Secrets { return o }, reencrypted: 1, secrets: 1, want: "concurrent"},
		{name: "write under the active key", writer: func(s, o *Secrets) *Secrets { return s }, current: 1, secrets: 1, want: "concurrent"},
		{name: "delete", delete: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, o := newInternal(t, krB, krA)
			if _, err := o.Create(ctx, "", "S", []byte("original"), "d"); err != nil {
				t.Fatal(err)
			}
			var once sync.Once
			s.beforeUpdate = func(env, name string) {
				once.Do(func() {
					if tc.delete {
						if err := o.Delete(ctx, env, name); err != nil {
							t.Error(err)
						}
						return
					}
					if _, err := tc.writer(s, o).Put(ctx, env, name, []byte("concurrent"), nil); err != nil {
						t.Error(err)
					}
				})
			}
			rep, err := s.Reencrypt(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			want := Report{Environments: 1, Secrets: tc.secrets, Reencrypted: tc.reencrypted, Current: tc.current, Retries: 1}
			if rep.Environments != want.Environments || rep.Secrets != want.Secrets || rep.Reencrypted != want.Reencrypted ||
				rep.Current != want.Current || rep.Retries != want.Retries || len(rep.Failed) != 0 {
				t.Fatalf("report %+v, want %+v", rep, want)
			}
			got, err := s.Reveal(ctx, "", "S")
			if tc.delete {
				if !errors.Is(err, kv.ErrKeyNotFound) {
					t.Fatalf("a deleted secret came back: %q, %v", got, err)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("value %q, %v; want %q", got, err, tc.want)
			}
			if info, _ := s.Info(ctx, "", "S"); info.KeyID != krB.ActiveID() || info.Description != "d" {
				t.Fatalf("info %+v", info)
			}
		})
	}
}

// FuzzOpenEnvelope feeds random records to the envelope decoder: it never
// panics, never opens anything but an untouched envelope for its own name,
// and fails with the one internal error.
func FuzzOpenEnvelope(f *testing.F) {
	kr := testKeyring(f, testKeys...)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	payload := record{created: at, updated: at, description: "d", value: []byte("value")}.marshal()
	// Seeds sealed with a fixed nonce, so that every fuzzing process
	// makes the same ones.
	var seeds [][]byte
	for _, mk := range kr.keys {
		hdr := header(mk.id)
		nonce := bytes.Repeat([]byte{7}, nonceSize)
		env := append(bytes.Clone(hdr), nonce...)
		seeds = append(seeds, mk.aead.Seal(env, nonce, payload, additionalData(hdr, "default", "S")))
	}
	seeds = append(seeds, plaintextEnvelope(payload), nil, []byte{1}, []byte{1, 8, 'x'}, []byte{2, 0, 0}, bytes.Repeat([]byte{1}, 64))
	for _, s := range seeds {
		f.Add(s)
	}
	strict := &Secrets{kr: kr}
	lenient := &Secrets{kr: kr, plaintext: true}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if _, _, err := strict.openRecord(raw, "fuzz", "target"); err != errOpen {
			t.Fatalf("opened for another name, or an error that is not the one: %v", err)
		}
		if _, _, err := strict.openRecord(raw, "default", "S"); err != errOpen {
			if err != nil || !(bytes.Equal(raw, seeds[0]) || bytes.Equal(raw, seeds[1])) {
				t.Fatalf("opened a changed envelope (%v)", err)
			}
		}
		// Plaintext records open when allowed; nothing panics.
		lenient.openRecord(raw, "default", "S")
	})
}
