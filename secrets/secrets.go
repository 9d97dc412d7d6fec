package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/internal/backoff"
	"github.com/ironkv/ironkv/kv"
)

// maxAttempts bounds the compare-and-swap retries of Put, SetDescription
// and Reencrypt when other writes keep overtaking them.
const maxAttempts = 100

// Info is what may be known of a secret without its value: its metadata.
// In JSON it is the SecretInfo of the HTTP API,
// {"name","revision","created_at","updated_at","description"}. It has no
// field for the value, so no Info can print or leak one.
type Info struct {
	// Name is the secret's name in its environment.
	Name string `json:"name"`
	// Revision is the revision of the write that stored this version.
	Revision uint64 `json:"revision"`
	// CreatedAt is when the secret was created, in UTC; replacing its value
	// keeps it.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is when its value or description last changed, in UTC;
	// Reencrypt keeps it.
	UpdatedAt time.Time `json:"updated_at"`
	// Description is free text about the secret; it is encrypted with the
	// value.
	Description string `json:"description"`
	// KeyID is the id of the master key that encrypted this version, ""
	// for a plaintext one. It is not part of the JSON form.
	KeyID string `json:"-"`
}

// Secrets stores secrets in the SYS_secrets_ buckets of a kv.Store, one
// bucket per environment, encrypted with a Keyring before they reach NATS.
// It is safe for concurrent use.
type Secrets struct {
	store     *kv.Store
	kr        *Keyring // nil only in plaintext mode
	plaintext bool     // plaintext records may be read (and, without kr, written)
	log       *slog.Logger

	handles *kv.Handles // by environment

	// beforeUpdate, when set by a test, runs between the read and the
	// compare-and-swap of Reencrypt.
	beforeUpdate func(env, name string)
}

// Option configures New.
type Option func(*options)

type options struct {
	plaintext bool
	log       *slog.Logger
}

// AllowPlaintextInsecure lets secrets be stored unencrypted, for
// development: with a nil keyring, New then succeeds and Secrets writes
// plaintext records that anyone who can read the NATS stream can read and
// change. With a keyring, writes are encrypted and plaintext records are
// still read, so that Reencrypt can move a development store to encryption.
// New logs a warning either way. Never use it in production.
func AllowPlaintextInsecure() Option { return func(o *options) { o.plaintext = true } }

// WithLogger sets the logger of the warnings of New and the reports of
// Reencrypt (default slog.Default()). Nothing the package logs holds a
// value or key material.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// New returns Secrets on store, which must work in the bucket.SysSecrets
// namespace (kv.New(nc, kv.WithNamespace(bucket.SysSecrets))), encrypting
// with kr. It returns ErrNoMasterKey, whose text says how to set a key, when
// kr is nil and AllowPlaintextInsecure is not given, and an error wrapping
// kv.ErrInvalidConfig for a store of another namespace. It makes no network
// call.
func New(store *kv.Store, kr *Keyring, opts ...Option) (*Secrets, error) {
	o := options{log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	if store == nil {
		return nil, fmt.Errorf("secrets.New: %w: nil store", kv.ErrInvalidConfig)
	}
	if ns := store.Namespace(); ns != bucket.SysSecrets {
		return nil, fmt.Errorf("secrets.New: %w: the store works in namespace %q; pass one made with kv.WithNamespace(bucket.SysSecrets)", kv.ErrInvalidConfig, ns)
	}
	if kr != nil && len(kr.keys) == 0 {
		kr = nil
	}
	if kr == nil && !o.plaintext {
		return nil, ErrNoMasterKey
	}
	s := &Secrets{store: store, kr: kr, plaintext: o.plaintext, log: o.log, handles: kv.NewHandles(store, bucketConfig)}
	switch {
	case kr == nil:
		s.log.Warn("secrets: INSECURE plaintext mode: secret values are stored unencrypted and unauthenticated in NATS; for development only")
	case o.plaintext:
		s.log.Warn("secrets: plaintext records are accepted on read; run Reencrypt to encrypt them, then drop the insecure option", "keyring", kr)
	}
	return s, nil
}

// Encrypted reports whether writes are encrypted: false only in plaintext
// mode (no keyring, AllowPlaintextInsecure), which a server should show
// loudly.
func (s *Secrets) Encrypted() bool { return s.kr != nil }

// Keyring returns the keyring, nil in plaintext mode.
func (s *Secrets) Keyring() *Keyring { return s.kr }

// bucketConfig is the config of the bucket of a new environment: one
// revision per secret, so that an old value or a ciphertext under a retired
// key does not linger in the stream.
func bucketConfig(env string) bucket.Config {
	return bucket.Config{Name: env, Description: "ironkv secrets of environment " + env + " (AES-256-GCM envelopes)", History: 1}
}

// do runs op on env's bucket (see kv.Handles.Do).
func (s *Secrets) do(ctx context.Context, env string, create bool, op func(*kv.Bucket) error) error {
	return s.handles.Do(ctx, env, create, op)
}

// stored is a secret as read: its entry and its opened record.
type stored struct {
	rev   uint64
	rec   record
	keyID string
}

func (st stored) info(name string) Info {
	return Info{Name: name, Revision: st.rev, CreatedAt: st.rec.created, UpdatedAt: st.rec.updated, Description: st.rec.description, KeyID: st.keyID}
}

// openRecord opens an envelope of secret name in env. Every failure is
// errOpen, whatever the cause.
func (s *Secrets) openRecord(raw []byte, env, name string) (record, string, error) {
	if len(raw) == 0 {
		return record{}, "", errOpen
	}
	var payload []byte
	var kid string
	switch raw[0] {
	case versionAESGCM:
		var err error
		if payload, kid, err = open(s.kr, raw, env, name); err != nil {
			return record{}, "", errOpen
		}
		defer clear(payload)
	case versionPlaintext:
		if !s.plaintext {
			return record{}, "", errOpen
		}
		payload = raw[1:]
	default:
		return record{}, "", errOpen
	}
	rec, err := unmarshalRecord(payload)
	return rec, kid, err
}

// sealRecord makes the envelope of rec for secret name in env: encrypted
// under the active key, or in clear in plaintext mode.
func (s *Secrets) sealRecord(rec record, env, name string) ([]byte, string) {
	payload := rec.marshal()
	defer clear(payload)
	if s.kr == nil {
		return plaintextEnvelope(payload), ""
	}
	return seal(s.kr.active(), env, name, payload), s.kr.ActiveID()
}

// read gets and opens the secret name of env. It returns kv.ErrKeyNotFound
// when it does not exist and ErrDecrypt when it does not open.
func (s *Secrets) read(ctx context.Context, b *kv.Bucket, env, name string) (stored, error) {
	e, err := b.Get(ctx, name)
	if err != nil {
		return stored{}, err
	}
	rec, kid, err := s.openRecord(e.Value, env, name)
	clear(e.Value)
	if err != nil {
		return stored{}, decryptError(env, name)
	}
	return stored{rev: e.Revision, rec: rec, keyID: kid}, nil
}

// decryptError is the one error of a secret that does not open: it names
// the secret and nothing of the cause.
func decryptError(env, name string) error {
	return fmt.Errorf("secret %q in environment %q: %w", name, env, ErrDecrypt)
}

// notFound is the error of a secret in an environment that has no bucket.
func notFound(env, name string) error {
	return fmt.Errorf("secret %q in environment %q: %w", name, env, kv.ErrKeyNotFound)
}

// Environments returns the environments that have a bucket, sorted. An
// environment gets its bucket with its first write. It returns
// kv.ErrUnavailable when the store does not answer.
func (s *Secrets) Environments(ctx context.Context) ([]string, error) {
	infos, err := s.store.Buckets(ctx)
	if err != nil {
		return nil, err
	}
	envs := make([]string, 0, len(infos))
	for _, info := range infos {
		envs = append(envs, info.Name)
	}
	return envs, nil
}

// Create stores a new secret name in env ("" for DefaultEnvironment) with
// value and description, and returns its Info. The environment's bucket is
// created with its first secret. It returns a *kv.ConflictError
// (kv.ErrConflict) when the secret exists, ErrInvalidSecret for an empty
// value or a bad description, kv.ErrInvalidKey for a bad name,
// kv.ErrInvalidBucketName for a bad environment, kv.ErrValueTooLarge and
// kv.ErrUnavailable.
func (s *Secrets) Create(ctx context.Context, env, name string, value []byte, description string) (Info, error) {
	env, err := check(env, name)
	if err != nil {
		return Info{}, err
	}
	if err := checkSecret(value, description); err != nil {
		return Info{}, err
	}
	now := time.Now().UTC()
	rec := record{created: now, updated: now, description: description, value: value}
	var info Info
	err = s.do(ctx, env, true, func(b *kv.Bucket) error {
		raw, kid := s.sealRecord(rec, env, name)
		rev, err := b.Create(ctx, name, raw)
		if err != nil {
			return err
		}
		info = stored{rev: rev, rec: rec, keyID: kid}.info(name)
		return nil
	})
	if errors.Is(err, kv.ErrConflict) {
		return Info{}, fmt.Errorf("secret %q already exists in environment %q: %w", name, env, err)
	}
	return info, err
}

// Put sets the value of the secret name in env ("" for
// DefaultEnvironment), creating the secret or replacing its value, and
// returns its Info. A replaced secret keeps its created_at, and its
// description unless description is not nil. Put reads the secret and
// writes with compare-and-swap, retrying when another write came first, so
// it never undoes a concurrent change of the description and never mixes
// two writes. It returns ErrDecrypt when the secret exists but cannot be
// opened (Delete it first to replace it), kv.ErrConflict only when it gave
// up after 100 attempts each overtaken by another write, and the other
// errors of Create.
func (s *Secrets) Put(ctx context.Context, env, name string, value []byte, description *string) (Info, error) {
	env, err := check(env, name)
	if err != nil {
		return Info{}, err
	}
	desc := ""
	if description != nil {
		desc = *description
	}
	if err := checkSecret(value, desc); err != nil {
		return Info{}, err
	}
	return s.modify(ctx, env, name, true, func(rec *record) {
		rec.value = value
		if description != nil {
			rec.description = *description
		}
	})
}

// SetDescription changes the description of the secret name in env (""
// for DefaultEnvironment), leaving its value as it is, and returns its
// Info. Like Put it writes with compare-and-swap and retries when another
// write came first. It returns kv.ErrKeyNotFound when the secret does not
// exist, ErrDecrypt when it cannot be opened, ErrInvalidSecret for a bad
// description, kv.ErrInvalidKey, kv.ErrInvalidBucketName and
// kv.ErrUnavailable.
func (s *Secrets) SetDescription(ctx context.Context, env, name, description string) (Info, error) {
	env, err := check(env, name)
	if err != nil {
		return Info{}, err
	}
	if err := checkDescription(description); err != nil {
		return Info{}, err
	}
	return s.modify(ctx, env, name, false, func(rec *record) { rec.description = description })
}

// modify reads the secret, changes its record with change, and writes it
// back with compare-and-swap, retrying on conflict. With create, a secret
// that does not exist is created from the zero record.
func (s *Secrets) modify(ctx context.Context, env, name string, create bool, change func(*record)) (Info, error) {
	var info Info
	err := s.do(ctx, env, create, func(b *kv.Bucket) error {
		for attempt := 1; ; attempt++ {
			now := time.Now().UTC()
			cur, err := s.read(ctx, b, env, name)
			exists := err == nil
			switch {
			case errors.Is(err, kv.ErrKeyNotFound) && create:
				cur = stored{rec: record{created: now}}
			case err != nil:
				return err
			}
			rec := cur.rec
			change(&rec)
			rec.updated = now
			raw, kid := s.sealRecord(rec, env, name)
			var rev uint64
			if exists {
				rev, err = b.Update(ctx, name, raw, cur.rev)
			} else {
				rev, err = b.Create(ctx, name, raw)
			}
			if err == nil {
				info = stored{rev: rev, rec: rec, keyID: kid}.info(name)
				return nil
			}
			if !errors.Is(err, kv.ErrConflict) {
				return err
			}
			if attempt == maxAttempts {
				return fmt.Errorf("secret %q in environment %q: gave up after %d attempts, each overtaken by another write: %w", name, env, attempt, err)
			}
			if err := backoff.Pause(ctx, attempt); err != nil {
				return err
			}
		}
	})
	if !create && errors.Is(err, kv.ErrBucketNotFound) {
		return Info{}, notFound(env, name)
	}
	return info, err
}

// get reads the secret name of env, for Info and Reveal.
func (s *Secrets) get(ctx context.Context, env, name string) (stored, error) {
	env, err := check(env, name)
	if err != nil {
		return stored{}, err
	}
	var st stored
	err = s.do(ctx, env, false, func(b *kv.Bucket) error {
		var err error
		st, err = s.read(ctx, b, env, name)
		return err
	})
	if errors.Is(err, kv.ErrBucketNotFound) {
		return stored{}, notFound(env, name)
	}
	return st, err
}

// Info returns the metadata of the secret name in env ("" for
// DefaultEnvironment). The metadata is encrypted with the value, so Info
// opens the secret, and verifies it, to read it. Info returns
// kv.ErrKeyNotFound when the secret does not exist, ErrDecrypt when it
// cannot be opened, kv.ErrInvalidKey, kv.ErrInvalidBucketName and
// kv.ErrUnavailable.
func (s *Secrets) Info(ctx context.Context, env, name string) (Info, error) {
	st, err := s.get(ctx, env, name)
	if err != nil {
		return Info{}, err
	}
	clear(st.rec.value)
	return st.info(name), nil
}

// Reveal returns the value of the secret name in env ("" for
// DefaultEnvironment), decrypted: the one call that hands out plaintext.
// It is for Go code in the process; an HTTP layer must never serve it.
// Reveal returns the errors of Info.
func (s *Secrets) Reveal(ctx context.Context, env, name string) ([]byte, error) {
	st, err := s.get(ctx, env, name)
	if err != nil {
		return nil, err
	}
	return st.rec.value, nil
}

// List returns the Info of every secret of env ("" for
// DefaultEnvironment), sorted by name; an empty list for an environment
// that has no bucket yet. It opens each secret to read its metadata, and
// returns ErrDecrypt, naming the first secret that does not open, when one
// does not. It also returns kv.ErrInvalidBucketName and kv.ErrUnavailable.
func (s *Secrets) List(ctx context.Context, env string) ([]Info, error) {
	env, err := environment(env)
	if err != nil {
		return nil, err
	}
	list := []Info{}
	err = s.do(ctx, env, false, func(b *kv.Bucket) error {
		list = list[:0]
		keys, err := b.Keys(ctx, "")
		if err != nil {
			return err
		}
		for _, k := range keys {
			if ValidateName(k) != nil {
				continue // written outside ironkv under a name it cannot address
			}
			st, err := s.read(ctx, b, env, k)
			if errors.Is(err, kv.ErrKeyNotFound) {
				continue // deleted since the listing
			}
			if err != nil {
				return err
			}
			clear(st.rec.value)
			list = append(list, st.info(k))
		}
		return nil
	})
	if errors.Is(err, kv.ErrBucketNotFound) {
		return []Info{}, nil
	}
	if err != nil {
		return nil, err
	}
	return list, nil
}

// Delete removes the secret name of env ("" for DefaultEnvironment) with
// its history (a kv purge), so that no ciphertext of it stays in the
// stream. It is idempotent: deleting a secret that does not exist succeeds.
// It returns kv.ErrInvalidKey, kv.ErrInvalidBucketName and
// kv.ErrUnavailable.
func (s *Secrets) Delete(ctx context.Context, env, name string) error {
	env, err := check(env, name)
	if err != nil {
		return err
	}
	err = s.do(ctx, env, false, func(b *kv.Bucket) error {
		if _, err := b.Get(ctx, name); err != nil {
			if errors.Is(err, kv.ErrKeyNotFound) {
				return nil
			}
			return err
		}
		return b.Purge(ctx, name)
	})
	if errors.Is(err, kv.ErrBucketNotFound) {
		return nil
	}
	return err
}
