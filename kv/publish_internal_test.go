package kv

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

func TestParseAck(t *testing.T) {
	for _, tc := range []struct {
		ack   string
		seq   uint64
		quick bool   // read without encoding/json
		code  uint16 // the API error's err_code, when it is one
		bad   bool   // ErrInvalidJSAck
	}{
		{ack: `{"stream":"KV_APP_a","seq":12}`, seq: 12, quick: true},
		{ack: ` { "stream" : "KV_APP_a" , "domain":"hub", "seq" : 7 } `, seq: 7, quick: true},
		{ack: `{"stream":"KV_APP_a","seq":3,"duplicate":true}`, seq: 3, quick: true},
		{ack: `{"stream":"KV_APP_a","seq":18446744073709551615}`, seq: 1<<64 - 1, quick: true},
		{ack: `{"stream":"KV_\u0041","seq":5}`, seq: 5},
		{ack: `{"stream":"KV_APP_a","seq":5,"batch":{"id":"x"}}`, seq: 5},
		{ack: `{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 4"}}`, code: 10071},
		{ack: `{"stream":"KV_APP_a","seq":0,"error":{"code":503,"err_code":10077,"description":"x"}}`, code: 10077},
		{ack: `{"seq":5}`, bad: true},
		{ack: `{"stream":"","seq":5}`, bad: true},
		{ack: `not json`, bad: true},
		{ack: ``, bad: true},
		{ack: `{"stream":"KV_APP_a","seq":-1}`, bad: true},
	} {
		seq, err := parseAck([]byte(tc.ack))
		var apiErr *jetstream.APIError
		switch {
		case tc.bad:
			if !errors.Is(err, jetstream.ErrInvalidJSAck) {
				t.Errorf("parseAck(%s) = %d, %v; want ErrInvalidJSAck", tc.ack, seq, err)
			}
		case tc.code != 0:
			if !errors.As(err, &apiErr) || uint16(apiErr.ErrorCode) != tc.code {
				t.Errorf("parseAck(%s) = %d, %v; want API error %d", tc.ack, seq, err, tc.code)
			}
		case err != nil || seq != tc.seq:
			t.Errorf("parseAck(%s) = %d, %v; want %d", tc.ack, seq, err, tc.seq)
		}
		if _, ok := quickAck([]byte(tc.ack)); ok != tc.quick {
			t.Errorf("quickAck(%s) ok = %v, want %v", tc.ack, ok, tc.quick)
		}
	}
}

// FuzzQuickAck checks the fast reading of acknowledgements against
// encoding/json: whatever quickAck accepts, json reads as an ack with the
// same sequence, a stream and no error.
func FuzzQuickAck(f *testing.F) {
	for _, s := range []string{
		`{"stream":"KV_APP_a","seq":12}`,
		`{"stream":"KV_APP_a","domain":"hub","seq":7,"duplicate":true}`,
		`{"error":{"code":400,"err_code":10071,"description":"x"}}`,
		`{"stream":"a","seq":1,"seq":2}`,
		`{"stream":"a,b","seq":3}`,
		// Found by fuzzing: a stream that is no string, a trailing comma,
		// white space that JSON does not allow.
		`{"stream":0,"seq":0}`,
		`{"stream":"0","":"0","seq":0,}`,
		"\v{\"stream\":\"a\",\"seq\":1}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		seq, ok := quickAck(data)
		if !ok {
			return
		}
		var ack struct {
			Error  *jetstream.APIError `json:"error"`
			Stream string              `json:"stream"`
			Seq    uint64              `json:"seq"`
		}
		if err := json.Unmarshal(data, &ack); err != nil {
			t.Fatalf("quickAck read %q as %d, but it is not a JSON ack: %v", data, seq, err)
		}
		if ack.Error != nil || ack.Stream == "" || ack.Seq != seq {
			t.Fatalf("quickAck read %q as %d; encoding/json reads %+v", data, seq, ack)
		}
	})
}
