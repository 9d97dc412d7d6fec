package bucket

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxKeyLen is the longest a key may be, in bytes after encoding: a byte
// that EncodeKey escapes counts 3.
const MaxKeyLen = 1024

// hexDigits are the digits of an escape; only uppercase is canonical.
const hexDigits = "0123456789ABCDEF"

// rawKeyByte marks the bytes that EncodeKey stores unchanged:
// [-/_.A-Za-z0-9]. NATS also allows '=' in keys, but '=' is the escape
// character, so it is escaped too.
var rawKeyByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-/_." {
		t[c] = true
	}
	return t
}()

// ValidateKey reports whether key is a valid key: non-empty UTF-8 with no
// control characters (below 0x20, and 0x7F), no '*' or '>' (they are
// reserved for filters), no empty token (no leading or trailing '.', no
// ".."), and at most MaxKeyLen bytes once encoded. It returns nil or an
// error wrapping ErrInvalidKey, such as
//
//	invalid key: key "a..b": empty token between dots
func ValidateKey(key string) error {
	if p := keyProblem(key); p != "" {
		return fmt.Errorf("%w: key %s: %s", ErrInvalidKey, quote(key), p)
	}
	return nil
}

// keyProblem returns what is wrong with key, or "" when it is valid. It
// allocates only when the key is invalid.
func keyProblem(key string) string {
	if key == "" {
		return "empty; a key needs at least one character"
	}
	if p := textProblem(key); p != "" {
		return p
	}
	if i := strings.IndexAny(key, "*>"); i >= 0 {
		return fmt.Sprintf("%q at byte %d is reserved for filters; keys cannot contain '*' or '>'", key[i], i)
	}
	if p := dotProblem(key); p != "" {
		return p
	}
	if n := encodedLen(key); n > MaxKeyLen {
		return fmt.Sprintf("%d bytes after encoding, over the limit of %d; "+
			"every byte outside [-/_.A-Za-z0-9] (including '=' and each byte of a non-ASCII character) takes 3 bytes encoded",
			n, MaxKeyLen)
	}
	return ""
}

// textProblem checks the rules that keys and filters share for their bytes:
// valid UTF-8 and no control characters.
func textProblem(s string) string {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7F {
				return fmt.Sprintf("control character %s at byte %d is not allowed", quoteRuneAt(s, i), i)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return fmt.Sprintf("not valid UTF-8 (byte 0x%02X at byte %d); keys are UTF-8 text", c, i)
		}
		i += size
	}
	return ""
}

// dotProblem checks the rule that keys and filters share for their tokens:
// none is empty. s is not empty.
func dotProblem(s string) string {
	switch {
	case s[0] == '.':
		return "starts with '.'"
	case s[len(s)-1] == '.':
		return "ends with '.'"
	case strings.Contains(s, ".."):
		return "empty token between dots"
	}
	return ""
}

// encodedLen returns the length of s once escaped.
func encodedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if !rawKeyByte[s[i]] {
			n += 2
		}
	}
	return n
}

// EncodeKey validates key as ValidateKey does and returns the form NATS
// stores: every byte outside [-/_.A-Za-z0-9], and '=' itself, becomes =XX
// with uppercase hex, one escape per UTF-8 byte. '.' is never escaped, so
// the encoded key has the same tokens as key. EncodeKey("user:123") is
// "user=3A123", and a key made only of [-/_.A-Za-z0-9] is returned as it
// is. It returns an error wrapping ErrInvalidKey when key is not valid.
func EncodeKey(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return escape(key, false), nil
}

// escape applies the key encoding to s. With wildcards, '*' and '>' are
// kept as they are (filters only hold them as whole tokens).
func escape(s string, wildcards bool) string {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; !rawKeyByte[c] && !(wildcards && (c == '*' || c == '>')) {
			n += 2
		}
	}
	if n == len(s) {
		return s
	}
	b := make([]byte, 0, n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if rawKeyByte[c] || wildcards && (c == '*' || c == '>') {
			b = append(b, c)
			continue
		}
		b = append(b, '=', hexDigits[c>>4], hexDigits[c&0xF])
	}
	return string(b)
}

// DecodeKey is the inverse of EncodeKey: it turns a key as NATS stores it
// back into the user's key. It accepts only canonical encodings, exactly
// the strings EncodeKey returns, so the mapping is one-to-one:
// EncodeKey(DecodeKey(s)) == s whenever DecodeKey succeeds. It returns an
// error wrapping ErrInvalidKey for anything else: '=' not followed by two
// uppercase hex digits, an escape of a byte that is stored raw (=2E for
// '.'), a raw byte that should have been escaped, or a result that is not a
// valid key (invalid UTF-8, a control character, a wildcard, an empty token,
// too long).
func DecodeKey(natsKey string) (string, error) {
	key, p := decode(natsKey)
	if p != "" {
		return "", fmt.Errorf("%w: encoded key %s: %s", ErrInvalidKey, quote(natsKey), p)
	}
	return key, nil
}

// decode returns the key natsKey encodes, or what is wrong with it.
func decode(s string) (key, problem string) {
	if s == "" {
		return "", "empty; a key needs at least one character"
	}
	if len(s) > MaxKeyLen {
		return "", fmt.Sprintf("%d bytes long, over the limit of %d", len(s), MaxKeyLen)
	}
	raw := true
	for i := 0; i < len(s) && raw; i++ {
		raw = rawKeyByte[s[i]]
	}
	// Nothing escaped, the usual case: the key is the string itself.
	key = s
	if !raw {
		if key, problem = unescape(s); problem != "" {
			return "", problem
		}
	}
	if p := keyProblem(key); p != "" {
		return "", fmt.Sprintf("decodes to %s, which is not a valid key: %s", quote(key), p)
	}
	return key, ""
}

// unescape returns the bytes that s, a key in NATS form, escapes, or what
// is wrong with its escapes or bytes.
func unescape(s string) (key, problem string) {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case rawKeyByte[c]:
			b = append(b, c)
		case c == '=':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", fmt.Sprintf("'=' at byte %d is not followed by two hex digits; "+
					"'=' starts an escape such as =3A, and '=' itself is stored as =3D", i)
			}
			if !isUpperHex(s[i+1]) || !isUpperHex(s[i+2]) {
				return "", fmt.Sprintf("escape %s at byte %d uses lowercase hex; the canonical form is %s",
					s[i:i+3], i, strings.ToUpper(s[i:i+3]))
			}
			v := unhex(s[i+1])<<4 | unhex(s[i+2])
			if rawKeyByte[v] {
				return "", fmt.Sprintf("escape %s at byte %d stands for %q, which is stored unescaped", s[i:i+3], i, v)
			}
			b = append(b, v)
			i += 2
		case c == '*' || c == '>':
			return "", fmt.Sprintf("%q at byte %d is a filter wildcard; keys cannot contain it", c, i)
		default:
			return "", fmt.Sprintf("byte 0x%02X at byte %d is outside [-/_.A-Za-z0-9] and must be escaped as =%02X", c, i, c)
		}
	}
	return string(b), ""
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isUpperHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'F'
}

// unhex returns the value of the uppercase hex digit c.
func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}
