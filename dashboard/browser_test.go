package dashboard_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/config"
	"github.com/ironkv/ironkv/dashboard"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/httpapi"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
	"github.com/ironkv/ironkv/secrets"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// Where the test server mounts the APIs, as examples/server does: the KV
// API at apiPrefix, and the Config and Secrets handlers, whose routes are
// /config... and /secrets..., below /api/v1.
const (
	apiPrefix     = "/api/v1/kv"
	servicesMount = "/api/v1"
	configPrefix  = servicesMount + "/config"
	secretsPrefix = servicesMount + "/secrets"
)

// stepTimeout bounds one browser step, so that a broken page fails the test
// with a screenshot instead of hanging it. It is generous: it only matters
// when something is wrong.
const stepTimeout = 15 * time.Second

// needChromium returns the path of Chromium: $IRONKV_CHROMIUM when set,
// otherwise /usr/bin/chromium (Debian's chromium package) or chromium on
// the PATH. Without it the test is skipped, except under CI=true, where a
// missing browser is a failure.
func needChromium(t *testing.T) string {
	t.Helper()
	candidates := []string{chromiumPath}
	if p, err := exec.LookPath("chromium"); err == nil {
		candidates = append(candidates, p)
	}
	if env := os.Getenv("IRONKV_CHROMIUM"); env != "" {
		candidates = []string{env}
	}
	for _, p := range candidates {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("chromium not found at %s: the dashboard's browser tests must run in CI; install it with apt-get install -y chromium", strings.Join(candidates, " or "))
	}
	t.Skipf("chromium not found at %s, so the dashboard's browser tests are skipped. "+
		"To run them, install it (apt-get install -y chromium) or point IRONKV_CHROMIUM at a Chromium binary; "+
		"with CI=true a missing browser fails the tests", strings.Join(candidates, " or "))
	return ""
}

// testServer is the APIs (KV, Config, Secrets) and the dashboard on an
// in-process NATS server, routed as examples/server routes them.
type testServer struct {
	URL     string
	apiKey  string
	store   *kv.Store
	configs *config.Configs
	secrets *secrets.Secrets // nil when the server has no master key
	watches *watchTracker
	traffic *trafficRecorder // every request to the Secrets API and its answer
}

// serverConfig says how to build a testServer.
type serverConfig struct {
	apiKeys     []string
	noMasterKey bool // the Secrets API answers 503, as a server without a key does
	ui          []dashboard.Option
}

func newTestServer(t *testing.T, apiKeys ...string) *testServer {
	t.Helper()
	return startTestServer(t, serverConfig{apiKeys: apiKeys})
}

func startTestServer(t *testing.T, cfg serverConfig) *testServer {
	t.Helper()
	nats := kvtest.NewServer(t, embedded.Config{InMemory: true})
	mem := kv.WithDefaultStorage(bucket.MemoryStorage)
	store := kvtest.StoreOn(t, nats, mem)
	configs, err := config.New(kvtest.StoreOn(t, nats, mem, kv.WithNamespace(bucket.SysConfig)))
	if err != nil {
		t.Fatal(err)
	}
	var secs *secrets.Secrets
	if !cfg.noMasterKey {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		kr, err := secrets.NewKeyring(key)
		if err != nil {
			t.Fatal(err)
		}
		if secs, err = secrets.New(kvtest.StoreOn(t, nats, mem, kv.WithNamespace(bucket.SysSecrets)), kr); err != nil {
			t.Fatal(err)
		}
	}
	var opts []httpapi.Option
	if len(cfg.apiKeys) > 0 {
		opts = append(opts, httpapi.WithAPIKeys(cfg.apiKeys...))
	}
	api := httpapi.New(store, opts...)
	t.Cleanup(func() { _ = api.Close() })
	configAPI := httpapi.NewConfig(configs, opts...)
	t.Cleanup(func() { _ = configAPI.Close() })
	secretsAPI := httpapi.NewSecrets(secs, opts...)

	tr := &watchTracker{}
	traffic := &trafficRecorder{}
	apiMount := http.StripPrefix(apiPrefix, tr.wrap(api))
	configMount := http.StripPrefix(servicesMount, configAPI)
	secretsMount := http.StripPrefix(servicesMount, traffic.wrap(secretsAPI))
	ui := dashboard.New(append([]dashboard.Option{dashboard.WithAPIPath(apiPrefix), dashboard.WithConfigPath(configPrefix), dashboard.WithSecretsPath(secretsPrefix)}, cfg.ui...)...)
	under := func(p, prefix string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.EscapedPath(); {
		case under(p, apiPrefix):
			apiMount.ServeHTTP(w, r)
		case under(p, configPrefix):
			configMount.ServeHTTP(w, r)
		case under(p, secretsPrefix):
			secretsMount.ServeHTTP(w, r)
		default:
			ui.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	s := &testServer{URL: srv.URL, store: store, configs: configs, secrets: secs, watches: tr, traffic: traffic}
	if len(cfg.apiKeys) > 0 {
		s.apiKey = cfg.apiKeys[0]
	}
	return s
}

// call sends a request to the KV API, behind the page's back, and returns
// the status and body. hdr holds header names and values.
func (s *testServer) call(t *testing.T, method, path, body string, hdr ...string) (int, string) {
	t.Helper()
	return s.callAt(t, method, apiPrefix+path, body, hdr...)
}

// callAt sends a request to path on the server (an API's prefix included).
func (s *testServer) callAt(t *testing.T, method, path, body string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if s.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+s.apiKey)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// mustCallAt is callAt that fails the test unless the status is want.
func (s *testServer) mustCallAt(t *testing.T, want int, method, path, body string, hdr ...string) string {
	t.Helper()
	code, b := s.callAt(t, method, path, body, hdr...)
	if code != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, b)
	}
	return b
}

// trafficRecorder keeps every request to a handler and its answer, to check
// what crossed the network.
type trafficRecorder struct {
	mu    sync.Mutex
	calls []exchange
}

// exchange is one request and its answer.
type exchange struct {
	method, url string
	header      http.Header
	body        []byte // the request's
	status      int
	respHeader  http.Header
	response    []byte
}

func (tr *trafficRecorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &teeWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		tr.mu.Lock()
		tr.calls = append(tr.calls, exchange{
			method: r.Method, url: r.URL.String(), header: r.Header.Clone(), body: body,
			status: rec.status, respHeader: w.Header().Clone(), response: rec.buf.Bytes(),
		})
		tr.mu.Unlock()
	})
}

// all returns the exchanges recorded so far.
func (tr *trafficRecorder) all() []exchange {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]exchange(nil), tr.calls...)
}

// teeWriter copies an answer's body and remembers its status.
type teeWriter struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (w *teeWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *teeWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	return w.ResponseWriter.Write(p)
}

func (w *teeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// mustCall is call that fails the test unless the status is want.
func (s *testServer) mustCall(t *testing.T, want int, method, path, body string, hdr ...string) string {
	t.Helper()
	code, b := s.call(t, method, path, body, hdr...)
	if code != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, b)
	}
	return b
}

// watchTracker sits in front of the API's watch route: it records the
// query of every watch request, can drop the open watch connections, and
// can refuse new ones, to test how the page resumes.
type watchTracker struct {
	mu      sync.Mutex
	blocked bool
	queries []string
	conns   []net.Conn
}

func (tr *watchTracker) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/watch") {
			next.ServeHTTP(w, r)
			return
		}
		tr.mu.Lock()
		blocked := tr.blocked
		tr.queries = append(tr.queries, r.URL.RawQuery)
		tr.mu.Unlock()
		if blocked {
			http.Error(w, "watch refused by the test", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(&hijackRecorder{ResponseWriter: w, tr: tr}, r)
	})
}

// block makes the tracker refuse new watch requests (or, with false, let
// them through again).
func (tr *watchTracker) block(b bool) {
	tr.mu.Lock()
	tr.blocked = b
	tr.mu.Unlock()
}

// drop closes every open watch connection, as a network failure would.
func (tr *watchTracker) drop() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := len(tr.conns)
	for _, c := range tr.conns {
		_ = c.Close()
	}
	tr.conns = nil
	return n
}

// since returns the queries recorded from index i on.
func (tr *watchTracker) since(i int) []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.queries[min(i, len(tr.queries)):]...)
}

func (tr *watchTracker) count() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.queries)
}

// hijackRecorder remembers the connection a WebSocket upgrade takes over.
type hijackRecorder struct {
	http.ResponseWriter
	tr *watchTracker
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err == nil {
		h.tr.mu.Lock()
		h.tr.conns = append(h.tr.conns, c)
		h.tr.mu.Unlock()
	}
	return c, rw, err
}

func (h *hijackRecorder) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// artifactsDir is where screenshots go: $IRONKV_ARTIFACTS, or a temporary
// directory of the test.
func artifactsDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("IRONKV_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// browser is one Chromium tab on a test server.
type browser struct {
	t         *testing.T
	ctx       context.Context
	srv       *testServer
	artifacts string

	mu       sync.Mutex
	problems []string // exceptions and security errors of the page
}

// newBrowser starts headless Chromium with a fresh profile and a window of
// the given size, and opens the dashboard of srv.
func newBrowser(t *testing.T, srv *testServer, width, height int) *browser {
	t.Helper()
	exe := needChromium(t)
	profile := t.TempDir() // removed after the browser has stopped
	artifacts := artifactsDir(t)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(width, height),
	)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx, srv: srv, artifacts: artifacts}

	// Record what the page throws or what the browser refuses it (a CSP
	// violation, a blocked request): the dashboard must do neither.
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Source == "security" || m.Type == chromedp.ConsoleError && m.Source == "" {
				b.mu.Lock()
				b.problems = append(b.problems, m.String())
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(b.checkConsole)

	b.do("open the dashboard",
		chromedp.EmulateViewport(int64(width), int64(height)),
		chromedp.Navigate(srv.URL+"/"))
	return b
}

// checkConsole fails the test if the page threw or broke a security rule.
func (b *browser) checkConsole() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("browser console: %s", p)
	}
}

// do runs actions, and fails the test with a screenshot when they fail.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(what, err)
	}
}

func (b *browser) fail(what string, err error) {
	b.t.Helper()
	name := "failure-" + strings.NewReplacer(" ", "-", "/", "-").Replace(b.t.Name())
	b.screenshot(name)
	b.t.Fatalf("%s: %v (screenshot %s.png in %s)", what, err, name, b.artifacts)
}

// click clicks the element matching the CSS selector once it is visible.
func (b *browser) click(sel string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// typeInto replaces the text of a field by typing s.
func (b *browser) typeInto(sel, s string) {
	b.t.Helper()
	b.setValue(sel, "")
	if s != "" {
		b.do("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), s))
	}
}

// setValue sets the value of a field at once (for long texts), as a paste
// would.
func (b *browser) setValue(sel, s string) {
	b.t.Helper()
	b.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	js := fmt.Sprintf(`(() => { const el = document.querySelector(%s); el.value = %s; el.dispatchEvent(new Event('input', {bubbles: true})); return el.value; })()`, jsString(sel), jsString(s))
	if got := eval[string](b, js); got != s {
		b.fail("set "+sel, fmt.Errorf("the field holds %q", got))
	}
}

// text returns the visible text of the element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.fail("read "+sel, err)
	}
	return s
}

// eval evaluates a JavaScript expression.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fail("evaluate "+expr, err)
	}
	return v
}

// waitFor polls the JavaScript condition cond until it is true, for at
// most timeout, and fails the test with what when it never is. A condition
// that throws (an element not there yet) counts as false.
func (b *browser) waitFor(what, cond string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool]("(() => { try { return !!("+cond+"); } catch { return false; } })()",
		chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		b.fail("waiting until "+what, err)
	}
}

// waitText waits until the text of the element matching sel contains want.
func (b *browser) waitText(sel, want string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("%s shows %q", sel, want),
		fmt.Sprintf(`(document.querySelector(%s)?.innerText ?? '').includes(%s)`, jsString(sel), jsString(want)), stepTimeout)
}

// inside fails the test unless the element matching sel is shown with a
// size, and lies within a screen width px wide.
func (b *browser) inside(sel string, width int) {
	b.t.Helper()
	b.waitFor(sel+" is there", fmt.Sprintf(`document.querySelector(%s)`, jsString(sel)), stepTimeout)
	r := eval[[]float64](b, fmt.Sprintf(`(() => { const r = document.querySelector(%s).getBoundingClientRect(); return [r.left, r.right, r.width, r.height]; })()`, jsString(sel)))
	if r[2] == 0 || r[3] == 0 || r[0] < 0 || r[1] > float64(width) {
		b.t.Errorf("%s is at left %.0f, right %.0f, %.0fx%.0f: not inside a %d px screen", sel, r[0], r[1], r[2], r[3], width)
	}
}

// noScroll fails the test when the page is wider than width px.
func (b *browser) noScroll(where string, width int) {
	b.t.Helper()
	if w := eval[int](b, `document.documentElement.scrollWidth`); w > width {
		b.t.Errorf("%s: the page is %d px wide on a %d px screen", where, w, width)
	}
}

// screenshot saves a full-page PNG in the artifacts directory and returns
// its bytes.
func (b *browser) screenshot(name string) []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return nil
	}
	p := filepath.Join(b.artifacts, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
	b.t.Logf("screenshot: %s", p)
	return png
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "\u2028", `\u2028`, "\u2029", `\u2029`)
	return "'" + r.Replace(s) + "'"
}
