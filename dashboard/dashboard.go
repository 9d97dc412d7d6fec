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

// DefaultConfigPath is where the dashboard looks for the Config API when New
// is given no WithConfigPath: the mount point of examples/server.
const DefaultConfigPath = "/api/v1/config"

// DefaultSecretsPath is where the dashboard looks for the Secrets API when
// New is given no WithSecretsPath: the mount point of examples/server.
const DefaultSecretsPath = "/api/v1/secrets"

//go:embed static
var staticFiles embed.FS

// The placeholders of index.html that New replaces by the API paths.
const (
	apiPathPlaceholder     = "{{IRONKV_API_PATH}}"
	configPathPlaceholder  = "{{IRONKV_CONFIG_PATH}}"
	secretsPathPlaceholder = "{{IRONKV_SECRETS_PATH}}"
)

// config is what the Options of New set.
type config struct {
	apiPath     string
	configPath  string // "" hides the Config pages; "/" is the root
	secretsPath string // "" hides the Secrets pages; "/" is the root
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

// WithConfigPath tells the page where the Config API is: the URL that
// answers GET /config of httpapi.NewConfig, below which /{name} are the
// documents. It is an absolute path on the same server, such as
// "/api/v1/config" (the default, DefaultConfigPath, where examples/server
// mounts it), or an absolute http or https URL of another server, which
// must allow the dashboard's origin. A trailing slash is ignored. The empty
// string hides the Config tab and its pages, for a server without them.
func WithConfigPath(prefix string) Option {
	return func(c *config) { c.configPath = servicePath(prefix) }
}

// WithSecretsPath tells the page where the Secrets API is, as
// WithConfigPath does for Config: the URL that answers GET /secrets of
// httpapi.NewSecrets, "/api/v1/secrets" by default (DefaultSecretsPath).
// The empty string hides the Secrets tab and its pages.
func WithSecretsPath(prefix string) Option {
	return func(c *config) { c.secretsPath = servicePath(prefix) }
}

// servicePath is the path written into the page for an optional API: ""
// for none, "/" for the root, otherwise prefix without its trailing slashes.
func servicePath(prefix string) string {
	if prefix == "" {
		return ""
	}
	if p := strings.TrimRight(prefix, "/"); p != "" {
		return p
	}
	return "/"
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
// and talk to nothing but its own origin and the APIs. It owns no listener,
// starts no goroutines and registers nothing globally.
func New(opts ...Option) http.Handler {
	c := config{apiPath: DefaultAPIPath, configPath: DefaultConfigPath, secretsPath: DefaultSecretsPath}
	for _, o := range opts {
		o(&c)
	}
	h := &handler{assets: map[string]*asset{}, csp: contentSecurityPolicy(c.apiPath, c.configPath, c.secretsPath)}
	paths := strings.NewReplacer(
		apiPathPlaceholder, html.EscapeString(c.apiPath),
		configPathPlaceholder, html.EscapeString(c.configPath),
		secretsPathPlaceholder, html.EscapeString(c.secretsPath))
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
			body = []byte(paths.Replace(string(body)))
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
// its own origin and to the origins of the APIs, when they are other ones.
func contentSecurityPolicy(apiPaths ...string) string {
	connect := "'self'"
	seen := map[string]bool{}
	for _, p := range apiPaths {
		u, err := url.Parse(p)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || seen[u.Scheme+"://"+u.Host] {
			continue
		}
		seen[u.Scheme+"://"+u.Host] = true
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
