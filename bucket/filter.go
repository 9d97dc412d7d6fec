package bucket

import (
	"fmt"
	"strings"
)

// A Filter selects keys by their tokens, for listing and watching. Parse one
// with ParseFilter. The zero Filter matches every key, like ParseFilter(">").
// Filters are comparable: two filters parsed from the same string are ==,
// and so are the zero Filter and the ones parsed from "" and ">".
type Filter struct {
	s       string // the user's form; "" for every key
	subject string // s with literal tokens encoded; "" for every key
}

// ParseFilter parses a filter over keys. Its tokens are split on '.'; a
// token that is exactly "*" matches any one token, and a final token ">"
// matches one or more. Other tokens are literal and follow the key rules (no
// empty tokens, valid UTF-8, no control characters). "" and ">" both match
// every key. ParseFilter returns an error wrapping ErrInvalidKey when s
// breaks a rule, showing the right form when a wildcard is misplaced:
//
//	invalid key: filter "user-*": '*' must be a whole token, as in "user.*"
func ParseFilter(s string) (Filter, error) {
	if s == "" || s == ">" {
		return Filter{}, nil
	}
	if p := filterProblem(s); p != "" {
		return Filter{}, fmt.Errorf("%w: filter %s: %s", ErrInvalidKey, quote(s), p)
	}
	return Filter{s: s, subject: escape(s, true)}, nil
}

// MustParseFilter is ParseFilter for filters known to be valid, in tests
// and examples. It returns no error: it panics if s is not a valid filter.
func MustParseFilter(s string) Filter {
	f, err := ParseFilter(s)
	if err != nil {
		panic(err)
	}
	return f
}

// filterProblem returns what is wrong with the filter s, or "" when it is
// valid. s is neither "" nor ">".
func filterProblem(s string) string {
	if p := textProblem(s); p != "" {
		return p
	}
	if p := dotProblem(s); p != "" {
		return p
	}
	rest := s
	for more := true; more; {
		var tok string
		tok, rest, more = strings.Cut(rest, ".")
		switch {
		case tok == "*":
		case tok == ">":
			if more {
				return fmt.Sprintf("'>' must be the final token (it matches one or more tokens), as in %q", suggest(s))
			}
		default:
			switch i := strings.IndexAny(tok, "*>"); {
			case i < 0:
			case tok[i] == '*':
				return fmt.Sprintf("'*' must be a whole token, as in %q", suggest(s))
			default:
				return fmt.Sprintf("'>' must be a whole final token, as in %q", suggest(s))
			}
		}
	}
	if n := encodedLen(s) - 2*strings.Count(s, "*") - 2*strings.Count(s, ">"); n > MaxKeyLen {
		return fmt.Sprintf("%d bytes after encoding, so it could match nothing: keys are at most %d", n, MaxKeyLen)
	}
	return ""
}

// suggest rewrites a filter whose wildcards are misplaced into the filter
// its author most likely meant: each '*' inside a token becomes a token of
// its own, and '>' becomes a final token that ends the filter. Separator
// characters next to a wildcard are dropped: "user-*" becomes "user.*".
func suggest(s string) string {
	const seps = "-_:/=@ "
	var out []string
	for tok := range strings.SplitSeq(s, ".") {
		end := false
		if i := strings.IndexByte(tok, '>'); i >= 0 {
			tok, end = strings.TrimRight(tok[:i], seps), true
		}
		parts := strings.Split(tok, "*")
		for i, p := range parts {
			if i > 0 {
				out = append(out, "*")
				p = strings.TrimLeft(p, seps)
			}
			if i < len(parts)-1 {
				p = strings.TrimRight(p, seps)
			}
			if p != "" {
				out = append(out, p)
			}
		}
		if end {
			out = append(out, ">")
			break
		}
	}
	return strings.Join(out, ".")
}

// String returns the filter as the user wrote it, with ">" for a filter
// that matches every key. ParseFilter(f.String()) == f. It returns no
// error.
func (f Filter) String() string {
	if f.s == "" {
		return ">"
	}
	return f.s
}

// All reports whether f matches every key. It returns no error.
func (f Filter) All() bool {
	return f.s == ""
}

// Match reports whether the user key key (decoded, as users see it)
// matches f. A key that ValidateKey rejects matches no filter. It returns
// no error.
func (f Filter) Match(key string) bool {
	if keyProblem(key) != "" {
		return false
	}
	if f.s == "" {
		return true
	}
	fs, ks := f.s, key
	for {
		ft, frest, fmore := strings.Cut(fs, ".")
		if ft == ">" {
			return true // ks holds at least one token: keys never end with '.'
		}
		kt, krest, kmore := strings.Cut(ks, ".")
		if ft != "*" && ft != kt {
			return false
		}
		if !fmore || !kmore {
			return fmore == kmore
		}
		fs, ks = frest, krest
	}
}

// Subject returns the filter as NATS sees it: literal tokens encoded as
// EncodeKey encodes keys, wildcards kept, and ">" for a filter that matches
// every key. Because the key encoding works byte by byte and never touches
// '.', Subject matches exactly the encoded keys whose decoded form Match
// accepts. Prefix it with the bucket's "$KV.<bucket>." to filter a stream.
// It returns no error.
func (f Filter) Subject() string {
	if f.subject == "" {
		return ">"
	}
	return f.subject
}

// LiteralPrefix returns the literal (decoded) tokens before f's first
// wildcard: ["user", "42"] for "user.42.*", every token of a literal filter,
// and none for a filter that starts with a wildcard. Listing can use it to
// skip keys that cannot match. It returns no error.
func (f Filter) LiteralPrefix() []string {
	var out []string
	for tok := range strings.SplitSeq(f.s, ".") {
		if tok == "*" || tok == ">" || tok == "" {
			break
		}
		out = append(out, tok)
	}
	return out
}

// Literal reports whether f has no wildcard, so that it matches exactly one
// key, f.String(). It returns no error.
func (f Filter) Literal() bool {
	return f.s != "" && !strings.ContainsAny(f.s, "*>")
}
