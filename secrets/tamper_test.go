package secrets_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ironkv/ironkv/secrets"
)

// decryptFailure checks that err is the one generic error, naming only the
// secret.
func decryptFailure(err error, env, name string) error {
	want := fmt.Sprintf("secret %q in environment %q: secret cannot be decrypted", name, env)
	if !errors.Is(err, secrets.ErrDecrypt) || err.Error() != want {
		return fmt.Errorf("got %v, want %q", err, want)
	}
	return nil
}

// A byte changed anywhere in a stored envelope makes it fail to open, with
// ErrDecrypt and nothing else: 10,000 random flips, written to NATS and
// read back through Secrets, plus truncations and extensions.
func TestFlippedBytes(t *testing.T) {
	ctx := ctxT(t)
	w := newWorld(t)
	kA, kB := newKey(t), newKey(t)
	// Two keys with short and long ids, so that flips in the id can land on
	// another id of the keyring.
	kr, err := secrets.ParseKeyring("a:" + hexOf(kA) + ",b:" + hexOf(kB))
	if err != nil {
		t.Fatal(err)
	}
	krB, err := secrets.ParseKeyring("b:" + hexOf(kB))
	if err != nil {
		t.Fatal(err)
	}
	older := w.secrets(t, krB)
	s := w.secrets(t, kr)

	type target struct{ env, name string }
	targets := []target{{"default", "S1"}, {"default", "a.b.c"}, {"prod", "S1"}, {"prod", "LONG"}, {"prod", "OLD"}}
	originals := map[target][]byte{}
	values := map[target][]byte{}
	for i, tg := range targets {
		v := value(tg.name)
		desc := strings.Repeat("description ", i)
		writer := s
		if tg.name == "OLD" {
			writer = older // under the key that is not active
		}
		if tg.name == "LONG" {
			v = append(v, bytes.Repeat([]byte{0, 1, 2, 0xfe}, 300)...)
			remember(v)
		}
		if _, err := writer.Create(ctx, tg.env, tg.name, v, desc); err != nil {
			t.Fatal(err)
		}
		values[tg] = v
		originals[tg] = w.record(t, ctx, tg.env, tg.name)
	}

	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	const flips = 10000
	flipped := map[target]bool{}
	for i := range flips {
		tg := targets[rng.IntN(len(targets))]
		rec := bytes.Clone(originals[tg])
		pos := rng.IntN(len(rec))
		rec[pos] ^= byte(1 + rng.IntN(255))
		// Every 100th flip is read by List, which opens every secret of
		// the environment: only this one may be flipped then.
		list := i%100 == 99
		if list {
			for other := range flipped {
				if other != tg {
					w.store(t, ctx, other.env, other.name, originals[other])
					delete(flipped, other)
				}
			}
		}
		w.store(t, ctx, tg.env, tg.name, rec)
		flipped[tg] = true
		var err error
		switch {
		case list:
			_, err = s.List(ctx, tg.env)
		case i%2 == 0:
			_, err = s.Reveal(ctx, tg.env, tg.name)
		default:
			_, err = s.Info(ctx, tg.env, tg.name)
		}
		if err := decryptFailure(err, tg.env, tg.name); err != nil {
			t.Fatalf("flip %d: byte %d of %d of %s/%s: %v", i, pos, len(rec), tg.env, tg.name, err)
		}
	}

	for _, tg := range targets {
		orig := originals[tg]
		for _, rec := range [][]byte{
			nil,
			orig[:1],
			orig[:len(orig)/2],
			orig[:len(orig)-1],
			append(bytes.Clone(orig), 0),
			append([]byte{1}, orig...),
			bytes.Repeat([]byte{0}, len(orig)),
		} {
			w.store(t, ctx, tg.env, tg.name, rec)
			_, err := s.Reveal(ctx, tg.env, tg.name)
			if err := decryptFailure(err, tg.env, tg.name); err != nil {
				t.Fatalf("%s/%s as %d bytes: %v", tg.env, tg.name, len(rec), err)
			}
		}
		w.store(t, ctx, tg.env, tg.name, orig)
	}

	// The originals, written back, still open: the failures above were the
	// flips'.
	for _, tg := range targets {
		got, err := s.Reveal(ctx, tg.env, tg.name)
		if err != nil || !bytes.Equal(got, values[tg]) {
			t.Fatalf("original %s/%s: %v", tg.env, tg.name, err)
		}
	}
}

// An envelope copied to another name or environment does not open there.
func TestMovedEnvelope(t *testing.T) {
	ctx := ctxT(t)
	w := newWorld(t)
	s := w.secrets(t, keyring(t, newKey(t)))
	va, vb := value("a"), value("b")
	s.Create(ctx, "default", "A", va, "")
	s.Create(ctx, "default", "B", vb, "")
	s.Create(ctx, "prod", "A", value("prod-a"), "")
	recA := w.record(t, ctx, "default", "A")
	recB := w.record(t, ctx, "default", "B")

	for _, mv := range []struct{ env, name string }{
		{"default", "B"},      // another name, same environment
		{"default", "C"},      // a new name
		{"prod", "A"},         // the same name, another environment
		{"staging", "A"},      // a new environment
		{"default", "A.copy"}, // a name that extends the original
		{"defaultA", ""},      // name and environment run together
	} {
		name := mv.name
		if name == "" {
			name = "A"
		}
		w.store(t, ctx, mv.env, name, recA)
		_, err := s.Reveal(ctx, mv.env, name)
		if err := decryptFailure(err, mv.env, name); err != nil {
			t.Errorf("A moved to %s/%s: %v", mv.env, name, err)
		}
	}
	// Swapped records fail both ways.
	w.store(t, ctx, "default", "A", recB)
	for _, n := range []string{"A", "B"} {
		_, err := s.Reveal(ctx, "default", n)
		if err := decryptFailure(err, "default", n); err != nil {
			t.Errorf("swapped %s: %v", n, err)
		}
	}
	// Put back, they open.
	w.store(t, ctx, "default", "A", recA)
	w.store(t, ctx, "default", "B", recB)
	if got, err := s.Reveal(ctx, "default", "A"); err != nil || !bytes.Equal(got, va) {
		t.Fatalf("A restored: %v", err)
	}
	if got, err := s.Reveal(ctx, "default", "B"); err != nil || !bytes.Equal(got, vb) {
		t.Fatalf("B restored: %v", err)
	}
}
