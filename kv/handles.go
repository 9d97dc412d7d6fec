package kv

import (
	"context"
	"errors"
	"sync"

	"github.com/ironkv/ironkv/bucket"
)

// Handles keeps Bucket handles by bucket name for code that works on many
// buckets of one Store (one per environment, say), creating buckets on
// demand. It is safe for concurrent use.
type Handles struct {
	store  *Store
	config func(name string) bucket.Config

	mu sync.Mutex
	m  map[string]*Bucket
}

// NewHandles returns Handles on store; config gives the Config of a bucket
// that Do or Get has to create.
func NewHandles(store *Store, config func(name string) bucket.Config) *Handles {
	return &Handles{store: store, config: config, m: map[string]*Bucket{}}
}

// Get returns the kept handle of bucket name, or opens it (creating the
// bucket with the configured Config when create is true). It returns the
// errors of Store.Bucket and Store.CreateBucket.
func (h *Handles) Get(ctx context.Context, name string, create bool) (*Bucket, error) {
	h.mu.Lock()
	b := h.m[name]
	h.mu.Unlock()
	if b != nil {
		return b, nil
	}
	b, err := h.store.Bucket(ctx, name)
	if create && errors.Is(err, ErrBucketNotFound) {
		b, err = h.store.CreateBucket(ctx, h.config(name))
		if errors.Is(err, ErrBucketExists) {
			// Created by another writer in the meantime.
			b, err = h.store.Bucket(ctx, name)
		}
	}
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if old := h.m[name]; old != nil {
		return old, nil
	}
	h.m[name] = b
	return b, nil
}

// Do runs op on the handle of bucket name. A kept handle may point to a
// bucket deleted since (by another process or a NATS tool): Do then forgets
// it and runs op once more on a fresh handle. It returns op's error or the
// errors of Get.
func (h *Handles) Do(ctx context.Context, name string, create bool, op func(*Bucket) error) error {
	for attempt := 0; ; attempt++ {
		b, err := h.Get(ctx, name, create)
		if err != nil {
			return err
		}
		err = op(b)
		if attempt == 0 && errors.Is(err, ErrBucketNotFound) {
			h.mu.Lock()
			if h.m[name] == b {
				delete(h.m, name)
			}
			h.mu.Unlock()
			continue
		}
		return err
	}
}
