package dashboard_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ironkv/ironkv/kv"
)

// The values the tests set: distinctive, so that finding one anywhere is
// a leak.
const (
	secretValue    = "sk_live_Dash9Qm2Vx7Lp4Rt6"
	secretReplaced = "sk_live_Rot8Kd3Zq1Wn5Ys2"
)

// TestDashboardSecrets walks through the Secrets pages in headless Chromium
// against the real Secrets API: set a secret, see it listed with its
// description, be refused a second one of the same name, replace its value,
// edit its description, delete it. The values go to the server (the
// library decrypts them) but never come back: not in the page's DOM, its
// fields or storage once a form is submitted, and not in any answer or URL
// of the API.
func TestDashboardSecrets(t *testing.T) {
	srv := newTestServer(t)
	ctx := context.Background()
	b := newBrowser(t, srv, 1360, 900)

	b.waitFor("the tabs", `document.querySelector('#tabs a[data-tab="secrets"]')`, stepTimeout)
	b.click(`#tabs a[data-tab="secrets"]`)
	b.waitFor("the secrets view", `document.querySelector('#new-secret') && document.querySelector('#secret-list .empty')`, stepTimeout)

	// Set a secret.
	b.click("#new-secret")
	b.typeInto("#new-secret-name", "STRIPE_API_KEY")
	if typ := eval[string](b, `document.querySelector('#new-secret-value').type`); typ != "password" {
		t.Errorf("the value field is of type %q, want password", typ)
	}
	b.typeInto("#new-secret-value", secretValue)
	b.typeInto("#new-secret-description", "Stripe live key, billing service")
	if !b.pageHolds(secretValue) {
		t.Fatal("checkNoSecret cannot see a value typed in a field")
	}
	b.click("#create-secret")
	b.waitFor("the secret is listed", `document.querySelector('#secret-list a[data-name="STRIPE_API_KEY"]')`, stepTimeout)
	b.waitText("#secret-title", "STRIPE_API_KEY")
	b.waitText("#secret-revision", "1")
	b.waitText("#secret-description", "Stripe live key, billing service")
	item := b.text(`#secret-list a[data-name="STRIPE_API_KEY"]`)
	for _, want := range []string{"STRIPE_API_KEY", "Stripe live key, billing service", "#1", "created", "updated"} {
		if !strings.Contains(item, want) {
			t.Errorf("the list item %q lacks %q", item, want)
		}
	}
	b.checkNoSecret(secretValue)
	if got, err := srv.secrets.Reveal(ctx, "default", "STRIPE_API_KEY"); err != nil || string(got) != secretValue {
		t.Fatalf("the library reads %q, %v; want the value typed in the page", got, err)
	}
	b.screenshot("13-secret")

	// A second secret of the same name is refused (409), and the first one
	// keeps its value.
	b.click("#new-secret")
	b.typeInto("#new-secret-name", "STRIPE_API_KEY")
	b.typeInto("#new-secret-value", "another-value-entirely")
	b.click("#create-secret")
	b.waitText("#new-secret-error", "already exists")
	if got, err := srv.secrets.Reveal(ctx, "default", "STRIPE_API_KEY"); err != nil || string(got) != secretValue {
		t.Errorf("after a refused create the library reads %q, %v", got, err)
	}
	// The server's 400 for a bad name shows under the name.
	b.typeInto("#new-secret-name", "no spaces please")
	b.click("#create-secret")
	b.waitText("#new-secret-name-error", "secret name")

	// Replace the value: write-only, the field is cleared once it is saved.
	b.click(`#secret-list a[data-name="STRIPE_API_KEY"]`)
	b.waitText("#secret-revision", "1")
	if typ := eval[string](b, `document.querySelector('#replace-value').type`); typ != "password" {
		t.Errorf("the replace field is of type %q, want password", typ)
	}
	b.typeInto("#replace-value", secretReplaced)
	b.do("submit with Enter", chromedp.SendKeys(chromedp.CSS("#replace-value"), kb.Enter))
	b.waitText("#secret-revision", "2")
	b.waitFor("the field is cleared", `document.querySelector('#replace-value').value === ''`, stepTimeout)
	b.checkNoSecret(secretValue, secretReplaced)
	if got, err := srv.secrets.Reveal(ctx, "default", "STRIPE_API_KEY"); err != nil || string(got) != secretReplaced {
		t.Errorf("after the replacement the library reads %q, %v", got, err)
	}
	if got := b.text("#secret-description"); got != "Stripe live key, billing service" {
		t.Errorf("replacing the value changed the description to %q", got)
	}

	// Edit the description (PATCH): the value stays.
	b.typeInto("#edit-description", "Stripe key, rotated")
	b.click("#description-submit")
	b.waitText("#secret-description", "Stripe key, rotated")
	b.waitText("#secret-revision", "3")
	b.waitText(`#secret-list a[data-name="STRIPE_API_KEY"]`, "Stripe key, rotated")
	if got, err := srv.secrets.Reveal(ctx, "default", "STRIPE_API_KEY"); err != nil || string(got) != secretReplaced {
		t.Errorf("after the description's change the library reads %q, %v", got, err)
	}

	// What crossed the network: the values went out once each, in the body
	// of the POST and of the PUT, and never came back.
	var sent []string
	for _, x := range srv.traffic.all() {
		for _, v := range []string{secretValue, secretReplaced} {
			if bytes.Contains(x.response, []byte(v)) || strings.Contains(x.url, v) || strings.Contains(strings.Join(x.respHeader.Values("Location"), " "), v) {
				t.Errorf("%s %s (status %d) gave back a secret value: %s", x.method, x.url, x.status, x.response)
			}
			if bytes.Contains(x.body, []byte(v)) {
				sent = append(sent, x.method+" "+x.url)
			}
		}
		if x.method == "GET" && x.header.Get("X-Ironflow-Environment") != "default" {
			t.Errorf("%s %s: X-Ironflow-Environment %q, want default", x.method, x.url, x.header.Get("X-Ironflow-Environment"))
		}
	}
	if want := []string{"POST " + "/secrets", "PUT /secrets/STRIPE_API_KEY"}; strings.Join(sent, ",") != strings.Join(want, ",") {
		t.Errorf("the values were sent by %q, want %q", sent, want)
	}
	b.screenshot("14-secret-edited")

	// Delete asks first.
	b.click("#delete-secret")
	b.waitFor("the confirmation dialog opens", `document.querySelector('#confirm').open`, stepTimeout)
	b.click("#confirm-ok")
	b.waitFor("the secret leaves the list", `!document.querySelector('#secret-list a[data-name="STRIPE_API_KEY"]') && document.querySelector('#secret-list .empty')`, stepTimeout)
	if _, err := srv.secrets.Info(ctx, "default", "STRIPE_API_KEY"); !errors.Is(err, kv.ErrKeyNotFound) {
		t.Errorf("after the delete, Info: %v, want kv.ErrKeyNotFound", err)
	}
	b.checkNoSecret(secretValue, secretReplaced)
}

// checkNoSecret fails the test when the page holds one of values.
func (b *browser) checkNoSecret(values ...string) {
	b.t.Helper()
	for _, v := range values {
		if b.pageHolds(v) {
			b.t.Errorf("the page holds the secret value %q after the form was submitted", v)
		}
	}
}

// pageHolds reports whether s is anywhere the page keeps what it can read:
// its HTML, the values of its fields, its title, its URL or its storage.
func (b *browser) pageHolds(s string) bool {
	b.t.Helper()
	page := eval[string](b, `[document.documentElement.outerHTML, document.title, location.href,
		...[...document.querySelectorAll('input, textarea, select')].map(e => e.value),
		JSON.stringify({...sessionStorage}), JSON.stringify({...localStorage})].join('\n')`)
	return strings.Contains(page, s)
}

// TestDashboardSecretsEnvironments keeps the secrets of two environments
// apart, and shows the server's message for a bad environment.
func TestDashboardSecretsEnvironments(t *testing.T) {
	srv := newTestServer(t)
	srv.mustCallAt(t, 201, "POST", secretsPrefix, `{"name":"DB_URL","value":"postgres://prod","description":"production database"}`, "X-Ironflow-Environment", "prod")
	srv.mustCallAt(t, 201, "POST", secretsPrefix, `{"name":"DB_URL","value":"postgres://dev","description":"development database"}`)
	b := newBrowser(t, srv, 1280, 800)
	b.do("open the prod secrets", chromedp.Navigate(srv.URL+"/#/secrets?env=prod"))
	b.waitText(`#secret-list a[data-name="DB_URL"]`, "production database")
	if got := eval[string](b, `document.querySelector('#env-input').value`); got != "prod" {
		t.Errorf("environment field %q, want prod", got)
	}
	b.click(`#tabs a[data-tab="config"]`)
	b.waitFor("the config view of prod", `document.querySelector('#config-env')`, stepTimeout)
	b.waitText("#config-env", "prod")
	b.click(`#tabs a[data-tab="secrets"]`)
	b.waitText(`#secret-list a[data-name="DB_URL"]`, "production database")
	b.typeInto("#env-input", "default")
	b.click("#env-apply")
	b.waitText(`#secret-list a[data-name="DB_URL"]`, "development database")
	b.typeInto("#env-input", "../prod")
	b.click("#env-apply")
	b.waitText("#env-error", "not a valid environment")
}

// TestDashboardSecretsNoMasterKey runs against a server without a master
// key: the Secrets API answers 503, and the page shows its message, which
// says how to set a key.
func TestDashboardSecretsNoMasterKey(t *testing.T) {
	srv := startTestServer(t, serverConfig{noMasterKey: true})
	b := newBrowser(t, srv, 1280, 800)
	b.do("open the secrets", chromedp.Navigate(srv.URL+"/#/secrets"))
	b.waitText("#secrets-unavailable", "IRONKV_MASTER_KEY")
	b.screenshot("15-secrets-no-master-key")
	b.click("#new-secret")
	b.typeInto("#new-secret-name", "API_TOKEN")
	b.typeInto("#new-secret-value", secretValue)
	b.click("#create-secret")
	b.waitText("#new-secret-error", "no master key")
	b.checkNoSecret(secretValue)
}

// TestDashboardNarrowConfigSecrets checks the Config and Secrets pages on a
// 360 px wide phone screen: the tabs are reached and followed with the
// keyboard, nothing scrolls sideways, and the controls are inside the
// screen.
func TestDashboardNarrowConfigSecrets(t *testing.T) {
	const width = 360
	srv := newTestServer(t)
	srv.mustCallAt(t, 200, "POST", configPrefix+"/mobile.app-settings", `{"theme":"dark","accent":"blue","limits":{"uploads_per_day":250,"max_upload_bytes":10485760}}`)
	srv.mustCallAt(t, 201, "POST", secretsPrefix, `{"name":"PUSH_NOTIFICATIONS_SIGNING_KEY","value":"`+secretValue+`","description":"Signs the push notifications sent to the iOS and Android apps; rotate it every 90 days"}`)
	b := newBrowser(t, srv, width, 740)

	b.waitFor("the tabs", `document.querySelector('#tabs a[data-tab="config"]')`, stepTimeout)
	for _, sel := range []string{`#tabs a[data-tab="buckets"]`, `#tabs a[data-tab="config"]`, `#tabs a[data-tab="secrets"]`} {
		b.inside(sel, width)
	}
	b.noScroll("buckets", width)

	// Keyboard: Tab reaches the Config tab, with a visible focus; Enter
	// follows it.
	reached := false
	for range 12 {
		b.do("press Tab", chromedp.KeyEvent(kb.Tab))
		if eval[string](b, `document.activeElement.dataset.tab || ''`) == "config" {
			reached = true
			break
		}
	}
	if !reached {
		t.Fatal("Tab never reached the Config tab")
	}
	if outline := eval[string](b, `getComputedStyle(document.activeElement).outlineStyle`); outline == "none" {
		t.Error("the focused tab shows no focus outline")
	}
	b.do("press Enter", chromedp.KeyEvent(kb.Enter))
	b.waitFor("the config view", `document.querySelector('#config-list a[data-name="mobile.app-settings"]')`, stepTimeout)
	for _, sel := range []string{"#env-input", "#env-apply", "#new-doc", "#refresh-config", `#config-list a[data-name="mobile.app-settings"]`} {
		b.inside(sel, width)
	}
	b.noScroll("config", width)
	b.click(`#config-list a[data-name="mobile.app-settings"]`)
	b.waitText("#doc-value", "uploads_per_day")
	b.click("#edit-doc")
	b.setValue("#doc-editor", `{"theme": "light"}`)
	srv.mustCallAt(t, 200, "POST", configPrefix+"/mobile.app-settings", `{"theme":"written elsewhere"}`)
	b.click("#save-doc")
	b.waitText("#conflict", "Someone else changed this document")
	for _, sel := range []string{"#doc-title", "#doc-value", "#doc-editor", "#save-doc", "#conflict-value", "#conflict-reload", "#conflict-overwrite"} {
		b.inside(sel, width)
	}
	b.noScroll("config conflict", width)
	b.screenshot("16-narrow-config")

	b.click(`#tabs a[data-tab="secrets"]`)
	b.waitFor("the secrets view", `document.querySelector('#secret-list a[data-name="PUSH_NOTIFICATIONS_SIGNING_KEY"]')`, stepTimeout)
	b.click(`#secret-list a[data-name="PUSH_NOTIFICATIONS_SIGNING_KEY"]`)
	b.waitText("#secret-title", "PUSH_NOTIFICATIONS_SIGNING_KEY")
	for _, sel := range []string{"#env-input", "#new-secret", `#secret-list a[data-name="PUSH_NOTIFICATIONS_SIGNING_KEY"]`, "#secret-revision", "#secret-description", "#replace-value", "#replace-submit", "#edit-description", "#description-submit", "#delete-secret"} {
		b.inside(sel, width)
	}
	b.noScroll("secret", width)
	b.screenshot("17-narrow-secret")
	b.click("#new-secret")
	for _, sel := range []string{"#new-secret-name", "#new-secret-value", "#new-secret-description", "#create-secret"} {
		b.inside(sel, width)
	}
	b.noScroll("new secret", width)
	b.checkNoSecret(secretValue)
}
