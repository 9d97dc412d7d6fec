package main

import (
	"net/http"
	"strconv"
	"time"

	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kv"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics holds the server's Prometheus metrics in a registry of its own,
// so nothing is registered globally. It is the httpapi.Observer of the API
// handler and observes the server's own routes the same way.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	// watchClients counts the WebSocket and SSE clients watching a bucket.
	// httpapi feeds it through WatchClients.
	watchClients prometheus.Gauge
}

// latencyBuckets suit a key-value API: most requests take well under a
// millisecond to a few milliseconds, fsync included.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// newMetrics returns the metrics of a server whose NATS connection is nc.
func newMetrics(nc *nats.Conn) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ironkv_http_requests_total",
			Help: "HTTP requests served, by route pattern (\"unmatched\" when none matched) and status code.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ironkv_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route pattern and status code.",
			Buckets: latencyBuckets,
		}, []string{"route", "status"}),
		watchClients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ironkv_watch_clients",
			Help: "Clients currently watching a bucket over WebSocket or SSE.",
		}),
	}
	m.registry.MustRegister(
		m.requests,
		m.latency,
		m.watchClients,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ironkv_nats_connected",
			Help: "1 while the server's NATS connection is connected, 0 while it is disconnected, reconnecting or closed.",
		}, func() float64 {
			if nc.IsConnected() {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ironkv_nats_reconnects_total",
			Help: "Times the server's NATS connection reconnected.",
		}, func() float64 { return float64(nc.Stats().Reconnects) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// WatchClients counts WebSocket and SSE watch clients as they come and go.
// It implements httpapi.WatchObserver.
func (m *metrics) WatchClients(delta int) { m.watchClients.Add(float64(delta)) }

// ObserveRequest records one served request. It implements
// httpapi.Observer.
func (m *metrics) ObserveRequest(route string, status int, d time.Duration) {
	s := strconv.Itoa(status)
	m.requests.WithLabelValues(route, s).Inc()
	m.latency.WithLabelValues(route, s).Observe(d.Seconds())
}

// observeKeyIndexes exports the size of the key indexes of the stores.
func (m *metrics) observeKeyIndexes(stores ...*kv.Store) {
	sum := func(f func(kv.KeyIndexStats) float64) func() float64 {
		return func() float64 {
			var n float64
			for _, st := range stores {
				for _, ix := range st.KeyIndexes() {
					n += f(ix)
				}
			}
			return n
		}
	}
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ironkv_key_indexes",
			Help: "Key indexes held in memory (one per recently listed bucket).",
		}, sum(func(kv.KeyIndexStats) float64 { return 1 })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ironkv_key_index_keys",
			Help: "Live keys held by the key indexes.",
		}, sum(func(ix kv.KeyIndexStats) float64 { return float64(ix.Keys) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ironkv_key_index_bytes",
			Help: "Estimated memory of the key indexes.",
		}, sum(func(ix kv.KeyIndexStats) float64 { return float64(ix.Bytes) })),
	)
}

// observeGroupCommit exports the totals of an embedded server's
// group-commit barrier.
func (m *metrics) observeGroupCommit(stats func() embedded.SyncStats) {
	m.registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ironkv_group_commit_syncs_total",
			Help: "Syncs of the data dir's file system done by group commit.",
		}, func() float64 { return float64(stats().Syncs) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ironkv_group_commit_writes_total",
			Help: "Writes (and bucket changes) that waited on a group-commit sync; divided by the syncs, the mean group size.",
		}, func() float64 { return float64(stats().Waiters) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ironkv_group_commit_sync_seconds_total",
			Help: "Time spent in group-commit syncs.",
		}, func() float64 { return stats().Time.Seconds() }),
	)
}

// handler serves the registry in the Prometheus exposition format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// instrument observes every request h serves, labelled with the pattern of
// the ServeMux route that matched (set on the request by mux) or
// "unmatched".
func (m *metrics) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		m.ObserveRequest(route, rec.status(), time.Since(start))
	})
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}
