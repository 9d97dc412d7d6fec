package httpapi

import (
	"errors"
	"net/http"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/kv"
)

// bucketList is the body of GET /buckets.
type bucketList struct {
	Buckets []bucket.Info `json:"buckets"`
	Count   int           `json:"count"`
}

// createBucket serves POST /buckets: a JSON bucket config in, 201 and the
// bucket's info out.
func (h *Handler) createBucket(w http.ResponseWriter, r *http.Request) (target, error) {
	body, err := h.readBody(w, r, min(h.maxBody, maxConfigBodyBytes), "bucket config")
	if err != nil {
		return target{}, err
	}
	if len(body) == 0 {
		return target{}, badRequest(`the request body is empty; send a JSON bucket config such as {"name":"orders"}`)
	}
	var cfg bucket.Config
	// Call UnmarshalJSON directly: json.Unmarshal would first check the
	// syntax itself and answer with its own words, not the config's.
	if err := cfg.UnmarshalJSON(body); err != nil {
		return target{}, err
	}
	t := target{bucket: cfg.Name}
	if err := cfg.Validate(); err != nil {
		return t, err
	}
	b, err := h.store.CreateBucket(r.Context(), cfg)
	if err != nil {
		return t, err
	}
	h.buckets.add(cfg.Name, b)
	info, err := b.Info(r.Context())
	if err != nil {
		return t, err
	}
	writeJSON(w, http.StatusCreated, info)
	return t, nil
}

// listBuckets serves GET /buckets.
func (h *Handler) listBuckets(w http.ResponseWriter, r *http.Request) (target, error) {
	infos, err := h.store.Buckets(r.Context())
	if err != nil {
		return target{}, err
	}
	if infos == nil {
		infos = []bucket.Info{}
	}
	writeJSON(w, http.StatusOK, bucketList{Buckets: infos, Count: len(infos)})
	return target{}, nil
}

// getBucket serves GET /buckets/{b}.
func (h *Handler) getBucket(w http.ResponseWriter, r *http.Request) (target, error) {
	t := target{bucket: r.PathValue("b")}
	info, err := h.store.BucketInfo(r.Context(), t.bucket)
	if err != nil {
		if errors.Is(err, kv.ErrBucketNotFound) {
			h.buckets.forget(t.bucket, nil)
		}
		return t, err
	}
	writeJSON(w, http.StatusOK, info)
	return t, nil
}

// deleteBucket serves DELETE /buckets/{b}.
func (h *Handler) deleteBucket(w http.ResponseWriter, r *http.Request) (target, error) {
	t := target{bucket: r.PathValue("b")}
	err := h.store.DeleteBucket(r.Context(), t.bucket)
	if err == nil || errors.Is(err, kv.ErrBucketNotFound) {
		h.buckets.forget(t.bucket, nil)
	}
	if err != nil {
		return t, err
	}
	w.WriteHeader(http.StatusNoContent)
	return t, nil
}

// bucketFor returns the handle of the request's bucket.
func (h *Handler) bucketFor(r *http.Request, t target) (*kv.Bucket, error) {
	return h.buckets.get(r.Context(), t.bucket)
}

// forgetOn drops the cached handle b when err says its bucket is gone, and
// returns err.
func (h *Handler) forgetOn(b *kv.Bucket, err error) error {
	if errors.Is(err, kv.ErrBucketNotFound) {
		h.buckets.forget(b.Name(), b)
	}
	return err
}
