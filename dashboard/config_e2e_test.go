package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ironkv/ironkv/dashboard"
	"github.com/ironkv/ironkv/kv"
)

// bigNumber is beyond the precision of a JavaScript number: a page that
// parsed and printed a document would change it.
const bigNumber = "12345678901234567890"

// TestDashboardConfig walks through the Config pages in headless Chromium
// against the real Config API: create a document (after the page's and the
// server's validation errors), refuse to create it twice, edit it, lose a
// race to a writer behind the page's back (412), reload, lose another and
// overwrite, work in another environment, and delete.
func TestDashboardConfig(t *testing.T) {
	srv := newTestServer(t)
	ctx := context.Background()
	b := newBrowser(t, srv, 1360, 900)

	// The Config tab: the default environment, no documents.
	b.waitFor("the tabs", `document.querySelector('#tabs a[data-tab="config"]')`, stepTimeout)
	b.click(`#tabs a[data-tab="config"]`)
	b.waitFor("the config view", `document.querySelector('#new-doc') && document.querySelector('#config-list .empty')`, stepTimeout)
	if got := eval[string](b, `document.querySelector('#env-input').value`); got != "default" {
		t.Errorf("environment field %q, want default", got)
	}
	if got := eval[string](b, `document.querySelector('#tabs [aria-current="page"]').dataset.tab`); got != "config" {
		t.Errorf("current tab %q, want config", got)
	}

	// Create: the page refuses what is not an object, the server what the
	// page does not check (a name given twice), with its own message.
	b.click("#new-doc")
	b.typeInto("#new-doc-name", "app-settings")
	b.setValue("#new-doc-data", `["dark", "light"]`)
	b.click("#create-doc")
	b.waitText("#new-doc-data-error", "must be a JSON object, not an array")
	b.setValue("#new-doc-data", `{"theme": "dark", "theme": "light"}`)
	b.click("#create-doc")
	b.waitText("#new-doc-data-error", `"theme" twice`)
	if inv := eval[string](b, `document.querySelector('#new-doc-data').getAttribute('aria-invalid') || ''`); inv != "true" {
		t.Errorf("document field: aria-invalid %q, want true", inv)
	}
	b.typeInto("#new-doc-name", "bad/name")
	b.setValue("#new-doc-data", `{"theme": "dark"}`)
	b.click("#create-doc")
	b.waitText("#new-doc-name-error", "config name")
	b.typeInto("#new-doc-name", "app-settings")
	b.setValue("#new-doc-data", `{"theme": "dark", "limits": {"max": `+bigNumber+`}, "beta": false}`)
	b.click("#create-doc")
	b.waitFor("app-settings is listed", `document.querySelector('#config-list a[data-name="app-settings"]')`, stepTimeout)
	b.waitText("#doc-title", "app-settings")
	b.waitText("#doc-revision", "1")
	value := b.text("#doc-value")
	for _, want := range []string{"\"theme\": \"dark\"", "\"max\": " + bigNumber, "\n  \"limits\": {\n    \"max\""} {
		if !strings.Contains(value, want) {
			t.Errorf("the document shows %q, without %q (pretty JSON, numbers as stored)", value, want)
		}
	}
	if item := b.text(`#config-list a[data-name="app-settings"]`); !strings.Contains(item, "#1") {
		t.Errorf("the list item %q does not show revision 1", item)
	}
	b.screenshot("11-config-document")

	// Create refuses a name that exists (If-None-Match: *).
	b.click("#new-doc")
	b.typeInto("#new-doc-name", "app-settings")
	b.setValue("#new-doc-data", `{"theme": "light"}`)
	b.click("#create-doc")
	b.waitText("#new-doc-conflict", "already exists")
	doc, err := srv.configs.Get(ctx, "default", "app-settings")
	if err != nil || doc.Revision != 1 {
		t.Fatalf("after a refused create: revision %d, %v; want revision 1", doc.Revision, err)
	}

	// Edit: Save sends If-Match, and the big number survives the round trip.
	b.click(`#config-list a[data-name="app-settings"]`)
	b.waitText("#doc-revision", "1")
	b.click("#edit-doc")
	b.waitFor("the editor has the document", `document.querySelector('#doc-editor').value.includes('`+bigNumber+`')`, stepTimeout)
	b.setValue("#doc-editor", strings.Replace(eval[string](b, `document.querySelector('#doc-editor').value`), `"dark"`, `"light"`, 1))
	b.click("#save-doc")
	b.waitText("#doc-revision", "2")
	b.waitText("#doc-value", `"theme": "light"`)
	doc, err = srv.configs.Get(ctx, "default", "app-settings")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"theme":"light","limits":{"max":` + bigNumber + `},"beta":false}`; string(doc.Data) != want {
		t.Errorf("stored %s, want %s", doc.Data, want)
	}
	b.click("#edit-doc")
	b.setValue("#doc-editor", `[1, 2]`)
	b.click("#save-doc")
	b.waitText("#doc-editor-error", "not an array")

	// Someone else writes the document while it is being edited: the save
	// is a 412, and the page says so, shows the new version, keeps the
	// edit, and reloads on request.
	b.setValue("#doc-editor", `{"theme": "blue"}`)
	srv.mustCallAt(t, 200, "POST", configPrefix+"/app-settings", `{"theme":"solarized","written":"behind the page's back"}`)
	b.click("#save-doc")
	b.waitText("#conflict", "Someone else changed this document")
	if got := b.text("#conflict-message"); !strings.Contains(got, "revision 2") || !strings.Contains(got, "revision 3") {
		t.Errorf("conflict message %q does not say which revisions", got)
	}
	if got := b.text("#conflict-value"); !strings.Contains(got, "solarized") || !strings.Contains(got, `"written": "behind the page's back"`) {
		t.Errorf("the conflict shows %q, want the document written behind the page's back", got)
	}
	if got := eval[string](b, `document.querySelector('#doc-editor').value`); !strings.Contains(got, "blue") {
		t.Errorf("the editor lost the user's edit: %q", got)
	}
	if got := eval[string](b, `document.activeElement.id`); got != "conflict-reload" {
		t.Errorf("the focus is on %q, want the reload button", got)
	}
	b.screenshot("12-config-conflict")
	b.click("#conflict-reload")
	b.waitText("#doc-revision", "3")
	b.waitText("#doc-value", "solarized")
	if n := eval[int](b, `document.querySelectorAll('#doc-editor, #conflict').length`); n != 0 {
		t.Error("the editor is still open after the reload")
	}

	// Again, and this time overwrite: conditionally, on the revision shown.
	b.click("#edit-doc")
	b.setValue("#doc-editor", `{"theme": "mine"}`)
	srv.mustCallAt(t, 200, "PATCH", configPrefix+"/app-settings", `{"patched":true}`)
	b.click("#save-doc")
	b.waitText("#conflict-message", "revision 4")
	b.click("#conflict-overwrite")
	b.waitText("#doc-revision", "5")
	b.waitText("#doc-value", `"theme": "mine"`)
	if doc, err = srv.configs.Get(ctx, "default", "app-settings"); err != nil || string(doc.Data) != `{"theme":"mine"}` {
		t.Errorf("after the overwrite: %s, %v", doc.Data, err)
	}

	// Another environment: its own documents, sent with the header; a bad
	// environment shows the server's message.
	srv.mustCallAt(t, 200, "POST", configPrefix+"/feature-flags", `{"checkout":true}`, "X-Ironflow-Environment", "staging")
	b.typeInto("#env-input", "staging")
	b.click("#env-apply")
	b.waitFor("staging's documents", `document.querySelector('#config-list a[data-name="feature-flags"]') && !document.querySelector('#config-list a[data-name="app-settings"]')`, stepTimeout)
	b.waitText("#config-env", "staging")
	if got := eval[string](b, `document.querySelector('#tabs a[data-tab="secrets"]').getAttribute('href')`); got != "#/secrets?env=staging" {
		t.Errorf("the Secrets tab links to %q, want the environment kept", got)
	}
	b.click(`#config-list a[data-name="feature-flags"]`)
	b.waitText("#doc-value", `"checkout": true`)
	b.typeInto("#env-input", "not valid!")
	b.click("#env-apply")
	b.waitText("#env-error", "not a valid environment")
	b.typeInto("#env-input", "default")
	b.click("#env-apply")
	b.waitFor("default's documents", `document.querySelector('#config-list a[data-name="app-settings"]')`, stepTimeout)

	// Delete asks first; Cancel keeps the document.
	b.click(`#config-list a[data-name="app-settings"]`)
	b.waitText("#doc-revision", "5")
	b.click("#delete-doc")
	b.waitFor("the confirmation dialog opens", `document.querySelector('#confirm').open`, stepTimeout)
	b.click("#confirm-cancel")
	b.waitFor("the dialog closes", `!document.querySelector('#confirm').open`, stepTimeout)
	b.click("#delete-doc")
	b.waitFor("the confirmation dialog opens", `document.querySelector('#confirm').open`, stepTimeout)
	if got := b.text("#confirm-title"); !strings.Contains(got, "app-settings") {
		t.Errorf("the dialog asks %q", got)
	}
	b.click("#confirm-ok")
	b.waitFor("app-settings leaves the list", `!document.querySelector('#config-list a[data-name="app-settings"]') && document.querySelector('#config-list .empty')`, stepTimeout)
	if _, err := srv.configs.Get(ctx, "default", "app-settings"); !errors.Is(err, kv.ErrKeyNotFound) {
		t.Errorf("after the delete, Get: %v, want kv.ErrKeyNotFound", err)
	}

	// A link to a document that does not exist offers to create it.
	b.do("open a missing document", chromedp.Navigate(srv.URL+"/#/config?doc=app-settings"))
	b.waitText("#doc-missing", "no document named")
	b.click("#recreate-doc")
	b.waitFor("the form has the name", `document.querySelector('#new-doc-name').value === 'app-settings'`, stepTimeout)
}

// TestDashboardConfigDeleteConflict deletes a document that someone else
// changed after the page loaded it: the delete is refused (If-Match), and
// the page says so.
func TestDashboardConfigDeleteConflict(t *testing.T) {
	srv := newTestServer(t)
	srv.mustCallAt(t, 200, "POST", configPrefix+"/limits", `{"rps":100}`)
	b := newBrowser(t, srv, 1280, 800)
	b.do("open the document", chromedp.Navigate(srv.URL+"/#/config?doc=limits"))
	b.waitText("#doc-revision", "1")
	srv.mustCallAt(t, 200, "POST", configPrefix+"/limits", `{"rps":250}`)
	b.click("#delete-doc")
	b.waitFor("the confirmation dialog opens", `document.querySelector('#confirm').open`, stepTimeout)
	b.click("#confirm-ok")
	b.waitText("#doc-notice", "not deleted")
	var doc struct {
		Data     json.RawMessage `json:"data"`
		Revision int             `json:"revision"`
	}
	if err := json.Unmarshal([]byte(srv.mustCallAt(t, 200, "GET", configPrefix+"/limits", "")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Revision != 2 || string(doc.Data) != `{"rps":250}` {
		t.Errorf("the document is at revision %d with %s, want the other writer's revision 2", doc.Revision, doc.Data)
	}
	b.click("#notice-reload")
	b.waitText("#doc-value", "250")
}

// TestDashboardHiddenServices runs the page of a server without a Secrets
// API (WithSecretsPath("")): its tab is hidden and a link to its page shows
// the buckets, while Config works.
func TestDashboardHiddenServices(t *testing.T) {
	srv := startTestServer(t, serverConfig{ui: []dashboard.Option{dashboard.WithSecretsPath("")}})
	srv.mustCallAt(t, 200, "POST", configPrefix+"/shown", `{"a":1}`)
	b := newBrowser(t, srv, 1280, 800)
	b.do("open the secrets page", chromedp.Navigate(srv.URL+"/#/secrets"))
	b.waitFor("the buckets view", `document.querySelector('#new-bucket')`, stepTimeout)
	tabs := eval[string](b, `[...document.querySelectorAll('#tabs a')].filter(a => !a.hidden && a.offsetWidth > 0).map(a => a.dataset.tab).join(',')`)
	if tabs != "buckets,config" {
		t.Errorf("visible tabs %q, want buckets,config", tabs)
	}
	b.click(`#tabs a[data-tab="config"]`)
	b.waitFor("the document is listed", `document.querySelector('#config-list a[data-name="shown"]')`, stepTimeout)
}
