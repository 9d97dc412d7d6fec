package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// member is one top-level member of a JSON object: its decoded name and its
// value as compact JSON.
type member struct {
	key   string
	value json.RawMessage
}

// parseObject parses b, which must be exactly one JSON object in UTF-8, into
// its top-level members in document order. Nested values are kept as they
// are, compacted, so numbers keep every digit. It returns an error wrapping
// ErrNotObject that says what b is instead: not UTF-8, not JSON, another
// JSON type, or an object with a repeated top-level name.
func parseObject(b []byte) ([]member, error) {
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w, got invalid UTF-8", ErrNotObject)
	}
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%w, got an empty body", ErrNotObject)
	}
	if !json.Valid(b) {
		var v any
		err := json.Unmarshal(b, &v)
		if err == nil {
			err = errors.New("not a single JSON value")
		}
		return nil, fmt.Errorf("%w, got invalid JSON: %v", ErrNotObject, err)
	}
	if kind := jsonKind(trimmed[0]); kind != "object" {
		return nil, fmt.Errorf("%w, got %s", ErrNotObject, kind)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	if _, err := d.Token(); err != nil { // '{'
		return nil, fmt.Errorf("%w, got invalid JSON: %v", ErrNotObject, err)
	}
	members := []member{}
	seen := map[string]bool{}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("%w, got invalid JSON: %v", ErrNotObject, err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%w, got invalid JSON: member name %v is not a string", ErrNotObject, tok)
		}
		if seen[key] {
			return nil, fmt.Errorf("%w with unique names, got %q twice", ErrNotObject, key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%w, got invalid JSON: %v", ErrNotObject, err)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, fmt.Errorf("%w, got invalid JSON: %v", ErrNotObject, err)
		}
		members = append(members, member{key: key, value: buf.Bytes()})
	}
	if _, err := d.Token(); err != nil { // '}'
		return nil, fmt.Errorf("%w, got invalid JSON: %v", ErrNotObject, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w, got more than one JSON value", ErrNotObject)
	}
	return members, nil
}

// jsonKind names the JSON type of a value from its first byte.
func jsonKind(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// encodeObject writes members as one compact JSON object, in order.
func encodeObject(members []member) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	out := []byte{'{'}
	for i, m := range members {
		if i > 0 {
			out = append(out, ',')
		}
		buf.Reset()
		_ = enc.Encode(m.key) // a string always encodes
		out = append(out, bytes.TrimRight(buf.Bytes(), "\n")...)
		out = append(out, ':')
		out = append(out, m.value...)
	}
	return append(out, '}')
}

// isNull reports whether a compact JSON value is null.
func isNull(v json.RawMessage) bool { return string(v) == "null" }

// merge applies patch to doc as a shallow merge, the top level of JSON Merge
// Patch (RFC 7396): a member of patch replaces the member of doc with the
// same name, or is added after doc's members; a member of patch whose value
// is null removes the member of doc. Nested objects are replaced whole, not
// merged. Members keep the order of doc, then the order of patch.
func merge(doc, patch []member) []member {
	byKey := make(map[string]json.RawMessage, len(patch))
	for _, p := range patch {
		byKey[p.key] = p.value
	}
	out := make([]member, 0, len(doc)+len(patch))
	inDoc := make(map[string]bool, len(doc))
	for _, m := range doc {
		inDoc[m.key] = true
		v, ok := byKey[m.key]
		switch {
		case !ok:
			out = append(out, m)
		case !isNull(v):
			out = append(out, member{key: m.key, value: v})
		}
	}
	for _, p := range patch {
		if !inDoc[p.key] && !isNull(p.value) {
			out = append(out, p)
		}
	}
	return out
}

// Merge returns the JSON object doc with patch applied as Patch applies it:
// a shallow merge where each top-level member of patch replaces or adds the
// member of the same name and a member set to null removes it. A nil or
// empty doc stands for an absent document. The result is compact JSON, with
// doc's members first in their order, then the new ones of patch. Merge
// returns an error wrapping ErrNotObject when doc or patch is not a JSON
// object.
func Merge(doc, patch []byte) ([]byte, error) {
	var d []member
	if len(doc) > 0 {
		var err error
		if d, err = parseObject(doc); err != nil {
			return nil, err
		}
	}
	p, err := parseObject(patch)
	if err != nil {
		return nil, err
	}
	return encodeObject(merge(d, p)), nil
}
