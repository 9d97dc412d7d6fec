package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// dialTimeout bounds one WebSocket handshake.
const dialTimeout = 30 * time.Second

// wsFleet is a set of WebSocket watchers on the server's watch route, the
// hub's clients: GET /api/v1/kv/buckets/{b}/watch?key=k.<i>, or with no key
// filter for the whole bucket.
type wsFleet struct {
	d         *deliveries
	transport *http.Transport
	conns     []*websocket.Conn // nil where the dial failed
	stats     []watcherStat
	stopping  atomic.Bool
	wg        sync.WaitGroup
}

// dialWebSockets opens one WebSocket per entry of stats (whose key and want
// say what each watches), at most conc handshakes in flight, and starts
// reading each as soon as it is open. The server subscribes a watcher
// before it answers the handshake, so an open watcher misses nothing
// written afterwards.
func dialWebSockets(ctx context.Context, httpAddr, bucketName string, stats []watcherStat, conc int, d *deliveries) (*wsFleet, *dialReport) {
	f := &wsFleet{
		d: d,
		transport: &http.Transport{
			DialContext: (&net.Dialer{Timeout: dialTimeout}).DialContext,
		},
		conns: make([]*websocket.Conn, len(stats)),
		stats: stats,
	}
	client := &http.Client{Transport: f.transport}
	base := "ws://" + httpAddr + apiPrefix + "/buckets/" + url.PathEscape(bucketName) + "/watch"
	rep := openAll(ctx, len(stats), conc, func(ctx context.Context, i int) error {
		u := base
		if w := stats[i].want; w != "" {
			u += "?key=" + url.QueryEscape(w)
		}
		dctx, cancel := context.WithTimeout(ctx, dialTimeout)
		defer cancel()
		conn, resp, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPClient: client})
		if err != nil {
			if resp != nil {
				body, _ := io.ReadAll(resp.Body)
				return fmt.Errorf("watcher %d: %w: %s", i, err, bytes.TrimSpace(body))
			}
			return fmt.Errorf("watcher %d: %w", i, err)
		}
		f.conns[i] = conn
		f.wg.Go(func() { f.read(i, conn) })
		return nil
	})
	return f, rep
}

// read reads the frames of watcher i until its connection ends.
func (f *wsFleet) read(i int, conn *websocket.Conn) {
	st := &f.stats[i]
	buf := make([]byte, 0, 256)
	for {
		// Never-ending context: stop ends the read by closing conn, which
		// costs a watcher nothing while it waits.
		_, r, err := conn.Reader(context.Background())
		if err == nil {
			buf, err = readFrame(r, buf[:0])
		}
		if err != nil {
			if !f.stopping.Load() && st.ended == "" {
				st.ended = err.Error()
			}
			return
		}
		now := time.Since(f.d.epoch)
		key, rev, sent, err := parseUpdate(buf)
		if err != nil {
			if msg, ok := errorFrame(buf); ok {
				st.ended = "error frame: " + msg
				continue // the close follows
			}
			st.bad++
			continue
		}
		st.event(f.d, i, now, string(key), rev, sent)
	}
}

// maxFrame is the largest frame a watcher accepts; the load generator's
// frames are about 130 bytes.
const maxFrame = 64 << 10

// readFrame reads the message r into buf.
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= maxFrame {
				return buf, fmt.Errorf("a frame is larger than %d bytes", maxFrame)
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

var (
	updatePrefix = []byte(`{"type":"kv_update",`)
	keyField     = []byte(`"key":"`)
	valueField   = []byte(`"value":"`)
	revField     = []byte(`"revision":`)
	errorPrefix  = []byte(`{"type":"error",`)
	messageField = []byte(`"message":"`)
)

// parseUpdate reads a kv_update frame of a put whose value is a time of
// sending, as the writer makes them: {"type":"kv_update","bucket":B,
// "key":K,"value":BASE64,"revision":N,"operation":"put"}. It reads only the
// fields it needs, by their spelling in that protocol, which is cheaper
// than decoding the JSON and keeps the load generator's share of the CPU
// small. Keys are read raw: the writer's keys need no escaping.
func parseUpdate(b []byte) (key []byte, rev uint64, sent time.Duration, err error) {
	if !bytes.HasPrefix(b, updatePrefix) {
		return nil, 0, 0, errors.New("not a kv_update frame")
	}
	key, ok := stringField(b, keyField)
	if !ok {
		return nil, 0, 0, errors.New("kv_update without a key")
	}
	v, ok := stringField(b, valueField)
	if !ok {
		return nil, 0, 0, errors.New("kv_update without a value")
	}
	var raw [16]byte
	if base64.StdEncoding.DecodedLen(len(v)) > len(raw) {
		return nil, 0, 0, errors.New("kv_update value is not a time of sending")
	}
	n, err := base64.StdEncoding.Decode(raw[:], v)
	if err != nil || n != 8 {
		return nil, 0, 0, errors.New("kv_update value is not a time of sending")
	}
	i := bytes.Index(b, revField)
	if i < 0 {
		return nil, 0, 0, errors.New("kv_update without a revision")
	}
	digits := b[i+len(revField):]
	end := 0
	for end < len(digits) && digits[end] >= '0' && digits[end] <= '9' {
		end++
	}
	rev, err = strconv.ParseUint(string(digits[:end]), 10, 64)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("kv_update revision: %w", err)
	}
	return key, rev, time.Duration(binary.BigEndian.Uint64(raw[:8])), nil
}

// stringField returns the raw text of the JSON string that follows field
// in b.
func stringField(b, field []byte) ([]byte, bool) {
	i := bytes.Index(b, field)
	if i < 0 {
		return nil, false
	}
	rest := b[i+len(field):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return nil, false
	}
	return rest[:j], true
}

// errorFrame returns the message of an error frame.
func errorFrame(b []byte) (string, bool) {
	if !bytes.HasPrefix(b, errorPrefix) {
		return "", false
	}
	msg, _ := stringField(b, messageField)
	return string(msg), true
}

func (f *wsFleet) isOpen(i int) bool { return f.conns[i] != nil }

// stop closes every connection, waits for the readers and returns what
// each watcher received.
func (f *wsFleet) stop() []watcherStat {
	f.stopping.Store(true)
	for _, c := range f.conns {
		if c != nil {
			_ = c.CloseNow()
		}
	}
	f.wg.Wait()
	f.transport.CloseIdleConnections()
	return f.stats
}
