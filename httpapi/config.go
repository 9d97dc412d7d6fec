package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/config"
	"github.com/ironkv/ironkv/kv"
)

// ConfigHandler serves the Config API of the Ironflow platform on a
// config.Configs: JSON settings documents per environment. Make one with
// NewConfig; it is safe for concurrent use.
type ConfigHandler struct {
	core
	configs *config.Configs
}

// NewConfig returns a ConfigHandler that serves the settings documents of
// c, with routes relative to "/" (GET /config, and GET, POST, PATCH and
// DELETE /config/{name}, GET /config/{name}/watch; see the package doc).
// The server binary mounts it with http.StripPrefix("/api/v1", ...) for the
// paths under /api/v1/config. The options are those of New: API keys,
// allowed origins, body limit, logger, observer and keepalive. The handler
// owns no listener and registers nothing globally; Close ends its watch
// connections. NewConfig returns no error: an option value that cannot be
// used is ignored with a warning in the log. It panics when c is nil.
func NewConfig(c *config.Configs, opts ...Option) *ConfigHandler {
	if c == nil {
		panic("httpapi.NewConfig: nil *config.Configs")
	}
	o := newOptions(opts)
	h := &ConfigHandler{configs: c}
	h.init(&o)
	h.handle("GET /config", h.listConfigs)
	h.handle("GET /config/{name}", h.getConfig)
	h.handle("POST /config/{name}", h.setConfig)
	h.handle("PATCH /config/{name}", h.patchConfig)
	h.handle("DELETE /config/{name}", h.deleteConfig)
	h.handleStream("GET /config/{name}/watch", h.watchConfig)
	h.notAllowed("/config", "GET, HEAD")
	h.notAllowed("/config/{name}", "GET, HEAD, POST, PATCH, DELETE")
	h.notAllowed("/config/{name}/watch", "GET")
	h.handle("/", notFound)
	return h
}

// ServeHTTP answers one request of the Config API. It never redirects;
// panics are recovered as in Handler.ServeHTTP.
func (h *ConfigHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.serveHTTP(w, r) }

// Close ends every watch connection (with an error frame "server shutting
// down" and close code 1001) and waits for them; requests after Close get
// 503. It leaves the Configs and their store open. Close is idempotent and
// returns no error of its own.
func (h *ConfigHandler) Close() error {
	h.close()
	return nil
}

// envHeader names the environment of a Config or Secrets request, as in
// Ironflow; without it a request works in "default".
const envHeader = "X-Ironflow-Environment"

// environment returns the environment of r: its X-Ironflow-Environment
// header, validated as a bucket name, or config.DefaultEnvironment without
// one.
func environment(r *http.Request) (string, error) {
	env, ok := single(r.Header, envHeader)
	if !ok {
		return "", badRequest("%s may be given once", envHeader)
	}
	if env == "" {
		return config.DefaultEnvironment, nil
	}
	if bucket.ValidateName(env) != nil {
		return "", badRequest("%s %q is not a valid environment: use 1 to 64 characters from [A-Za-z0-9_-], or leave the header out for %q",
			envHeader, truncate(env, 80), config.DefaultEnvironment)
	}
	return env, nil
}

// envTarget returns the target of kind of a request to a whole
// environment: its X-Ironflow-Environment.
func envTarget(r *http.Request, kind targetKind) (target, error) {
	env, err := environment(r)
	return target{bucket: env, kind: kind}, err
}

// nameTarget returns the target of kind of a request to one document or
// secret: the environment, and the {name} of the path checked by validate.
func nameTarget(r *http.Request, kind targetKind, validate func(string) error) (target, error) {
	t, err := envTarget(r, kind)
	t.key = r.PathValue("name")
	if err != nil {
		return t, err
	}
	return t, validate(t.key)
}

// configTarget is nameTarget for /config/{name}.
func configTarget(r *http.Request) (target, error) {
	return nameTarget(r, kindConfig, config.ValidateName)
}

// configList is the body of GET /config.
type configList struct {
	Configs []config.Summary `json:"configs"`
}

// listConfigs serves GET /config: the names, revisions and update times
// of the environment's documents, sorted by name.
func (h *ConfigHandler) listConfigs(w http.ResponseWriter, r *http.Request) (target, error) {
	t, err := envTarget(r, kindConfig)
	if err != nil {
		return t, err
	}
	list, err := h.configs.List(r.Context(), t.bucket)
	if err != nil {
		return t, err
	}
	if list == nil {
		list = []config.Summary{}
	}
	writeJSON(w, http.StatusOK, configList{Configs: list})
	return t, nil
}

// getConfig serves GET /config/{name}: the document with its revision,
// which is also the ETag.
func (h *ConfigHandler) getConfig(w http.ResponseWriter, r *http.Request) (target, error) {
	t, err := configTarget(r)
	if err != nil {
		return t, err
	}
	doc, err := h.configs.Get(r.Context(), t.bucket, t.key)
	if err != nil {
		return t, err
	}
	w.Header()["Etag"] = []string{etag(doc.Revision)}
	bp := getBuf()
	*bp = appendDocument(*bp, &doc)
	writeBuf(w, http.StatusOK, bp)
	return t, nil
}

// setConfig serves POST /config/{name}: the body, a JSON object, replaces
// the document; If-None-Match: * creates it only, If-Match: N replaces
// revision N only.
func (h *ConfigHandler) setConfig(w http.ResponseWriter, r *http.Request) (target, error) {
	return h.writeConfig(w, r, true)
}

// patchConfig serves PATCH /config/{name}: the body, a JSON object, is
// merged into the top level of the document, which is created when absent;
// If-Match: N patches revision N only.
func (h *ConfigHandler) patchConfig(w http.ResponseWriter, r *http.Request) (target, error) {
	return h.writeConfig(w, r, false)
}

// writeConfig writes the body of r to the document of its path: whole, or
// merged into it when not replace, and answers {"name","revision"}.
func (h *ConfigHandler) writeConfig(w http.ResponseWriter, r *http.Request, replace bool) (target, error) {
	t, err := configTarget(r)
	if err != nil {
		return t, err
	}
	cond, err := conditions(r, replace)
	if err != nil {
		return t, err
	}
	body, err := h.readBody(w, r, h.maxBody, "config")
	if err != nil {
		return t, err
	}
	var rev uint64
	if replace {
		rev, err = h.configs.Set(r.Context(), t.bucket, t.key, body, config.Condition{IfNoneMatch: cond.create, IfMatch: cond.rev})
	} else {
		rev, err = h.configs.Patch(r.Context(), t.bucket, t.key, body, cond.rev)
	}
	if err != nil {
		return t, err
	}
	writeNameRevision(w, t.key, rev)
	return t, nil
}

// deleteConfig serves DELETE /config/{name}: 204, also when the document
// does not exist; If-Match: N deletes revision N only.
func (h *ConfigHandler) deleteConfig(w http.ResponseWriter, r *http.Request) (target, error) {
	t, err := configTarget(r)
	if err != nil {
		return t, err
	}
	cond, err := conditions(r, false)
	if err != nil {
		return t, err
	}
	if err := h.configs.Delete(r.Context(), t.bucket, t.key, cond.rev); err != nil {
		return t, err
	}
	w.WriteHeader(http.StatusNoContent)
	return t, nil
}

// watchConfig serves GET /config/{name}/watch: the changes of the document
// made after the client connected, as config_update WebSocket frames.
// Everything that can fail is checked before the upgrade, so that a client
// gets a status and a JSON body.
func (h *ConfigHandler) watchConfig(w http.ResponseWriter, r *http.Request) (target, error) {
	t, err := configTarget(r)
	if err != nil {
		return t, err
	}
	if err := checkUpgrade(w, r); err != nil {
		return t, err
	}
	ws := h.newWSWatch()
	st := h.streams.enter(ws.shutdown)
	if st == nil {
		return t, errHandlerClosed
	}
	cw, err := h.configs.Watch(r.Context(), t.bucket, t.key, kv.UpdatesOnly())
	if err != nil {
		h.streams.leave(st)
		return t, err
	}
	lg := streamLog{context.Background(), r.URL.EscapedPath()}
	ws.serve(w, r, st, newPumpFrames(configFrames{cw}.appendNext, func() { _ = cw.Close() }), func(ctx context.Context, err error) streamEnd {
		return h.endOf(ctx, lg, t, t.key, err)
	}, "environment", t.bucket, "config", t.key)
	return t, nil
}

// configFrames are the frames of a config watch.
type configFrames struct{ w *config.Watcher }

func (f configFrames) appendNext(ctx context.Context, b []byte) ([]byte, error) {
	for {
		ev, err := f.w.Next(ctx)
		if err != nil {
			return b, err
		}
		if ev.Kind != config.EventSynced { // an updates-only watch has none
			return appendConfigFrame(b, &ev), nil
		}
	}
}

// appendDocument appends the JSON of d, {"name","data","revision",
// "updatedAt"}, with data as stored, byte for byte.
func appendDocument(b []byte, d *config.Document) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, d.Name)
	b = append(b, `,"data":`...)
	b = append(b, d.Data...)
	return appendRevisionTime(b, d.Revision, d.UpdatedAt)
}

// appendConfigFrame appends the frame of ev, {"type":"config_update",
// "name","data","revision","updatedAt"}, data null for a deletion.
func appendConfigFrame(b []byte, ev *config.Event) []byte {
	b = append(b, `{"type":"config_update","name":`...)
	b = appendString(b, ev.Name)
	b = append(b, `,"data":`...)
	if ev.Kind == config.EventPut {
		b = append(b, ev.Data...)
	} else {
		b = append(b, "null"...)
	}
	return appendRevisionTime(b, ev.Revision, ev.UpdatedAt)
}

// appendRevisionTime ends a document or a frame: ,"revision":N,
// "updatedAt":TIME}.
func appendRevisionTime(b []byte, rev uint64, at time.Time) []byte {
	b = append(b, `,"revision":`...)
	b = strconv.AppendUint(b, rev, 10)
	b = append(b, `,"updatedAt":"`...)
	b = at.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
}

// writeNameRevision answers a write of a document: 200 {"name","revision"}
// with the revision as ETag.
func writeNameRevision(w http.ResponseWriter, name string, rev uint64) {
	w.Header()["Etag"] = []string{etag(rev)}
	bp := getBuf()
	b := append(*bp, `{"name":`...)
	b = appendString(b, name)
	b = append(b, `,"revision":`...)
	b = strconv.AppendUint(b, rev, 10)
	*bp = append(b, '}')
	writeBuf(w, http.StatusOK, bp)
}
