package bucket

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Sentinel errors. Every validation error in this package wraps exactly one
// of them with %w, after a message that names the offending value, says what
// is wrong with it and, where there is one, shows the fix. Test for them with
// errors.Is; package kv re-exports the same values.
var (
	// ErrInvalidKey is wrapped by every error about a key, an encoded key
	// or a filter.
	ErrInvalidKey = errors.New("invalid key")
	// ErrInvalidBucketName is wrapped by every error about a bucket name.
	ErrInvalidBucketName = errors.New("invalid bucket name")
	// ErrInvalidConfig is wrapped by every error about a bucket Config or
	// its JSON form, except for the name (ErrInvalidBucketName).
	ErrInvalidConfig = errors.New("invalid bucket config")
)

// maxQuoted is how many bytes of a user value an error message quotes before
// it shortens the value with "...".
const maxQuoted = 64

// quote returns s quoted for an error message, cut short (on a rune
// boundary) when it is long, so a 1 MB key does not make a 1 MB message.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}

// quoteRuneAt describes the character that starts at byte i of s for an
// error message: a quoted rune such as ':' or '\n', or the raw byte in hex
// when s is not valid UTF-8 there.
func quoteRuneAt(s string, i int) string {
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size <= 1 {
		return fmt.Sprintf("byte 0x%02X", s[i])
	}
	return strconv.QuoteRune(r)
}

// clip shortens s for an error message the way quote does, without quotes.
func clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
