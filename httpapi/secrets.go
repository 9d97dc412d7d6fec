package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/secrets"
)

// SecretsHandler serves the Secrets API of the Ironflow platform on a
// secrets.Secrets: metadata in, metadata out, values write-only. Make one
// with NewSecrets; it is safe for concurrent use.
type SecretsHandler struct {
	core
	secrets *secrets.Secrets // nil: no master key
}

// NewSecrets returns a SecretsHandler that serves the secrets of s, with
// routes relative to "/" (POST and GET /secrets, and GET, PUT, PATCH and
// DELETE /secrets/{name}; see the package doc). The server binary mounts it
// with http.StripPrefix("/api/v1", ...) for the paths under
// /api/v1/secrets. The options are those of New: API keys, allowed origins,
// body limit, logger and observer.
//
// No route ever answers with a secret's value, and nothing the handler
// logs holds one: values go in, and only metadata (secrets.Info) comes out.
//
// A nil s stands for a server without a master key: every route then
// answers, after the API key, origin and method checks, 503 with code
// "no_master_key" and the text of secrets.ErrNoMasterKey, which says how to
// set a key. The handler holds no watch connection and needs no Close.
// NewSecrets returns no error: an option value that cannot be used is
// ignored with a warning in the log.
func NewSecrets(s *secrets.Secrets, opts ...Option) *SecretsHandler {
	o := newOptions(opts)
	h := &SecretsHandler{secrets: s}
	h.init(&o)
	for _, r := range []struct {
		pattern string
		fn      route
	}{
		{"POST /secrets", h.createSecret},
		{"GET /secrets", h.listSecrets},
		{"GET /secrets/{name}", h.getSecret},
		{"PUT /secrets/{name}", h.putSecret},
		{"PATCH /secrets/{name}", h.patchSecret},
		{"DELETE /secrets/{name}", h.deleteSecret},
	} {
		h.handle(r.pattern, h.keyed(r.fn))
	}
	h.notAllowed("/secrets", "GET, HEAD, POST")
	h.notAllowed("/secrets/{name}", "GET, HEAD, PUT, PATCH, DELETE")
	h.handle("/", notFound)
	return h
}

// ServeHTTP answers one request of the Secrets API. It never redirects;
// panics are recovered as in Handler.ServeHTTP.
func (h *SecretsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.serveHTTP(w, r) }

// keyed wraps a route: without a master key it answers 503, and its
// answers are never stored by caches.
func (h *SecretsHandler) keyed(fn route) route {
	return func(w http.ResponseWriter, r *http.Request) (target, error) {
		w.Header()["Cache-Control"] = noStore
		if h.secrets == nil {
			return target{kind: kindSecret}, secrets.ErrNoMasterKey
		}
		return fn(w, r)
	}
}

var noStore = []string{"no-store"}

// secretTarget is nameTarget for /secrets/{name}.
func secretTarget(r *http.Request) (target, error) {
	return nameTarget(r, kindSecret, secrets.ValidateName)
}

// createSecret serves POST /secrets: {"name","value","description"?} in,
// 201 and the new secret's metadata out; 409 when it exists.
func (h *SecretsHandler) createSecret(w http.ResponseWriter, r *http.Request) (target, error) {
	t, err := envTarget(r, kindSecret)
	if err != nil {
		return t, err
	}
	env := t.bucket
	req, err := h.readSecret(w, r, fieldName|fieldValue|fieldDescription)
	if err != nil {
		return t, err
	}
	defer clear(req.value)
	if !req.has(fieldName) {
		return t, badRequest(`the request body has no "name"; send {"name":..., "value":..., "description":...}`)
	}
	if !req.has(fieldValue) {
		return t, badRequest(`the request body has no "value"; send {"name":..., "value":..., "description":...}`)
	}
	t.key = req.name
	if err := secrets.ValidateName(t.key); err != nil {
		return t, err
	}
	desc := ""
	if req.description != nil {
		desc = *req.description
	}
	info, err := h.secrets.Create(r.Context(), env, req.name, req.value, desc)
	if errors.Is(err, kv.ErrConflict) {
		// The KV API's 412 is for a failed condition; creating a secret
		// that exists is a 409, as in Ironflow and Vault.
		return t, &apiError{http.StatusConflict, codeSecretExists,
			fmt.Sprintf("secret %q already exists in environment %q; PUT /secrets/%s replaces its value", t.key, env, t.key)}
	}
	if err != nil {
		return t, err
	}
	writeJSON(w, http.StatusCreated, info)
	return t, nil
}

// listSecrets serves GET /secrets: the metadata of every secret of the
// environment, sorted by name, as a bare JSON array.
func (h *SecretsHandler) listSecrets(w http.ResponseWriter, r *http.Request) (target, error) {
	t, err := envTarget(r, kindSecret)
	if err != nil {
		return t, err
	}
	list, err := h.secrets.List(r.Context(), t.bucket)
	if err != nil {
		return t, err
	}
	if list == nil {
		list = []secrets.Info{}
	}
	writeJSON(w, http.StatusOK, list)
	return t, nil
}

// getSecret serves GET /secrets/{name}: the secret's metadata, never its
// value.
func (h *SecretsHandler) getSecret(w http.ResponseWriter, r *http.Request) (target, error) {
	t, err := secretTarget(r)
	if err != nil {
		return t, err
	}
	info, err := h.secrets.Info(r.Context(), t.bucket, t.key)
	if err != nil {
		return t, err
	}
	writeJSON(w, http.StatusOK, info)
	return t, nil
}

// putSecret serves PUT /secrets/{name}: {"value","description"?} sets the
// value, creating the secret when absent; without "description" the
// description stays as it is.
func (h *SecretsHandler) putSecret(w http.ResponseWriter, r *http.Request) (target, error) {
	t, err := secretTarget(r)
	if err != nil {
		return t, err
	}
	req, err := h.readSecret(w, r, fieldName|fieldValue|fieldDescription)
	if err != nil {
		return t, err
	}
	defer clear(req.value)
	if err := req.sameName(t.key); err != nil {
		return t, err
	}
	if !req.has(fieldValue) {
		return t, badRequest(`the request body has no "value"; send {"value":..., "description":...}`)
	}
	info, err := h.secrets.Put(r.Context(), t.bucket, t.key, req.value, req.description)
	if err != nil {
		return t, err
	}
	writeJSON(w, http.StatusOK, info)
	return t, nil
}

// patchSecret serves PATCH /secrets/{name}: {"description"?} changes the
// description and leaves the value as it is. Without "description" (or
// with an empty body) it changes nothing and answers the metadata.
func (h *SecretsHandler) patchSecret(w http.ResponseWriter, r *http.Request) (target, error) {
	t, err := secretTarget(r)
	if err != nil {
		return t, err
	}
	req, err := h.readSecret(w, r, fieldName|fieldDescription)
	if err != nil {
		return t, err
	}
	if err := req.sameName(t.key); err != nil {
		return t, err
	}
	var info secrets.Info
	if req.description == nil {
		info, err = h.secrets.Info(r.Context(), t.bucket, t.key)
	} else {
		info, err = h.secrets.SetDescription(r.Context(), t.bucket, t.key, *req.description)
	}
	if err != nil {
		return t, err
	}
	writeJSON(w, http.StatusOK, info)
	return t, nil
}

// deleteSecret serves DELETE /secrets/{name}: 204, also when the secret
// does not exist. The secret is purged, history and all.
func (h *SecretsHandler) deleteSecret(w http.ResponseWriter, r *http.Request) (target, error) {
	t, err := secretTarget(r)
	if err != nil {
		return t, err
	}
	if err := h.secrets.Delete(r.Context(), t.bucket, t.key); err != nil {
		return t, err
	}
	w.WriteHeader(http.StatusNoContent)
	return t, nil
}

// The fields of a secret request body.
type secretField uint8

const (
	fieldName secretField = 1 << iota
	fieldValue
	fieldDescription
)

var secretFields = []struct {
	field secretField
	name  string
}{{fieldName, "name"}, {fieldValue, "value"}, {fieldDescription, "description"}}

// secretRequest is a decoded secret request body.
type secretRequest struct {
	seen        secretField
	name        string
	value       []byte
	description *string // nil when absent or null
}

func (q *secretRequest) has(f secretField) bool { return q.seen&f != 0 }

// sameName checks that a "name" in the body of a request to
// /secrets/{name} is the name of the path.
func (q *secretRequest) sameName(path string) error {
	if q.has(fieldName) && q.name != path {
		return badRequest(`the "name" of the request body is not the secret of the path, %q; leave it out`, path)
	}
	return nil
}

// readSecret reads and decodes the JSON body of a secret request, whose
// fields may be those of allowed: "name" and "value" strings, and
// "description", a string or null. An empty body is {} for PATCH.
//
// The body holds a secret value, so no error quotes any of it: not the
// value, and not the bytes around a syntax error (encoding/json's own
// messages would), only positions and field names. The body is cleared
// once decoded. It is strict, as the bucket config is: unknown and
// repeated fields, other JSON types and data after the object are 400s.
func (h *SecretsHandler) readSecret(w http.ResponseWriter, r *http.Request, allowed secretField) (secretRequest, error) {
	var q secretRequest
	body, err := h.readBody(w, r, h.maxBody, "secret")
	if err != nil {
		return q, err
	}
	defer clear(body)
	if len(bytes.TrimSpace(body)) == 0 {
		if r.Method == http.MethodPatch {
			return q, nil
		}
		return q, badRequest("the request body is empty; send a JSON object")
	}
	if !utf8.Valid(body) {
		return q, badRequest("the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	bad := func(what string) error {
		return badRequest("the request body is not a valid JSON object: %s at byte %d", what, dec.InputOffset())
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return q, badRequest("the request body must be a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return q, bad("a syntax error")
		}
		key, _ := tok.(string) // object keys are always strings
		var f secretField
		for _, sf := range secretFields {
			if sf.name == key && allowed&sf.field != 0 {
				f = sf.field
			}
		}
		if f == 0 && key == "value" {
			return q, badRequest(`PATCH changes only the description of a secret; PUT /secrets/{name} sets its value`)
		}
		if f == 0 {
			return q, badRequest("the request body has an unknown field at byte %d; the fields are %s", dec.InputOffset(), fieldList(allowed))
		}
		if q.has(f) {
			return q, badRequest("field %q appears twice in the request body", key)
		}
		q.seen |= f
		tok, err = dec.Token()
		if err != nil {
			return q, bad("a syntax error")
		}
		s, isString := tok.(string)
		switch {
		case tok == nil && f == fieldDescription:
			// null: no description given.
		case !isString:
			if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') {
				return q, badRequest("field %q must be a JSON string, not an object or array", key)
			}
			return q, badRequest("field %q must be a JSON string", key)
		case f == fieldName:
			q.name = s
		case f == fieldValue:
			q.value = []byte(s)
		default:
			q.description = &s
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return q, bad("a syntax error")
	}
	if _, err := dec.Token(); err != io.EOF {
		return q, badRequest("the request body has data after the JSON object")
	}
	return q, nil
}

// fieldList names the fields of allowed, for messages.
func fieldList(allowed secretField) string {
	var b []byte
	for _, sf := range secretFields {
		if allowed&sf.field != 0 {
			if len(b) > 0 {
				b = append(b, ", "...)
			}
			b = append(b, sf.name...)
		}
	}
	return string(b)
}
