package config

import (
	"context"
	"errors"
	"fmt"

	"github.com/ironkv/ironkv/internal/backoff"
	"github.com/ironkv/ironkv/kv"
)

// MaxPatchAttempts bounds how often Patch (without ifMatch) reads, merges
// and tries its compare-and-swap before it gives up with kv.ErrConflict.
const MaxPatchAttempts = 100

// Patch merges partial, a JSON object, into the document name of env (""
// for DefaultEnvironment) and returns the new revision. The merge is
// shallow, the top level of JSON Merge Patch (RFC 7396): each member of
// partial replaces the member of the same name or is added after the
// others, a member set to null removes the member, and nested objects are
// replaced whole, not merged. A document that does not exist is created
// from partial, without its null members.
//
// Patch reads the document, merges, and writes with compare-and-swap on the
// revision it read. With ifMatch 0 it retries on conflict, reading again,
// up to MaxPatchAttempts times with a short random pause that grows with
// each attempt, so concurrent patches of different members all land; it
// stops early when ctx ends. With ifMatch not 0 it makes one attempt, from
// revision ifMatch only, and returns a *kv.ConflictError (kv.ErrConflict)
// when the document is at another revision or does not exist.
//
// Patch returns an error wrapping ErrNotObject when partial is not a JSON
// object, kv.ErrConflict when it gave up, kv.ErrInvalidKey,
// kv.ErrInvalidBucketName, kv.ErrValueTooLarge, kv.ErrUnavailable and ctx's
// error.
func (c *Configs) Patch(ctx context.Context, env, name string, partial []byte, ifMatch uint64) (uint64, error) {
	env, err := check(env, name)
	if err != nil {
		return 0, err
	}
	p, err := parseObject(partial)
	if err != nil {
		return 0, err
	}
	var rev uint64
	err = c.do(ctx, env, true, func(b *kv.Bucket) error {
		for attempt := 1; ; attempt++ {
			var err error
			rev, err = patchOnce(ctx, b, env, name, p, ifMatch)
			if err == nil || ifMatch != 0 || !errors.Is(err, kv.ErrConflict) {
				return err
			}
			if attempt == MaxPatchAttempts {
				return fmt.Errorf("patch config %q in environment %q: gave up after %d attempts, each overtaken by another write: %w", name, env, attempt, err)
			}
			if err := backoff.Pause(ctx, attempt); err != nil {
				return err
			}
		}
	})
	return rev, err
}

// patchOnce reads, merges and writes once.
func patchOnce(ctx context.Context, b *kv.Bucket, env, name string, p []member, ifMatch uint64) (uint64, error) {
	e, err := b.Get(ctx, name)
	if errors.Is(err, kv.ErrKeyNotFound) {
		if ifMatch != 0 {
			return 0, &kv.ConflictError{Key: name, Expected: ifMatch}
		}
		return b.Create(ctx, name, encodeObject(merge(nil, p)))
	}
	if err != nil {
		return 0, err
	}
	if ifMatch != 0 && e.Revision != ifMatch {
		return 0, &kv.ConflictError{Key: name, Expected: ifMatch, Revision: e.Revision}
	}
	doc, err := parseObject(e.Value)
	if err != nil {
		return 0, storedObject(env, name, e.Value)
	}
	return b.Update(ctx, name, encodeObject(merge(doc, p)), e.Revision)
}
