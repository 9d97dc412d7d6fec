package reliability_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/httpapi"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
)

// Header bits of FuzzConditionalHeaders: which conditional headers the
// request carries, and which it carries twice.
const (
	hasIfMatch = 1 << iota
	hasIfNoneMatch
	twiceIfMatch
	twiceIfNoneMatch
)

// FuzzConditionalHeaders sends PUT and DELETE with random If-Match and
// If-None-Match values to the handler, on a live key, a deleted one and a
// new one, and checks each answer against the rules of httpapi's
// documentation: a malformed or contradictory condition is a 400; a valid
// one succeeds exactly when it holds (200 or 204) and is a 412 otherwise;
// nothing is ever a 5xx. A '#' in a value stands for the key's latest
// revision, so that the fuzzer reaches the matching case.
func FuzzConditionalHeaders(f *testing.F) {
	store := kvtest.NewStore(f)
	h := httpapi.New(store, httpapi.WithLogger(slog.New(slog.DiscardHandler)))
	f.Cleanup(func() { _ = h.Close() })
	ctx := context.Background()
	b := kvtest.NewBucket(f, store, bucket.Config{Name: "c", History: 5})
	for _, k := range []string{"live", "dead"} {
		if _, err := b.Put(ctx, k, []byte("v")); err != nil {
			f.Fatal(err)
		}
	}
	if err := b.Delete(ctx, "dead"); err != nil {
		f.Fatal(err)
	}

	for _, s := range []struct {
		del         bool
		key         uint8
		im, inm     string
		headerFlags uint8
	}{
		// "new" has no value yet: If-Match on it is a 412, not a 404.
		{false, 2, "1", "", hasIfMatch},
		{true, 2, "1", "", hasIfMatch},
		{false, 0, "#", "", hasIfMatch},
		{false, 0, `"#"`, "", hasIfMatch},
		{true, 0, "#", "", hasIfMatch},
		{false, 0, "1", "", hasIfMatch},
		{false, 1, "#", "", hasIfMatch},
		{true, 1, "#", "", hasIfMatch},
		{false, 0, "", "*", hasIfNoneMatch},
		{false, 1, "", "*", hasIfNoneMatch},
		{false, 2, "", " * ", hasIfNoneMatch},
		{true, 0, "", "*", hasIfNoneMatch},
		{false, 0, "#", "*", hasIfMatch | hasIfNoneMatch},
		{false, 0, `W/"#"`, "", hasIfMatch},
		{false, 0, "*", "", hasIfMatch},
		{false, 0, "0", "", hasIfMatch},
		{false, 0, "#, #", "", hasIfMatch},
		{false, 0, " # ", "", hasIfMatch},
		{false, 0, "+#", "", hasIfMatch},
		{false, 0, "0#", "", hasIfMatch},
		{false, 0, "#", "", hasIfMatch | twiceIfMatch},
		{false, 0, "", "*", hasIfNoneMatch | twiceIfNoneMatch},
		{false, 0, "18446744073709551616", "", hasIfMatch},
		{false, 0, `"#`, "", hasIfMatch},
		{false, 0, "", `"*"`, hasIfNoneMatch},
		{false, 0, "", "", 0},
	} {
		f.Add(s.del, s.key, s.im, s.inm, s.headerFlags)
	}

	f.Fuzz(func(t *testing.T, del bool, which uint8, im, inm string, headerFlags uint8) {
		if strings.ContainsAny(im+inm, "\r\n\x00") {
			t.Skip() // not a header value that can arrive over HTTP
		}
		key := []string{"live", "dead", "new"}[which%3]
		live, rev, last := liveness(t, b, key)
		im = strings.ReplaceAll(im, "#", strconv.FormatUint(last, 10))

		method := "PUT"
		if del {
			method = "DELETE"
		}
		req := httptest.NewRequest(method, "/buckets/c/keys/"+key, strings.NewReader("value"))
		var ims, inms []string
		if headerFlags&hasIfMatch != 0 {
			ims = append(ims, im)
			if headerFlags&twiceIfMatch != 0 {
				ims = append(ims, im)
			}
			req.Header["If-Match"] = ims
		}
		if headerFlags&hasIfNoneMatch != 0 {
			inms = append(inms, inm)
			if headerFlags&twiceIfNoneMatch != 0 {
				inms = append(inms, inm)
			}
			req.Header["If-None-Match"] = inms
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		want, why := wantCondition(del, ims, inms, live, rev)
		if rec.Code != want {
			t.Fatalf("%s %s (live %t at %d) If-Match %q If-None-Match %q: %d %s; want %d: %s",
				method, key, live, rev, ims, inms, rec.Code, rec.Body.Bytes(), want, why)
		}
		if want >= 400 {
			var e struct{ Code string }
			code := map[int]string{400: "invalid_argument", 412: "conflict"}[want]
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code != code {
				t.Fatalf("%d with body %q, want code %q", rec.Code, rec.Body.Bytes(), code)
			}
		}
	})
}

// liveness returns whether key is live and at which revision, and its
// latest revision of any kind (tombstones included; 1 for a key never
// written).
func liveness(t *testing.T, b *kv.Bucket, key string) (live bool, rev, last uint64) {
	ctx := context.Background()
	e, err := b.Get(ctx, key)
	switch {
	case err == nil:
		return true, e.Revision, e.Revision
	case !errors.Is(err, kv.ErrKeyNotFound):
		t.Fatal(err)
	}
	h, err := b.History(ctx, key)
	if errors.Is(err, kv.ErrKeyNotFound) || len(h) == 0 {
		return false, 0, 1
	}
	if err != nil {
		t.Fatal(err)
	}
	return false, 0, h[len(h)-1].Revision
}

// wantCondition is the status httpapi's documentation promises for a PUT
// (or, with del, a DELETE) carrying the If-Match values ims and the
// If-None-Match values inms, on a key that is live at rev or not live.
func wantCondition(del bool, ims, inms []string, live bool, rev uint64) (int, string) {
	ok := http.StatusOK
	if del {
		ok = http.StatusNoContent
	}
	switch {
	case len(ims) > 1 || len(inms) > 1:
		return http.StatusBadRequest, "a conditional header given twice"
	case len(ims) == 1 && len(inms) == 1:
		return http.StatusBadRequest, "both conditional headers"
	case len(inms) == 1 && del:
		return http.StatusBadRequest, "If-None-Match on DELETE"
	case len(inms) == 1 && strings.TrimSpace(inms[0]) != "*":
		return http.StatusBadRequest, "If-None-Match other than *"
	case len(inms) == 1 && live:
		return http.StatusPreconditionFailed, "If-None-Match: * on a live key"
	case len(inms) == 1:
		return ok, "If-None-Match: * on a key without a value"
	case len(ims) == 0:
		return ok, "unconditional"
	}
	s := strings.TrimSpace(ims[0])
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return http.StatusBadRequest, "If-Match is not N or \"N\""
	}
	n, err := strconv.ParseUint(s, 10, 64)
	switch {
	case err != nil || n == 0:
		return http.StatusBadRequest, "If-Match is not a positive 64-bit revision"
	case !live:
		return http.StatusPreconditionFailed, "If-Match on a key without a value"
	case n != rev:
		return http.StatusPreconditionFailed, "If-Match of another revision"
	}
	return ok, "If-Match of the current revision"
}

// TestEmptyConditionalHeaders checks that an empty If-Match or
// If-None-Match is refused rather than ignored: a client whose revision
// variable is empty must not overwrite or delete unconditionally. An empty
// If-Match is not "N" or "\"N\"" (httpapi documents any other value as a
// 400; RFC 9110 makes an empty list a condition that fails, a 412), and an
// empty If-None-Match is not "*".
func TestEmptyConditionalHeaders(t *testing.T) {
	store := kvtest.NewStore(t)
	h := httpapi.New(store, httpapi.WithLogger(slog.New(slog.DiscardHandler)))
	t.Cleanup(func() { _ = h.Close() })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b := kvtest.NewBucket(t, store, bucket.Config{Name: "c"})
	c := newClient(t, 1, 10*time.Second)
	var wrong []string
	for _, tt := range []struct{ method, header string }{
		{"PUT", "If-Match"},
		{"DELETE", "If-Match"},
		{"PUT", "If-None-Match"},
	} {
		if _, err := b.Put(context.Background(), "k", []byte("before")); err != nil {
			t.Fatal(err)
		}
		// Sent over the wire, as "If-Match:" with nothing after it.
		r := do(context.Background(), c, tt.method, srv.URL+"/buckets/c/keys/k", []byte("after"), tt.header, "")
		if r.status != http.StatusBadRequest && r.status != http.StatusPreconditionFailed {
			e, _ := b.Get(context.Background(), "k")
			wrong = append(wrong, fmt.Sprintf("%s with an empty %s: %v, and the key now holds %q; want 400 or 412 and no change", tt.method, tt.header, r, e.Value))
		}
	}
	if len(wrong) == 0 {
		return
	}
	for _, w := range wrong {
		t.Error(w)
	}
}

// FuzzWebSocketFrames sends random client frames to the watch route over
// a real connection, then writes a key: the server must either ignore
// what it got (the update then arrives) or close the connection cleanly (a
// close frame or the end of the connection), send only well-formed frames
// meanwhile, and never panic. With encode, the input is cut into frames
// (header byte, length byte, payload) that are masked and framed as a
// client must; without, it is written as it is.
func FuzzWebSocketFrames(f *testing.F) {
	store := kvtest.NewStore(f)
	h := httpapi.New(store, httpapi.WithLogger(slog.New(slog.DiscardHandler)))
	srv := httptest.NewServer(h)
	f.Cleanup(func() {
		_ = h.Close()
		srv.Close()
	})
	b := kvtest.NewBucket(f, store, bucket.Config{Name: "w"})
	addr := strings.TrimPrefix(srv.URL, "http://")

	for _, s := range []struct {
		data   []byte
		encode bool
	}{
		{[]byte("\x81\x05hello"), true},                             // a text message
		{[]byte("\x89\x00"), true},                                  // a ping
		{[]byte("\x88\x02\x03\xe8"), true},                          // a close, 1000
		{[]byte("\x88\x01\x03"), true},                              // a close with a 1-byte payload
		{[]byte("\x82\xfe"), true},                                  // a binary message over the read limit
		{[]byte("\x01\x03abc\x80\x03def"), true},                    // a fragmented message
		{[]byte("\x09\x02ab"), true},                                // a fragmented ping
		{[]byte("\xc1\x01x"), true},                                 // a reserved bit
		{[]byte("\x83\x01x"), true},                                 // a reserved opcode
		{[]byte("\x80\x01x"), true},                                 // a continuation with nothing to continue
		{[]byte("\x81\x05hello"), false},                            // an unmasked frame
		{[]byte("\x81\xff\x7f\xff\xff\xff\xff\xff\xff\xff"), false}, // a length of 2^63-1, masked bit set
		{[]byte("GET / HTTP/1.1\r\n\r\n"), false},
		{nil, false},
	} {
		f.Add(s.data, s.encode)
	}

	var n int
	f.Fuzz(func(t *testing.T, data []byte, encode bool) {
		n++
		conn, rd := dialWatch(t, addr, "/buckets/w/watch")
		defer conn.Close()
		out := data
		if encode {
			out = clientFrames(data)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = conn.Write(out) // the server may have closed already

		rev, err := b.Put(context.Background(), "k", []byte(strconv.Itoa(n)))
		if err != nil {
			t.Fatal(err)
		}
		for {
			fr, err := readServerFrame(rd)
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
				return // closed
			}
			if err != nil {
				t.Fatalf("after %q (encode %t): %v", data, encode, err)
			}
			switch fr.opcode {
			case 1:
				var m struct {
					Type     string
					Revision uint64
				}
				if err := json.Unmarshal(fr.payload, &m); err != nil || m.Type != "kv_update" && m.Type != "error" {
					t.Fatalf("after %q: text frame %q", data, fr.payload)
				}
				if m.Type == "kv_update" && m.Revision == rev {
					return // the connection lives on
				}
			case 8:
				if len(fr.payload) == 1 {
					t.Fatalf("after %q: close frame with a 1-byte payload", data)
				}
				return // closed cleanly
			case 9, 10:
			default:
				t.Fatalf("after %q: frame with opcode %d", data, fr.opcode)
			}
		}
	})
}

// dialWatch opens a WebSocket to path by hand and returns the connection
// and a reader positioned after the 101 answer.
func dialWatch(t *testing.T, addr, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", path, addr)
	rd := bufio.NewReader(conn)
	resp, err := http.ReadResponse(rd, nil)
	if err != nil {
		conn.Close()
		t.Fatalf("handshake: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		t.Fatalf("handshake: %s", resp.Status)
	}
	return conn, rd
}

// clientFrames cuts data into client frames: a header byte (FIN, RSV and
// opcode as given), a length byte (254 stands for 5000 bytes, over the
// read limit), then that much payload, masked.
func clientFrames(data []byte) []byte {
	var out []byte
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	for len(data) >= 2 {
		head, n := data[0], int(data[1])
		data = data[2:]
		var payload []byte
		if n == 254 {
			payload = make([]byte, 5000)
		} else {
			n = min(n, len(data))
			payload, data = data[:n], data[n:]
		}
		out = append(out, head)
		switch l := len(payload); {
		case l < 126:
			out = append(out, 0x80|byte(l))
		default:
			out = append(out, 0x80|126)
			out = binary.BigEndian.AppendUint16(out, uint16(l))
		}
		out = append(out, mask[:]...)
		for i, c := range payload {
			out = append(out, c^mask[i%4])
		}
	}
	return out
}

// serverFrame is a frame the server sent.
type serverFrame struct {
	opcode  byte
	payload []byte
}

// readServerFrame reads one frame and checks that it is one a server may
// send: no reserved bits, not masked, not over 1 MiB.
func readServerFrame(rd *bufio.Reader) (serverFrame, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(rd, hdr[:]); err != nil {
		return serverFrame{}, err
	}
	if hdr[0]&0x70 != 0 || hdr[1]&0x80 != 0 {
		return serverFrame{}, fmt.Errorf("frame header % x: reserved bits or a mask from the server", hdr)
	}
	n := uint64(hdr[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(rd, b[:]); err != nil {
			return serverFrame{}, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(rd, b[:]); err != nil {
			return serverFrame{}, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return serverFrame{}, fmt.Errorf("server frame of %d bytes", n)
	}
	fr := serverFrame{opcode: hdr[0] & 0x0f, payload: make([]byte, n)}
	_, err := io.ReadFull(rd, fr.payload)
	return fr, err
}

// isReset reports whether err is the connection being reset: the server
// closed it with unread input, which is also a close.
func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
