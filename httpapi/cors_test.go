package httpapi_test

import (
	"strings"
	"testing"

	"github.com/ironkv/ironkv/httpapi"
)

// preflight returns the headers of a CORS preflight from origin for a PUT
// with the headers the browser SDK sends.
func preflight(origin string) []string {
	return []string{"Origin: " + origin, "Access-Control-Request-Method: PUT",
		"Access-Control-Request-Headers: authorization, content-type, if-match, x-ironflow-environment"}
}

func allowsOrigin(origin string) func(t *testing.T, r resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		if got := r.header.Get("Access-Control-Allow-Origin"); got != origin {
			t.Fatalf("Access-Control-Allow-Origin %q, want %q", got, origin)
		}
		if !strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Origin") {
			t.Fatalf("Vary %q lacks Origin", r.header.Values("Vary"))
		}
	}
}

func preflightOK(origin string) func(t *testing.T, r resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		allowsOrigin(origin)(t, r)
		if m := r.header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "PUT") || !strings.Contains(m, "DELETE") {
			t.Fatalf("Access-Control-Allow-Methods %q", m)
		}
		if h := strings.ToLower(r.header.Get("Access-Control-Allow-Headers")); !strings.Contains(h, "if-match") ||
			!strings.Contains(h, "x-ironflow-environment") || !strings.Contains(h, "authorization") {
			t.Fatalf("Access-Control-Allow-Headers %q", h)
		}
	}
}

func TestCORSDefaults(t *testing.T) {
	e := newEnv(t, httpapi.WithAPIKeys("key"))
	auth := "Authorization: Bearer key"
	e.run(t, []scenario{
		{name: "preflight from a vite dev server, without a key", method: "OPTIONS", path: "/buckets/b/keys/k",
			header: preflight("http://localhost:5173"), status: 204, check: preflightOK("http://localhost:5173")},
		{name: "preflight from 127.0.0.1", method: "OPTIONS", path: "/buckets",
			header: preflight("http://127.0.0.1:3000"), status: 204, check: preflightOK("http://127.0.0.1:3000")},
		{name: "preflight from [::1]", method: "OPTIONS", path: "/buckets",
			header: preflight("http://[::1]:8080"), status: 204, check: preflightOK("http://[::1]:8080")},
		{name: "preflight from localhost without port", method: "OPTIONS", path: "/buckets",
			header: preflight("http://localhost"), status: 204},
		{name: "preflight with odd header list falls back to the known headers", method: "OPTIONS", path: "/buckets",
			header: []string{"Origin: http://localhost:1", "Access-Control-Request-Method: PUT", "Access-Control-Request-Headers: x-a;b"},
			status: 204, check: preflightOK("http://localhost:1")},
		{name: "preflight from elsewhere", method: "OPTIONS", path: "/buckets",
			header: preflight("https://evil.example"), status: 403, code: "forbidden"},
		{name: "https localhost is not a default", method: "OPTIONS", path: "/buckets",
			header: preflight("https://localhost:5173"), status: 403, code: "forbidden"},
		{name: "localhost look-alike", method: "OPTIONS", path: "/buckets",
			header: preflight("http://localhost.evil.example:80"), status: 403, code: "forbidden"},
		{name: "null origin", method: "OPTIONS", path: "/buckets", header: preflight("null"), status: 403, code: "forbidden"},
		{name: "request from localhost", method: "POST", path: "/buckets", body: `{"name":"b"}`,
			header: []string{"Origin: http://localhost:5173", auth}, status: 201,
			check: func(t *testing.T, r resp) {
				allowsOrigin("http://localhost:5173")(t, r)
				if !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "ETag") {
					t.Fatalf("Access-Control-Expose-Headers %q", r.header.Get("Access-Control-Expose-Headers"))
				}
			}},
		{name: "cross-site form post is refused", method: "POST", path: "/buckets", body: `{"name":"csrf"}`,
			header: []string{"Origin: https://evil.example", "Content-Type: text/plain", auth}, status: 403, code: "forbidden"},
		{name: "cross-site write is refused", method: "PUT", path: "/buckets/b/keys/k", body: "x",
			header: []string{"Origin: https://evil.example", auth}, status: 403, code: "forbidden"},
		{name: "nothing was written", method: "GET", path: "/buckets/csrf", header: []string{auth}, status: 404},
		{name: "error answers carry CORS headers too", method: "GET", path: "/buckets/nope",
			header: []string{"Origin: http://localhost:5173", auth}, status: 404, code: "bucket_not_found",
			check: allowsOrigin("http://localhost:5173")},
		{name: "requests without Origin are not CORS", method: "GET", path: "/buckets", header: []string{auth}, status: 200,
			check: func(t *testing.T, r resp) {
				if r.header.Get("Access-Control-Allow-Origin") != "" {
					t.Fatal("CORS header without Origin")
				}
			}},
	})
}

func TestCORSConfigured(t *testing.T) {
	e := newEnv(t, httpapi.WithAllowedOrigins("https://app.example.com", "http://dev.example.com:*", "not an origin"),
		httpapi.WithLogger(discardLogger()))
	e.run(t, []scenario{
		{name: "configured", method: "OPTIONS", path: "/buckets", header: preflight("https://app.example.com"),
			status: 204, check: preflightOK("https://app.example.com")},
		{name: "configured, case differs", method: "OPTIONS", path: "/buckets", header: preflight("https://APP.example.com"),
			status: 204},
		{name: "configured with any port", method: "OPTIONS", path: "/buckets", header: preflight("http://dev.example.com:8443"),
			status: 204},
		{name: "other port of an exact origin", method: "OPTIONS", path: "/buckets", header: preflight("https://app.example.com:8443"),
			status: 403, code: "forbidden"},
		{name: "other scheme", method: "OPTIONS", path: "/buckets", header: preflight("http://app.example.com"),
			status: 403, code: "forbidden"},
		{name: "loopback is no longer a default", method: "OPTIONS", path: "/buckets", header: preflight("http://localhost:5173"),
			status: 403, code: "forbidden"},
		{name: "same origin is always allowed", method: "GET", path: "/buckets", header: []string{"Origin: " + e.srv.URL},
			status: 200, check: allowsOrigin(e.srv.URL)},
	})
}

func TestCORSAnyOrigin(t *testing.T) {
	e := newEnv(t, httpapi.WithAllowedOrigins("*"))
	e.run(t, []scenario{
		{method: "OPTIONS", path: "/buckets", header: preflight("https://anything.example"), status: 204,
			check: preflightOK("https://anything.example")},
		{method: "GET", path: "/buckets", header: []string{"Origin: https://anything.example"}, status: 200},
	})
}
