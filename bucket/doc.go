// Package bucket defines what an ironkv bucket is: its Config and Info,
// the namespaces that keep user and system buckets apart, and the rules and
// codec for bucket names, keys and filters. It is pure: no I/O, no NATS.
// Package kv applies it to JetStream.
//
// # Names and namespaces
//
// A bucket name is 1 to 64 characters from [A-Za-z0-9_-] (ValidateName).
// The NATS bucket behind it carries a Namespace prefix, added by Qualify
// after validation: user buckets live under App ("APP_"), system state under
// SysConfig ("SYS_config_") and SysSecrets ("SYS_secrets_"). Since the prefix
// is always added, whatever name a user sends names an APP_ bucket and can
// never reach a SYS_ one. Strip removes the prefix again, and only for
// buckets of its own namespace, so listings show only the caller's buckets.
//
// # Keys
//
// A key is a non-empty UTF-8 string (ValidateKey). '.' separates its
// tokens, which are never empty: no leading or trailing '.', no "..".
// '*' and '>' are reserved for filters, and control characters (below 0x20,
// and 0x7F) are rejected. Every other character is allowed.
//
// NATS allows only [-/_=.A-Za-z0-9] in keys, so EncodeKey escapes every
// other byte, and '=' itself, as =XX with uppercase hex, one escape per
// UTF-8 byte: "user:123" is stored as "user=3A123", "a=b" as "a=3Db" and
// "é" as "=C3=A9". The library encodes on the way in and decodes on the way
// out (DecodeKey); users never see the escaped form, and NATS tools see keys
// that stay readable when they are plain. A key may be at most MaxKeyLen
// (1024) bytes once encoded, so a character that needs escaping costs 3
// bytes of that limit per byte.
//
// The mapping is one-to-one. DecodeKey accepts exactly the strings EncodeKey
// produces and rejects every other spelling (lowercase hex, "=2E" for '.',
// a raw ':'), so two NATS keys never decode to the same user key, and
// EncodeKey(DecodeKey(s)) == s whenever DecodeKey succeeds. A key written
// by another NATS client that is not a canonical encoding is reported as an
// error, never silently renamed.
//
// # Filters
//
// A Filter (ParseFilter) selects keys by tokens: a token that is exactly
// "*" matches any one token, a final token ">" matches one or more, and ""
// or ">" alone match every key. Other tokens are literal and follow the key
// rules. A wildcard inside a token is an error that shows the form that was
// probably meant:
//
//	invalid key: filter "user-*": '*' must be a whole token, as in "user.*"
//
// Because escaping works byte by byte and never touches '.', an encoded key
// has the same tokens as the key. So Filter.Subject, the filter with its
// literal tokens encoded, matches on the NATS side exactly the keys that
// Filter.Match accepts on the user side.
//
// # Configuration
//
// Config has a useful zero value: every field but Name defaults (History and
// Replicas 0 mean 1, Storage "" means file), and Validate applies those
// defaults before it checks ranges. The JSON form uses the wire names of the
// Ironflow KV protocol (see Config) and is deliberately strict:
//
//   - Unknown fields are errors that list the known ones, so a typo such as
//     "ttl" for "ttl_seconds" fails loudly instead of creating a bucket
//     that never expires. Info, which clients read, ignores unknown fields.
//   - An absent "history" or "replicas" means the default, 1; an explicit 0
//     is an error that says to omit the field. In Go, where absent and 0
//     cannot be told apart, 0 means the default.
//   - ttl_seconds is an integer number of seconds; fractions, negative
//     numbers and strings are errors.
//
// Marshalling writes every field with its default made explicit, so what
// MarshalJSON writes for a config c unmarshals to c.WithDefaults().
// UnmarshalJSON checks the shape of the document; Validate checks the
// values, and reports the first problem it finds.
//
// # Errors
//
// Every validation error wraps one of ErrInvalidKey, ErrInvalidBucketName or
// ErrInvalidConfig, and its message names the value, says what is wrong and,
// where there is one, how to fix it. Long values are shortened in messages.
package bucket
