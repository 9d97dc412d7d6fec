package secrets_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ironkv/ironkv/secrets"
)

func TestKeyID(t *testing.T) {
	k := newKey(t)
	sum := sha256.Sum256(k)
	if got := secrets.KeyID(k); got != hex.EncodeToString(sum[:])[:8] {
		t.Errorf("KeyID %q", got)
	}
	if secrets.KeyID(k[:31]) != "" {
		t.Error("KeyID of a short key")
	}
}

func TestParseKeyring(t *testing.T) {
	kA, kB, kC := newKey(t), newKey(t), newKey(t)
	hA, hB, hC := hexOf(kA), hexOf(kB), hexOf(kC)
	idA, idB, idC := secrets.KeyID(kA), secrets.KeyID(kB), secrets.KeyID(kC)
	for _, tc := range []struct {
		spec string
		ids  []string
	}{
		{hA, []string{idA}},
		{strings.ToUpper(hA), []string{idA}},
		{"  " + hA + "\n", []string{idA}},
		{"2025-06:" + hB + ",2024_01:" + hA, []string{"2025-06", "2024_01"}},
		{hB + ", " + hA + "\n" + "old:" + hC, []string{idB, idA, "old"}},
		{hC + "\n\n" + hA + ",", []string{idC, idA}},
	} {
		kr, err := secrets.ParseKeyring(tc.spec)
		if err != nil {
			t.Errorf("ParseKeyring: %v", err)
			continue
		}
		if !slices.Equal(kr.IDs(), tc.ids) || kr.ActiveID() != tc.ids[0] {
			t.Errorf("ids %v, want %v", kr.IDs(), tc.ids)
		}
	}
	_ = idB

	for _, tc := range []struct {
		spec string
		want error
		msg  string
	}{
		{"", secrets.ErrNoMasterKey, "openssl rand -hex 32"},
		{" ,\n ", secrets.ErrNoMasterKey, "IRONKV_MASTER_KEY"},
		{hA[:62], secrets.ErrInvalidKeyring, "entry 1: the key has 62 characters; want 64 hex digits"},
		{hA + "00", secrets.ErrInvalidKeyring, "entry 1: the key has 66 characters"},
		{hA + "," + "zz" + hB[2:], secrets.ErrInvalidKeyring, "entry 2: the key is not all hex digits"},
		{"bad id:" + hA, secrets.ErrInvalidKeyring, "entry 1: the key id before ':'"},
		{":" + hA, secrets.ErrInvalidKeyring, "the key id before ':'"},
		{strings.Repeat("i", 33) + ":" + hA, secrets.ErrInvalidKeyring, "1 to 32 characters"},
		{"x:" + hA + ",x:" + hB, secrets.ErrInvalidKeyring, `entry 1 and entry 2 both have the id "x"`},
		{hA + ",other:" + hA, secrets.ErrInvalidKeyring, "entry 2 is the same key as entry 1"},
		{strings.Repeat("0", 64), secrets.ErrInvalidKeyring, "all zeros"},
		// A key put where the id goes is not echoed.
		{hA + ":" + hB, secrets.ErrInvalidKeyring, "the key id before ':'"},
	} {
		_, err := secrets.ParseKeyring(tc.spec)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseKeyring(entry of %d bytes): %v; want %v saying %q", len(tc.spec), err, tc.want, tc.msg)
			continue
		}
		if l := leak([]byte(err.Error())); l != "" {
			t.Errorf("the error %q holds %s", err, l)
		}
		for _, part := range []string{hA[:16], hA[2:18], hB[:16], hB[2:18]} {
			if strings.Contains(strings.ToLower(err.Error()), part) {
				t.Errorf("the error shows key material: %v", err)
			}
		}
	}
}

func TestNewKeyring(t *testing.T) {
	kA, kB := newKey(t), newKey(t)
	kr, err := secrets.NewKeyring(kA, kB)
	if err != nil || !slices.Equal(kr.IDs(), []string{secrets.KeyID(kA), secrets.KeyID(kB)}) {
		t.Fatalf("%v, %v", kr, err)
	}
	if _, err := secrets.NewKeyring(); !errors.Is(err, secrets.ErrNoMasterKey) {
		t.Errorf("no keys: %v", err)
	}
	if _, err := secrets.NewKeyring(kA[:16]); !errors.Is(err, secrets.ErrInvalidKeyring) {
		t.Errorf("short key: %v", err)
	}
	if _, err := secrets.NewKeyring(kA, kA); !errors.Is(err, secrets.ErrInvalidKeyring) {
		t.Errorf("same key twice: %v", err)
	}
}

func TestLoadKeyring(t *testing.T) {
	kA, kB := newKey(t), newKey(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "master.keys")
	content := "# ironkv master keys, active first\n\nnew:" + hexOf(kB) + "\n  " + hexOf(kA) + "  \n# retired below\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	kr, err := secrets.LoadKeyring("", file)
	if err != nil || !slices.Equal(kr.IDs(), []string{"new", secrets.KeyID(kA)}) {
		t.Fatalf("key file: %v, %v", kr, err)
	}
	kr, err = secrets.LoadKeyring(" "+hexOf(kA)+"\n", "")
	if err != nil || kr.ActiveID() != secrets.KeyID(kA) {
		t.Fatalf("value: %v, %v", kr, err)
	}
	if _, err := secrets.LoadKeyring("", ""); !errors.Is(err, secrets.ErrNoMasterKey) {
		t.Errorf("nothing set: %v", err)
	}
	if _, err := secrets.LoadKeyring(hexOf(kA), file); !errors.Is(err, secrets.ErrInvalidKeyring) || !strings.Contains(err.Error(), "set one") {
		t.Errorf("both set: %v", err)
	}
	if _, err := secrets.LoadKeyring("", filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	empty := filepath.Join(dir, "empty.keys")
	os.WriteFile(empty, []byte("# nothing yet\n\n"), 0o600)
	if _, err := secrets.LoadKeyring("", empty); !errors.Is(err, secrets.ErrNoMasterKey) {
		t.Errorf("empty file: %v", err)
	}
	bad := filepath.Join(dir, "bad.keys")
	os.WriteFile(bad, []byte("# comment\n"+hexOf(kA)+"\n"+hexOf(kB)[:10]+"\n"), 0o600)
	_, err = secrets.LoadKeyring("", bad)
	if !errors.Is(err, secrets.ErrInvalidKeyring) || !strings.Contains(err.Error(), "line 3") || strings.Contains(err.Error(), hexOf(kB)[:10]) {
		t.Errorf("bad file: %v", err)
	}
}

func TestKeyringFromEnv(t *testing.T) {
	k := newKey(t)
	t.Setenv(secrets.EnvMasterKey, "")
	t.Setenv(secrets.EnvMasterKeyFile, "")
	if _, err := secrets.KeyringFromEnv(); !errors.Is(err, secrets.ErrNoMasterKey) {
		t.Fatalf("unset: %v", err)
	}
	t.Setenv(secrets.EnvMasterKey, hexOf(k))
	kr, err := secrets.KeyringFromEnv()
	if err != nil || kr.ActiveID() != secrets.KeyID(k) {
		t.Fatalf("set: %v, %v", kr, err)
	}
	file := filepath.Join(t.TempDir(), "k")
	os.WriteFile(file, []byte(hexOf(k)), 0o600)
	t.Setenv(secrets.EnvMasterKeyFile, file)
	if _, err := secrets.KeyringFromEnv(); !errors.Is(err, secrets.ErrInvalidKeyring) {
		t.Fatalf("both: %v", err)
	}
	t.Setenv(secrets.EnvMasterKey, "")
	if kr, err := secrets.KeyringFromEnv(); err != nil || kr.ActiveID() != secrets.KeyID(k) {
		t.Fatalf("file: %v, %v", kr, err)
	}
}

// A Keyring prints its ids, never its keys, however it is printed.
func TestKeyringPrintsNoKey(t *testing.T) {
	kA, kB := newKey(t), newKey(t)
	kr, err := secrets.ParseKeyring("new:" + hexOf(kB) + "," + hexOf(kA))
	if err != nil {
		t.Fatal(err)
	}
	if want := "keyring(active new; also " + secrets.KeyID(kA) + ")"; kr.String() != want {
		t.Errorf("String %q, want %q", kr.String(), want)
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "%v %+v %#v %s %v\n", kr, kr, kr, kr, *kr)
	j, _ := json.Marshal(kr)
	out.Write(j)
	slog.New(slog.NewTextHandler(&out, nil)).Info("text", "kr", kr)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("json", "kr", kr)
	if l := leak(out.Bytes()); l != "" {
		t.Errorf("printing a keyring shows %s:\n%s", l, out.Bytes())
	}
	if !strings.Contains(out.String(), "also "+secrets.KeyID(kA)) {
		t.Errorf("ids not shown:\n%s", out.Bytes())
	}
	// The leak check itself finds keys.
	if leak([]byte("x"+hexOf(kB)+"x")) == "" {
		t.Fatal("the leak check misses a key in hex")
	}
}
