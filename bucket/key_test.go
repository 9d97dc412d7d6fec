package bucket_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ironkv/ironkv/bucket"
)

// codecCases are valid keys and their encodings.
var codecCases = []struct {
	name, key, enc string
}{
	{"plain", "user", "user"},
	{"colon", "user:123", "user=3A123"},
	{"tokens", "a.b.c", "a.b.c"},
	{"raw alphabet", "a/b-c_d.E9", "a/b-c_d.E9"},
	{"equals escaped", "a=b", "a=3Db"},
	{"equals then hex-looking", "=3a", "=3D3a"},
	{"percent", "%", "=25"},
	{"space", "hello world", "hello=20world"},
	{"at", "user@example.com", "user=40example.com"},
	{"two-byte rune", "é", "=C3=A9"},
	{"three-byte runes", "日本", "=E6=97=A5=E6=9C=AC"},
	{"four-byte rune", "🔑", "=F0=9F=94=91"},
	{"C1 control is not ASCII control", "\u0080", "=C2=80"},
	{"tilde", "~", "=7E"},
	{"unicode tokens", "é.ü", "=C3=A9.=C3=BC"},
	{"1024 raw bytes", strings.Repeat("a", 1024), strings.Repeat("a", 1024)},
	{"1024 encoded bytes", strings.Repeat("%", 341) + "a", strings.Repeat("=25", 341) + "a"},
}

func TestEncodeDecodeKey(t *testing.T) {
	for _, tc := range codecCases {
		t.Run(tc.name, func(t *testing.T) {
			if err := bucket.ValidateKey(tc.key); err != nil {
				t.Fatalf("ValidateKey(%q) = %v, want nil", tc.key, err)
			}
			enc, err := bucket.EncodeKey(tc.key)
			if err != nil || enc != tc.enc {
				t.Fatalf("EncodeKey(%q) = %q, %v; want %q, nil", tc.key, enc, err, tc.enc)
			}
			dec, err := bucket.DecodeKey(tc.enc)
			if err != nil || dec != tc.key {
				t.Fatalf("DecodeKey(%q) = %q, %v; want %q, nil", tc.enc, dec, err, tc.key)
			}
			if len(enc) > bucket.MaxKeyLen {
				t.Fatalf("encoded length %d > MaxKeyLen", len(enc))
			}
		})
	}
}

func TestValidateKeyErrors(t *testing.T) {
	long := strings.Repeat("a", 1025)
	tests := []struct {
		name, key, want string
	}{
		{"empty", "", `invalid key: key "": empty; a key needs at least one character`},
		{"double dot", "a..b", `invalid key: key "a..b": empty token between dots`},
		{"leading dot", ".a", `invalid key: key ".a": starts with '.'`},
		{"trailing dot", "a.", `invalid key: key "a.": ends with '.'`},
		{"only dot", ".", `invalid key: key ".": starts with '.'`},
		{"star", "user.*", `invalid key: key "user.*": '*' at byte 5 is reserved for filters; keys cannot contain '*' or '>'`},
		{"star in token", "a*b", `invalid key: key "a*b": '*' at byte 1 is reserved for filters; keys cannot contain '*' or '>'`},
		{"gt", "a>", `invalid key: key "a>": '>' at byte 1 is reserved for filters; keys cannot contain '*' or '>'`},
		{"newline", "a\nb", `invalid key: key "a\nb": control character '\n' at byte 1 is not allowed`},
		{"nul", "\x00", `invalid key: key "\x00": control character '\x00' at byte 0 is not allowed`},
		{"del", "a\x7f", `invalid key: key "a\x7f": control character '\x7f' at byte 1 is not allowed`},
		{"invalid utf-8", "a\xffb", `invalid key: key "a\xffb": not valid UTF-8 (byte 0xFF at byte 1); keys are UTF-8 text`},
		{"truncated utf-8", "\xc3", `invalid key: key "\xc3": not valid UTF-8 (byte 0xC3 at byte 0); keys are UTF-8 text`},
		{"1025 raw bytes", long, `invalid key: key "` + long[:64] + `"...: 1025 bytes after encoding, over the limit of 1024; ` +
			`every byte outside [-/_.A-Za-z0-9] (including '=' and each byte of a non-ASCII character) takes 3 bytes encoded`},
		{"1026 encoded bytes", strings.Repeat("%", 342), `invalid key: key "` + strings.Repeat("%", 64) + `"...: 1026 bytes after encoding, over the limit of 1024; ` +
			`every byte outside [-/_.A-Za-z0-9] (including '=' and each byte of a non-ASCII character) takes 3 bytes encoded`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for fn, f := range map[string]func(string) error{
				"ValidateKey": bucket.ValidateKey,
				"EncodeKey":   func(k string) error { _, err := bucket.EncodeKey(k); return err },
			} {
				err := f(tc.key)
				if !errors.Is(err, bucket.ErrInvalidKey) {
					t.Fatalf("%s(%q) = %v, want an error wrapping ErrInvalidKey", fn, tc.key, err)
				}
				if err.Error() != tc.want {
					t.Errorf("%s(%q) error\n got: %s\nwant: %s", fn, tc.key, err, tc.want)
				}
			}
		})
	}
}

func TestDecodeKeyErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", `encoded key "": empty; a key needs at least one character`},
		{"lowercase hex", "user=3a123", `encoded key "user=3a123": escape =3a at byte 4 uses lowercase hex; the canonical form is =3A`},
		{"mixed case hex", "=c3=A9", `encoded key "=c3=A9": escape =c3 at byte 0 uses lowercase hex; the canonical form is =C3`},
		{"equals at end", "a=", `encoded key "a=": '=' at byte 1 is not followed by two hex digits; '=' starts an escape such as =3A, and '=' itself is stored as =3D`},
		{"one hex digit", "a=3", `encoded key "a=3": '=' at byte 1 is not followed by two hex digits; '=' starts an escape such as =3A, and '=' itself is stored as =3D`},
		{"not hex", "a=ZZ", `encoded key "a=ZZ": '=' at byte 1 is not followed by two hex digits; '=' starts an escape such as =3A, and '=' itself is stored as =3D`},
		{"escaped dot", "a=2Eb", `encoded key "a=2Eb": escape =2E at byte 1 stands for '.', which is stored unescaped`},
		{"escaped letter", "=41", `encoded key "=41": escape =41 at byte 0 stands for 'A', which is stored unescaped`},
		{"escaped dash", "=2D", `encoded key "=2D": escape =2D at byte 0 stands for '-', which is stored unescaped`},
		{"raw colon", "user:123", `encoded key "user:123": byte 0x3A at byte 4 is outside [-/_.A-Za-z0-9] and must be escaped as =3A`},
		{"raw space", "a b", `encoded key "a b": byte 0x20 at byte 1 is outside [-/_.A-Za-z0-9] and must be escaped as =20`},
		{"raw non-ASCII", "é", `encoded key "é": byte 0xC3 at byte 0 is outside [-/_.A-Za-z0-9] and must be escaped as =C3`},
		{"raw star", "a.*", `encoded key "a.*": '*' at byte 2 is a filter wildcard; keys cannot contain it`},
		{"raw gt", "a.>", `encoded key "a.>": '>' at byte 2 is a filter wildcard; keys cannot contain it`},
		{"escaped star", "=2A", `encoded key "=2A": decodes to "*", which is not a valid key: '*' at byte 0 is reserved for filters; keys cannot contain '*' or '>'`},
		{"escaped control", "a=0A", `encoded key "a=0A": decodes to "a\n", which is not a valid key: control character '\n' at byte 1 is not allowed`},
		{"invalid utf-8", "=FF", `encoded key "=FF": decodes to "\xff", which is not a valid key: not valid UTF-8 (byte 0xFF at byte 0); keys are UTF-8 text`},
		{"truncated utf-8", "=C3", `encoded key "=C3": decodes to "\xc3", which is not a valid key: not valid UTF-8 (byte 0xC3 at byte 0); keys are UTF-8 text`},
		{"empty token", "a..b", `encoded key "a..b": decodes to "a..b", which is not a valid key: empty token between dots`},
		{"leading dot", ".a", `encoded key ".a": decodes to ".a", which is not a valid key: starts with '.'`},
		{"too long", strings.Repeat("a", 1025), `encoded key "` + strings.Repeat("a", 64) + `"...: 1025 bytes long, over the limit of 1024`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := bucket.DecodeKey(tc.in)
			if !errors.Is(err, bucket.ErrInvalidKey) {
				t.Fatalf("DecodeKey(%q) = %q, %v; want an error wrapping ErrInvalidKey", tc.in, got, err)
			}
			if want := "invalid key: " + tc.want; err.Error() != want {
				t.Errorf("DecodeKey(%q) error\n got: %s\nwant: %s", tc.in, err, want)
			}
		})
	}
}

// TestKeyCodecAllBytes checks every single byte and every escape of one
// byte: exactly one spelling of each decodes, and it is what EncodeKey
// produces.
func TestKeyCodecAllBytes(t *testing.T) {
	decoded := map[string]string{} // user key -> the NATS key that decoded to it
	try := func(s string) {
		k, err := bucket.DecodeKey(s)
		if err != nil {
			return
		}
		if prev, dup := decoded[k]; dup {
			t.Errorf("DecodeKey(%q) and DecodeKey(%q) both give %q", prev, s, k)
		}
		decoded[k] = s
		if enc, err := bucket.EncodeKey(k); err != nil || enc != s {
			t.Errorf("EncodeKey(DecodeKey(%q)) = %q, %v; want %q", s, enc, err, s)
		}
	}
	const hex = "0123456789ABCDEFabcdef"
	for c := 0; c < 256; c++ {
		try("x" + string([]byte{byte(c)}) + "x")
	}
	for _, h := range hex {
		for _, l := range hex {
			try("x=" + string(h) + string(l) + "x")
		}
	}
	// Every ASCII byte that is not a control character, '*' or '>' must be
	// reachable as a key.
	for c := 0x20; c < 0x7F; c++ {
		k := "x" + string(rune(c)) + "x"
		_, ok := decoded[k]
		if want := c != '*' && c != '>'; ok != want {
			t.Errorf("key %q decodable = %v, want %v", k, ok, want)
		}
	}
}
