package main

import "net/http"

// homePage is the placeholder served at "/" until the dashboard exists:
// one static page that links to the health check and the API.
const homePage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ironkv</title>
</head>
<body>
<h1>ironkv</h1>
<p>The server is running. A web dashboard will be served here in a later version.</p>
<ul>
<li><a href="/health">/health</a>: liveness</li>
<li><a href="/ready">/ready</a>: readiness (NATS connected, JetStream answering)</li>
<li><a href="/metrics">/metrics</a>: Prometheus metrics</li>
<li><a href="/api/v1/kv/buckets">/api/v1/kv/buckets</a>: the KV API (send <code>Authorization: Bearer &lt;key&gt;</code> when API keys are set)</li>
</ul>
</body>
</html>
`

// placeholderHome serves homePage at exactly "/" and 404 below it.
func placeholderHome() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write([]byte(homePage))
	})
}
