package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/ironkv/ironkv/config"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/secrets"
)

// The error codes of the API, the "code" field of every error body.
const (
	codeInvalidArgument  = "invalid_argument"
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeNotFound         = "not_found"
	codeBucketNotFound   = "bucket_not_found"
	codeKeyNotFound      = "key_not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeBucketExists     = "bucket_exists"
	codeBucketFull       = "bucket_full"
	codeConflict         = "conflict"
	codeTooLarge         = "too_large"
	codeUnavailable      = "unavailable"
	codeInternal         = "internal"
	codeSecretExists     = "secret_exists"
	codeNoMasterKey      = "no_master_key"
	codeDecryptFailed    = "decrypt_failed"
)

// statusClientClosed is the status recorded (and sent, to nobody) when the
// client went away before the answer: nginx's 499.
const statusClientClosed = 499

// errorTable is the one place where the errors of kv, config and secrets
// become HTTP statuses. The first row whose sentinel matches with errors.Is
// wins; an error that matches none is a 500. A route may answer otherwise
// before it gets here: POST /secrets turns kv.ErrConflict into 409
// secret_exists (see createSecret).
var errorTable = []struct {
	sentinel error
	status   int
	code     string
}{
	{kv.ErrInvalidKey, http.StatusBadRequest, codeInvalidArgument},
	{kv.ErrInvalidBucketName, http.StatusBadRequest, codeInvalidArgument},
	{kv.ErrInvalidConfig, http.StatusBadRequest, codeInvalidArgument},
	{kv.ErrBucketNotFound, http.StatusNotFound, codeBucketNotFound},
	{kv.ErrKeyNotFound, http.StatusNotFound, codeKeyNotFound},
	{kv.ErrBucketExists, http.StatusConflict, codeBucketExists},
	{kv.ErrConflict, http.StatusPreconditionFailed, codeConflict},
	{kv.ErrValueTooLarge, http.StatusRequestEntityTooLarge, codeTooLarge},
	{kv.ErrBucketFull, http.StatusConflict, codeBucketFull},
	{config.ErrNotObject, http.StatusBadRequest, codeInvalidArgument},
	{config.ErrInvalidCondition, http.StatusBadRequest, codeInvalidArgument},
	{secrets.ErrInvalidSecret, http.StatusBadRequest, codeInvalidArgument},
	{secrets.ErrNoMasterKey, http.StatusServiceUnavailable, codeNoMasterKey},
	{secrets.ErrDecrypt, http.StatusInternalServerError, codeDecryptFailed},
	{kv.ErrUnavailable, http.StatusServiceUnavailable, codeUnavailable},
	{kv.ErrClosed, http.StatusServiceUnavailable, codeUnavailable},
}

// apiError is an error the handler itself decides on (bad input, auth,
// routing), with its status and code.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, codeInvalidArgument, fmt.Sprintf(format, args...)}
}

// target names what a request was about, for error messages: a key of a
// bucket, or for kind config and secret a document or a secret (key) of an
// environment (bucket).
type target struct {
	bucket string
	key    string
	limit  int // the bucket's value limit, when known
	kind   targetKind
}

// targetKind says what the bucket and key of a target are.
type targetKind uint8

const (
	kindKV targetKind = iota
	kindConfig
	kindSecret
)

// nouns returns the words for t's key and bucket: "key" and "bucket", or
// "config" or "secret" and "environment".
func (t target) nouns() (key, bucket string) {
	switch t.kind {
	case kindConfig:
		return "config", "environment"
	case kindSecret:
		return "secret", "environment"
	}
	return "key", "bucket"
}

// errorBody is the JSON body of every error response. error and message
// carry the same text: the Go and JavaScript SDKs read "error", the Python
// SDK reads "message" and "code".
type errorBody struct {
	Error     string `json:"error"`
	Message   string `json:"message"`
	Code      string `json:"code"`
	Revision  uint64 `json:"revision,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// fail answers r with the error err: its status and code from errorTable
// or the apiError, a message that names the bucket and key of t, and for
// anything unknown a 500 with a generic message and a request id, the real
// error going to the log.
func (h *core) fail(w http.ResponseWriter, r *http.Request, err error, t target) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if r.Context().Err() != nil {
			// The client went away (or its deadline passed): nobody reads
			// an answer.
			w.WriteHeader(statusClientClosed)
			return
		}
		// A deadline of the store's own (nats.go's default request
		// timeout): the store did not answer in time.
		err = fmt.Errorf("%w: %w", kv.ErrUnavailable, err)
	}
	var ae *apiError
	if errors.As(err, &ae) {
		h.writeError(w, r, ae.status, errorBody{Message: ae.msg, Code: ae.code})
		return
	}
	for _, row := range errorTable {
		if errors.Is(err, row.sentinel) {
			body := errorBody{Message: message(err, row.sentinel, t), Code: row.code}
			var ce *kv.ConflictError
			if errors.As(err, &ce) {
				body.Revision = ce.Revision
			}
			attrs := []any{"method", r.Method, "path", r.URL.EscapedPath(), "status", row.status, "err", err}
			switch {
			case row.code == codeUnavailable:
				// Retrying can help; without a master key it cannot.
				w.Header().Set("Retry-After", "1")
			case row.status == http.StatusInternalServerError:
				id := h.requestID(r)
				w.Header().Set("X-Request-Id", id)
				body.RequestID = id
				body.Message += "; the server log has the details under request id " + id
				attrs = append(attrs, "request_id", id)
			}
			level := levelFor(row.status)
			if row.code == codeNoMasterKey {
				// The state of the server, not a failure: its host says so
				// once, not once per request.
				level = slog.LevelDebug
			}
			if h.log.Enabled(r.Context(), level) {
				h.log.Log(r.Context(), level, "httpapi: request failed", attrs...)
			}
			h.writeError(w, r, row.status, body)
			return
		}
	}
	id := h.requestID(r)
	h.log.ErrorContext(r.Context(), "httpapi: internal error",
		"request_id", id, "method", r.Method, "path", r.URL.EscapedPath(), "err", err)
	w.Header().Set("X-Request-Id", id)
	h.writeError(w, r, http.StatusInternalServerError, errorBody{
		Message:   "internal error; the server log has the details under request id " + id,
		Code:      codeInternal,
		RequestID: id,
	})
}

func levelFor(status int) slog.Level {
	switch {
	case status == http.StatusInternalServerError:
		return slog.LevelError
	case status >= 500:
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

// message is the text of an error of the table for the client. Validation
// errors keep their own words, which name the value and show the fix; the
// others are rephrased from t so that no NATS wording leaks. None of them
// holds a secret value: package secrets puts none in its errors.
func message(err, sentinel error, t target) string {
	key, bucket := t.nouns()
	switch sentinel {
	case kv.ErrInvalidKey, kv.ErrInvalidBucketName, kv.ErrInvalidConfig,
		config.ErrNotObject, config.ErrInvalidCondition, secrets.ErrInvalidSecret, secrets.ErrNoMasterKey:
		return err.Error()
	case secrets.ErrDecrypt:
		// Every cause is the one generic error: say what may be wrong, never
		// which it is.
		const why = " cannot be decrypted: the server's keyring lacks the key that sealed it, or the stored record was changed"
		if t.key == "" {
			return fmt.Sprintf("a secret in %s %q", bucket, t.bucket) + why
		}
		return fmt.Sprintf("%s %q in %s %q", key, t.key, bucket, t.bucket) + why
	case kv.ErrBucketNotFound:
		return fmt.Sprintf("%s %q not found", bucket, t.bucket)
	case kv.ErrKeyNotFound:
		return fmt.Sprintf("%s %q not found in %s %q", key, t.key, bucket, t.bucket)
	case kv.ErrBucketExists:
		return fmt.Sprintf("%s %q already exists", bucket, t.bucket)
	case kv.ErrConflict:
		var ce *kv.ConflictError
		if !errors.As(err, &ce) {
			return fmt.Sprintf("revision conflict: %s %q in %s %q is not at the expected revision", key, t.key, bucket, t.bucket)
		}
		if ce.Expected == 0 {
			msg := fmt.Sprintf("revision conflict: %s %q in %s %q already has a value", key, t.key, bucket, t.bucket)
			if ce.Revision != 0 {
				msg += " at revision " + strconv.FormatUint(ce.Revision, 10)
			}
			return msg + "; If-None-Match: * creates only " + key + "s without one"
		}
		msg := fmt.Sprintf("revision conflict: %s %q in %s %q is not at revision %d", key, t.key, bucket, t.bucket, ce.Expected)
		if ce.Revision != 0 {
			return msg + "; its current revision is " + strconv.FormatUint(ce.Revision, 10)
		}
		return msg + "; it has no value"
	case kv.ErrValueTooLarge:
		if t.limit > 0 {
			return fmt.Sprintf("value for %s %q is over the limit of %s %q, %d bytes", key, t.key, bucket, t.bucket, t.limit)
		}
		return fmt.Sprintf("value for %s %q is too large for %s %q", key, t.key, bucket, t.bucket)
	case kv.ErrBucketFull:
		return fmt.Sprintf("%s %q is full: it reached its max_bytes; delete or purge keys, or raise max_bytes", bucket, t.bucket)
	case kv.ErrClosed:
		return "the store is closed; retry later"
	}
	return "the store is unavailable; retry later"
}

// writeError writes an error body with status.
func (h *core) writeError(w http.ResponseWriter, r *http.Request, status int, body errorBody) {
	body.Error = body.Message
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ironkv"`)
	}
	writeJSON(w, status, body)
}

// writeJSON writes v as the JSON body of a response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types reach here, and they always marshal.
		b = []byte(`{"error":"internal error","message":"internal error","code":"internal"}`)
		status = http.StatusInternalServerError
	}
	b = append(b, '\n')
	hd := w.Header()
	hd["Content-Type"] = contentTypeJSON
	hd["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

var contentTypeJSON = []string{"application/json"}

// requestID returns the id that ties a 500 to its log line: the client's
// X-Request-Id when it is a sane token, or a fresh one.
func (h *core) requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); saneID(id) {
		return id
	}
	return h.idPrefix + "-" + strconv.FormatUint(h.idSeq.Add(1), 10)
}

func saneID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
