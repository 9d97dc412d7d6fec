package httpapi

import (
	"github.com/ironkv/ironkv/watch"
	"net/http"
	"time"
)

// SetBucketFreshness makes Handlers created afterwards refetch a cached
// bucket handle once it is older than d, and returns a func that restores
// the default. Tests that call it must not run in parallel.
func SetBucketFreshness(d time.Duration) (restore func()) {
	old := bucketFreshness
	bucketFreshness = d
	return func() { bucketFreshness = old }
}

// HandleTest registers fn on h for pattern, behind the same checks and
// error handling as the real routes, so that tests can reach the 500 path.
func (h *Handler) HandleTest(pattern string, fn func(w http.ResponseWriter, r *http.Request) error) {
	h.handle(pattern, func(w http.ResponseWriter, r *http.Request) (target, error) {
		return target{}, fn(w, r)
	})
}

// HubStats returns the Stats of h's watch Hub.
func (h *Handler) HubStats() watch.Stats { return h.hub.Stats() }
