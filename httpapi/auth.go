package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
)

// apiKeys holds the SHA-256 digests of the accepted API keys. Comparing
// fixed-length digests keeps the comparison's time independent of the
// keys' lengths and contents.
type apiKeys struct {
	on      bool
	digests [][sha256.Size]byte
}

func newAPIKeys(set bool, keys []string) apiKeys {
	k := apiKeys{on: set}
	for _, key := range keys {
		if key != "" {
			k.digests = append(k.digests, sha256.Sum256([]byte(key)))
		}
	}
	return k
}

// check reports whether r carries a valid key, or no key is required. It
// compares against every key, with no early exit, so that the time taken
// does not tell which key (if any) matched.
func (k *apiKeys) check(r *http.Request) bool {
	if !k.on {
		return true
	}
	token, ok := bearer(r.Header.Get("Authorization"))
	return ok && k.match(token)
}

// checkStream is check for the watch routes, which also accept the key as
// ?token=, since browsers cannot give a WebSocket or an EventSource
// headers.
func (k *apiKeys) checkStream(r *http.Request) bool {
	if k.check(r) {
		return true
	}
	token := query(r, "token")
	return token != "" && k.match(token)
}

// match reports whether token is one of the keys.
func (k *apiKeys) match(token string) bool {
	d := sha256.Sum256([]byte(token))
	match := 0
	for i := range k.digests {
		match |= subtle.ConstantTimeCompare(d[:], k.digests[i][:])
	}
	return match == 1
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
// The scheme is case-insensitive (RFC 9110); the token may not be empty.
func bearer(h string) (string, bool) {
	const scheme = "bearer "
	if len(h) <= len(scheme) {
		return "", false
	}
	for i := 0; i < len(scheme); i++ {
		c := h[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != scheme[i] {
			return "", false
		}
	}
	token := h[len(scheme):]
	for len(token) > 0 && token[0] == ' ' {
		token = token[1:]
	}
	return token, token != ""
}

// errUnauthorized is the answer to a request without a valid key.
var errUnauthorized = &apiError{http.StatusUnauthorized, codeUnauthorized,
	`missing or invalid API key; send it as "Authorization: Bearer <key>"`}

// errUnauthorizedStream is errUnauthorized for the watch routes.
var errUnauthorizedStream = &apiError{http.StatusUnauthorized, codeUnauthorized,
	`missing or invalid API key; send it as "Authorization: Bearer <key>" or as ?token=<key>`}
