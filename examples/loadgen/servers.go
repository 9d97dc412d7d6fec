package main

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/ironkv/ironkv/httpapi"
	"github.com/ironkv/ironkv/kv"
)

// The contenders, as the report and the profile labels name them.
const (
	contenderAPI  = "api"
	contenderBare = "bare"
)

// apiPrefix is where the API is mounted, as in examples/server.
const apiPrefix = "/api/v1/kv"

// barePrefix is the path of the bare handler's keys: /kv/{key}.
const barePrefix = "/kv/"

// apiHandler mounts h the way examples/server does: requests whose escaped
// path is under apiPrefix go to http.StripPrefix(apiPrefix, h), the rest
// get a 404.
func apiHandler(h http.Handler) http.Handler {
	mount := http.StripPrefix(apiPrefix, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.EscapedPath(); p == apiPrefix || strings.HasPrefix(p, apiPrefix+"/") {
			mount.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	})
}

// bareHandler makes the one kv call a request asks for and nothing else:
// GET /kv/{key} answers the value's bytes, PUT /kv/{key} stores the body
// and answers {"revision":N}. It holds the bucket handle, checks nothing
// and encodes nothing: the floor the API is measured against. Keys must be
// plain (no escaping in the path), which the load generator's are.
func bareHandler(b *kv.Bucket) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.URL.Path, barePrefix)
		if !ok {
			http.NotFound(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet:
			e, err := b.Get(r.Context(), key)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(e.Value)
		case http.MethodPut:
			value, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			rev, err := b.Put(r.Context(), key, value)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			buf := make([]byte, 0, 40)
			buf = append(buf, `{"revision":`...)
			buf = strconv.AppendUint(buf, rev, 10)
			buf = append(buf, '}')
			_, _ = w.Write(buf)
		default:
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

// A server is a net/http server on a loopback port, serving one contender.
type server struct {
	name   string
	url    string // http://127.0.0.1:port
	hs     *http.Server
	served chan error
}

// startServer serves h on a free loopback port. The serving goroutines
// carry the profiler labels side=server and contender=name, so a CPU
// profile (-cpuprofile) tells the two servers apart from each other and
// from the load generator: go tool pprof -tagfocus side=server.
func startServer(name string, h http.Handler) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{
		name: name,
		url:  "http://" + ln.Addr().String(),
		// The settings of examples/server that matter per request.
		hs: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          log.New(io.Discard, "", 0),
		},
		served: make(chan error, 1),
	}
	// Goroutines inherit the labels of the goroutine that starts them, so
	// every connection goroutine of Serve has them too.
	pprof.Do(context.Background(), pprof.Labels("side", "server", "contender", name), func(context.Context) {
		go func() { s.served <- s.hs.Serve(ln) }()
	})
	return s, nil
}

// shutdown stops the server: it closes the listener and the idle
// connections, waits for the requests in flight (until ctx ends, then
// closes their connections), and waits for Serve to return.
func (s *server) shutdown(ctx context.Context) error {
	err := s.hs.Shutdown(ctx)
	if err != nil {
		_ = s.hs.Close()
	}
	if serr := <-s.served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// newAPI returns the API handler on store with the options of a default
// examples/server (no API keys on loopback, no observer).
func newAPI(store *kv.Store) *httpapi.Handler {
	return httpapi.New(store, httpapi.WithMaxBodyBytes(httpapi.DefaultMaxBodyBytes))
}
