package httpload

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestDo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/echo":
			w.Header().Set("ETag", `"7"`)
			w.Write([]byte(r.Method + " " + r.Header.Get("X-Test") + " " + string(body)))
		case "/chunked":
			for _, part := range []string{"a", "bc", strings.Repeat("d", 5000)} {
				w.Write([]byte(part))
				w.(http.Flusher).Flush()
			}
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/close":
			w.Header().Set("Connection", "close")
			w.Write([]byte("bye"))
		case "/missing":
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c, err := Dial(ctx, strings.TrimPrefix(srv.URL, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	check := func(method, path string, header []string, body []byte, status int, want, etag string) {
		t.Helper()
		r, err := c.Do(ctx, method, path, header, body)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		if r.Status != status || string(r.Body) != want || string(r.ETag) != etag {
			t.Fatalf("%s %s = %d %q etag %q; want %d %q etag %q", method, path, r.Status, r.Body, r.ETag, status, want, etag)
		}
	}
	for range 3 {
		check("PUT", "/echo", []string{"X-Test: yes"}, []byte("hello"), 200, "PUT yes hello", `"7"`)
		check("GET", "/echo", nil, nil, 200, "GET  ", `"7"`)
		check("GET", "/chunked", nil, nil, 200, "abc"+strings.Repeat("d", 5000), "")
		check("DELETE", "/empty", nil, nil, 204, "", "")
		check("GET", "/missing", nil, nil, 404, "404 page not found\n", "")
		check("GET", "/close", nil, nil, 200, "bye", "")
	}
	// The server closing idle connections: the next request reconnects.
	srv.CloseClientConnections()
	check("GET", "/echo", nil, nil, 200, "GET  ", `"7"`)
}

func TestDialFails(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	if _, err := Dial(context.Background(), addr, time.Second); err == nil {
		t.Fatal("Dial to a closed port succeeded")
	}
}
