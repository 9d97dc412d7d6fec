package bucket

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Info describes an existing bucket: its Config, as the server reports it,
// and its current size. In JSON it is one flat object.
type Info struct {
	Config
	// Values is the number of stored messages, history and tombstones
	// included. Wire: "values".
	Values uint64
	// Bytes is the size of the bucket's stream. Wire: "bytes".
	Bytes uint64
	// CreatedAt is when the bucket was created. Wire: "created_at",
	// RFC 3339 in UTC to the second.
	CreatedAt time.Time
	// Keys is the number of live keys when it is known at no cost: when
	// the server holds a built key index of the bucket (after a listing),
	// nil otherwise. Wire: "keys", left out when nil.
	Keys *int64
}

// infoWire is the JSON form of an Info.
type infoWire struct {
	configWire
	Values    uint64 `json:"values"`
	Bytes     uint64 `json:"bytes"`
	CreatedAt string `json:"created_at"`
	Keys      *int64 `json:"keys,omitempty"`
}

// MarshalJSON encodes i as one flat JSON object: every field of the
// Config, as Config.MarshalJSON writes them, followed by "values", "bytes",
// "created_at" (RFC 3339, UTC, whole seconds) and, when known, "keys". It
// returns no error of its own.
func (i Info) MarshalJSON() ([]byte, error) {
	return json.Marshal(infoWire{
		configWire: i.Config.wire(),
		Values:     i.Values,
		Bytes:      i.Bytes,
		CreatedAt:  i.CreatedAt.UTC().Format(time.RFC3339),
		Keys:       i.Keys,
	})
}

// UnmarshalJSON decodes what MarshalJSON writes. Unlike
// Config.UnmarshalJSON it is lenient, since clients read infos written by
// servers that may be newer: unknown fields are ignored, and an explicit
// history or replicas of 0 is kept as 0. Fields of the wrong type, and a
// created_at that is not RFC 3339, are errors wrapping ErrInvalidConfig.
// JSON null leaves i unchanged.
func (i *Info) UnmarshalJSON(b []byte) error {
	var out Info
	extra := func(field string, v json.RawMessage) error {
		if string(v) == "null" {
			return nil
		}
		var err error
		switch field {
		case "values":
			out.Values, err = jsonUint(field, v)
		case "bytes":
			out.Bytes, err = jsonUint(field, v)
		case "keys":
			var n uint64
			if n, err = jsonUint(field, v); err == nil {
				k := int64(n)
				out.Keys = &k
			}
		case "created_at":
			var s string
			if s, err = jsonString(field, v); err != nil {
				return err
			}
			t, perr := time.Parse(time.RFC3339, s)
			if perr != nil {
				return fmt.Errorf("%w: created_at %s: must be an RFC 3339 time such as %q", ErrInvalidConfig, quote(s), "2006-01-02T15:04:05Z")
			}
			out.CreatedAt = t.UTC()
		}
		return err
	}
	var r configReader
	if err := r.read(b, "bucket info", false, extra); err != nil {
		return err
	}
	if r.null {
		return nil
	}
	out.Config = r.cfg
	*i = out
	return nil
}

// jsonUint decodes v, the value of field, as a non-negative JSON integer.
func jsonUint(field string, v json.RawMessage) (uint64, error) {
	if kind := rawKind(v); kind != "a number" {
		return 0, fmt.Errorf("%w: %s: must be a non-negative integer, not %s", ErrInvalidConfig, field, kind)
	}
	n, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %s: must be a non-negative integer up to %d", ErrInvalidConfig, field, clip(string(v)), uint64(math.MaxUint64))
	}
	return n, nil
}
