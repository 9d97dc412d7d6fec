// Package httpapi serves the ironkv REST API, the KV wire protocol of the
// Ironflow platform, as an http.Handler on a kv.Store, and the Config and
// Secrets APIs of the platform as two more handlers, on a config.Configs and
// a secrets.Secrets. The published Ironflow SDKs (@ironflow/node,
// @ironflow/browser, the Go and Python clients) work against them
// unchanged.
//
//	store, _ := kv.Connect(ctx, nats.DefaultURL)
//	api := httpapi.New(store, httpapi.WithAPIKeys(os.Getenv("IRONKV_API_KEY")))
//	defer api.Close()
//	mux.Handle("/api/v1/kv/", http.StripPrefix("/api/v1/kv", api))
//
// The three handlers share one Option type, and with it the API key check,
// the origin rules, the body limit, the error answers, the request ids and
// the observer; the Config and Secrets handlers are described under their
// own headings below.
//
// The KV handler's routes are relative to "/"; mount it under a prefix with
// http.StripPrefix (in chi or gorilla/mux too: gorilla needs UseEncodedPath
// and SkipClean(true), or it redirects unclean paths to other keys; a
// net/http ServeMux redirects them too, so send unclean paths under the
// prefix straight to the handler, as examples/mount does). It owns no
// listener and registers nothing
// globally. It starts goroutines only for watch connections and, through
// its watch.Hub, one per watched bucket. A WebSocket watch returns from
// its request's handler after the upgrade and holds one goroutine while
// idle (its reader), plus a writer while it has frames or a ping to send.
// Close ends the watch connections, closes the Hub it made
// and releases its cached bucket handles; call it from
// http.Server.RegisterOnShutdown, since Shutdown neither ends hijacked
// WebSockets nor waits for SSE streams to end by themselves.
//
// # Routes
//
//	Method and path                     Request                          Success
//	POST   /buckets                     JSON bucket config               201 bucket info
//	GET    /buckets                     -                                200 {"buckets":[info...],"count":n}
//	GET    /buckets/{b}                 -                                200 bucket info
//	DELETE /buckets/{b}                 -                                204
//	GET    /buckets/{b}/keys            ?filter= ?limit=N ?after=KEY      200 {"keys":[...],"count":n[,"next":KEY]}
//	GET    /buckets/{b}/keys/{key...}   ?revision=N; Accept              200 entry, or the raw value
//	PUT    /buckets/{b}/keys/{key...}   raw body; If-None-Match/If-Match 200 {"revision":N}
//	DELETE /buckets/{b}/keys/{key...}   ?purge=true; If-Match            204
//	GET    /buckets/{b}/history/{key...} -                               200 {"entries":[entry...]}
//	GET    /buckets/{b}/watch           WebSocket; ?key= ?snapshot= ?since= 101, then frames
//	GET    /buckets/{b}/events          ?key= ?snapshot= ?since=; Last-Event-ID  200 text/event-stream
//
// GET routes answer HEAD too, except the WebSocket one.
//
// A bucket config and a bucket info are the JSON of bucket.Config and
// bucket.Info: "name", "description", "ttl_seconds", "max_value_size",
// "max_bytes", "history", "replicas", "storage", and for an info "values",
// "bytes", "created_at" and, once the bucket's keys have been listed (the
// server then holds its key index), "keys": the number of live keys. The
// config is decoded strictly: an unknown
// field, a repeated one or one of the wrong type is a 400 that names it.
//
// An entry is {"key","value","revision","created_at","operation"}: value
// is the standard base64 of the stored bytes ("" for an empty value, and
// left out for a "delete" or "purge" tombstone in a history), created_at is
// RFC 3339 in UTC with the server's sub-second precision, and operation is
// "put", "delete" or "purge". A GET whose Accept header prefers
// application/octet-stream to application/json gets the raw bytes instead.
// Every entry answer and every PUT carry the revision as ETag: "N".
//
// # Keys in paths
//
// A key is everything after /keys/ or /history/, percent-decoded: a%2Fb and
// a/b (two path segments) are both the key "a/b", and user%3A1 and user:1
// both "user:1". Clients should percent-encode keys (the Go and Python SDKs
// do); the JavaScript SDKs send them raw, which works for every key whose
// raw form is a clean path. The handler never redirects, because a redirect
// to the cleaned path would lose the host's mount prefix: a path with an
// empty, "." or ".." segment (a//b, a/./b, a/../b) is a 400 that says to
// encode the '/' of such keys as %2F, and a key may then hold "//" or
// "/./". An empty key (.../keys/) is a 400.
//
// # Writes and conditions
//
// The PUT body is stored byte for byte whatever its Content-Type. The
// conditional headers follow RFC 9110, with a revision as the entity tag:
//
//   - If-None-Match: * makes a PUT a create: it fails with 412 when the key
//     has a live value. It is the only If-None-Match accepted, and only on PUT.
//   - If-Match: N (or "N") makes a PUT an update and a DELETE conditional:
//     they fail with 412 unless the key's latest revision is N and holds a
//     value, so the revision of a tombstone is a 412 too.
//   - Both headers at once, a header given twice, a list, a weak tag (W/"N"),
//     If-Match: *, and a revision that is not a positive integer (If-Match: 0
//     included) are 400s.
//
// A 412 carries the key's current revision in "revision" when it has one.
// DELETE answers 204 also for a key that has no value (it writes a
// tombstone, as kv.Bucket.Delete does); ?purge=true removes the key's
// history too.
//
// Listing keys returns them sorted. With ?limit=N it returns at most N
// keys and, when more follow, "next": the key to pass as ?after= for the
// next page; "count" is the number of keys in this answer. A filter uses
// the syntax of bucket.ParseFilter, and a wildcard inside a token is a 400
// that shows the right form, such as `'*' must be a whole token, as in
// "user.*"`.
//
// # Watch
//
// The watch routes stream the changes of a bucket that match ?key= (a
// filter as in bucket.ParseFilter: "user.*", "orders.>", an exact key;
// absent, "" or ">" for all). Every client of a bucket shares one upstream
// JetStream consumer through a watch.Hub, whatever the clients' filters, so
// ten thousand browser tabs cost the NATS server one consumer. By default a
// client gets the changes made after it connected; with ?snapshot=true it
// first gets the current entry of each matching key (tombstones included),
// in revision order, then one kv_synced; with ?since=N (N >= 0) every
// retained change after revision N, then one kv_synced. Live changes follow
// with no gap and no duplicate, and revisions strictly increase. ?snapshot
// and ?since together are a 400.
//
// WebSocket frames are JSON text messages, Ironflow's byte for byte:
//
//	{"type":"kv_update","bucket":B,"key":K,"value":BASE64,"revision":N,"operation":"put"}
//	{"type":"kv_update","bucket":B,"key":K,"revision":N,"operation":"delete"}   (or "purge"; no value)
//	{"type":"kv_synced","revision":N}   (only after ?snapshot=true or ?since=N)
//	{"type":"error","message":M}        (then the close)
//
// The server sends nothing else unasked (the Ironflow Go SDK takes any
// unknown frame for an update). Keepalive is WebSocket ping/pong only: a
// ping every 30 seconds (WithKeepalive), and a connection whose pong does
// not come within as long is closed. A watch ends with an error frame and a
// close code:
//
//	slow consumer    error "slow consumer; resume from N", close 1013 "slow consumer; resume from N"
//	bucket deleted   error "bucket \"B\" was deleted", close 1000 "bucket deleted"
//	Handler.Close    error "server shutting down", close 1001 "server shutting down"
//	store failure    error "the watch failed; reconnect to resume", close 1011 "watch failed"
//
// A slow consumer is a client that fell further behind than the watch.Hub's
// buffer per subscription (watch.DefaultBuffer events; see WithHub): it
// gets what was buffered, every revision up to N, then the close.
// Reconnecting with ?since=N continues with no gap. A client that takes no
// bytes for 30 seconds is dropped without a close frame. Clients send
// nothing in this protocol; what they send anyway (the Ironflow SDKs send
// nothing) is read and dropped, and a message over 4 KiB closes the
// connection with 1009. Frames are not compressed. The frames that are
// ready for a client at once (a replay, or a client that fell behind) go
// out in one write.
//
// Server-Sent Events carry the same JSON as data, named by type and with
// the revision as id:
//
//	event: kv_update
//	id: 42
//	data: {"type":"kv_update","bucket":"orders","key":"o.1","value":"e30=","revision":42,"operation":"put"}
//
// kv_synced events carry their revision as id too: resuming from it misses
// nothing. An EventSource that reconnects sends the last id as
// Last-Event-ID, which wins over ?snapshot and ?since, so it resumes with no
// gap (Last-Event-ID: N is ?since=N). A comment line ": ping" comes every
// 15 seconds (WithKeepalive) to keep proxies from closing an idle stream,
// and each event is flushed at once (nginx is told not to buffer with
// X-Accel-Buffering: no). A stream ends with an "error" event whose data is
// the error frame above, then the end of the response: an EventSource then
// reconnects by itself, resuming a slow consumer from its Last-Event-ID, and
// stops at the 404 of a deleted bucket. Streams work with curl -N and a
// browser's EventSource. HEAD checks the request and the bucket and streams
// nothing.
//
// Everything that can fail is checked before the upgrade or the first byte,
// so that clients get a status and a JSON error: 401 (the API key), 403 (the
// Origin), 400 (the bucket name, the filter, ?since=, ?snapshot=,
// Last-Event-ID), 426 (a request to the WebSocket route that is not an
// HTTP/1.1 WebSocket handshake), 404 (a missing bucket), 503 (after Close).
// A middleware that wraps the ResponseWriter must keep http.Hijacker and
// http.Flusher reachable through an Unwrap method (as
// http.ResponseController expects), and must not compress or buffer the
// SSE response.
//
// A WithObserver observer that also implements WatchObserver is told when a
// watch client starts (+1) and ends (-1), for a gauge of open connections.
//
// # Errors
//
// Every answer that is not 2xx carries {"error":msg,"message":msg,"code":CODE}
// (the Go and JavaScript SDKs read "error", the Python SDK "message" and
// "code"), plus "revision" on a 412 and "request_id" on a 500. The errors
// of packages kv, config and secrets become statuses in one table:
//
//	error (kv's unless named)                          status  code
//	ErrInvalidKey, ErrInvalidBucketName, ErrInvalidConfig  400   invalid_argument
//	ErrBucketNotFound                                  404     bucket_not_found
//	ErrKeyNotFound                                     404     key_not_found
//	ErrBucketExists                                    409     bucket_exists
//	ErrBucketFull                                      409     bucket_full
//	ErrConflict                                        412     conflict
//	ErrValueTooLarge                                   413     too_large
//	config.ErrNotObject, config.ErrInvalidCondition    400     invalid_argument
//	secrets.ErrInvalidSecret                           400     invalid_argument
//	secrets.ErrNoMasterKey                             503     no_master_key (no Retry-After)
//	secrets.ErrDecrypt                                 500     decrypt_failed (with a request id)
//	ErrUnavailable, ErrClosed                          503     unavailable (with Retry-After: 1)
//	anything else                                      500     internal
//
// with one exception: POST /secrets answers kv.ErrConflict (the secret
// exists) with 409 secret_exists, as Ironflow and Vault do, not 412, which
// is for a failed condition. Messages name the resource as the route does:
// `key "k" not found in bucket "b"` for the KV API, `config "app" not
// found in environment "prod"` and `secret ...` for the others.
//
// secrets.ErrDecrypt means that a stored secret does not open with the
// server's keyring: a key missing from it, or a record changed in NATS. It
// is the server's problem, not the request's, so a 500, with one generic
// message ("... cannot be decrypted: the server's keyring lacks the key
// that sealed it, or the stored record was changed"), a request id, and the
// error in the log under that id at Error level; the package secrets puts
// nothing more in it to leak. GET /secrets fails so as a whole when one
// secret does not open; DELETE still removes such a secret.
//
// and the handler's own: 400 invalid_argument (malformed JSON, bad query
// parameters or headers, an environment that is not a bucket name, unclean
// paths), 409 secret_exists (above), 401 unauthorized, 403 forbidden
// (an origin that is not allowed), 404 not_found (no such route), 405
// method_not_allowed (with Allow), 413 too_large (a body over the limit)
// and 503 unavailable (after Close).
//
// A 500 says only "internal error" and a request id (the client's
// X-Request-Id when it is a plain token, otherwise a fresh one), which is
// also in the X-Request-Id header; the error itself is logged with that id.
// A panic in a route is recovered, logged with its stack and answered the
// same way. When the client has gone away (its request context is done),
// the handler writes a bare 499 and no body, as nginx does. A context
// deadline of the store's own is a 503.
//
// Bad input is never a 5xx: malformed JSON, unknown fields, wrong types,
// invalid names, keys and filters, conflicting headers and oversized bodies
// are all 4xx, which a fuzz target and a table of several hundred requests
// check.
//
// # Config
//
// NewConfig serves settings documents, JSON objects per environment (see
// package config), with Ironflow's routes and shapes. Its routes are
// /config..., so a host mounts it under the version prefix, as the server
// binary does for /api/v1/config:
//
//	configs, _ := config.New(sysConfigStore) // kv.New(nc, kv.WithNamespace(bucket.SysConfig))
//	cfg := httpapi.NewConfig(configs, opts...)
//	defer cfg.Close()
//	mux.Handle("/api/v1/config", http.StripPrefix("/api/v1", cfg))
//	mux.Handle("/api/v1/config/", http.StripPrefix("/api/v1", cfg))
//
//	Method and path              Request                                   Success
//	GET    /config               -                                         200 {"configs":[{"name","revision","updatedAt"}...]}
//	GET    /config/{name}        -                                         200 {"name","data":{...},"revision","updatedAt"}
//	POST   /config/{name}        the JSON object; If-None-Match: * or If-Match: N   200 {"name","revision"}
//	PATCH  /config/{name}        a partial object; If-Match: N             200 {"name","revision"}
//	DELETE /config/{name}        If-Match: N                               204
//	GET    /config/{name}/watch  WebSocket                                 101, then config_update frames
//
// The environment is the X-Ironflow-Environment header, "default" without
// one; an environment that is not a bucket name (1 to 64 of
// [A-Za-z0-9_-]) is a 400, and so is a name that config.ValidateName
// refuses. A document is answered as stored, byte for byte (numbers keep
// their digits), with its revision as ETag; so are the answers of POST and
// PATCH. POST replaces the document whole, and a body that is not one JSON
// object is a 400 "config body must be a JSON object, got ...". PATCH
// merges the top level (a member set to null removes it), creates an absent
// document, and retries its compare-and-swap by itself, so concurrent
// patches of different members all land; with If-Match it makes one
// attempt. The conditional headers are those of the KV PUT (If-None-Match
// only on POST), and a failed condition is a 412 with the current revision.
// DELETE is 204 also for a document that does not exist. An absent
// document is 404 key_not_found, `config "app" not found in environment
// "prod"`.
//
// The watch route sends the changes of one document made after the client
// connected (no snapshot: read the document first, then watch), as
// Ironflow's frames:
//
//	{"type":"config_update","name":N,"data":{...},"revision":R,"updatedAt":T}
//	{"type":"config_update","name":N,"data":null,"revision":R,"updatedAt":T}   (deleted)
//
// It takes the API key as ?token= too, checks the Origin, keeps alive and
// ends as the KV watch does (close 1001 on Close, 1000 when the
// environment's bucket is deleted), except that a client that falls behind
// gets "slow consumer; reconnect and read the config again" with 1013, since
// the route has no ?since=. Each config watch is one kv.Watcher, one
// JetStream consumer: config watches are meant for services, tens per
// server, not for every browser tab. Close ends them.
//
// # Secrets
//
// NewSecrets serves secrets (see package secrets) with Ironflow's routes,
// write-only: a value goes in, and only metadata, a SecretInfo, comes out.
//
//	vault, err := secrets.New(sysSecretsStore, keyring) // secrets.ErrNoMasterKey without a key
//	sec := httpapi.NewSecrets(vault, opts...)        // vault may be nil: every route then answers 503
//	mux.Handle("/api/v1/secrets", http.StripPrefix("/api/v1", sec))
//	mux.Handle("/api/v1/secrets/", http.StripPrefix("/api/v1", sec))
//
//	Method and path          Request                              Success
//	POST   /secrets          {"name","value","description"?}      201 SecretInfo; 409 secret_exists if it exists
//	GET    /secrets          -                                    200 [SecretInfo...] (a bare array, [] when empty)
//	GET    /secrets/{name}   -                                    200 SecretInfo
//	PUT    /secrets/{name}   {"value","description"?}             200 SecretInfo (creates an absent secret)
//	PATCH  /secrets/{name}   {"description"?}                     200 SecretInfo
//	DELETE /secrets/{name}   -                                    204, also when absent
//
// SecretInfo is {"name","revision","created_at","updated_at",
// "description"}. The environment is X-Ironflow-Environment, as for Config.
// PUT without "description" keeps the description; PATCH without it (or
// with null, or with an empty body) changes nothing and answers the
// SecretInfo; a "value" in a PATCH is a 400 that points to PUT. A "name" in
// the body of PUT or PATCH must be the name of the path. Bodies are decoded
// strictly: an unknown or repeated field, a field that is not a JSON
// string, a body that is not valid UTF-8 (a value is never silently
// changed) or data after the object are 400s. Every secrets answer carries
// Cache-Control: no-store.
//
// The plaintext of a secret never leaves the process over HTTP or in the
// handler's logs: no route returns a value (Reveal is for Go code in the
// process), no error message quotes the body (a syntax error is reported
// by its byte offset, an unknown field by its position), and the request
// body is cleared once decoded, as a courtesy. The tests capture every
// answer and the log of a full scenario and find no value in them.
//
// Without a master key (NewSecrets(nil)), every route answers after the API
// key, origin and method checks with 503 no_master_key, whose message is
// secrets.ErrNoMasterKey's and says how to set a key, and no Retry-After:
// retrying cannot help until an operator sets one. 503 rather than 501,
// because the service exists and is merely not configured on this server,
// which is what 503 says; the rest of the server works.
//
// # Authentication
//
// With WithAPIKeys, every request must carry "Authorization: Bearer <key>"
// (the scheme is case-insensitive) with one of the keys; otherwise it gets
// 401 with WWW-Authenticate: Bearer before the store is asked anything,
// whatever the route (unknown routes and wrong methods included, so that
// routes cannot be probed). Keys are compared as SHA-256 digests in constant
// time against every configured key without an early exit, so neither the
// length of a key nor which one matched shows in the timing. Several keys
// can be valid at once, to rotate one out. Empty keys never match, and
// WithAPIKeys with only empty keys refuses everything: a deployment that
// forgot to set its key is locked, not open. CORS preflights are exempt,
// since browsers send them without credentials. Without WithAPIKeys the API
// is open, which suits only a loopback listener.
//
// The two watch routes also take the key as ?token=<key>, since browsers
// cannot give a WebSocket or an EventSource headers (the Ironflow browser
// SDK sends it so); either the header or the parameter may carry it. The
// handler logs paths, never queries, so the token stays out of its logs; a
// host that logs request URLs must strip ?token= itself.
//
// # Browsers (CORS)
//
// A request with an Origin header is checked against the allowed origins:
// the request's own origin (Origin's host equals Host) is always allowed;
// beyond it, WithAllowedOrigins lists them ("https://app.example.com",
// "http://dev.example.com:*" for any port, or "*"), and without it the
// loopback origins http://localhost:*, http://127.0.0.1:* and
// http://[::1]:* are, so that a browser app on another local port works out
// of the box. An origin that is not allowed gets 403 forbidden, for
// preflights and for actual requests alike: refusing rather than only
// withholding the CORS headers also stops cross-site "simple" requests (a
// form POST creating a bucket on an open loopback server). An allowed
// preflight (OPTIONS with Access-Control-Request-Method) gets 204 with the
// methods, the requested headers echoed back (X-Ironflow-Environment,
// If-Match, tracing headers...) and a max age of 10 minutes; other answers
// get Access-Control-Allow-Origin and expose ETag, Retry-After,
// X-Request-Id, WWW-Authenticate and Allow. X-Ironflow-Environment is
// accepted and ignored by the KV API; the Config and Secrets APIs read it.
//
// The watch routes follow the same rules before the upgrade or the first
// byte. Browsers send an Origin with every WebSocket handshake and
// EventSource request, and do not apply CORS to WebSockets, so this check is
// what keeps another site's page from watching a bucket through a visitor's
// browser. A request without an Origin (a program, not a browser) passes.
//
// # Limits
//
// Request bodies are capped at WithMaxBodyBytes (8 MiB by default), and a
// value also at its bucket's max_value_size (or the server's maximum
// payload): a Content-Length over the cap is a 413 before anything is read,
// and a body without one is cut off at the cap with a 413. A bucket config
// is capped at 64 KiB.
//
// # Bucket handles
//
// kv.Store.Bucket asks the server, so the handler keeps a handle per
// bucket: at most 1024, dropped as soon as any operation reports the bucket
// missing or it is deleted through the API, and fetched again once older
// than 5 seconds, so that a config change made by another process (a new
// max_value_size) is seen within that time. A stale handle is replaced by
// the first request that notices while the others keep using it, and
// concurrent first uses of a bucket share one fetch. GET /buckets/{b} always
// asks the server.
//
// # Decisions
//
// Where the protocol and the Ironflow SDKs are silent, the handler does what
// users of etcd's and Consul's HTTP APIs expect:
//
//   - A full bucket (ErrBucketFull) is 409 bucket_full, not 507. It is not
//     the server's fault and retrying cannot help until the client frees
//     space or raises max_bytes; every Ironflow SDK retries 5xx answers, so a
//     507 would have them hammer a full bucket. 409 says "the state of the
//     resource conflicts with the request", which is what the client must
//     resolve, and the code tells it apart from bucket_exists.
//   - If-Match: 0 is a 400, not a 412: revisions start at 1, and a
//     conditional delete at revision 0 must never turn into an unconditional
//     one.
//   - Unknown query parameters are ignored, as most HTTP APIs do; the known
//     ones are validated.
//   - The API key is only read from the Authorization header. A ?token=
//     parameter is for the watch routes alone, since browsers cannot give a
//     WebSocket headers.
//   - The watch routes check the request, the Origin and the bucket, and
//     subscribe, before they upgrade or send a byte: a client learns why it
//     was refused from a status, not from a closed connection.
//   - A WebSocket watch ends with an error frame before its close code, for
//     a slow consumer too: the Ironflow SDKs report error frames as errors,
//     and the close code and reason tell programs how to resume.
//   - A deleted bucket closes WebSockets with 1000, not an error code: the
//     watch is over and reconnecting cannot help (it gets 404).
//   - An SSE stream names its final event "error", which an EventSource
//     also fires for connection errors; its data tells them apart.
//   - Last-Event-ID wins over ?snapshot=true: an EventSource opened with a
//     snapshot resumes where it stopped instead of starting over.
//   - Observer sees every request with its route pattern (the pattern without
//     a method for a 405, "preflight" for a CORS preflight, "unmatched"
//     otherwise), so that metrics have bounded labels.
//
// # Differences from the Ironflow SDKs
//
// The handler follows ironkv's design where the SDKs would allow more: the
// namespace prefix APP_ is added by the library, so a client that sends
// "APP_orders" (as Ironflow's documentation suggests for direct API calls)
// gets a bucket named "APP_orders" in the APP_ namespace, listed under that
// name. Error bodies carry "message" and "code" beside "error", and entry,
// history and paging fields beyond Ironflow's are additions that the SDKs
// ignore.
package httpapi
