package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/kv"
)

// History is the number of revisions the bucket of an environment keeps per
// document, so that a bad change can be looked up and undone with the tools
// of package kv or NATS.
const History = 16

// Document is one settings document: a JSON object under a name. In JSON
// it is Ironflow's shape, {"name","data","revision","updatedAt"}.
type Document struct {
	// Name is the document's name in its environment.
	Name string `json:"name"`
	// Data is the document, a JSON object in compact form. Numbers keep
	// every digit they were written with.
	Data json.RawMessage `json:"data"`
	// Revision is the revision of the write that stored this version; pass
	// it as Condition.IfMatch to replace exactly this version.
	Revision uint64 `json:"revision"`
	// UpdatedAt is when the server stored this version, in UTC.
	UpdatedAt time.Time `json:"updatedAt"`
}

// Summary describes a document without its data, as List returns it. In
// JSON it is {"name","revision","updatedAt"}.
type Summary struct {
	Name      string    `json:"name"`
	Revision  uint64    `json:"revision"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Condition makes Set conditional, as the HTTP headers If-None-Match: * and
// If-Match: N do. The zero Condition writes unconditionally.
type Condition struct {
	// IfNoneMatch writes only when the document does not exist (absent or
	// deleted).
	IfNoneMatch bool
	// IfMatch, when not 0, writes only when the document's current
	// revision is IfMatch.
	IfMatch uint64
}

// Configs stores settings documents in the SYS_config_ buckets of a
// kv.Store, one bucket per environment. It is safe for concurrent use.
type Configs struct {
	store *kv.Store

	handles *kv.Handles // by environment
}

// New returns Configs on store, which must work in the bucket.SysConfig
// namespace (kv.New(nc, kv.WithNamespace(bucket.SysConfig))). It returns an
// error wrapping kv.ErrInvalidConfig for a store of another namespace. It
// makes no network call.
func New(store *kv.Store) (*Configs, error) {
	if store == nil {
		return nil, fmt.Errorf("config.New: %w: nil store", kv.ErrInvalidConfig)
	}
	if ns := store.Namespace(); ns != bucket.SysConfig {
		return nil, fmt.Errorf("config.New: %w: the store works in namespace %q; pass one made with kv.WithNamespace(bucket.SysConfig)", kv.ErrInvalidConfig, ns)
	}
	return &Configs{store: store, handles: kv.NewHandles(store, bucketConfig)}, nil
}

// bucketConfig is the config of the bucket of a new environment. Storage
// and replicas are the store's defaults.
func bucketConfig(env string) bucket.Config {
	return bucket.Config{Name: env, Description: "ironkv config documents of environment " + env, History: History}
}

// do runs op on env's bucket (see kv.Handles.Do).
func (c *Configs) do(ctx context.Context, env string, create bool, op func(*kv.Bucket) error) error {
	return c.handles.Do(ctx, env, create, op)
}

// check validates env (defaulting it) and name.
func check(env, name string) (string, error) {
	env, err := environment(env)
	if err != nil {
		return "", err
	}
	return env, ValidateName(name)
}

// Environments returns the environments that have a bucket, sorted. An
// environment gets its bucket with its first write (or Watch). It returns
// kv.ErrUnavailable when the store does not answer.
func (c *Configs) Environments(ctx context.Context) ([]string, error) {
	infos, err := c.store.Buckets(ctx)
	if err != nil {
		return nil, err
	}
	envs := make([]string, 0, len(infos))
	for _, info := range infos {
		envs = append(envs, info.Name)
	}
	return envs, nil
}

// List returns a Summary of every document of env ("" for
// DefaultEnvironment), sorted by name; an empty list, not an error, for an
// environment that has no bucket yet. It returns kv.ErrInvalidBucketName for
// a bad environment and kv.ErrUnavailable when the store does not answer.
//
// List reads the latest entry of each document, one request each.
func (c *Configs) List(ctx context.Context, env string) ([]Summary, error) {
	env, err := environment(env)
	if err != nil {
		return nil, err
	}
	list := []Summary{}
	err = c.do(ctx, env, false, func(b *kv.Bucket) error {
		list = list[:0]
		keys, err := b.Keys(ctx, "")
		if err != nil {
			return err
		}
		for _, k := range keys {
			if ValidateName(k) != nil {
				continue // written outside ironkv under a name it cannot address
			}
			e, err := b.Get(ctx, k)
			if errors.Is(err, kv.ErrKeyNotFound) {
				continue // deleted since the listing
			}
			if err != nil {
				return err
			}
			list = append(list, Summary{Name: k, Revision: e.Revision, UpdatedAt: e.Created.UTC()})
		}
		return nil
	})
	if errors.Is(err, kv.ErrBucketNotFound) {
		return []Summary{}, nil
	}
	if err != nil {
		return nil, err
	}
	return list, nil
}

// Get returns the document name of env ("" for DefaultEnvironment). It
// returns kv.ErrKeyNotFound when the document is absent or deleted (also
// when the environment has no bucket), kv.ErrInvalidKey for a bad name,
// kv.ErrInvalidBucketName for a bad environment and kv.ErrUnavailable. A
// value that another NATS client stored and that is not a JSON object is
// an error that matches no sentinel.
func (c *Configs) Get(ctx context.Context, env, name string) (Document, error) {
	env, err := check(env, name)
	if err != nil {
		return Document{}, err
	}
	var e kv.Entry
	err = c.do(ctx, env, false, func(b *kv.Bucket) error {
		var err error
		e, err = b.Get(ctx, name)
		return err
	})
	if errors.Is(err, kv.ErrBucketNotFound) {
		return Document{}, fmt.Errorf("config %q in environment %q: %w", name, env, kv.ErrKeyNotFound)
	}
	if err != nil {
		return Document{}, err
	}
	if err := storedObject(env, name, e.Value); err != nil {
		return Document{}, err
	}
	return Document{Name: name, Data: e.Value, Revision: e.Revision, UpdatedAt: e.Created.UTC()}, nil
}

// storedObject checks that a stored value is a JSON object, which ironkv
// always writes; other NATS clients may not.
func storedObject(env, name string, v []byte) error {
	if _, err := parseObject(v); err != nil {
		return fmt.Errorf("config %q in environment %q: the stored value is not a JSON object; it was written outside ironkv", name, env)
	}
	return nil
}

// Set stores data, which must be one JSON object, as the document name of
// env ("" for DefaultEnvironment), replacing it whole, and returns the new
// revision. The environment's bucket is created with the first write. The
// object is stored in compact form with its members in their order; a
// member name that appears twice is an error.
//
// cond makes the write conditional: IfNoneMatch writes only when the
// document does not exist, IfMatch only when it is at that revision; either
// failing is a *kv.ConflictError (kv.ErrConflict). Set returns an error
// wrapping ErrNotObject when data is not a JSON object (such as "config body
// must be a JSON object, got array"), ErrInvalidCondition when cond asks
// for both, kv.ErrInvalidKey for a bad name, kv.ErrInvalidBucketName for a
// bad environment, kv.ErrValueTooLarge, kv.ErrUnavailable.
func (c *Configs) Set(ctx context.Context, env, name string, data []byte, cond Condition) (uint64, error) {
	env, err := check(env, name)
	if err != nil {
		return 0, err
	}
	if cond.IfNoneMatch && cond.IfMatch != 0 {
		return 0, fmt.Errorf("%w: IfNoneMatch and IfMatch %d together; use one", ErrInvalidCondition, cond.IfMatch)
	}
	members, err := parseObject(data)
	if err != nil {
		return 0, err
	}
	doc := encodeObject(members)
	var rev uint64
	err = c.do(ctx, env, true, func(b *kv.Bucket) error {
		var err error
		switch {
		case cond.IfNoneMatch:
			rev, err = b.Create(ctx, name, doc)
		case cond.IfMatch != 0:
			rev, err = b.Update(ctx, name, doc, cond.IfMatch)
		default:
			rev, err = b.Put(ctx, name, doc)
		}
		return err
	})
	return rev, err
}

// Delete deletes the document name of env ("" for DefaultEnvironment). It
// is idempotent: deleting a document that does not exist succeeds and
// writes nothing. With ifMatch not 0 it deletes only when the document is
// at revision ifMatch, and returns a *kv.ConflictError (kv.ErrConflict)
// otherwise, also when the document does not exist. The bucket keeps the
// deleted document's earlier revisions (see History). Delete returns
// kv.ErrInvalidKey, kv.ErrInvalidBucketName and kv.ErrUnavailable.
func (c *Configs) Delete(ctx context.Context, env, name string, ifMatch uint64) error {
	env, err := check(env, name)
	if err != nil {
		return err
	}
	err = c.do(ctx, env, false, func(b *kv.Bucket) error {
		if ifMatch != 0 {
			return b.Delete(ctx, name, kv.IfRevision(ifMatch))
		}
		if _, err := b.Get(ctx, name); err != nil {
			if errors.Is(err, kv.ErrKeyNotFound) {
				return nil
			}
			return err
		}
		return b.Delete(ctx, name)
	})
	if errors.Is(err, kv.ErrBucketNotFound) {
		if ifMatch != 0 {
			return &kv.ConflictError{Key: name, Expected: ifMatch}
		}
		return nil
	}
	return err
}
