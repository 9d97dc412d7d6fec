// Package config stores typed application settings as JSON documents, one
// set per environment, on ironkv's kv core. It implements the Config service
// of the Ironflow platform: Get, List, Set (replace, optionally
// conditional), Patch (shallow merge that creates when absent), Delete and
// Watch.
//
//	store, _ := kv.New(nc, kv.WithNamespace(bucket.SysConfig))
//	configs, _ := config.New(store)
//	rev, err := configs.Set(ctx, "prod", "app-settings", []byte(`{"theme":"dark"}`), config.Condition{})
//	rev, err = configs.Patch(ctx, "prod", "app-settings", []byte(`{"beta":true}`), 0)
//	doc, err := configs.Get(ctx, "prod", "app-settings") // doc.Data: {"theme":"dark","beta":true}
//
// # Storage
//
// Each environment is one kv bucket in the SysConfig namespace: environment
// "prod" is bucket "prod" of a store made with
// kv.WithNamespace(bucket.SysConfig), the NATS KV bucket SYS_config_prod.
// Each document is one key of it, the document's name, and its value is the
// document itself: a JSON object in compact form, nothing around it. So
// `nats kv get SYS_config_prod app-settings` shows the settings as they
// are, and a document's revision is the kv revision of its write, and its
// updatedAt the time the server stored it.
//
// An environment's bucket is created by its first write (Set or Patch) or
// Watch, with History revisions per document (16) and the store's default
// storage and replicas; reads of an environment without a bucket find no
// documents. User buckets live in the App namespace and cannot name a
// SYS_config_ bucket, so the KV API and its listings never reach or show
// settings (see package bucket).
//
// # Environments and names
//
// An environment is a bucket name: 1 to 64 characters from [A-Za-z0-9_-].
// The empty string means DefaultEnvironment, "default", as a request
// without Ironflow's X-Ironflow-Environment header does. Bad environments
// are errors wrapping kv.ErrInvalidBucketName.
//
// A document name is 1 to 256 characters from [A-Za-z0-9_.-], where '.'
// separates non-empty parts (ValidateName); bad names are errors wrapping
// kv.ErrInvalidKey. The alphabet is narrower than kv keys allow on purpose:
// a name is one segment of an HTTP path (/config/{name} and
// /config/{name}/watch), so '/' is out; names are stored unescaped, so NATS
// tools show them as they are; and no name needs quoting anywhere.
//
// # Documents
//
// A document is one JSON object, in UTF-8. Anything else (an array, a
// string, a number, true, false, null, an empty body, invalid JSON, two
// values, invalid UTF-8, or an object with a repeated top-level name) is
// refused before anything is written, with an error wrapping ErrNotObject
// that says what the body was instead:
//
//	config body must be a JSON object, got array
//
// Documents are stored compact, with their members in the order written and
// their values byte for byte otherwise: numbers keep every digit (no
// float64 round trip, so 12345678901234567890 and 1.10 come back as sent),
// and strings keep their escapes. Document.Data is that JSON.
//
// # Writing
//
// Set replaces a document whole. Its Condition is what the HTTP headers say:
// IfNoneMatch (If-None-Match: *) writes only when the document does not
// exist, and IfMatch (If-Match: N) only when the document is at revision N;
// a failed condition is a *kv.ConflictError matching kv.ErrConflict, which
// carries the current revision when there is one. A deleted document does
// not exist: IfNoneMatch creates it again, IfMatch with its last revision
// fails.
//
// Patch merges the top level of a JSON object into a document, as the top
// level of JSON Merge Patch (RFC 7396) does: a member replaces the member of
// the same name or is added after the existing ones, and a member whose
// value is null removes that member (so a patch cannot set a member to
// null; Set can). Nested objects are replaced whole: patching
// {"db":{"host":"a"}} with {"db":{"port":5432}} gives {"db":{"port":5432}}.
// Patch creates a document that does not exist, from the patch without its
// null members. Merge exposes the same merge for documents at hand.
//
// Patch reads the document, merges, and writes with compare-and-swap on the
// revision it read, so a concurrent write is never lost: if another write
// came first, Patch reads again and merges into the new version, up to
// MaxPatchAttempts (100) times, pausing a random 1 to 64 ms between
// attempts so that writers that collided spread out, and stopping when its
// context ends. Sixteen writers patching different members of one document
// at once all land. With an ifMatch revision, Patch makes one attempt from
// that revision only and returns the conflict, as Set with IfMatch does.
//
// Delete is idempotent: deleting a document that does not exist succeeds
// (and writes nothing). With an ifMatch revision it deletes only that
// revision. The bucket keeps the deleted document's earlier revisions, so
// package kv's History still shows them.
//
// # Watching
//
// Watch delivers the changes of one document, or of every document of an
// environment, as Events: EventPut with the document's data, EventDelete,
// and, after the initial snapshot, EventSynced. The options are kv's:
// kv.UpdatesOnly skips the snapshot (what Ironflow's WebSocket
// protocol sends: frames {"type":"config_update","name","data","revision",
// "updatedAt"}, which is Event's JSON form plus the type), and kv.ResumeFrom
// continues after a revision. The Watcher is a kv.Watcher underneath: its
// buffer is bounded, a reader that falls behind gets kv.ErrSlowConsumer
// with the revision to resume from, and nothing is dropped silently. Do not
// pass kv.MetaOnly: without values, no document can be delivered.
//
// # Errors
//
// Besides its own ErrNotObject and ErrInvalidCondition, the package returns
// kv's sentinels: kv.ErrKeyNotFound (the document does not exist),
// kv.ErrConflict, kv.ErrInvalidKey, kv.ErrInvalidBucketName,
// kv.ErrValueTooLarge (a document over the server's maximum payload, 1 MiB
// by default), kv.ErrUnavailable, kv.ErrClosed, and context errors. An HTTP
// layer maps ErrNotObject and ErrInvalidCondition to 400 and the others as
// it maps kv's. A value that another NATS client stored under a document's
// name and that is not a JSON object is reported by Get and Patch with an
// error that matches no sentinel (a server-side problem, not the caller's),
// and skipped by Watch.
//
// # Decisions
//
// The routes, names and JSON shapes are Ironflow's (camelCase updatedAt,
// {"configs":[...]} listings), so its SDKs work unchanged. Where Ironflow
// says nothing, the package follows the kv core and HashiCorp Vault's KV
// engine: documents keep history (Vault KV v2 keeps versions), deletes are
// soft, every write can be conditional, and input is checked before
// anything is stored.
//
// # Limits
//
//   - List reads the latest entry of each document, one request each;
//     environments are meant for tens to hundreds of documents, not millions.
//   - A document is at most the server's maximum payload (1 MiB by default)
//     less a little room for headers.
//   - Settings are not encrypted: use package secrets for credentials.
package config
