package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ironkv/ironkv/bucket"
)

// TestDashboard walks through the dashboard as a user would, in headless
// Chromium against the real API: create a bucket (after a validation
// error), put a key, open it, edit it, lose a race to a writer behind the
// page's back (412), watch changes arrive live and survive a dropped
// connection, filter and page the keys, delete and purge.
func TestDashboard(t *testing.T) {
	srv := newTestServer(t)
	b := newBrowser(t, srv, 1360, 900)

	// An empty server: the buckets view with its create button.
	b.waitFor("the buckets view is shown", `document.querySelector('#new-bucket') && document.querySelector('#bucket-table')`, stepTimeout)
	b.screenshot("01-buckets-empty")

	// Create a bucket; the server's validation error shows next to the field.
	b.click("#new-bucket")
	b.typeInto("#bucket-name", "orders")
	b.typeInto("#bucket-description", "Orders and customers")
	b.typeInto("#bucket-history", "99")
	b.click("#create-bucket-submit")
	b.waitText("#bucket-history-error", "history 99")
	if got := b.text("#bucket-history-error"); !strings.Contains(got, "1..64") {
		t.Errorf("history error %q does not say the allowed range", got)
	}
	if inv := eval[string](b, `document.querySelector('#bucket-history').getAttribute('aria-invalid') || ''`); inv != "true" {
		t.Errorf("history field: aria-invalid %q, want true", inv)
	}
	if hidden := eval[bool](b, `document.querySelector('#bucket-name-error').hidden`); !hidden {
		t.Error("the name field shows an error, but the history was wrong")
	}
	b.screenshot("02-create-bucket-error")
	b.typeInto("#bucket-history", "5")
	b.click("#create-bucket-submit")
	b.waitText("#bucket-title", "orders")
	b.waitFor("the live panel is connected", `document.querySelector('#live-status').dataset.state === 'live'`, stepTimeout)

	// Put a key with the new-key form, and see it listed and opened.
	b.click("#new-key")
	b.typeInto("#new-key-name", "user.1")
	b.setValue("#new-key-value", `{"name":"Ada","plan":"free"}`)
	b.click("#create-key")
	b.waitFor("user.1 is listed", `document.querySelector('#key-list a[data-key="user.1"]')`, stepTimeout)
	b.waitText("#entry-title", "user.1")
	b.waitText("#entry-revision", "1")
	if got := b.text("#entry-kind"); got != "JSON" {
		t.Errorf("shown as %q, want JSON", got)
	}
	if got := b.text("#entry-value"); !strings.Contains(got, `"plan": "free"`) {
		t.Errorf("value %q is not pretty-printed JSON", got)
	}
	// Create refuses a key that has a value.
	b.click("#new-key")
	b.typeInto("#new-key-name", "user.1")
	b.setValue("#new-key-value", "again")
	b.click("#create-key")
	b.waitText("#new-key-conflict", "already has a value")

	// Open it from the list and edit it: Update sends If-Match.
	b.click(`#key-list a[data-key="user.1"]`)
	b.waitText("#entry-revision", "1")
	b.click("#edit-key")
	b.setValue("#value-editor", "{\n  \"name\": \"Ada\",\n  \"plan\": \"pro\"\n}")
	b.click("#save-key")
	b.waitText("#entry-revision", "2")
	b.waitText("#entry-value", `"plan": "pro"`)
	b.waitText("#history-list", `"plan": "pro"`)
	if n := eval[int](b, `document.querySelectorAll('#history-list > li').length`); n != 2 {
		t.Errorf("history shows %d revisions, want 2", n)
	}
	if got := eval[string](b, `[...document.querySelectorAll('#history-list li:first-child .dl-add')].map(e => e.innerText).join('|')`); !strings.Contains(got, `"plan": "pro"`) {
		t.Errorf("the diff of revision 2 adds %q, want the new plan", got)
	}
	if got := eval[string](b, `[...document.querySelectorAll('#history-list li:first-child .dl-del')].map(e => e.innerText).join('|')`); !strings.Contains(got, `"plan": "free"`) {
		t.Errorf("the diff of revision 2 removes %q, want the old plan", got)
	}

	// Someone else writes the key while it is being edited: the save is a
	// 412, and the page says so, shows the new value, and can overwrite.
	b.click("#edit-key")
	b.setValue("#value-editor", `{"name":"Ada","plan":"team"}`)
	srv.mustCall(t, 200, "PUT", "/buckets/orders/keys/user.1", `{"name":"Ada","plan":"enterprise"}`)
	b.click("#save-key")
	b.waitText("#conflict-message", "revision 3")
	if got := b.text("#conflict"); !strings.Contains(got, "Someone else changed this key") || !strings.Contains(got, "revision 2") {
		t.Errorf("conflict message %q does not say who changed what", got)
	}
	if got := b.text("#conflict-value"); !strings.Contains(got, "enterprise") {
		t.Errorf("conflict shows %q, want the value written behind the page's back", got)
	}
	if got := eval[string](b, `document.querySelector('#value-editor').value`); !strings.Contains(got, "team") {
		t.Errorf("the editor lost the user's edit: %q", got)
	}
	b.screenshot("03-conflict")
	b.click("#conflict-overwrite")
	b.waitText("#entry-revision", "4")
	b.waitText("#entry-value", `"plan": "team"`)

	// Live: a key written over the API appears in the live panel, pushed
	// over the WebSocket with no action of the user, and is highlighted.
	start := time.Now()
	srv.mustCall(t, 200, "PUT", "/buckets/orders/keys/user.2", `{"name":"Grace","plan":"free"}`)
	b.waitFor("user.2 appears in the live panel", `document.querySelector('#live-list li[data-key="user.2"]')`, 10*time.Second)
	t.Logf("a key written over the API appeared in the live panel after %v", time.Since(start).Round(time.Millisecond))
	if cls := eval[string](b, `document.querySelector('#live-list li[data-key="user.2"]').className`); !strings.Contains(cls, "flash") {
		t.Errorf("the new key's live item has classes %q, want it highlighted (flash)", cls)
	}
	b.waitText("#detail", "user.1") // the open key stays open
	for _, k := range []string{"config:theme", "orders.2024.0001", "orders.2024.0002"} {
		srv.mustCall(t, 200, "PUT", "/buckets/orders/keys/"+url.PathEscape(k), fmt.Sprintf(`{"key":%q,"total":%d}`, k, len(k)*7))
	}
	srv.mustCall(t, 200, "PUT", "/buckets/orders/keys/blob", "\x00\x01\x02\xffbinary\x80")
	srv.mustCall(t, 204, "DELETE", "/buckets/orders/keys/user.2", "")
	b.waitFor("user.2 is struck out as deleted", `document.querySelector('#live-list li[data-key="user.2"][data-op="delete"].gone')`, 10*time.Second)
	if dec := eval[string](b, `getComputedStyle(document.querySelector('#live-list li[data-key="user.2"] .live-key')).textDecorationLine`); dec != "line-through" {
		t.Errorf("deleted key's text-decoration is %q, want line-through", dec)
	}
	b.waitFor("the key list offers a refresh", `[...document.querySelectorAll('.keys-panel .notice')].some(n => !n.hidden && n.innerText.includes('Refresh list'))`, stepTimeout)
	b.click(".keys-panel .notice button")
	b.waitFor("the refreshed list shows the new keys", `document.querySelector('#key-list a[data-key="config:theme"]')`, stepTimeout)
	b.waitFor("the last change is in the live panel", `document.querySelector('#live-list li[data-key="orders.2024.0002"]')`, stepTimeout)
	if !testing.Short() {
		saveReadmeScreenshot(t, b)
	}
	b.screenshot("04-bucket")

	// A dropped connection: the page reconnects with since=<last revision>
	// and gets the change it missed while it was away.
	lastRev := eval[int](b, `Math.max(...[...document.querySelectorAll('#live-list li')].map(li => +li.dataset.rev))`)
	before := srv.watches.count()
	srv.watches.block(true)
	if n := srv.watches.drop(); n != 1 {
		t.Fatalf("dropped %d watch connections, want the page's one", n)
	}
	b.waitFor("the live panel notices the drop", `document.querySelector('#live-status').dataset.state !== 'live'`, stepTimeout)
	srv.mustCall(t, 200, "PUT", "/buckets/orders/keys/while.away", `"written while the page was disconnected"`)
	srv.watches.block(false)
	b.waitFor("the change made while away appears", `document.querySelector('#live-list li[data-key="while.away"]')`, stepTimeout)
	b.waitFor("the live panel is connected again", `document.querySelector('#live-status').dataset.state === 'live'`, stepTimeout)
	resumed := srv.watches.since(before)
	if len(resumed) == 0 {
		t.Fatal("the page did not reconnect")
	}
	for _, q := range resumed {
		v, _ := url.ParseQuery(q)
		if v.Get("since") != strconv.Itoa(lastRev) || v.Has("snapshot") {
			t.Errorf("reconnected with %q, want since=%d and no snapshot", q, lastRev)
		}
	}

	// Filters: the server's error for a wildcard inside a token, then a
	// good filter, with the keys sorted.
	b.typeInto("#key-filter", "user-*")
	b.click("#apply-filter")
	b.waitText("#filter-error", "must be a whole token")
	b.screenshot("05-filter-error")
	b.typeInto("#key-filter", "orders.>")
	b.click("#apply-filter")
	b.waitFor("the filter applies", `document.querySelector('#filter-error').hidden && document.querySelectorAll('#key-list a[data-key]').length === 2`, stepTimeout)
	if got := eval[string](b, `[...document.querySelectorAll('#key-list a[data-key]')].map(a => a.dataset.key).join(',')`); got != "orders.2024.0001,orders.2024.0002" {
		t.Errorf("filtered keys %q", got)
	}
	b.typeInto("#key-filter", "")
	b.click("#apply-filter")
	b.waitFor("all keys are listed again", `document.querySelectorAll('#key-list a[data-key]').length === 6`, stepTimeout)
	if got := eval[string](b, `[...document.querySelectorAll('#key-list a[data-key]')].map(a => a.dataset.key).join(',')`); got != "blob,config:theme,orders.2024.0001,orders.2024.0002,user.1,while.away" {
		t.Errorf("keys %q, want them sorted", got)
	}

	// A binary value is shown as hex.
	b.click(`#key-list a[data-key="blob"]`)
	b.waitText("#entry-kind", "Binary")
	b.waitText("#entry-value", "00 01 02 ff")

	// Delete keeps the history; purge removes it.
	b.click(`#key-list a[data-key="user.1"]`)
	b.waitText("#entry-revision", "4")
	b.click("#delete-key")
	b.waitFor("the confirmation dialog opens", `document.querySelector('#confirm').open`, stepTimeout)
	b.click("#confirm-ok")
	b.waitText("#entry-missing", "deleted at revision")
	b.waitFor("user.1 leaves the list", `!document.querySelector('#key-list a[data-key="user.1"]')`, stepTimeout)
	b.waitFor("user.1 is struck out in the live panel", `document.querySelector('#live-list li[data-key="user.1"].gone')`, stepTimeout)
	// The bucket has been listed, so its info carries the live key count.
	b.waitFor("the stats show 5 live keys", `[...document.querySelectorAll('#bucket-stats dt')].some(d => d.textContent === 'Keys' && d.nextElementSibling.textContent === '5')`, stepTimeout)
	if n := eval[int](b, `document.querySelectorAll('#history-list > li').length`); n != 5 {
		t.Errorf("after delete the history shows %d revisions, want 5 (4 values and the tombstone)", n)
	}
	b.click("#purge-key")
	b.waitFor("the confirmation dialog opens", `document.querySelector('#confirm').open`, stepTimeout)
	b.click("#confirm-ok")
	b.waitText("#entry-missing", "purged")
	b.waitFor("user.1 is purged in the live panel", `document.querySelector('#live-list li[data-key="user.1"][data-op="purge"]')`, stepTimeout)
	if code, _ := srv.call(t, "GET", "/buckets/orders/history/user.1", ""); code == 200 {
		if _, body := srv.call(t, "GET", "/buckets/orders/history/user.1", ""); strings.Contains(body, `"put"`) {
			t.Errorf("after purge the history still has values: %s", body)
		}
	}

	// Back to the buckets: orders is listed with its config; a second
	// bucket is deleted after a confirmation.
	srv.mustCall(t, 201, "POST", "/buckets", `{"name":"scratch","ttl_seconds":3600}`)
	b.click(`.crumbs a[href="#/"]`)
	b.waitFor("both buckets are listed", `document.querySelectorAll('#bucket-table tbody tr').length === 2`, stepTimeout)
	row := eval[string](b, `document.querySelector('tr[data-bucket="orders"]').innerText`)
	for _, want := range []string{"orders", "Orders and customers", "none", "5"} {
		if !strings.Contains(row, want) {
			t.Errorf("the orders row %q lacks %q", row, want)
		}
	}
	if got := eval[string](b, `document.querySelector('tr[data-bucket="scratch"] td[data-label="TTL"]').innerText`); got != "1h" {
		t.Errorf("scratch TTL shows %q, want 1h", got)
	}
	b.screenshot("06-buckets")
	b.click(`tr[data-bucket="scratch"] .row-actions button`)
	b.waitFor("the confirmation dialog opens", `document.querySelector('#confirm').open`, stepTimeout)
	b.click("#confirm-cancel")
	b.waitFor("the dialog closes", `!document.querySelector('#confirm').open`, stepTimeout)
	b.click(`tr[data-bucket="scratch"] .row-actions button`)
	b.waitFor("the confirmation dialog opens", `document.querySelector('#confirm').open`, stepTimeout)
	b.click("#confirm-ok")
	b.waitFor("scratch is gone", `!document.querySelector('tr[data-bucket="scratch"]') && document.querySelector('tr[data-bucket="orders"]')`, stepTimeout)
	if _, err := srv.store.Bucket(context.Background(), "scratch"); err == nil {
		t.Error("the scratch bucket still exists after its deletion in the UI")
	}
}

// saveReadmeScreenshot opens a JSON key with history in the bucket view
// and, with IRONKV_UPDATE_SCREENSHOT=1, saves the page as screenshot.png,
// the picture of the README.
func saveReadmeScreenshot(t *testing.T, b *browser) {
	t.Helper()
	b.click(`#key-list a[data-key="user.1"]`)
	b.waitText("#entry-revision", "4")
	var info struct {
		Values int `json:"values"`
	}
	if err := json.Unmarshal([]byte(b.srv.mustCall(t, 200, "GET", "/buckets/orders", "")), &info); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the bucket's counts are up to date", fmt.Sprintf(`document.querySelector('#bucket-stats dd').innerText === '%d'`, info.Values), stepTimeout)
	// Show the page as it looks a few seconds later, once the toasts are
	// gone and the highlights of all but the last two changes have faded.
	b.do("let the page settle", chromedp.Evaluate[chromedp.Void](`
		document.getElementById('toasts').replaceChildren();
		document.activeElement && document.activeElement.blur();
		[...document.querySelectorAll('#live-list li')].slice(2).forEach(li => li.classList.remove('flash'));`))
	png := b.screenshot("readme")
	if os.Getenv("IRONKV_UPDATE_SCREENSHOT") == "1" && png != nil {
		if err := os.WriteFile(filepath.Join(".", "screenshot.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("updated screenshot.png")
	}
}

// TestDashboardPaging lists a bucket bigger than a page.
func TestDashboardPaging(t *testing.T) {
	srv := newTestServer(t)
	ctx := context.Background()
	bk, err := srv.store.CreateBucket(ctx, bucket.Config{Name: "many"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 57 {
		if _, err := bk.Put(ctx, fmt.Sprintf("k.%03d", i), []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	b := newBrowser(t, srv, 1280, 800)
	b.do("open the bucket", chromedp.Navigate(srv.URL+"/#/b/many"))
	b.waitFor("the first page", `document.querySelectorAll('#key-list a[data-key]').length === 50`, stepTimeout)
	b.waitText("#key-count", "more follow")
	b.click("#page-next")
	b.waitFor("the second page", `document.querySelectorAll('#key-list a[data-key]').length === 7`, stepTimeout)
	if got := eval[string](b, `[...document.querySelectorAll('#key-list a[data-key]')].map(a => a.dataset.key).join(',')`); got != "k.050,k.051,k.052,k.053,k.054,k.055,k.056" {
		t.Errorf("second page %q", got)
	}
	if dis := eval[bool](b, `document.querySelector('#page-next').disabled`); !dis {
		t.Error("Next is enabled on the last page")
	}
	b.click("#page-prev")
	b.waitFor("back on the first page", `document.querySelector('#key-list a[data-key]').dataset.key === 'k.000'`, stepTimeout)

	// A link to a key opens it.
	b.do("open a key by its URL", chromedp.Navigate(srv.URL+"/#/b/many?key=k.042"))
	b.waitText("#entry-title", "k.042")
	b.waitText("#entry-value", "42")
}

// TestDashboardSignIn runs against a server that requires an API key: the
// page asks for it, refuses a wrong one, keeps the right one in the tab's
// session storage only, and uses it for REST and for the watch socket.
func TestDashboardSignIn(t *testing.T) {
	const key = "dashboard-test-key-7f3a9c"
	srv := newTestServer(t, key)
	srv.mustCall(t, 201, "POST", "/buckets", `{"name":"secrets-of-state","description":"behind a key","history":3}`)
	b := newBrowser(t, srv, 1280, 800)

	b.waitFor("the sign-in box", `document.querySelector('#api-key')`, stepTimeout)
	b.screenshot("07-sign-in")
	b.typeInto("#api-key", "wrong-key")
	b.click("#sign-in")
	b.waitText("#api-key-error", "refused")
	if got := eval[string](b, `sessionStorage.getItem('ironkv.apiKey') || ''`); got != "" {
		t.Errorf("a refused key was kept: %q", got)
	}
	b.typeInto("#api-key", key)
	b.do("sign in with Enter", chromedp.SendKeys(chromedp.CSS("#api-key"), kb.Enter))
	b.waitFor("the bucket is listed", `document.querySelector('tr[data-bucket="secrets-of-state"]')`, stepTimeout)
	if got := eval[string](b, `sessionStorage.getItem('ironkv.apiKey')`); got != key {
		t.Errorf("session storage holds %q, want the key", got)
	}
	if n := eval[int](b, `localStorage.length`); n != 0 {
		t.Errorf("local storage holds %d items, want none", n)
	}
	if c := eval[string](b, `document.cookie`); c != "" {
		t.Errorf("cookies %q, want none", c)
	}

	// The watch socket authenticates with ?token=.
	b.click(`a[href="#/b/secrets-of-state"]`)
	b.waitFor("the live panel is connected", `document.querySelector('#live-status').dataset.state === 'live'`, stepTimeout)
	srv.mustCall(t, 200, "PUT", "/buckets/secrets-of-state/keys/door.code", `"1234"`)
	b.waitFor("the key appears live", `document.querySelector('#live-list li[data-key="door.code"]')`, 10*time.Second)
	for _, q := range srv.watches.since(0) {
		if v, _ := url.ParseQuery(q); v.Get("token") != key {
			t.Errorf("watch request %q does not carry the key as token", q)
		}
	}

	// The Config and Secrets APIs take the same key.
	srv.mustCallAt(t, 200, "POST", configPrefix+"/door", `{"opens":"09:00"}`)
	srv.mustCallAt(t, 201, "POST", secretsPrefix, `{"name":"DOOR_CODE","value":"4321","description":"front door"}`)
	b.click(`#tabs a[data-tab="config"]`)
	b.waitFor("the document is listed", `document.querySelector('#config-list a[data-name="door"]')`, stepTimeout)
	b.click(`#tabs a[data-tab="secrets"]`)
	b.waitText(`#secret-list a[data-name="DOOR_CODE"]`, "front door")

	// Signing out forgets the key and asks again: the Secrets API, too,
	// answers 401 without it. Signing in again comes back to the page.
	b.click("#sign-out")
	b.waitFor("the sign-in box again", `document.querySelector('#api-key')`, stepTimeout)
	if got := eval[string](b, `sessionStorage.getItem('ironkv.apiKey') || ''`); got != "" {
		t.Errorf("after sign-out session storage holds %q", got)
	}
	if hidden := eval[bool](b, `document.querySelector('#tabs').hidden`); !hidden {
		t.Error("the tabs are shown with the sign-in box")
	}
	b.typeInto("#api-key", key)
	b.click("#sign-in")
	b.waitText(`#secret-list a[data-name="DOOR_CODE"]`, "front door")
}

// TestDashboardNarrow checks the page on a 360 px wide phone screen: no
// horizontal scrolling, and the main controls visible and inside the screen.
// It also reaches the create form with the keyboard alone.
func TestDashboardNarrow(t *testing.T) {
	srv := newTestServer(t)
	srv.mustCall(t, 201, "POST", "/buckets", `{"name":"phone","description":"A bucket seen on a small screen","history":4}`)
	srv.mustCall(t, 200, "PUT", "/buckets/phone/keys/settings.theme", `{"mode":"dark","accent":"blue"}`)
	b := newBrowser(t, srv, 360, 740)

	inside := func(sel string) {
		t.Helper()
		b.inside(sel, 360)
	}
	noScroll := func(where string) {
		t.Helper()
		b.noScroll(where, 360)
	}

	b.waitFor("the bucket card", `document.querySelector('tr[data-bucket="phone"]')`, stepTimeout)
	for _, sel := range []string{"#new-bucket", "#refresh-buckets", `tr[data-bucket="phone"] .bucket-link`, `tr[data-bucket="phone"] .row-actions button`} {
		inside(sel)
	}
	noScroll("buckets")
	b.screenshot("08-narrow-buckets")

	// Keyboard: Tab reaches "New bucket", Enter opens the form with the
	// focus in its first field.
	reached := false
	for range 12 {
		b.do("press Tab", chromedp.KeyEvent(kb.Tab))
		if eval[string](b, `document.activeElement.id`) == "new-bucket" {
			reached = true
			break
		}
	}
	if !reached {
		t.Fatal("Tab never reached the New bucket button")
	}
	if outline := eval[string](b, `getComputedStyle(document.activeElement).outlineStyle`); outline == "none" {
		t.Error("the focused button shows no focus outline")
	}
	b.do("press Enter", chromedp.KeyEvent(kb.Enter))
	b.waitFor("the form has the focus", `document.activeElement.id === 'bucket-name'`, stepTimeout)
	for _, sel := range []string{"#bucket-name", "#bucket-ttl_seconds", "#bucket-storage", "#create-bucket-submit"} {
		inside(sel)
	}
	noScroll("create form")
	b.screenshot("09-narrow-create")

	b.do("open the bucket", chromedp.Navigate(srv.URL+"/#/b/phone?key=settings.theme"))
	b.waitText("#entry-title", "settings.theme")
	b.waitFor("the live panel is connected", `document.querySelector('#live-status').dataset.state === 'live'`, stepTimeout)
	for _, sel := range []string{"#key-filter", "#apply-filter", "#new-key", `#key-list a[data-key="settings.theme"]`, "#entry-value", "#edit-key", "#delete-key", "#purge-key", "#live-status"} {
		inside(sel)
	}
	noScroll("bucket")
	b.screenshot("10-narrow-bucket")
}
