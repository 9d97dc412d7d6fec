package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// DefaultAPIPath is where the dashboard looks for the KV API when New is
// given no WithAPIPath: the mount point of examples/server.
const DefaultAPIPath = "/api/v1/kv"

//go:embed static
var staticFiles embed.FS

// apiPathPlaceholder is replaced in index.html by the API path.
const apiPathPlaceholder = "{{IRONKV_API_PATH}}"

// config is what the Options of New set.
type config struct {
	apiPath string
}

// Option configures the Handler made by New.
type Option func(*config)

// WithAPIPath tells the page where the KV API (package httpapi) is mounted:
// an absolute path on the same server, such as "/api/v1/kv" (the default,
// DefaultAPIPath), or an absolute http or https URL of another server. A
// trailing slash is ignored, and an empty prefix keeps the default. The
// page calls the REST routes and the WebSocket watch route below it; a
// cross-origin API must allow the dashboard's origin (see
// httpapi.WithAllowedOrigins).
func WithAPIPath(prefix string) Option {
	return func(c *config) {
		if p := strings.TrimRight(prefix, "/"); p != "" {
			c.apiPath = p
		} else if prefix == "/" {
			c.apiPath = ""
		}
	}
}

// asset is one file the Handler serves.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

// handler serves the embedded files.
type handler struct {
	assets map[string]*asset
	csp    string
}

// New returns an http.Handler that serves the dashboard: index.html at "/"
// (and "/index.html") and its stylesheet, scripts and icon below it, all
// embedded in the binary. Mount it at "/" or, with http.StripPrefix, under
// a prefix that ends in a slash (mux.Handle("/ui/", http.StripPrefix("/ui",
// dashboard.New()))): the page refers to its files by relative URLs.
//
// The Handler answers GET and HEAD, with 405 for other methods and 404 for
// any path that is not one of its files (directories included: it never
// lists them). Every answer carries an ETag and Cache-Control: no-cache, so
// browsers revalidate and pick up a new version at once, and a
// Content-Security-Policy that lets the page load nothing but its own files
// and talk to nothing but its own origin and the API. It owns no listener,
// starts no goroutines and registers nothing globally.
func New(opts ...Option) http.Handler {
	c := config{apiPath: DefaultAPIPath}
	for _, o := range opts {
		o(&c)
	}
	h := &handler{assets: map[string]*asset{}, csp: contentSecurityPolicy(c.apiPath)}
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic("dashboard: " + err.Error()) // the embedded tree is fixed at build time
	}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		if p == "index.html" {
			body = bytes.ReplaceAll(body, []byte(apiPathPlaceholder), []byte(html.EscapeString(c.apiPath)))
		}
		sum := sha256.Sum256(body)
		h.assets["/"+p] = &asset{body: body, ctype: contentType(p), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic("dashboard: " + err.Error())
	}
	h.assets["/"] = h.assets["/index.html"]
	return h
}

// contentType returns the media type of the file p by its extension.
func contentType(p string) string {
	switch path.Ext(p) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	}
	if t := mime.TypeByExtension(path.Ext(p)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// contentSecurityPolicy allows the page its own files, and connections to
// its own origin and to the API's, when that is another one.
func contentSecurityPolicy(apiPath string) string {
	connect := "'self'"
	if u, err := url.Parse(apiPath); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		ws := "ws"
		if u.Scheme == "https" {
			ws = "wss"
		}
		connect += " " + u.Scheme + "://" + u.Host + " " + ws + "://" + u.Host
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src " + connect + "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// ServeHTTP serves the file at r.URL.Path.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := h.assets[r.URL.Path]
	if a == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("ETag", a.etag)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	if strings.HasPrefix(a.ctype, "text/html") {
		hd.Set("Content-Security-Policy", h.csp)
		hd.Set("X-Frame-Options", "DENY")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
