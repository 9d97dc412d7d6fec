package httpapi

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ironkv/ironkv/kv"
)

// The hot answers (an entry, a history, a PUT's revision) are encoded by
// hand into pooled buffers; the rest go through encoding/json. The output is
// what encoding/json would write, except that '<', '>' and '&' are not
// escaped (they need not be in JSON).

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// writeBuf writes b as a JSON body with status and recycles it.
func writeBuf(w http.ResponseWriter, status int, bp *[]byte) {
	b := append(*bp, '\n')
	hd := w.Header()
	hd["Content-Type"] = contentTypeJSON
	hd["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		bufPool.Put(bp)
	}
}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

// appendEntry appends the JSON of e: {"key","value","revision","created_at",
// "operation"}, value in standard base64 and left out for tombstones.
func appendEntry(b []byte, e *kv.Entry) []byte {
	b = append(b, `{"key":`...)
	b = appendString(b, e.Key)
	if e.Op == kv.OpPut {
		b = append(b, `,"value":"`...)
		b = base64.StdEncoding.AppendEncode(b, e.Value)
		b = append(b, '"')
	}
	b = append(b, `,"revision":`...)
	b = strconv.AppendUint(b, e.Revision, 10)
	b = append(b, `,"created_at":"`...)
	b = e.Created.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","operation":`...)
	b = appendString(b, string(e.Op))
	return append(b, '}')
}

// appendRevision appends {"revision":N}.
func appendRevision(b []byte, rev uint64) []byte {
	b = append(b, `{"revision":`...)
	b = strconv.AppendUint(b, rev, 10)
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does; U+2028 and U+2029 are escaped so that the output is
// also valid JavaScript.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
