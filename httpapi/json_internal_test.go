package httpapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ironkv/ironkv/kv"
)

// FuzzAppendString checks the hand-written JSON string encoder against
// encoding/json: the output is valid JSON that decodes to what
// encoding/json's own encoding decodes to.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `quo"te\back`, "ctl\x00\x01\x1f\x7f", "\n\r\t", "é€𝄞", "\xff\xfe", "a\xc3",
		"\u2028\u2029", "<&>", "\ufffd", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendString(nil, s)
		if !json.Valid(got) {
			t.Fatalf("appendString(%q) = %s, not JSON", s, got)
		}
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var g, w string
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if g != w {
			t.Fatalf("appendString(%q) decodes to %q, encoding/json's to %q", s, g, w)
		}
	})
}

func TestAppendEntry(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("X", 3600))
	for _, tc := range []struct {
		e    kv.Entry
		want string
	}{
		{kv.Entry{Key: "a/b", Value: []byte{0, 0xff, 'x'}, Revision: 7, Created: created, Op: kv.OpPut},
			`{"key":"a/b","value":"AP94","revision":7,"created_at":"2026-01-02T02:04:05.0000006Z","operation":"put"}`},
		{kv.Entry{Key: "k", Value: nil, Revision: 1, Created: created, Op: kv.OpPut},
			`{"key":"k","value":"","revision":1,"created_at":"2026-01-02T02:04:05.0000006Z","operation":"put"}`},
		{kv.Entry{Key: "k", Revision: 2, Created: created, Op: kv.OpDelete},
			`{"key":"k","revision":2,"created_at":"2026-01-02T02:04:05.0000006Z","operation":"delete"}`},
		{kv.Entry{Key: `"q"`, Revision: 3, Created: created.Truncate(time.Second), Op: kv.OpPurge},
			`{"key":"\"q\"","revision":3,"created_at":"2026-01-02T02:04:05Z","operation":"purge"}`},
	} {
		if got := string(appendEntry(nil, &tc.e)); got != tc.want {
			t.Errorf("appendEntry:\n got %s\nwant %s", got, tc.want)
		}
	}
}
