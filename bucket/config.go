package bucket

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Storage is where a bucket's stream keeps its data.
type Storage string

// The storage kinds JetStream offers.
const (
	// FileStorage keeps data on disk; it is the default.
	FileStorage Storage = "file"
	// MemoryStorage keeps data in memory; it is lost when the server
	// stops.
	MemoryStorage Storage = "memory"
)

// Limits of a Config.
const (
	// MaxHistory is the most revisions a bucket can keep per key.
	MaxHistory = 64
	// MaxDescriptionLen is the longest description, in bytes, that
	// JetStream accepts.
	MaxDescriptionLen = 4096
)

// Config is what a bucket is: its name and its limits. The zero value of
// every field but Name is a valid default, so Config{Name: "orders"} is a
// complete configuration. In JSON (see MarshalJSON) the fields have the wire
// names of the Ironflow KV protocol, given after each field.
type Config struct {
	// Name is the bucket name without namespace prefix: 1 to 64
	// characters from [A-Za-z0-9_-]. Wire: "name".
	Name string
	// Description is free text. Wire: "description".
	Description string
	// TTL is the age after which a value expires, in whole seconds; 0
	// means never. Wire: "ttl_seconds", an integer.
	TTL time.Duration
	// MaxValueSize is the largest value in bytes; 0 means the server's
	// limit. Wire: "max_value_size".
	MaxValueSize int32
	// MaxBytes caps the size of the whole bucket, history included; 0
	// means unlimited. Wire: "max_bytes".
	MaxBytes int64
	// History is how many revisions are kept per key, 1 to 64; 0 means
	// the default, 1. Wire: "history".
	History int
	// Replicas is the number of JetStream replicas on a cluster: 1, 3
	// or 5; 0 means the default, 1. Wire: "replicas".
	Replicas int
	// Storage is FileStorage or MemoryStorage; "" means FileStorage.
	// Wire: "storage".
	Storage Storage
}

// WithDefaults returns c with its defaults made explicit: History 0 becomes
// 1, Replicas 0 becomes 1 and Storage "" becomes FileStorage. Other fields,
// invalid ones included, are unchanged. It returns no error.
func (c Config) WithDefaults() Config {
	if c.History == 0 {
		c.History = 1
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Storage == "" {
		c.Storage = FileStorage
	}
	return c
}

// Validate checks c, with defaults applied as WithDefaults does, and
// returns nil or an error about the first field that is wrong, in the order
// of the fields. A bad name gives an error wrapping ErrInvalidBucketName;
// anything else gives one wrapping ErrInvalidConfig that names the JSON
// field and its allowed values, such as
//
//	invalid bucket config: history 65: must be 1..64 (omit it for the default 1)
func (c Config) Validate() error {
	if err := ValidateName(c.Name); err != nil {
		return err
	}
	if p := c.problem(); p != "" {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, p)
	}
	return nil
}

// problem returns what is wrong with c apart from its name, or "".
func (c Config) problem() string {
	d := c.WithDefaults()
	switch {
	case len(c.Description) > MaxDescriptionLen:
		return fmt.Sprintf("description: %d bytes long; at most %d", len(c.Description), MaxDescriptionLen)
	case c.TTL < 0:
		return fmt.Sprintf("ttl_seconds %s: must not be negative; use 0 for values that never expire", seconds(c.TTL))
	case c.TTL > 0 && c.TTL < time.Second:
		return fmt.Sprintf("ttl_seconds %s: must be at least 1 when set; use 0 for values that never expire", seconds(c.TTL))
	case c.TTL%time.Second != 0:
		return fmt.Sprintf("ttl_seconds %s: must be a whole number of seconds (TTL is %v)", seconds(c.TTL), c.TTL)
	case c.MaxValueSize < 0:
		return fmt.Sprintf("max_value_size %d: must not be negative; use 0 for the server's limit", c.MaxValueSize)
	case c.MaxBytes < 0:
		return fmt.Sprintf("max_bytes %d: must not be negative; use 0 for no limit", c.MaxBytes)
	case c.MaxValueSize > 0 && c.MaxBytes > 0 && int64(c.MaxValueSize) > c.MaxBytes:
		return fmt.Sprintf("max_value_size %d is larger than max_bytes %d, so no value that size could be stored; "+
			"raise max_bytes or lower max_value_size", c.MaxValueSize, c.MaxBytes)
	case d.History < 1 || d.History > MaxHistory:
		return fmt.Sprintf("history %d: must be 1..%d (omit it for the default 1)", c.History, MaxHistory)
	case d.Replicas > 0 && d.Replicas%2 == 0:
		return fmt.Sprintf("replicas %d: must be 1, 3 or 5; an even count adds no fault tolerance "+
			"(%d replicas survive no more failures than %d)", c.Replicas, c.Replicas, c.Replicas-1)
	case d.Replicas != 1 && d.Replicas != 3 && d.Replicas != 5:
		return fmt.Sprintf("replicas %d: must be 1, 3 or 5 (omit it for the default 1)", c.Replicas)
	case d.Storage != FileStorage && d.Storage != MemoryStorage:
		return fmt.Sprintf("storage %s: must be %q or %q (omit it for %q)", quote(string(c.Storage)), FileStorage, MemoryStorage, FileStorage)
	}
	return ""
}

// seconds formats d in seconds, without a unit: "1.5", "-3".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// configWire is the JSON form of a Config. Info embeds it.
type configWire struct {
	Name         string  `json:"name"`
	Description  string  `json:"description"`
	TTLSeconds   int64   `json:"ttl_seconds"`
	MaxValueSize int32   `json:"max_value_size"`
	MaxBytes     int64   `json:"max_bytes"`
	History      int     `json:"history"`
	Replicas     int     `json:"replicas"`
	Storage      Storage `json:"storage"`
}

// configFields are the wire names of configWire, in order.
var configFields = []string{"name", "description", "ttl_seconds", "max_value_size", "max_bytes", "history", "replicas", "storage"}

func (c Config) wire() configWire {
	d := c.WithDefaults()
	ttl := int64(d.TTL / time.Second)
	if d.TTL%time.Second > 0 {
		ttl++ // round up, so that a short TTL never reads as 0, "never"
	}
	return configWire{
		Name:         d.Name,
		Description:  d.Description,
		TTLSeconds:   ttl,
		MaxValueSize: d.MaxValueSize,
		MaxBytes:     d.MaxBytes,
		History:      d.History,
		Replicas:     d.Replicas,
		Storage:      d.Storage,
	}
}

// MarshalJSON encodes c as a JSON object with every field present under
// its wire name and defaults made explicit, as WithDefaults does:
//
//	{"name":"orders","description":"","ttl_seconds":0,"max_value_size":0,
//	 "max_bytes":0,"history":1,"replicas":1,"storage":"file"}
//
// TTL is written in whole seconds; a TTL that is not (a bucket made by
// another NATS tool can have one) is rounded up, so a short TTL never reads
// as 0, which means never. MarshalJSON does not validate c and returns no
// error of its own.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(c.wire())
}

// UnmarshalJSON decodes a JSON object with the wire names MarshalJSON
// writes. It is strict, to catch mistakes before they become a bucket:
//
//   - an unknown field (such as "ttl" for "ttl_seconds") or a repeated one
//     is an error that lists the known fields;
//   - a field of the wrong JSON type is an error naming the field;
//   - ttl_seconds must be a non-negative integer that fits a time.Duration,
//     and the other numbers integers that fit their Go type (a JSON number
//     with an integer value, such as 1e3 or 60.0, counts; 1.5 does not);
//   - an explicit "history": 0 or "replicas": 0 is an error, since 0 is not
//     a valid count: omit the field to get the default, 1.
//
// An absent field, or one set to null, leaves the Go zero value, which for
// History, Replicas and Storage means the default. JSON null as a whole
// leaves c unchanged. UnmarshalJSON checks the shape of the document;
// Validate checks the values (name, ranges), so call it after. Every error
// wraps ErrInvalidConfig.
func (c *Config) UnmarshalJSON(b []byte) error {
	var w configReader
	if err := w.read(b, "bucket config", true, nil); err != nil {
		return err
	}
	if w.null {
		return nil
	}
	*c = w.cfg
	return nil
}

// configReader decodes the config fields of a JSON object, for Config and
// for Info.
type configReader struct {
	cfg  Config
	null bool // the document was JSON null
}

// read decodes the object b. Strict rejects unknown fields and explicit
// zero counts. Fields that are not config fields go to extra when it is not
// nil; without extra they are unknown.
func (r *configReader) read(b []byte, what string, strict bool, extra func(field string, v json.RawMessage) error) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return bad("%s is not valid JSON: %v", what, err)
	}
	if tok == nil {
		if _, err := dec.Token(); err != io.EOF {
			return bad("%s is not valid JSON: data after null", what)
		}
		r.null = true
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return bad("%s must be a JSON object, not %s", what, jsonKind(tok))
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad("%s is not valid JSON: %v", what, err)
		}
		field := tok.(string) // object keys are always strings
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return bad("%s is not valid JSON: %v", what, err)
		}
		if seen[field] {
			return bad("field %q appears twice in the %s", field, what)
		}
		seen[field] = true
		if err := r.field(field, v, strict); err != nil {
			if !errors.Is(err, errUnknownField) {
				return err
			}
			switch {
			case extra != nil:
				if err := extra(field, v); err != nil {
					return err
				}
			case strict:
				return bad("unknown field %s in the %s%s; the known fields are %s",
					quote(field), what, didYouMean(field), strings.Join(configFields, ", "))
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return bad("%s is not valid JSON: %v", what, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("%s is not valid JSON: data after the object", what)
	}
	return nil
}

// errUnknownField tells read that a field is not a config field.
var errUnknownField = errors.New("unknown field")

// field decodes one config field into r.cfg.
func (r *configReader) field(name string, v json.RawMessage, strict bool) error {
	if string(v) == "null" {
		switch name {
		case "name", "description", "ttl_seconds", "max_value_size", "max_bytes", "history", "replicas", "storage":
			return nil
		}
		return errUnknownField
	}
	var err error
	switch name {
	case "name":
		r.cfg.Name, err = jsonString(name, v)
	case "description":
		r.cfg.Description, err = jsonString(name, v)
	case "storage":
		var s string
		s, err = jsonString(name, v)
		r.cfg.Storage = Storage(s)
	case "ttl_seconds":
		var n int64
		n, err = jsonInt(name, v, math.MinInt64, math.MaxInt64/int64(time.Second), "a whole number of seconds", "0..9223372036")
		if err == nil && n < 0 {
			err = fmt.Errorf("%w: ttl_seconds %d: must not be negative; use 0 for values that never expire", ErrInvalidConfig, n)
		}
		r.cfg.TTL = time.Duration(n) * time.Second
	case "max_value_size":
		var n int64
		n, err = jsonInt(name, v, math.MinInt32, math.MaxInt32, "an integer number of bytes", "0..2147483647")
		r.cfg.MaxValueSize = int32(n)
	case "max_bytes":
		r.cfg.MaxBytes, err = jsonInt(name, v, math.MinInt64, math.MaxInt64, "an integer number of bytes", "0..9223372036854775807")
	case "history", "replicas":
		var n int64
		allowed := "1..64"
		if name == "replicas" {
			allowed = "1, 3 or 5"
		}
		n, err = jsonInt(name, v, math.MinInt32, math.MaxInt32, "an integer", allowed)
		if err == nil && n == 0 && strict {
			err = fmt.Errorf("%w: %s 0: not a valid count; omit %q for the default 1", ErrInvalidConfig, name, name)
		}
		if name == "history" {
			r.cfg.History = int(n)
		} else {
			r.cfg.Replicas = int(n)
		}
	default:
		return errUnknownField
	}
	return err
}

// didYouMean suggests the known field that an unknown one probably meant,
// as "; did you mean "ttl_seconds"?", or returns "".
func didYouMean(field string) string {
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s))
	}
	for _, k := range configFields {
		if norm(k) == norm(field) || len(field) >= 3 && strings.HasPrefix(k, strings.ToLower(field)) {
			return fmt.Sprintf(" (did you mean %q?)", k)
		}
	}
	return ""
}

// jsonString decodes v, the value of field, as a JSON string.
func jsonString(field string, v json.RawMessage) (string, error) {
	var s string
	if len(v) == 0 || v[0] != '"' {
		return "", fmt.Errorf("%w: %s: must be a JSON string, not %s", ErrInvalidConfig, field, rawKind(v))
	}
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrInvalidConfig, field, err)
	}
	return s, nil
}

// jsonInt decodes v, the value of field, as a JSON integer in [lo, hi];
// unit describes what the number counts and allowed the values Validate
// accepts, for messages.
func jsonInt(field string, v json.RawMessage, lo, hi int64, unit, allowed string) (int64, error) {
	if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return 0, fmt.Errorf("%w: %s: must be %s, not %s", ErrInvalidConfig, field, unit, rawKind(v))
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	s := clip(string(v))
	if err != nil {
		f, ferr := strconv.ParseFloat(string(v), 64)
		switch {
		case ferr == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53:
			n = int64(f) // an integer written as 1e3 or 60.0
		case ferr == nil && f != math.Trunc(f):
			return 0, fmt.Errorf("%w: %s %s: must be %s, without a fraction", ErrInvalidConfig, field, s, unit)
		default:
			return 0, fmt.Errorf("%w: %s %s: out of range; must be %s", ErrInvalidConfig, field, s, allowed)
		}
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%w: %s %s: out of range; must be %s", ErrInvalidConfig, field, s, allowed)
	}
	return n, nil
}

// rawKind names the JSON type of the raw value v, for messages.
func rawKind(v json.RawMessage) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// jsonKind names the JSON type of a token from json.Decoder.Token.
func jsonKind(tok json.Token) string {
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '[' {
			return "an array"
		}
		return "an object"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	}
	return "null"
}
