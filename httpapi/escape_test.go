package httpapi_test

import (
	"encoding/json"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/httpapi"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
	"github.com/nats-io/nats.go/jetstream"
)

// escapeNames are bucket names (and keys) that try to reach a system
// bucket: SYS_ names as such, NATS subjects and stream names, wildcards,
// path traversal, control characters, over-long names and Unicode
// look-alikes.
var escapeNames = []string{
	"SYS_secrets_x", "SYS_secrets_default", "SYS_config_default", "SYS_config_prod", "SYS_config_", "SYS_secrets_",
	"SYS_", "SYS", "sys_config_default", "Sys_Config_Default", "SYS-config-default", "SYS__config_default",
	"KV_SYS_config_default", "KV_SYS_secrets_default", "APP_", "APP_SYS_config_default", "APP_..SYS_config_default",
	"$KV.SYS_config_default", "$KV.SYS_x", "$KV.SYS_secrets_default.k", "$KV.SYS_config_default.>",
	"SYS_config_default.k", "SYS_config_default.>", "SYS_config_default.*", "SYS_config_default>", "SYS_*", "SYS_>",
	"a.>", ">", "*", "a.*", "$JS.API.STREAM.DELETE.KV_SYS_config_default", "$JS.API.STREAM.PURGE.KV_SYS_secrets_default",
	"$SYS", "$SYS.REQ.SERVER.PING", "_INBOX.x", "$G", ".", "..", "...", "../SYS_x", "../../SYS_config_default",
	"..\\SYS_x", "./SYS_x", "SYS_config_default/..", "SYS_config_default/keys/k", "../SYS_config_default/keys/k",
	"/SYS_config_default", "SYS_config_default/", "\x00", "SYS_config_default\x00", "\x00SYS_config_default",
	"SYS_config_default\n", "SYS_config_default\r\nX-Injected: 1", " SYS_config_default", "SYS_config_default ",
	"SYS_config_default\t", "SYS_config_default\x7f", "SYS_config_default;", "SYS_config_default?x=1",
	"SYS_config_default#frag", "SYS_config_default%00", "SYS_config_default%2F..", "SYS config default",
	"ЅYS_config_default", "SYЅ_secrets_default", "ЅYЅ_secrets_x", "ＳＹＳ_config_default", "SYS＿config_default",
	"SYS_ｃonfig_default", "ＳＹＳ＿ｓｅｃｒｅｔｓ＿ｄｅｆａｕｌｔ", "SΥS_config_default", "SYS_config_defaulт",
	"SYS\u200b_config_default", "SYS_config_default\u200d", "S\u0336YS_config_default", "SYS_config_default\ufeff",
	"ſYS_config_default", "SYS_conf\u0131g_default", "\u202eSYS_config_default", "SYS_config_default\u2028",
	"ՏYS_config_default", "SYS_config_dеfault", "𝐒𝐘𝐒_config_default", "SYS_config_default\U000E0041",
	strings.Repeat("S", 65), "SYS_config_" + strings.Repeat("a", 54), "SYS_config_" + strings.Repeat("a", 10000),
	"SYS_secrets_default" + strings.Repeat("/..", 50), "\xff\xfeSYS", "SYS_config_default\xc0\xae",
	"SYS_secrets_prod", "SYS_config_x", "sys", "SYS_CONFIG_DEFAULT", "SYS_Secrets_default", "KV_APP_x",
	"$KV.APP_app.>", "$KV.*.>", "$KV.>", "KV_*", "SYS_secrets_default..k", "SYS_secrets_default.",
}

// rawEscapes are path segments sent exactly as written.
var rawEscapes = []string{
	"..%2FSYS_x", "..%2F..%2FSYS_config_default", "%2e%2e%2fSYS_x", "%2E%2E%2FSYS_secrets_default", "%2E%2E",
	"%252e%252e%252fSYS_x", "SYS_config_default%2F..%2F", "%00", "%2500", "SYS_config_default%00", "%C0%AE%C0%AE%2FSYS_x",
	"%E2%80%AESYS_config_default", "..;SYS_config_default", "SYS_config_default%3B", "%24KV.SYS_config_default.%3E",
	"SYS_config_default%2E%3E", "SYS%5Fconfig%5Fdefault", "%53%59%53_config_default", "%2f%2fSYS_config_default",
	"SYS_config_default%5C..%5C", "%25u0053YS_config_default", "%25",
}

type streamSnap struct {
	State  jetstream.StreamState
	Config jetstream.StreamConfig
}

func snapshot(t *testing.T, js jetstream.JetStream) map[string]streamSnap {
	t.Helper()
	out := map[string]streamSnap{}
	l := js.ListStreams(ctxT(t))
	for si := range l.Info() {
		out[si.Config.Name] = streamSnap{si.State, si.Config}
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNoSystemBucketEscape sends every route a corpus of names and keys that
// try to reach SYS_ buckets, then checks on the server that no SYS_ stream
// changed, no stream outside APP_ appeared, and GET /buckets lists exactly
// the APP_ buckets.
func TestNoSystemBucketEscape(t *testing.T) {
	ctx := ctxT(t)
	srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
	mem := kv.WithDefaultStorage(bucket.MemoryStorage)
	app := kvtest.StoreOn(t, srv, mem)
	sys := map[bucket.Namespace]*kv.Store{
		bucket.SysConfig:  kvtest.StoreOn(t, srv, mem, kv.WithNamespace(bucket.SysConfig)),
		bucket.SysSecrets: kvtest.StoreOn(t, srv, mem, kv.WithNamespace(bucket.SysSecrets)),
	}
	seeds := map[string]string{"k": "v", "secret": "hunter2", "a/b": "c", "user:1": "u"}
	for _, s := range sys {
		for _, env := range []string{"default", "prod", "x"} {
			b := kvtest.NewBucket(t, s, bucket.Config{Name: env, History: 5})
			for k, v := range seeds {
				if _, err := b.Put(ctx, k, []byte(v)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	js, err := jetstream.New(kvtest.Connect(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, js)
	if len(before) != 6 {
		t.Fatalf("seeded %d streams, want 6", len(before))
	}

	e := newEnvOn(t, app)
	e.run(t, []scenario{{method: "POST", path: "/buckets", body: `{"name":"app"}`, status: 201}})

	// The corpus: each name percent-encoded once and twice, raw where a
	// client could send it raw, and the hand-made raw segments.
	var segments []string
	seen := map[string]bool{}
	addSeg := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			segments = append(segments, s)
		}
	}
	for _, n := range escapeNames {
		addSeg(url.PathEscape(n))
		addSeg(url.PathEscape(url.PathEscape(n)))
		if !strings.ContainsAny(n, "?#% \x00\r\n\t\x7f") && strings.ToValidUTF8(n, "") == n {
			addSeg(n)
		}
	}
	for _, s := range rawEscapes {
		addSeg(s)
	}
	if len(segments) < 200 {
		t.Fatalf("the corpus has %d escape attempts, want at least 200", len(segments))
	}

	check := func(method, path, body string, r resp) {
		t.Helper()
		switch {
		case r.status >= 500:
			t.Errorf("%s %s: %d %s", method, path, r.status, r.body)
		case r.status >= 300 && r.status < 400:
			t.Errorf("%s %s: redirect %d to %q", method, path, r.status, r.header.Get("Location"))
		case r.status >= 400:
			errBody(t, r, "")
		}
	}
	requests := 0
	for _, seg := range segments {
		name, err := url.PathUnescape(seg)
		if err != nil {
			name = seg
		}
		nameJSON, _ := json.Marshal(name)
		for _, rq := range []struct{ method, path, body string }{
			{"POST", "/buckets", `{"name":` + string(nameJSON) + `}`},
			{"GET", "/buckets/" + seg, ""},
			{"GET", "/buckets/" + seg + "/keys", ""},
			{"GET", "/buckets/" + seg + "/keys/k", ""},
			{"GET", "/buckets/" + seg + "/keys/secret?revision=2", ""},
			{"PUT", "/buckets/" + seg + "/keys/k", "pwned"},
			{"DELETE", "/buckets/" + seg + "/keys/secret?purge=true", ""},
			{"DELETE", "/buckets/" + seg + "/keys/k", ""},
			{"GET", "/buckets/" + seg + "/history/secret", ""},
			// The same attempts as keys of a legitimate bucket.
			{"PUT", "/buckets/app/keys/" + seg, "pwned"},
			{"GET", "/buckets/app/keys/" + seg, ""},
			{"DELETE", "/buckets/app/keys/" + seg + "?purge=true", ""},
			{"GET", "/buckets/app/history/" + seg, ""},
			{"GET", "/buckets/app/keys?filter=" + url.QueryEscape(name), ""},
		} {
			r, err := e.tryDo(ctx, rq.method, rq.path, rq.body)
			if err != nil {
				t.Fatal(err)
			}
			requests++
			check(rq.method, rq.path, rq.body, r)
			// (A raw '/' makes the segment's first part the bucket name: a
			// legitimate APP_ bucket when that part is a valid name.)
			if r.status < 300 && strings.HasPrefix(rq.path, "/buckets/"+seg) && !strings.Contains(seg, "/") {
				if bucket.ValidateName(name) != nil {
					t.Errorf("%s %s: %d for invalid bucket name %q", rq.method, rq.path, r.status, name)
				}
			}
		}
	}
	// Deleting a bucket whose keys were listed takes the store a while (it
	// stops the key index), so the deletes run concurrently.
	var wg sync.WaitGroup
	var mu sync.Mutex
	sem := make(chan struct{}, 32)
	for _, seg := range segments {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			r, err := e.tryDo(ctx, "DELETE", "/buckets/"+seg, "")
			mu.Lock()
			defer mu.Unlock()
			requests++
			if err != nil {
				t.Errorf("DELETE /buckets/%s: %v", seg, err)
				return
			}
			check("DELETE", "/buckets/"+seg, "", r)
		})
	}
	wg.Wait()
	t.Logf("%d escape attempts, %d requests", len(segments), requests)

	after := snapshot(t, js)
	for name, b := range before {
		a, ok := after[name]
		if !ok {
			t.Errorf("stream %s disappeared", name)
			continue
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("stream %s changed:\nbefore %+v\nafter  %+v", name, b, a)
		}
	}
	var appStreams []string
	for name := range after {
		if _, old := before[name]; old {
			continue
		}
		if !strings.HasPrefix(name, "KV_APP_") {
			t.Errorf("new stream %s outside the APP_ namespace", name)
			continue
		}
		appStreams = append(appStreams, strings.TrimPrefix(name, "KV_APP_"))
	}
	slices.Sort(appStreams)

	r := e.do("GET", "/buckets", "")
	var list struct {
		Buckets []struct{ Name string }
		Count   int
	}
	decode(t, r.body, &list)
	var listed []string
	for _, b := range list.Buckets {
		listed = append(listed, b.Name)
	}
	if !slices.Equal(listed, appStreams) || list.Count != len(listed) {
		t.Errorf("GET /buckets lists %q (count %d), want exactly the APP_ buckets %q", listed, list.Count, appStreams)
	}
	for _, n := range listed {
		if n == "default" || n == "prod" || n == "x" {
			t.Errorf("GET /buckets lists %q, the name of a system bucket", n)
		}
	}

	// And the system buckets still hold exactly their seeds.
	for ns, s := range sys {
		for _, env := range []string{"default", "prod", "x"} {
			b, err := s.Bucket(ctx, env)
			if err != nil {
				t.Fatalf("%s%s: %v", ns, env, err)
			}
			for k, v := range seeds {
				got, err := b.Get(ctx, k)
				if err != nil || string(got.Value) != v {
					t.Errorf("%s%s key %q: %q, %v; want %q", ns, env, k, got.Value, err, v)
				}
			}
		}
	}
}

// TestNewRefusesSystemStores checks that a Handler cannot be made on a store
// of a system namespace.
func TestNewRefusesSystemStores(t *testing.T) {
	srv := kvtest.NewServer(t, embedded.Config{InMemory: true})
	for _, ns := range []bucket.Namespace{bucket.SysConfig, bucket.SysSecrets} {
		store := kvtest.StoreOn(t, srv, kv.WithNamespace(ns))
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New on a %s store did not panic", ns)
				}
			}()
			httpapi.New(store)
		}()
	}
}
