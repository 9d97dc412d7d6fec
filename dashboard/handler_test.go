package dashboard_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ironkv/ironkv/dashboard"
)

func get(t *testing.T, h http.Handler, method, path string, hdr ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandlerFiles(t *testing.T) {
	h := dashboard.New()
	tests := []struct {
		path, ctype, contains string
	}{
		{"/", "text/html; charset=utf-8", `<meta name="ironkv-api" content="/api/v1/kv">`},
		{"/index.html", "text/html; charset=utf-8", `<script type="module" src="js/app.js">`},
		{"/app.css", "text/css; charset=utf-8", ":root"},
		{"/favicon.svg", "image/svg+xml", "<svg"},
		{"/js/app.js", "text/javascript; charset=utf-8", "import"},
		{"/js/api.js", "text/javascript; charset=utf-8", "Authorization"},
		{"/js/live.js", "text/javascript; charset=utf-8", "WebSocket"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res := get(t, h, "GET", tt.path)
			b := body(t, res)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", res.StatusCode)
			}
			if got := res.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type %q, want %q", got, tt.ctype)
			}
			if !strings.Contains(b, tt.contains) {
				t.Errorf("body does not contain %q", tt.contains)
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no X-Content-Type-Options: nosniff")
			}
			if res.Header.Get("ETag") == "" || res.Header.Get("Cache-Control") != "no-cache" {
				t.Errorf("ETag %q, Cache-Control %q: want an ETag and no-cache", res.Header.Get("ETag"), res.Header.Get("Cache-Control"))
			}
		})
	}
}

func TestHandlerNotFound(t *testing.T) {
	h := dashboard.New()
	for _, p := range []string{"/nope", "/js/", "/js", "/static/index.html", "/static/", "/js/nope.js", "/index.htm", "/../dashboard.go", "/app.css/"} {
		t.Run(p, func(t *testing.T) {
			res := get(t, h, "GET", p)
			b := body(t, res)
			if res.StatusCode != http.StatusNotFound {
				t.Fatalf("status %d, want 404", res.StatusCode)
			}
			if strings.Contains(b, "<a href") || strings.Contains(b, "app.js") {
				t.Errorf("404 body lists files: %q", b)
			}
		})
	}
}

func TestHandlerMethods(t *testing.T) {
	h := dashboard.New()
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		res := get(t, h, m, "/")
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /: status %d, Allow %q; want 405 and GET, HEAD", m, res.StatusCode, res.Header.Get("Allow"))
		}
	}
	res := get(t, h, "HEAD", "/js/app.js")
	if b := body(t, res); res.StatusCode != http.StatusOK || b != "" || res.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("HEAD: status %d, %d body bytes, Content-Type %q", res.StatusCode, len(b), res.Header.Get("Content-Type"))
	}
}

func TestHandlerRevalidation(t *testing.T) {
	h := dashboard.New()
	etag := get(t, h, "GET", "/js/app.js").Header.Get("ETag")
	res := get(t, h, "GET", "/js/app.js", "If-None-Match", etag)
	if res.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match %s: status %d, want 304", etag, res.StatusCode)
	}
}

func TestHandlerSecurityHeaders(t *testing.T) {
	res := get(t, dashboard.New(), "GET", "/")
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "http") {
		t.Errorf("Content-Security-Policy %q allows inline code or another origin", csp)
	}
}

func TestWithAPIPath(t *testing.T) {
	tests := []struct {
		prefix, meta, csp string
	}{
		{"", `content="/api/v1/kv"`, "connect-src 'self';"},
		{"/kv/", `content="/kv"`, "connect-src 'self';"},
		{"/", `content=""`, "connect-src 'self';"},
		{`/x"><script>alert(1)</script>`, `content="/x&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`, "connect-src 'self';"},
		{"https://kv.example.com/api/v1/kv", `content="https://kv.example.com/api/v1/kv"`, "connect-src 'self' https://kv.example.com wss://kv.example.com;"},
		{"http://127.0.0.1:9123/api/v1/kv", `content="http://127.0.0.1:9123/api/v1/kv"`, "connect-src 'self' http://127.0.0.1:9123 ws://127.0.0.1:9123;"},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			res := get(t, dashboard.New(dashboard.WithAPIPath(tt.prefix)), "GET", "/")
			b := body(t, res)
			if !strings.Contains(b, `<meta name="ironkv-api" `+tt.meta+`>`) {
				t.Errorf("page lacks the meta tag with %s:\n%s", tt.meta, b)
			}
			if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, tt.csp) {
				t.Errorf("Content-Security-Policy %q lacks %q", csp, tt.csp)
			}
		})
	}
}

// TestHandlerUnderPrefix mounts the dashboard below a prefix, as a host app
// would, and checks that the page refers to its files relatively.
func TestHandlerUnderPrefix(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/ui/", http.StripPrefix("/ui", dashboard.New()))
	for _, p := range []string{"/ui/", "/ui/app.css", "/ui/js/app.js"} {
		if res := get(t, mux, "GET", p); res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", p, res.StatusCode)
		}
	}
	page := body(t, get(t, mux, "GET", "/ui/"))
	for _, m := range regexp.MustCompile(`(?:href|src)="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		if strings.HasPrefix(m[1], "/") || strings.Contains(m[1], "//") {
			t.Errorf("index.html refers to %q, not a relative URL", m[1])
		}
	}
}

// TestLinksResolve checks that every file index.html names and every module
// a script imports is served, so that a renamed file cannot break the page
// unnoticed; and that nothing is loaded from another origin.
func TestLinksResolve(t *testing.T) {
	h := dashboard.New()
	page := body(t, get(t, h, "GET", "/"))
	var files []string
	for _, m := range regexp.MustCompile(`(?:href|src)="([^"#][^"]*)"`).FindAllStringSubmatch(page, -1) {
		files = append(files, "/"+m[1])
	}
	importRE := regexp.MustCompile(`(?m)^(?:import|export) [^;]*? from '([^']+)';|^import '([^']+)';`)
	for i := 0; i < len(files); i++ {
		res := get(t, h, "GET", files[i])
		b := body(t, res)
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d, want 200", files[i], res.StatusCode)
			continue
		}
		if c := strings.ReplaceAll(b, `xmlns="http://www.w3.org/2000/svg"`, ""); strings.Contains(c, "https://") || strings.Contains(c, "http://") {
			t.Errorf("%s names another origin", files[i])
		}
		if !strings.HasSuffix(files[i], ".js") {
			continue
		}
		dir := files[i][:strings.LastIndex(files[i], "/")+1]
		for _, m := range importRE.FindAllStringSubmatch(b, -1) {
			p := m[1] + m[2]
			if !strings.HasPrefix(p, "./") {
				t.Errorf("%s imports %q, not a relative module", files[i], p)
				continue
			}
			f := dir + strings.TrimPrefix(p, "./")
			if !slices.Contains(files, f) {
				files = append(files, f)
			}
		}
	}
	if len(files) < 8 {
		t.Errorf("found only %v; the import scan is broken", files)
	}
}

// TestServicePaths checks the paths of the Config and Secrets APIs that the
// Handler writes into the page: the defaults, a path of the host's, the
// root, "" (which hides the tab) and an API on another origin, which the
// Content-Security-Policy must let the page reach.
func TestServicePaths(t *testing.T) {
	tests := []struct {
		name          string
		opts          []dashboard.Option
		config, secr  string
		csp, cspNotIn string
	}{
		{"defaults", nil, `content="/api/v1/config"`, `content="/api/v1/secrets"`, "connect-src 'self';", "http"},
		{"host paths", []dashboard.Option{dashboard.WithConfigPath("/settings/"), dashboard.WithSecretsPath("/vault")},
			`content="/settings"`, `content="/vault"`, "connect-src 'self';", "http"},
		{"root", []dashboard.Option{dashboard.WithConfigPath("/"), dashboard.WithSecretsPath("///")},
			`content="/"`, `content="/"`, "connect-src 'self';", "http"},
		{"hidden", []dashboard.Option{dashboard.WithConfigPath(""), dashboard.WithSecretsPath("")},
			`content=""`, `content=""`, "connect-src 'self';", "http"},
		{"escaped", []dashboard.Option{dashboard.WithConfigPath(`/c"><script>`)},
			`content="/c&#34;&gt;&lt;script&gt;"`, `content="/api/v1/secrets"`, "connect-src 'self';", "http"},
		{"other origins", []dashboard.Option{
			dashboard.WithConfigPath("https://cfg.example.com/api/v1/config"),
			dashboard.WithSecretsPath("https://cfg.example.com/api/v1/secrets"),
			dashboard.WithAPIPath("http://127.0.0.1:9123/api/v1/kv"),
		},
			`content="https://cfg.example.com/api/v1/config"`, `content="https://cfg.example.com/api/v1/secrets"`,
			"connect-src 'self' http://127.0.0.1:9123 ws://127.0.0.1:9123 https://cfg.example.com wss://cfg.example.com;", "cfg.example.com https://cfg.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, dashboard.New(tt.opts...), "GET", "/")
			b := body(t, res)
			for _, want := range []string{`<meta name="ironkv-config-api" ` + tt.config + `>`, `<meta name="ironkv-secrets-api" ` + tt.secr + `>`} {
				if !strings.Contains(b, want) {
					t.Errorf("page lacks %s", want)
				}
			}
			if strings.Contains(b, "{{") {
				t.Error("page keeps a placeholder")
			}
			csp := res.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, tt.csp) {
				t.Errorf("Content-Security-Policy %q lacks %q", csp, tt.csp)
			}
			if tt.cspNotIn == "http" && strings.Contains(csp, "http") || tt.cspNotIn != "http" && strings.Contains(csp, tt.cspNotIn) {
				t.Errorf("Content-Security-Policy %q allows %q", csp, tt.cspNotIn)
			}
		})
	}
}
