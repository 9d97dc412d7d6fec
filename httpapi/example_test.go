package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/httpapi"
	"github.com/ironkv/ironkv/kv"
)

// ExampleNew mounts the API under /api/v1/kv in a host's ServeMux, the way
// the server binary does, and makes a round trip: create a bucket, put a
// key, read it back as JSON and raw, and lose a compare-and-swap.
func ExampleNew() {
	ctx := context.Background()
	srv, err := embedded.Start(ctx, embedded.Config{InMemory: true})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(ctx)
	nc, err := srv.Connect()
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	store, err := kv.New(nc, kv.WithDefaultStorage(bucket.MemoryStorage))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	api := httpapi.New(store, httpapi.WithAPIKeys("s3cret"))
	defer api.Close()
	mux := http.NewServeMux()
	mux.Handle("/api/v1/kv/", http.StripPrefix("/api/v1/kv", api))
	ts := httptest.NewServer(mux)
	defer ts.Close()

	call := func(method, path, body string, header ...string) (int, []byte) {
		req, err := http.NewRequestWithContext(ctx, method, ts.URL+"/api/v1/kv"+path, strings.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer s3cret")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	status, _ := call("POST", "/buckets", `{"name":"profiles","history":5}`)
	fmt.Println("create bucket:", status)

	status, body := call("PUT", "/buckets/profiles/keys/user:1", `{"name":"Ada"}`, "Content-Type", "application/json")
	fmt.Printf("put: %d %s", status, body)

	status, body = call("GET", "/buckets/profiles/keys/user%3A1", "")
	var entry struct {
		Key      string `json:"key"`
		Value    []byte `json:"value"` // base64 on the wire
		Revision uint64 `json:"revision"`
	}
	if err := json.Unmarshal(body, &entry); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("get: %d key=%s value=%s revision=%d\n", status, entry.Key, entry.Value, entry.Revision)

	status, body = call("GET", "/buckets/profiles/keys/user:1", "", "Accept", "application/octet-stream")
	fmt.Printf("get raw: %d %s\n", status, body)

	status, body = call("PUT", "/buckets/profiles/keys/user:1", `{"name":"Grace"}`, "If-Match", "7")
	fmt.Printf("stale update: %d %s", status, body)

	// Output:
	// create bucket: 201
	// put: 200 {"revision":1}
	// get: 200 key=user:1 value={"name":"Ada"} revision=1
	// get raw: 200 {"name":"Ada"}
	// stale update: 412 {"error":"revision conflict: key \"user:1\" in bucket \"profiles\" is not at revision 7; its current revision is 1","message":"revision conflict: key \"user:1\" in bucket \"profiles\" is not at revision 7; its current revision is 1","code":"conflict","revision":1}
}
