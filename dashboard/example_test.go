package dashboard_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/ironkv/ironkv/dashboard"
)

// The dashboard at "/" of a host app, next to the API at /api/v1/kv (mount
// it with http.StripPrefix("/api/v1/kv", httpapi.New(store))).
func ExampleNew() {
	mux := http.NewServeMux()
	mux.Handle("/", dashboard.New())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	res, err := http.Get(srv.URL + "/js/app.js")
	if err != nil {
		panic(err)
	}
	res.Body.Close()
	fmt.Println(res.StatusCode, res.Header.Get("Content-Type"))
	// Output: 200 text/javascript; charset=utf-8
}

// The dashboard under /ui/ of a host app whose API is mounted at /kv.
func ExampleWithAPIPath() {
	mux := http.NewServeMux()
	mux.Handle("/ui/", http.StripPrefix("/ui", dashboard.New(dashboard.WithAPIPath("/kv"))))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	res, err := http.Get(srv.URL + "/ui/")
	if err != nil {
		panic(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for line := range strings.Lines(string(page)) {
		if strings.Contains(line, "ironkv-api") {
			fmt.Print(line)
		}
	}
	// Output: <meta name="ironkv-api" content="/kv">
}

// The dashboard of a host app that mounts the Config API under /settings
// and serves no Secrets API: the page calls /settings and /settings/{name},
// and hides the Secrets tab.
func ExampleWithSecretsPath() {
	ui := dashboard.New(dashboard.WithConfigPath("/settings"), dashboard.WithSecretsPath(""))
	rec := httptest.NewRecorder()
	ui.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	for line := range strings.Lines(rec.Body.String()) {
		if strings.Contains(line, "ironkv-config-api") || strings.Contains(line, "ironkv-secrets-api") {
			fmt.Print(line)
		}
	}
	// Output:
	// <meta name="ironkv-config-api" content="/settings">
	// <meta name="ironkv-secrets-api" content="">
}
