package bucket_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ironkv/ironkv/bucket"
)

// subjectMatch is a NATS-style subject match, written independently of
// package bucket: filter tokens "*" match one token, a final ">" one or
// more, anything else itself.
func subjectMatch(filter, subject string) bool {
	ft, st := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, f := range ft {
		if f == ">" {
			return len(st) > i
		}
		if i >= len(st) || f != "*" && f != st[i] {
			return false
		}
	}
	return len(ft) == len(st)
}

func TestParseFilter(t *testing.T) {
	tests := []struct {
		in, str, subject string
		all, literal     bool
		prefix           []string
	}{
		{"", ">", ">", true, false, nil},
		{">", ">", ">", true, false, nil},
		{"*", "*", "*", false, false, nil},
		{"user", "user", "user", false, true, []string{"user"}},
		{"user.*", "user.*", "user.*", false, false, []string{"user"}},
		{"user.>", "user.>", "user.>", false, false, []string{"user"}},
		{"*.name", "*.name", "*.name", false, false, nil},
		{"user:1.*.x", "user:1.*.x", "user=3A1.*.x", false, false, []string{"user:1"}},
		{"a.b.c", "a.b.c", "a.b.c", false, true, []string{"a", "b", "c"}},
		{"é.*.>", "é.*.>", "=C3=A9.*.>", false, false, []string{"é"}},
		{"a=b.>", "a=b.>", "a=3Db.>", false, false, []string{"a=b"}},
		{"*.*", "*.*", "*.*", false, false, nil},
		{"a b.*", "a b.*", "a=20b.*", false, false, []string{"a b"}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			f, err := bucket.ParseFilter(tc.in)
			if err != nil {
				t.Fatalf("ParseFilter(%q) = %v", tc.in, err)
			}
			if got := f.String(); got != tc.str {
				t.Errorf("String() = %q, want %q", got, tc.str)
			}
			if got := f.Subject(); got != tc.subject {
				t.Errorf("Subject() = %q, want %q", got, tc.subject)
			}
			if got := f.All(); got != tc.all {
				t.Errorf("All() = %v, want %v", got, tc.all)
			}
			if got := f.Literal(); got != tc.literal {
				t.Errorf("Literal() = %v, want %v", got, tc.literal)
			}
			if got := f.LiteralPrefix(); !slices.Equal(got, tc.prefix) {
				t.Errorf("LiteralPrefix() = %q, want %q", got, tc.prefix)
			}
			again, err := bucket.ParseFilter(f.String())
			if err != nil || again != f {
				t.Errorf("ParseFilter(String()) = %v, %v; want the same filter", again, err)
			}
			if bucket.MustParseFilter(tc.in) != f {
				t.Errorf("MustParseFilter(%q) differs from ParseFilter", tc.in)
			}
		})
	}
}

func TestFilterZeroValue(t *testing.T) {
	var zero bucket.Filter
	if zero != bucket.MustParseFilter(">") || zero != bucket.MustParseFilter("") {
		t.Error(`the zero Filter differs from ParseFilter(">") or ParseFilter("")`)
	}
	if !zero.All() || zero.String() != ">" || zero.Subject() != ">" || zero.Literal() || zero.LiteralPrefix() != nil {
		t.Errorf("zero Filter: All %v, String %q, Subject %q, Literal %v, LiteralPrefix %q",
			zero.All(), zero.String(), zero.Subject(), zero.Literal(), zero.LiteralPrefix())
	}
	if !zero.Match("any.key") {
		t.Error(`zero Filter does not match "any.key"`)
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"user-*", `'*' must be a whole token, as in "user.*"`},
		{"user*", `'*' must be a whole token, as in "user.*"`},
		{"*-user", `'*' must be a whole token, as in "*.user"`},
		{"a.b*c.d", `'*' must be a whole token, as in "a.b.*.c.d"`},
		{"app.user:*.name", `'*' must be a whole token, as in "app.user.*.name"`},
		{"**", `'*' must be a whole token, as in "*.*"`},
		{"user>", `'>' must be a whole final token, as in "user.>"`},
		{"user->", `'>' must be a whole final token, as in "user.>"`},
		{"a.b>c.d", `'>' must be a whole final token, as in "a.b.>"`},
		{">.a", `'>' must be the final token (it matches one or more tokens), as in ">"`},
		{"a.>.b", `'>' must be the final token (it matches one or more tokens), as in "a.>"`},
		{"a.>.>", `'>' must be the final token (it matches one or more tokens), as in "a.>"`},
		{"a..b", `empty token between dots`},
		{".a", `starts with '.'`},
		{"a.", `ends with '.'`},
		{".", `starts with '.'`},
		{"..>", `starts with '.'`},
		{"a\tb.*", `control character '\t' at byte 1 is not allowed`},
		{"\x7f", `control character '\x7f' at byte 0 is not allowed`},
		{"a.\xff", `not valid UTF-8 (byte 0xFF at byte 2); keys are UTF-8 text`},
		{strings.Repeat("%", 342) + ".>", `1028 bytes after encoding, so it could match nothing: keys are at most 1024`},
	}
	for _, tc := range tests {
		t.Run(shortName(tc.in), func(t *testing.T) {
			f, err := bucket.ParseFilter(tc.in)
			if !errors.Is(err, bucket.ErrInvalidKey) {
				t.Fatalf("ParseFilter(%q) = %v, %v; want an error wrapping ErrInvalidKey", tc.in, f, err)
			}
			msg := err.Error()
			prefix := "invalid key: filter "
			if !strings.HasPrefix(msg, prefix) || !strings.HasSuffix(msg, ": "+tc.want) {
				t.Errorf("ParseFilter(%q) error\n got: %s\nwant: %s%q: %s", tc.in, msg, prefix, tc.in, tc.want)
			}
			// A suggested form must itself be a valid filter.
			if _, after, ok := strings.Cut(tc.want, ", as in "); ok {
				s := strings.Trim(after, `"`)
				if _, err := bucket.ParseFilter(s); err != nil {
					t.Errorf("suggested filter %q does not parse: %v", s, err)
				}
			}
		})
	}
	t.Run("full message", func(t *testing.T) {
		_, err := bucket.ParseFilter("user-*")
		want := `invalid key: filter "user-*": '*' must be a whole token, as in "user.*"`
		if err == nil || err.Error() != want {
			t.Errorf("got %v, want %s", err, want)
		}
	})
}

func TestMustParseFilterPanics(t *testing.T) {
	defer func() {
		r := recover()
		err, ok := r.(error)
		if !ok || !errors.Is(err, bucket.ErrInvalidKey) {
			t.Errorf("recovered %v, want an error wrapping ErrInvalidKey", r)
		}
	}()
	bucket.MustParseFilter("a..b")
}

// shortName cuts s for use as a subtest name.
func shortName(s string) string {
	if len(s) > 24 {
		return s[:24] + "..."
	}
	return s
}

// matchKeys are keys for the match tables, valid and invalid.
var matchKeys = []string{
	"user", "user.1", "user.1.name", "user.2.name", "user:1", "user:1.name",
	"users.1", "a", "a.b", "a.b.c", "a.b.c.d", "é", "é.x", "a=b.c", "x.user",
	"a..b", ".a", "a.", "", "a*", "a.>",
}

func TestFilterMatch(t *testing.T) {
	tests := []struct {
		filter string
		want   []string // the matchKeys it matches
	}{
		{">", []string{"user", "user.1", "user.1.name", "user.2.name", "user:1", "user:1.name",
			"users.1", "a", "a.b", "a.b.c", "a.b.c.d", "é", "é.x", "a=b.c", "x.user"}},
		{"*", []string{"user", "user:1", "a", "é"}},
		{"user", []string{"user"}},
		{"user.*", []string{"user.1"}},
		{"user.>", []string{"user.1", "user.1.name", "user.2.name"}},
		{"user.*.name", []string{"user.1.name", "user.2.name"}},
		{"*.name", []string{"user:1.name"}},
		{"*.*", []string{"user.1", "user:1.name", "users.1", "a.b", "é.x", "a=b.c", "x.user"}},
		{"a.*.c", []string{"a.b.c"}},
		{"a.>", []string{"a.b", "a.b.c", "a.b.c.d"}},
		{"a.b.>", []string{"a.b.c", "a.b.c.d"}},
		{"*.b.>", []string{"a.b.c", "a.b.c.d"}},
		{"é.>", []string{"é.x"}},
		{"a=b.*", []string{"a=b.c"}},
		{"*.user", []string{"x.user"}},
		{"user:1", []string{"user:1"}},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			f := bucket.MustParseFilter(tc.filter)
			var got []string
			for _, k := range matchKeys {
				if f.Match(k) {
					got = append(got, k)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%q matches %q, want %q", tc.filter, got, tc.want)
			}
		})
	}
}

// TestFilterSubjectAgreesWithMatch checks the codec property the filters
// rely on: Subject matches, NATS-style, exactly the encoded keys whose
// decoded form Match accepts.
func TestFilterSubjectAgreesWithMatch(t *testing.T) {
	filters := []string{">", "*", "user", "user.*", "user.>", "user.*.name", "*.name", "*.*",
		"a.*.c", "a.>", "é.>", "a=b.*", "user:1", "user:1.>", "=3A.*", "*.=3D", "a b.*.>"}
	keys := append(slices.Clone(matchKeys), "=3A.x", "=.x", "user:1.x.y", "a b.c.d", "y.=3D", "y.=")
	for _, fs := range filters {
		f := bucket.MustParseFilter(fs)
		for _, k := range keys {
			enc, err := bucket.EncodeKey(k)
			if err != nil {
				if f.Match(k) {
					t.Errorf("%q matches the invalid key %q", fs, k)
				}
				continue
			}
			if got, want := f.Match(k), subjectMatch(f.Subject(), enc); got != want {
				t.Errorf("%q.Match(%q) = %v, but subject %q on %q = %v", fs, k, got, f.Subject(), enc, want)
			}
		}
	}
}

func TestLiteralFilterIsAKey(t *testing.T) {
	for _, s := range []string{"user", "a.b.c", "user:1.é", "a=b"} {
		t.Run(s, func(t *testing.T) {
			f := bucket.MustParseFilter(s)
			enc, err := bucket.EncodeKey(f.String())
			if !f.Literal() || err != nil || enc != f.Subject() || !f.Match(s) {
				t.Errorf("Literal %v, EncodeKey %q, %v, Subject %q, Match %v", f.Literal(), enc, err, f.Subject(), f.Match(s))
			}
		})
	}
}
