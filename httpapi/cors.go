package httpapi

import (
	"net/http"
	"strings"
)

// originRule is one allowed origin: scheme and host, and a port or any.
type originRule struct {
	any     bool // "*": every origin
	scheme  string
	host    string
	port    string // "" for none
	anyPort bool
}

// defaultOrigins are the loopback origins allowed when none are configured,
// so that a browser app on another local port works out of the box.
var defaultOrigins = []originRule{
	{scheme: "http", host: "localhost", anyPort: true},
	{scheme: "http", host: "127.0.0.1", anyPort: true},
	{scheme: "http", host: "[::1]", anyPort: true},
}

// parseOriginRule parses a configured origin: "*", "scheme://host[:port]"
// or "scheme://host:*".
func parseOriginRule(s string) (originRule, bool) {
	s = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), "/")
	if s == "*" {
		return originRule{any: true}, true
	}
	if strings.HasSuffix(s, ":*") {
		scheme, host, port, ok := splitOrigin(strings.TrimSuffix(s, ":*"))
		if !ok || port != "" {
			return originRule{}, false
		}
		return originRule{scheme: scheme, host: host, anyPort: true}, true
	}
	scheme, host, port, ok := splitOrigin(s)
	if !ok {
		return originRule{}, false
	}
	return originRule{scheme: scheme, host: host, port: port}, true
}

// splitOrigin splits an origin "scheme://host[:port]" (host may be an IPv6
// literal in brackets). It rejects paths, user info, queries and empty
// parts.
func splitOrigin(o string) (scheme, host, port string, ok bool) {
	scheme, rest, found := strings.Cut(o, "://")
	if !found || scheme == "" || rest == "" || strings.ContainsAny(rest, "/?#@ ") {
		return "", "", "", false
	}
	host = rest
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return "", "", "", false
		}
		host, rest = rest[:end+1], rest[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "", "", "", false
			}
			port = rest[1:]
		}
	} else if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		host, port = rest[:i], rest[i+1:]
	}
	if host == "" || host == "[]" || (port == "" && strings.HasSuffix(rest, ":")) {
		return "", "", "", false
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return "", "", "", false
		}
	}
	return scheme, host, port, true
}

func (o originRule) match(scheme, host, port string) bool {
	if o.any {
		return true
	}
	return strings.EqualFold(scheme, o.scheme) && strings.EqualFold(host, o.host) &&
		(o.anyPort || port == o.port)
}

// originAllowed reports whether a browser at origin may call the API: it
// is the same origin as the request's Host, or it matches a rule.
func (h *core) originAllowed(r *http.Request, origin string) bool {
	scheme, host, port, ok := splitOrigin(origin)
	if !ok {
		return false
	}
	hostport := origin[len(scheme)+3:]
	if strings.EqualFold(hostport, r.Host) {
		return true
	}
	for _, rule := range h.origins {
		if rule.match(scheme, host, port) {
			return true
		}
	}
	return false
}

// corsMethods are the methods a preflight allows.
const corsMethods = "GET, HEAD, PUT, POST, PATCH, DELETE"

// corsDefaultHeaders are allowed when a preflight's header list cannot be
// echoed back.
const corsDefaultHeaders = "Authorization, Content-Type, If-Match, If-None-Match, X-Ironflow-Environment, Last-Event-ID, X-Request-Id"

// corsExposed are the response headers a browser app may read beyond the
// CORS-safelisted ones.
var corsExposed = []string{"ETag, Retry-After, X-Request-Id, WWW-Authenticate, Allow"}

// cors applies the CORS rules to a request that carries an Origin header.
// It returns true when it answered the request: a preflight, or a refusal
// of an origin that is not allowed.
func (h *core) cors(w http.ResponseWriter, r *http.Request, origin string) bool {
	if !h.originAllowed(r, origin) {
		// Refusing outright, not just omitting the CORS headers, also stops
		// cross-site "simple" requests (a form POST) from writing.
		h.writeError(w, r, http.StatusForbidden, errorBody{
			Code: codeForbidden,
			Message: "origin " + truncate(origin, 200) +
				" is not allowed to call this API; add it to the allowed origins (httpapi.WithAllowedOrigins)",
		})
		return true
	}
	hd := w.Header()
	hd["Access-Control-Allow-Origin"] = []string{origin}
	hd.Add("Vary", "Origin")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		allowHeaders := r.Header.Get("Access-Control-Request-Headers")
		if !headerList(allowHeaders) {
			allowHeaders = corsDefaultHeaders
		}
		hd.Add("Vary", "Access-Control-Request-Method")
		hd.Add("Vary", "Access-Control-Request-Headers")
		hd.Set("Access-Control-Allow-Methods", corsMethods)
		if allowHeaders != "" {
			hd.Set("Access-Control-Allow-Headers", allowHeaders)
		}
		hd.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	hd["Access-Control-Expose-Headers"] = corsExposed
	return false
}

// headerList reports whether s is a comma-separated list of header names
// that is safe to echo back in Access-Control-Allow-Headers. The origin is
// trusted by then; echoing lets instrumented browser apps (traceparent and
// the like) through without a list to maintain here.
func headerList(s string) bool {
	if s == "" || len(s) > 1024 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~, \t", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// truncate shortens s for a message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
