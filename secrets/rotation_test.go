package secrets_test

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/ironkv/ironkv/secrets"
)

// The rotation procedure: secrets written under key A still read after B is
// added as the active key; new writes carry B's id; Reencrypt moves the old
// ones to B, after which A can be retired.
func TestRotation(t *testing.T) {
	ctx := ctxT(t)
	w := newWorld(t)
	kA, kB := newKey(t), newKey(t)
	krA := keyring(t, kA)
	krBA := keyring(t, kB, kA)
	idA, idB := secrets.KeyID(kA), secrets.KeyID(kB)
	if krA.ActiveID() != idA || krBA.ActiveID() != idB {
		t.Fatalf("ids %s %s, active %s %s", idA, idB, krA.ActiveID(), krBA.ActiveID())
	}

	sA := w.secrets(t, krA)
	vals := map[string][]byte{}
	infos := map[string]secrets.Info{}
	for _, env := range []string{"default", "prod"} {
		for i := range 3 {
			name := fmt.Sprintf("S%d", i)
			v := value(env + name)
			info, err := sA.Create(ctx, env, name, v, "d"+name)
			if err != nil {
				t.Fatal(err)
			}
			if info.KeyID != idA {
				t.Fatalf("written under %q, want %q", info.KeyID, idA)
			}
			vals[env+"/"+name] = v
			infos[env+"/"+name] = info
		}
	}

	sBA := w.secrets(t, krBA)
	for key, v := range vals {
		env, name, _ := cut(key)
		got, err := sBA.Reveal(ctx, env, name)
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("%s after adding B: %v", key, err)
		}
	}
	info, err := sBA.Create(ctx, "default", "NEW", value("new"), "")
	if err != nil || info.KeyID != idB {
		t.Fatalf("new write under %q, want %q (%v)", info.KeyID, idB, err)
	}
	if rec := w.record(t, ctx, "default", "NEW"); !bytes.Equal(rec[2:2+len(idB)], []byte(idB)) {
		t.Fatalf("envelope key id %q", rec[2:2+len(idB)])
	}
	// A process still on the old keyring cannot read what B encrypted.
	if _, err := sA.Reveal(ctx, "default", "NEW"); !errors.Is(err, secrets.ErrDecrypt) {
		t.Fatalf("old keyring reads a B secret: %v", err)
	}

	rep, err := sBA.Reencrypt(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := (secrets.Report{Environments: 2, Secrets: 7, Reencrypted: 6, Current: 1}); fmt.Sprint(rep) != fmt.Sprint(want) {
		t.Fatalf("report %+v, want %+v", rep, want)
	}

	// Only B is needed now; values, descriptions and times are kept.
	sB := w.secrets(t, keyring(t, kB))
	for key, v := range vals {
		env, name, _ := cut(key)
		got, err := sB.Reveal(ctx, env, name)
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("%s with B only: %v", key, err)
		}
		info, _ := sB.Info(ctx, env, name)
		old := infos[key]
		if info.KeyID != idB || info.Description != old.Description || !info.CreatedAt.Equal(old.CreatedAt) ||
			!info.UpdatedAt.Equal(old.UpdatedAt) || info.Revision <= old.Revision {
			t.Fatalf("%s: %+v, was %+v", key, info, old)
		}
	}
	rep, err = sBA.Reencrypt(ctx, "prod")
	if err != nil || rep.Reencrypted != 0 || rep.Current != 3 || rep.Environments != 1 {
		t.Fatalf("second Reencrypt: %+v, %v", rep, err)
	}
	if rep, err := sBA.Reencrypt(ctx, "empty"); err != nil || rep.Secrets != 0 {
		t.Fatalf("Reencrypt of an environment without secrets: %+v, %v", rep, err)
	}
}

// A secret that does not decrypt is reported, left as it is, and the others
// are moved.
func TestReencryptReportsFailures(t *testing.T) {
	ctx := ctxT(t)
	w := newWorld(t)
	kA, kB, kLost := newKey(t), newKey(t), newKey(t)
	w.secrets(t, keyring(t, kLost)).Create(ctx, "", "LOST", value("lost"), "")
	w.secrets(t, keyring(t, kA)).Create(ctx, "", "OK", value("ok"), "")
	s := w.secrets(t, keyring(t, kB, kA))
	lost := w.record(t, ctx, "default", "LOST")
	rep, err := s.Reencrypt(ctx, "")
	if !errors.Is(err, secrets.ErrDecrypt) || rep.Reencrypted != 1 || len(rep.Failed) != 1 || rep.Failed[0] != "default/LOST" {
		t.Fatalf("Reencrypt: %+v, %v", rep, err)
	}
	if !bytes.Equal(w.record(t, ctx, "default", "LOST"), lost) {
		t.Fatal("an undecryptable secret was rewritten")
	}
	// Put cannot replace what it cannot read; Delete can remove it.
	if _, err := s.Put(ctx, "", "LOST", value("new"), nil); !errors.Is(err, secrets.ErrDecrypt) {
		t.Fatalf("Put over an undecryptable secret: %v", err)
	}
	if err := s.Delete(ctx, "", "LOST"); err != nil {
		t.Fatal(err)
	}
}

// Reencrypt under concurrent Puts overwrites none of them: the final value
// of each secret is the last value a Put wrote. The writers still write
// under A (a process of a fleet that knows B but has not made it active
// yet), so their writes keep needing re-encryption while Reencrypt runs.
func TestReencryptConcurrentPuts(t *testing.T) {
	ctx := ctxT(t)
	w := newWorld(t)
	kA, kB := newKey(t), newKey(t)
	sA := w.secrets(t, keyring(t, kA, kB))
	sBA := w.secrets(t, keyring(t, kB, kA))
	const writers, perWriter = 8, 6
	name := func(wr, i int) string { return fmt.Sprintf("W%d_S%d", wr, i) }
	for wr := range writers {
		for i := range perWriter {
			if _, err := sA.Create(ctx, "", name(wr, i), value("init"), ""); err != nil {
				t.Fatal(err)
			}
		}
	}

	last := make([]map[string][]byte, writers)
	stop := make(chan struct{})
	started := make(chan struct{}, writers)
	var wg sync.WaitGroup
	for wr := range writers {
		last[wr] = map[string][]byte{}
		wg.Go(func() {
			for round := 0; ; round++ {
				for i := range perWriter {
					v := value(fmt.Sprintf("w%d-r%d", wr, round))
					if _, err := sA.Put(ctx, "", name(wr, i), v, nil); err != nil {
						t.Error(err)
						return
					}
					last[wr][name(wr, i)] = v
				}
				if round == 0 {
					started <- struct{}{}
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		})
	}
	for range writers {
		<-started
	}
	var reports []secrets.Report
	for range 3 {
		rep, err := sBA.Reencrypt(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		reports = append(reports, rep)
	}
	close(stop)
	wg.Wait()
	t.Logf("reports under concurrent writes: %+v", reports)

	for wr := range writers {
		for n, v := range last[wr] {
			got, err := sBA.Reveal(ctx, "", n)
			if err != nil || !bytes.Equal(got, v) {
				t.Fatalf("%s: the last Put's value was overwritten (%v)", n, err)
			}
		}
	}
	// With the writers stopped, one more pass moves everything to B.
	if _, err := sBA.Reencrypt(ctx, ""); err != nil {
		t.Fatal(err)
	}
	sB := w.secrets(t, keyring(t, kB))
	for wr := range writers {
		for n, v := range last[wr] {
			if got, err := sB.Reveal(ctx, "", n); err != nil || !bytes.Equal(got, v) {
				t.Fatalf("%s with B only: %v", n, err)
			}
		}
	}
}

func cut(key string) (env, name string, ok bool) {
	for i := range len(key) {
		if key[i] == '/' {
			return key[:i], key[i+1:], true
		}
	}
	return key, "", false
}

// A key first given without a name (so records carry its KeyID) still
// opens them once it is given a name.
func TestNamedKeyOpensRecordsOfItsBareForm(t *testing.T) {
	ctx := ctxT(t)
	w := newWorld(t)
	kA, kB := newKey(t), newKey(t)
	v := value("bare")
	if _, err := w.secrets(t, keyring(t, kA)).Create(ctx, "", "S", v, ""); err != nil {
		t.Fatal(err)
	}
	kr, err := secrets.ParseKeyring("2025:" + hexOf(kB) + ",2024:" + hexOf(kA))
	if err != nil {
		t.Fatal(err)
	}
	s := w.secrets(t, kr)
	if got, err := s.Reveal(ctx, "", "S"); err != nil || !bytes.Equal(got, v) {
		t.Fatalf("Reveal: %v", err)
	}
	if rep, err := s.Reencrypt(ctx, ""); err != nil || rep.Reencrypted != 1 {
		t.Fatalf("Reencrypt: %+v, %v", rep, err)
	}
	// A name may not take the KeyID of another key.
	_, err = secrets.ParseKeyring(secrets.KeyID(kA) + ":" + hexOf(kB) + "," + hexOf(kA))
	if !errors.Is(err, secrets.ErrInvalidKeyring) {
		t.Fatalf("a name that is another key's id: %v", err)
	}
	_, err = secrets.ParseKeyring(hexOf(kA) + "," + secrets.KeyID(kA) + ":" + hexOf(kB))
	if !errors.Is(err, secrets.ErrInvalidKeyring) {
		t.Fatalf("a name that is another key's id, second: %v", err)
	}
}
