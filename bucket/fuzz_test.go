package bucket_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/ironkv/ironkv/bucket"
)

// keySeeds are interesting keys and encoded keys for both fuzz targets.
var keySeeds = []string{
	"", "a", "user:123", "user=3A123", "user=3a123", "=", "=3a", "=3A", "=3D", "==", "=2E", "=2A",
	"%", "%25", " ", "a b", "a=20b", ".", "a..b", ".a", "a.", "a.b.c", "é", "=C3=A9", "=c3=a9",
	"日本.語", "🔑", "=F0=9F=94=91", "\x00", "\x7f", "\xff", "=FF", "=C3", "a*", "a>", "*", ">",
	"a/b-c_d", "\u0080", "=0A", "=7F", "=G0",
	strings.Repeat("a", 1024), strings.Repeat("a", 1025),
	strings.Repeat("é", 170) + "ab", strings.Repeat("é", 171), strings.Repeat("=25", 341) + "a",
}

func FuzzKeyRoundTrip(f *testing.F) {
	for _, s := range keySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc, err := bucket.EncodeKey(s)
		verr := bucket.ValidateKey(s)
		if (err == nil) != (verr == nil) {
			t.Fatalf("EncodeKey(%q) error %v but ValidateKey error %v", s, err, verr)
		}
		if err != nil {
			if !errors.Is(err, bucket.ErrInvalidKey) {
				t.Fatalf("EncodeKey(%q) = %v, not ErrInvalidKey", s, err)
			}
		} else {
			if len(enc) > bucket.MaxKeyLen {
				t.Fatalf("EncodeKey(%q) is %d bytes long", s, len(enc))
			}
			if !natsKeyValid(enc) {
				t.Fatalf("EncodeKey(%q) = %q, which NATS would reject", s, enc)
			}
			if strings.Count(enc, ".") != strings.Count(s, ".") {
				t.Fatalf("EncodeKey(%q) = %q changed the tokens", s, enc)
			}
			dec, err := bucket.DecodeKey(enc)
			if err != nil || dec != s {
				t.Fatalf("DecodeKey(EncodeKey(%q)) = %q, %v", s, dec, err)
			}
		}

		key, err := bucket.DecodeKey(s)
		if err != nil {
			if !errors.Is(err, bucket.ErrInvalidKey) {
				t.Fatalf("DecodeKey(%q) = %v, not ErrInvalidKey", s, err)
			}
			return
		}
		if again, err := bucket.EncodeKey(key); err != nil || again != s {
			t.Fatalf("EncodeKey(DecodeKey(%q) = %q) = %q, %v", s, key, again, err)
		}
	})
}

// natsKeyValid is nats.go's check on KV keys.
func natsKeyValid(k string) bool {
	if k == "" || k[0] == '.' || k[len(k)-1] == '.' || strings.Contains(k, "..") {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-/_=.", c) >= 0) {
			return false
		}
	}
	return true
}

func FuzzParseFilter(f *testing.F) {
	filters := []string{"", ">", "*", "user.*", "user.>", "user-*", "user>", "a.>.b", "*.*", "a..b",
		"user:1.*.x", "é.>", "a=b.*", "**", "*>", "a.b*c.d", ">.a", "a\x00", "\xff.*", "=3a.*"}
	keys := append([]string{"user.1", "user:1.a.x", "a.b", "é.x", "a=b.c"}, keySeeds...)
	for i, fs := range filters {
		f.Add(fs, keys[i%len(keys)])
	}
	for i, k := range keys {
		f.Add(filters[i%len(filters)], k)
	}
	f.Fuzz(func(t *testing.T, s, key string) {
		flt, err := bucket.ParseFilter(s)
		if err != nil {
			if !errors.Is(err, bucket.ErrInvalidKey) {
				t.Fatalf("ParseFilter(%q) = %v, not ErrInvalidKey", s, err)
			}
			checkSuggestion(t, s, err)
			return
		}
		again, err := bucket.ParseFilter(flt.String())
		if err != nil || again != flt {
			t.Fatalf("ParseFilter(%q).String() = %q re-parses to %v, %v", s, flt.String(), again, err)
		}
		if flt.All() != (s == "" || s == ">") {
			t.Fatalf("ParseFilter(%q).All() = %v", s, flt.All())
		}
		if flt.Literal() {
			enc, err := bucket.EncodeKey(flt.String())
			if err != nil || enc != flt.Subject() || !flt.Match(flt.String()) {
				t.Fatalf("literal filter %q: EncodeKey %q, %v; Subject %q", s, enc, err, flt.Subject())
			}
		}
		if p := strings.Join(flt.LiteralPrefix(), "."); !strings.HasPrefix(flt.String(), p) {
			t.Fatalf("LiteralPrefix of %q is %q", s, p)
		}
		enc, err := bucket.EncodeKey(key)
		if err != nil {
			if flt.Match(key) {
				t.Fatalf("%q matches the invalid key %q", s, key)
			}
			return
		}
		if got, want := flt.Match(key), subjectMatch(flt.Subject(), enc); got != want {
			t.Fatalf("%q.Match(%q) = %v, but subject %q on %q = %v", s, key, got, flt.Subject(), enc, want)
		}
		if flt.Literal() && flt.Match(key) != (key == flt.String()) {
			t.Fatalf("literal %q.Match(%q) = %v", s, key, flt.Match(key))
		}
	})
}

// checkSuggestion checks that the form an error suggests for a misplaced
// wildcard is a valid filter, unless it is merely too long.
func checkSuggestion(t *testing.T, s string, err error) {
	_, after, ok := strings.Cut(err.Error(), ", as in ")
	if !ok {
		return
	}
	sugg, qerr := strconv.Unquote(after)
	if qerr != nil {
		t.Fatalf("ParseFilter(%q): cannot read the suggestion in %v", s, err)
	}
	if _, err := bucket.ParseFilter(sugg); err != nil && !strings.Contains(err.Error(), "could match nothing") {
		t.Fatalf("ParseFilter(%q) suggests %q, which does not parse: %v", s, sugg, err)
	}
}
