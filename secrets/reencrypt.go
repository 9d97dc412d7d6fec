package secrets

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ironkv/ironkv/internal/backoff"
	"github.com/ironkv/ironkv/kv"
)

// Report is what Reencrypt did.
type Report struct {
	// Environments is the number of environments examined.
	Environments int
	// Secrets is the number of secrets examined.
	Secrets int
	// Reencrypted is the number of secrets moved to the active key (or from
	// plaintext to encryption).
	Reencrypted int
	// Current is the number of secrets already under the active key (and
	// verified: they open).
	Current int
	// Retries is the number of compare-and-swap conflicts met: each one a
	// concurrent write that Reencrypt did not overwrite, but read again.
	Retries int
	// Failed lists, as "environment/name", the secrets that cannot be
	// decrypted with the keyring; they are left as they are.
	Failed []string
}

// Reencrypt moves every secret of env, or of every environment when env is
// "", to the active key of the keyring, so that older keys can be retired.
// Each secret is read, decrypted, sealed under the active key with a fresh
// nonce, and written back with compare-and-swap on the revision read
// (kv.Update): a write that came in between is never overwritten. On such
// a conflict Reencrypt reads the secret again and starts over from the new
// version, which may already be under the active key. A secret deleted in
// the meantime is left deleted. Values, descriptions and both timestamps
// are kept; only revisions change.
//
// With AllowPlaintextInsecure, plaintext records are encrypted too. A
// secret that does not decrypt is left as it is and listed in
// Report.Failed; Reencrypt goes on with the others and then returns an
// error wrapping ErrDecrypt that names them. It returns ErrNoMasterKey in
// plaintext mode (there is no key to move to), kv.ErrInvalidBucketName for
// a bad environment, and stops at the first error of the store
// (kv.ErrUnavailable) or of ctx, returning what it did so far.
func (s *Secrets) Reencrypt(ctx context.Context, env string) (Report, error) {
	var rep Report
	if s.kr == nil {
		return rep, ErrNoMasterKey
	}
	var envs []string
	if env == "" {
		var err error
		if envs, err = s.Environments(ctx); err != nil {
			return rep, err
		}
	} else {
		if err := checkEnv(env); err != nil {
			return rep, err
		}
		envs = []string{env}
	}
	for _, env := range envs {
		rep.Environments++
		err := s.do(ctx, env, false, func(b *kv.Bucket) error {
			keys, err := b.Keys(ctx, "")
			if err != nil {
				return err
			}
			for _, k := range keys {
				if ValidateName(k) != nil {
					continue
				}
				if err := s.reencryptOne(ctx, b, env, k, &rep); err != nil {
					return err
				}
			}
			return nil
		})
		if errors.Is(err, kv.ErrBucketNotFound) {
			continue // no secrets in env
		}
		if err != nil {
			return rep, fmt.Errorf("reencrypt environment %q: %w", env, err)
		}
	}
	s.log.InfoContext(ctx, "secrets: re-encryption done", "active_key", s.kr.ActiveID(),
		"environments", rep.Environments, "secrets", rep.Secrets, "reencrypted", rep.Reencrypted,
		"current", rep.Current, "retries", rep.Retries, "failed", len(rep.Failed))
	if len(rep.Failed) > 0 {
		return rep, fmt.Errorf("reencrypt: %d secrets left as they were (%s): %w", len(rep.Failed), strings.Join(rep.Failed, ", "), ErrDecrypt)
	}
	return rep, nil
}

// checkEnv validates an explicit environment.
func checkEnv(env string) error {
	_, err := environment(env)
	return err
}

// reencryptOne moves one secret to the active key. It returns only errors
// that should stop Reencrypt; a secret that does not decrypt goes to
// rep.Failed.
func (s *Secrets) reencryptOne(ctx context.Context, b *kv.Bucket, env, name string, rep *Report) error {
	rep.Secrets++
	active := s.kr.ActiveID()
	for attempt := 1; ; attempt++ {
		e, err := b.Get(ctx, name)
		if errors.Is(err, kv.ErrKeyNotFound) {
			rep.Secrets-- // deleted since the listing
			return nil
		}
		if err != nil {
			return err
		}
		rec, kid, err := s.openRecord(e.Value, env, name)
		if err != nil {
			rep.Failed = append(rep.Failed, env+"/"+name)
			return nil
		}
		if kid == active {
			clear(rec.value)
			rep.Current++
			return nil
		}
		raw, _ := s.sealRecord(rec, env, name)
		clear(rec.value)
		if s.beforeUpdate != nil {
			s.beforeUpdate(env, name)
		}
		_, err = b.Update(ctx, name, raw, e.Revision)
		if err == nil {
			rep.Reencrypted++
			return nil
		}
		if !errors.Is(err, kv.ErrConflict) {
			return err
		}
		rep.Retries++
		if attempt == maxAttempts {
			return fmt.Errorf("secret %q: gave up after %d attempts, each overtaken by another write: %w", name, attempt, err)
		}
		if err := backoff.Pause(ctx, attempt); err != nil {
			return err
		}
	}
}
