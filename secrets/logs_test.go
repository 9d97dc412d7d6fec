package secrets_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/ironkv/ironkv/secrets"
)

// Nothing the package logs or returns as an error holds a secret value or a
// master key. TestMain checks the logs of the whole run the same way; this
// test also checks that the capture sees the package's logs, and that
// errors hold nothing either.
func TestNoSecretsInLogsOrErrors(t *testing.T) {
	ctx := ctxT(t)
	w := newWorld(t)
	var own bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&own, &slog.HandlerOptions{Level: slog.LevelDebug}))
	kA, kB := newKey(t), newKey(t)
	before := len(logs.Bytes())

	var errs []error
	keep := func(_ any, err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	plain, err := secrets.New(w.sys, nil, secrets.AllowPlaintextInsecure())
	if err != nil {
		t.Fatal(err)
	}
	v := value("plain")
	keep(plain.Create(ctx, "", "P", v, "desc"))
	keep(plain.Create(ctx, "", "P", v, "desc")) // conflict
	s := w.secrets(t, keyring(t, kA), secrets.WithLogger(logger), secrets.AllowPlaintextInsecure())
	for i := range 5 {
		name := fmt.Sprintf("S%d", i)
		keep(s.Create(ctx, "", name, value(name), "d"))
		keep(s.Put(ctx, "", name, value(name+"b"), nil))
		keep(s.Reveal(ctx, "", name))
	}
	keep(s.Put(ctx, "", "bad name", value("x"), nil))
	keep(s.Create(ctx, "", "S0", value("again"), ""))
	rot := w.secrets(t, keyring(t, kB, kA), secrets.WithLogger(logger), secrets.AllowPlaintextInsecure())
	keep(rot.Reencrypt(ctx, ""))
	strict := w.secrets(t, keyring(t, kB), secrets.WithLogger(logger))
	w.store(t, ctx, "default", "S1", append(w.record(t, ctx, "default", "S1"), 0))
	keep(strict.Reveal(ctx, "", "S1"))
	keep(strict.List(ctx, ""))
	keep(strict.Reencrypt(ctx, ""))

	if len(errs) < 5 {
		t.Fatalf("only %d errors to look at", len(errs))
	}
	var all bytes.Buffer
	for _, err := range errs {
		fmt.Fprintf(&all, "%v\n%+v\n%#v\n", err, err, err)
		for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
			fmt.Fprintf(&all, "%v\n", u)
		}
	}
	if l := leak(all.Bytes()); l != "" {
		t.Errorf("errors hold %s", l)
	}
	if l := leak(own.Bytes()); l != "" {
		t.Errorf("the package's log holds %s", l)
	}
	if l := leak(logs.Bytes()); l != "" {
		t.Errorf("the captured logs hold %s", l)
	}
	// The checks looked at real logs.
	if !bytes.Contains(logs.Bytes()[before:], []byte("INSECURE plaintext mode")) {
		t.Error("the default logger's capture missed the plaintext warning")
	}
	for _, msg := range []string{"re-encryption done", "plaintext records are accepted"} {
		if !bytes.Contains(own.Bytes(), []byte(msg)) {
			t.Errorf("the package's log lacks %q:\n%s", msg, own.Bytes())
		}
	}
}
