// Package dashboard is ironkv's web UI: an http.Handler that serves one page
// of plain HTML, CSS and JavaScript modules, embedded in the binary. It needs
// no build step, and it loads nothing from outside the server (no fonts,
// scripts or CDNs), so it works on machines without internet access.
//
//	api := httpapi.New(store)
//	mux.Handle("/api/v1/kv/", http.StripPrefix("/api/v1/kv", api))
//	mux.Handle("/", dashboard.New()) // or dashboard.New(dashboard.WithAPIPath("/kv"))
//
// The page is a client of the public API of package httpapi and of nothing
// else: it calls the REST routes and the WebSocket watch route below the API
// paths, which the Handler writes into the page (<meta> tags): the KV API
// (WithAPIPath, default /api/v1/kv), the Config API (WithConfigPath, default
// /api/v1/config) and the Secrets API (WithSecretsPath, default
// /api/v1/secrets). Anything the page can do, a script with curl can do too.
//
// # What it shows
//
// Three tabs: Buckets, Config and Secrets. A server without the Config or
// Secrets routes hides their tab with WithConfigPath("") or
// WithSecretsPath("").
//
// Buckets: every bucket the API lists (the APP_ namespace, never a SYS_
// bucket), with description, values, size, TTL ("none" when 0), history,
// replicas, storage and creation time. A form creates a bucket with every
// config field; the server validates it, and its error is shown next to the
// field it names. Deleting a bucket asks for confirmation in a dialog.
//
// A bucket: its keys, sorted and paged 50 at a time with ?limit= and
// ?after=, with a filter box for the * and > wildcards (the server's error,
// such as the one for user-*, is shown under it). Selecting a key shows its
// value as pretty-printed JSON when it parses, as text when it is UTF-8 and
// as a hex dump otherwise, with its revision, operation and time, and, when
// the bucket keeps more than one revision, its history with a line diff
// between each revision and the one before it.
//
// Writes: a new key is written with Create (If-None-Match: *, which fails
// when the key has a value) or Put (unconditional). Editing a key sends the
// revision the editor loaded as If-Match; when someone else wrote the key
// in between, the server answers 412 and the page says so, shows the key's
// current value and offers to reload it (dropping the edit) or to overwrite
// it (again conditionally, on the revision it just showed). Values can be
// edited as UTF-8 text or as hex. Delete writes a tombstone and keeps the
// history; Purge removes the key and its history; both ask first.
//
// Live: a WebSocket watch of the bucket (?snapshot=true, under the key
// filter in use) fills a panel with the most recent changes, newest first.
// Keys that appear or change after the snapshot are highlighted, deleted and
// purged ones are struck out, and a key open in the viewer is reloaded when
// it changes (or, while it is being edited, a notice warns that saving will
// conflict). When the connection drops the page reconnects with backoff and
// resumes with ?since= the last revision it saw, so no change is missed; a
// slow-consumer close ("resume from N") resumes from N.
//
// Config: the settings documents of an environment (a text field, "default"
// unless changed, sent as the X-Ironflow-Environment header of every call),
// with their revision and the time of their last change. A document is
// shown as pretty-printed JSON, with its numbers as stored (every digit,
// even beyond the precision of a JavaScript number), and edited as JSON
// text: the page refuses anything but a JSON object, and shows the server's
// 400 for what it does not check itself (a member named twice). Saving
// sends If-Match with the revision the editor loaded; a 412 is handled as on
// the KV pages, by the same code: the page says that someone else changed
// the document, shows it as it is now, and offers to reload it or to
// overwrite it. New documents are created with If-None-Match: *, so an
// existing one is never replaced by mistake; Delete asks first and sends
// If-Match too.
//
// Secrets: the secrets of an environment with their description, revision
// and times of creation and last change. Values are write-only: a new
// secret's value, or a replacement, is typed in a password field, sent in
// the body of POST or PUT, and cleared from the field once the server has
// it. The page never shows a value and never asks for one; the API has no
// route that returns one. Descriptions are edited in place (PATCH), and
// Delete asks first. When the server cannot store secrets (503, no master
// key), the page shows the server's message, which says how to set a key.
//
// # Authentication
//
// When an API (KV, Config or Secrets) answers 401 the page asks for an API
// key. The key is kept in the tab's sessionStorage only (never in
// localStorage or a cookie), sent as "Authorization: Bearer <key>" on the
// REST calls of all three and as ?token= on the watch
// socket, since browsers cannot give a WebSocket headers. "Sign out" forgets
// it; closing the tab does too.
//
// # Serving
//
// The Handler answers GET and HEAD for its files only: "/" and
// "/index.html", app.css, favicon.svg and js/*.js. Anything else is a 404,
// directories included (it never lists them); other methods are 405. The
// page uses hash URLs (#/b/orders?filter=user.>&key=user.1,
// #/config?env=prod&doc=app-settings, #/secrets?env=prod&secret=DB_URL), so
// links to a bucket, a key, a document or a secret survive a reload without
// any server-side routing. Every
// answer carries an ETag and "Cache-Control: no-cache", so a new version is
// picked up at once, and the page a Content-Security-Policy that allows
// only its own files and connections to its own origin (and to the APIs',
// when WithAPIPath, WithConfigPath or WithSecretsPath gives an absolute
// URL).
//
// Mount the Handler at "/" or under a prefix ending in "/" with
// http.StripPrefix: the page refers to its files by relative URLs. The
// dashboard owns no listener and keeps no state on the server.
//
// # Browser support and accessibility
//
// Current Chromium, Firefox and Safari. Every action is a real button or
// link, every field has a label, focus is always visible, dialogs are
// native <dialog> elements, the tabs are links in the tab order, and the
// layout works from 360 px wide phones (the tabs take a row of their own,
// the bucket table becomes cards, the panels stack) to wide desktops. The
// colours follow the system's light or dark preference.
//
// # Tests
//
// The package's tests drive the dashboard in headless Chromium (Debian's
// chromium package, /usr/bin/chromium, or the binary IRONKV_CHROMIUM names)
// with chromedp against a real API on an in-process NATS server. Without
// Chromium they are skipped with a message that says how to install it,
// unless the environment variable CI is "true", where they fail. Screenshots are saved
// in the directory named by IRONKV_ARTIFACTS (a temporary directory by
// default); IRONKV_UPDATE_SCREENSHOT=1 also rewrites screenshot.png, the
// picture in the README.
package dashboard
