// Command mount shows how to mount the ironkv HTTP API into an existing
// application under a prefix, next to the application's own routes: once in
// a gorilla/mux app and once in a net/http ServeMux app. It starts an
// in-memory embedded NATS server, a kv.Store and the API, and serves one of
// the two apps until SIGINT or SIGTERM:
//
//	go run ./examples/mount                       # -router=servemux -listen=127.0.0.1:8080
//	go run ./examples/mount -router=gorilla
//
//	curl -X POST localhost:8080/kv/buckets -d '{"name":"docs"}'
//	curl -X PUT localhost:8080/kv/buckets/docs/keys/a%2Fb -d hello
//	curl localhost:8080/kv/buckets/docs/keys/a/b     # the same key, "a/b"
//	curl localhost:8080/kv/buckets/docs/keys
//	curl localhost:8080/hello/ada                    # the app's own route
//
// # http.StripPrefix
//
// httpapi.New returns a handler whose routes are relative to "/", so the host
// strips its prefix before the API sees the request:
//
//	api := httpapi.New(store)
//	kvAPI := http.StripPrefix("/kv", api) // "/kv", not "/kv/": the API wants the leading slash
//
// Since Go 1.16, StripPrefix trims the prefix from both URL.Path (decoded)
// and URL.RawPath (as sent), so a key sent percent-encoded reaches the API
// still encoded: .../keys/a%2Fb and .../keys/a/b (two segments) both address
// the key "a/b", user%3A1 and user:1 the key "user:1". The prefix itself must
// arrive unencoded: when only the decoded path has it, StripPrefix answers 404.
//
// # gorilla/mux
//
//	r := mux.NewRouter().UseEncodedPath().SkipClean(true)
//	r.PathPrefix("/kv/").Handler(http.StripPrefix("/kv", api))
//
// gorilla cleans the request path before it routes and answers a path that
// is not clean with 301 Moved Permanently to the cleaned one. Without
// UseEncodedPath it cleans the decoded path, so keys holding '/' that are
// sent encoded get redirected to other keys: a%2F%2Fb (the key "a//b") to
// .../keys/a/b, %2Fa (the key "/a") to .../keys/a. UseEncodedPath makes
// gorilla match and clean the path as sent, so every encoded key passes
// through. SkipClean(true) then stops the redirects of raw paths that are
// not clean (a//b, a/./b, a/../b): the API answers them 400, telling the
// client to encode the key's '/' as %2F. A redirect would be worse than
// an error: Go's http.Client follows a 301 for a PUT with a GET of the
// other key.
// Once cleaning is off, UseEncodedPath no longer matters to the mount
// itself (StripPrefix keeps URL.RawPath, which is what the API reads); it
// still makes the router see paths as the API does, and lets the app's own
// {variables} hold a '/' sent as %2F.
//
// Both settings apply to the whole router. With UseEncodedPath, the path
// variables of the app's own routes hold the text as sent, so unescape them
// with url.PathUnescape (the /hello/{name} route below does); with
// SkipClean(true), the app's own routes no longer redirect unclean paths
// either.
//
// # net/http ServeMux
//
//	mux := http.NewServeMux()
//	mux.Handle("/kv/", kvAPI)
//	return routeUnclean("/kv/", kvAPI, mux)
//
// The mux.Handle line alone serves every clean path, encoded keys included,
// since ServeMux matches on the path as sent. But ServeMux too cleans paths
// before it routes, answering a path that is not clean with a redirect to
// the cleaned one (307 Temporary Redirect, in Go 1.26) before any handler
// runs, and it has no switch to turn that off. A client follows a 307 with
// the same method and body, so a PUT to .../keys/a//b would write the key
// "a/b". routeUnclean, in front of the mux, hands the unclean paths under
// /kv/ straight to the API, which rejects them with 400.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/gorilla/mux"
	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/httpapi"
	"github.com/ironkv/ironkv/kv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	err := run(ctx, os.Args[1:], os.Stderr, logger, nil)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage): // already reported, with the usage
		stop()
		os.Exit(2)
	default:
		logger.Error("mount example failed", "err", err)
		stop()
		os.Exit(1)
	}
}

// errUsage marks an error in the command line.
var errUsage = errors.New("usage")

// apps are the host applications, by the name -router takes.
var apps = map[string]func(api http.Handler) http.Handler{
	"gorilla":  newGorillaApp,
	"servemux": newServeMuxApp,
}

// run parses args, serves the chosen app until ctx ends, then shuts the
// HTTP server, the API, the store and NATS down in that order. It calls
// ready, when not nil, with the app's base URL once it accepts requests.
// A bad command line is reported with the usage on stderr and returned as
// an error wrapping errUsage; -help returns flag.ErrHelp.
func run(ctx context.Context, args []string, stderr io.Writer, log *slog.Logger, ready func(baseURL string)) error {
	fs := flag.NewFlagSet("mount", flag.ContinueOnError)
	fs.SetOutput(stderr)
	router := fs.String("router", "servemux", "the host app to serve: gorilla or servemux")
	listen := fs.String("listen", "127.0.0.1:8080", "HTTP listen address")
	usage := func(format string, a ...any) error {
		err := fmt.Errorf(format, a...)
		fmt.Fprintln(stderr, err)
		fs.Usage()
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err) // fs has printed it
	}
	if fs.NArg() > 0 {
		return usage("unexpected arguments %q", fs.Args())
	}
	newApp, ok := apps[*router]
	if !ok {
		return usage("-router=%q: want gorilla or servemux", *router)
	}

	// NATS with JetStream in this process, in memory: no port, no files.
	ns, err := embedded.Start(ctx, embedded.Config{InMemory: true})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ns.Shutdown(sctx); err != nil {
			log.Error("shut down NATS", "err", err)
		}
	}()
	nc, err := ns.Connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	store, err := kv.New(nc, kv.WithDefaultStorage(bucket.MemoryStorage))
	if err != nil {
		return err
	}
	defer store.Close()
	api := httpapi.New(store, httpapi.WithLogger(log))
	defer api.Close()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           newApp(api),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	log.Info("serving", "router", *router, "url", base, "api", base+"/kv/buckets")
	if ready != nil {
		ready(base)
	}

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx) // finishes in-flight requests
	<-served
	return err
}

// newGorillaApp returns a gorilla/mux app with its own routes and the API
// under /kv/. The router matches and leaves alone the path as sent
// (UseEncodedPath, SkipClean), so keys holding '/' pass through encoded and
// unclean paths get the API's 400 instead of gorilla's redirect.
func newGorillaApp(api http.Handler) http.Handler {
	r := mux.NewRouter().UseEncodedPath().SkipClean(true)
	r.HandleFunc("/", home).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/hello/{name}", func(w http.ResponseWriter, req *http.Request) {
		// With UseEncodedPath, variables are as sent: a%2Fb, not a/b.
		name, err := url.PathUnescape(mux.Vars(req)["name"])
		if err != nil {
			http.Error(w, "bad name", http.StatusBadRequest)
			return
		}
		hello(w, name)
	}).Methods(http.MethodGet, http.MethodHead)
	r.PathPrefix("/kv/").Handler(http.StripPrefix("/kv", api))
	return r
}

// newServeMuxApp returns a net/http ServeMux app with its own routes and
// the API under /kv/. Requests under /kv/ whose path ServeMux would redirect
// to a cleaned one go straight to the API, which rejects them.
func newServeMuxApp(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", home)
	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		hello(w, r.PathValue("name")) // ServeMux decodes wildcards
	})
	kvAPI := http.StripPrefix("/kv", api)
	mux.Handle("/kv/", kvAPI)
	return routeUnclean("/kv/", kvAPI, mux)
}

// routeUnclean sends the requests whose path starts with prefix and is not
// clean (it has an empty, "." or ".." segment) to h, and all others to mux.
// ServeMux would answer those with a redirect to the cleaned path; h gets
// to reject them instead.
func routeUnclean(prefix string, h, mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.EscapedPath(); strings.HasPrefix(p, prefix) && !isClean(p) {
			h.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// isClean reports whether ServeMux leaves the rooted path p as it is:
// path.Clean changes nothing but, perhaps, a single trailing slash.
func isClean(p string) bool {
	c := path.Clean(p)
	return p == c || p == c+"/"
}

// home and hello are the host app's own pages, the same in both apps.
func home(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "the host app; the ironkv API is under /kv/, as in GET /kv/buckets")
}

func hello(w http.ResponseWriter, name string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "hello, %s\n", name)
}
