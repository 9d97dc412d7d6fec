package bucket_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
)

func TestWithDefaults(t *testing.T) {
	tests := []struct {
		name    string
		in, out bucket.Config
	}{
		{"zero", bucket.Config{Name: "a"},
			bucket.Config{Name: "a", History: 1, Replicas: 1, Storage: bucket.FileStorage}},
		{"set fields kept",
			bucket.Config{Name: "a", History: 5, Replicas: 3, Storage: bucket.MemoryStorage, TTL: time.Minute},
			bucket.Config{Name: "a", History: 5, Replicas: 3, Storage: bucket.MemoryStorage, TTL: time.Minute}},
		{"invalid fields kept",
			bucket.Config{Name: "a", History: -1, Replicas: 2, Storage: "disk"},
			bucket.Config{Name: "a", History: -1, Replicas: 2, Storage: "disk"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.WithDefaults(); got != tc.out {
				t.Errorf("WithDefaults() = %+v, want %+v", got, tc.out)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	ok := bucket.Config{Name: "orders"}
	with := func(f func(*bucket.Config)) bucket.Config {
		c := ok
		f(&c)
		return c
	}
	tests := []struct {
		name     string
		cfg      bucket.Config
		sentinel error  // nil for a valid config
		want     string // the message after the sentinel's
	}{
		{"zero value with a name", ok, nil, ""},
		{"everything set", bucket.Config{
			Name: "orders", Description: "all orders", TTL: 24 * time.Hour, MaxValueSize: 1024,
			MaxBytes: 1 << 20, History: 64, Replicas: 5, Storage: bucket.MemoryStorage,
		}, nil, ""},
		{"history 1", with(func(c *bucket.Config) { c.History = 1 }), nil, ""},
		{"replicas 3", with(func(c *bucket.Config) { c.Replicas = 3 }), nil, ""},
		{"ttl one second", with(func(c *bucket.Config) { c.TTL = time.Second }), nil, ""},
		{"value size equals bytes", with(func(c *bucket.Config) { c.MaxValueSize, c.MaxBytes = 100, 100 }), nil, ""},
		{"value size without bytes", with(func(c *bucket.Config) { c.MaxValueSize = 100 }), nil, ""},
		{"description at limit", with(func(c *bucket.Config) { c.Description = strings.Repeat("d", 4096) }), nil, ""},

		{"no name", bucket.Config{}, bucket.ErrInvalidBucketName,
			`bucket name "": empty; use 1..64 characters from [A-Za-z0-9_-]`},
		{"bad name", with(func(c *bucket.Config) { c.Name = "my.bucket" }), bucket.ErrInvalidBucketName,
			`bucket name "my.bucket": character '.' at byte 2 is not allowed; use only [A-Za-z0-9_-]`},
		{"description too long", with(func(c *bucket.Config) { c.Description = strings.Repeat("d", 4097) }), bucket.ErrInvalidConfig,
			`description: 4097 bytes long; at most 4096`},
		{"negative ttl", with(func(c *bucket.Config) { c.TTL = -3 * time.Second }), bucket.ErrInvalidConfig,
			`ttl_seconds -3: must not be negative; use 0 for values that never expire`},
		{"ttl under a second", with(func(c *bucket.Config) { c.TTL = 500 * time.Millisecond }), bucket.ErrInvalidConfig,
			`ttl_seconds 0.5: must be at least 1 when set; use 0 for values that never expire`},
		{"fractional ttl", with(func(c *bucket.Config) { c.TTL = 1500 * time.Millisecond }), bucket.ErrInvalidConfig,
			`ttl_seconds 1.5: must be a whole number of seconds (TTL is 1.5s)`},
		{"negative max_value_size", with(func(c *bucket.Config) { c.MaxValueSize = -1 }), bucket.ErrInvalidConfig,
			`max_value_size -1: must not be negative; use 0 for the server's limit`},
		{"negative max_bytes", with(func(c *bucket.Config) { c.MaxBytes = -1 }), bucket.ErrInvalidConfig,
			`max_bytes -1: must not be negative; use 0 for no limit`},
		{"value larger than bucket", with(func(c *bucket.Config) { c.MaxValueSize, c.MaxBytes = 2048, 1024 }), bucket.ErrInvalidConfig,
			`max_value_size 2048 is larger than max_bytes 1024, so no value that size could be stored; raise max_bytes or lower max_value_size`},
		{"history 65", with(func(c *bucket.Config) { c.History = 65 }), bucket.ErrInvalidConfig,
			`history 65: must be 1..64 (omit it for the default 1)`},
		{"negative history", with(func(c *bucket.Config) { c.History = -1 }), bucket.ErrInvalidConfig,
			`history -1: must be 1..64 (omit it for the default 1)`},
		{"replicas 2", with(func(c *bucket.Config) { c.Replicas = 2 }), bucket.ErrInvalidConfig,
			`replicas 2: must be 1, 3 or 5; an even count adds no fault tolerance (2 replicas survive no more failures than 1)`},
		{"replicas 4", with(func(c *bucket.Config) { c.Replicas = 4 }), bucket.ErrInvalidConfig,
			`replicas 4: must be 1, 3 or 5; an even count adds no fault tolerance (4 replicas survive no more failures than 3)`},
		{"replicas 7", with(func(c *bucket.Config) { c.Replicas = 7 }), bucket.ErrInvalidConfig,
			`replicas 7: must be 1, 3 or 5 (omit it for the default 1)`},
		{"negative replicas", with(func(c *bucket.Config) { c.Replicas = -1 }), bucket.ErrInvalidConfig,
			`replicas -1: must be 1, 3 or 5 (omit it for the default 1)`},
		{"unknown storage", with(func(c *bucket.Config) { c.Storage = "disk" }), bucket.ErrInvalidConfig,
			`storage "disk": must be "file" or "memory" (omit it for "file")`},
		{"storage case matters", with(func(c *bucket.Config) { c.Storage = "File" }), bucket.ErrInvalidConfig,
			`storage "File": must be "file" or "memory" (omit it for "file")`},
		{"first problem wins", bucket.Config{Name: "a", History: 99, Replicas: 2}, bucket.ErrInvalidConfig,
			`history 99: must be 1..64 (omit it for the default 1)`},
		{"name before the rest", bucket.Config{Name: "", History: 99}, bucket.ErrInvalidBucketName,
			`bucket name "": empty; use 1..64 characters from [A-Za-z0-9_-]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.sentinel == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("Validate() = %v, want an error wrapping %v", err, tc.sentinel)
			}
			if other := map[error]error{bucket.ErrInvalidConfig: bucket.ErrInvalidBucketName,
				bucket.ErrInvalidBucketName: bucket.ErrInvalidConfig}[tc.sentinel]; errors.Is(err, other) {
				t.Errorf("Validate() = %v also wraps %v", err, other)
			}
			if want := tc.sentinel.Error() + ": " + tc.want; err.Error() != want {
				t.Errorf("Validate() error\n got: %s\nwant: %s", err, want)
			}
		})
	}
}

func TestConfigMarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		cfg  bucket.Config
		want string
	}{
		{"defaults made explicit", bucket.Config{Name: "orders"},
			`{"name":"orders","description":"","ttl_seconds":0,"max_value_size":0,"max_bytes":0,"history":1,"replicas":1,"storage":"file"}`},
		{"every field", bucket.Config{
			Name: "orders", Description: "all orders", TTL: time.Hour, MaxValueSize: 1024,
			MaxBytes: 1 << 20, History: 10, Replicas: 3, Storage: bucket.MemoryStorage,
		}, `{"name":"orders","description":"all orders","ttl_seconds":3600,"max_value_size":1024,"max_bytes":1048576,"history":10,"replicas":3,"storage":"memory"}`},
		{"sub-second ttl rounds up", bucket.Config{Name: "a", TTL: 1500 * time.Millisecond},
			`{"name":"a","description":"","ttl_seconds":2,"max_value_size":0,"max_bytes":0,"history":1,"replicas":1,"storage":"file"}`},
		{"tiny ttl never reads as 0", bucket.Config{Name: "a", TTL: time.Nanosecond},
			`{"name":"a","description":"","ttl_seconds":1,"max_value_size":0,"max_bytes":0,"history":1,"replicas":1,"storage":"file"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range []any{tc.cfg, &tc.cfg} {
				b, err := json.Marshal(v)
				if err != nil || string(b) != tc.want {
					t.Errorf("json.Marshal(%T) = %s, %v\nwant %s", v, b, err, tc.want)
				}
			}
		})
	}
}

func TestConfigJSONRoundTrip(t *testing.T) {
	tests := []bucket.Config{
		{Name: "a"},
		{Name: "orders", Description: "all \"orders\" ü", TTL: 90 * time.Second, MaxValueSize: 1 << 20,
			MaxBytes: 1 << 30, History: 64, Replicas: 5, Storage: bucket.MemoryStorage},
		{Name: "x", History: 1, Replicas: 1, Storage: bucket.FileStorage},
		{Name: "y", MaxBytes: 1<<63 - 1, MaxValueSize: 1<<31 - 1, TTL: 9223372036 * time.Second},
	}
	for _, cfg := range tests {
		t.Run(cfg.Name, func(t *testing.T) {
			b, err := json.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var got bucket.Config
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("Unmarshal(%s) = %v", b, err)
			}
			if want := cfg.WithDefaults(); got != want {
				t.Errorf("round trip of %+v gave %+v, want %+v", cfg, got, want)
			}
		})
	}
}

func TestConfigUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name, in string
		want     bucket.Config
	}{
		{"minimal", `{"name":"a"}`, bucket.Config{Name: "a"}},
		{"absent history and replicas mean default", `{"name":"a","ttl_seconds":60}`, bucket.Config{Name: "a", TTL: time.Minute}},
		{"every field", `{"name":"o","description":"d","ttl_seconds":3600,"max_value_size":10,"max_bytes":100,"history":5,"replicas":3,"storage":"memory"}`,
			bucket.Config{Name: "o", Description: "d", TTL: time.Hour, MaxValueSize: 10, MaxBytes: 100, History: 5, Replicas: 3, Storage: bucket.MemoryStorage}},
		{"null fields are absent", `{"name":"a","history":null,"replicas":null,"storage":null,"ttl_seconds":null}`, bucket.Config{Name: "a"}},
		{"integer-valued numbers", `{"ttl_seconds":1e3,"history":2.0}`, bucket.Config{TTL: 1000 * time.Second, History: 2}},
		{"whitespace", " {\n\t\"name\" : \"a\" }\n", bucket.Config{Name: "a"}},
		{"empty object", `{}`, bucket.Config{}},
		{"shape only; Validate checks ranges", `{"name":"bad name","history":99,"replicas":2,"max_bytes":-1,"storage":"disk"}`,
			bucket.Config{Name: "bad name", History: 99, Replicas: 2, MaxBytes: -1, Storage: "disk"}},
		{"max ttl", `{"ttl_seconds":9223372036}`, bucket.Config{TTL: 9223372036 * time.Second}},
		{"explicit empty storage", `{"storage":""}`, bucket.Config{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got bucket.Config
			if err := json.Unmarshal([]byte(tc.in), &got); err != nil {
				t.Fatalf("Unmarshal(%s) = %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("Unmarshal(%s) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
	t.Run("null leaves the config unchanged", func(t *testing.T) {
		c := bucket.Config{Name: "keep"}
		if err := json.Unmarshal([]byte(`null`), &c); err != nil || c.Name != "keep" {
			t.Errorf("Unmarshal(null) = %v, config %+v", err, c)
		}
	})
}

func TestConfigUnmarshalJSONErrors(t *testing.T) {
	const known = "; the known fields are name, description, ttl_seconds, max_value_size, max_bytes, history, replicas, storage"
	tests := []struct {
		name, in, want string
	}{
		{"explicit history 0", `{"name":"a","history":0}`, `history 0: not a valid count; omit "history" for the default 1`},
		{"explicit replicas 0", `{"name":"a","replicas":0}`, `replicas 0: not a valid count; omit "replicas" for the default 1`},
		{"unknown field", `{"name":"a","colour":"red"}`, `unknown field "colour" in the bucket config` + known},
		{"ttl for ttl_seconds", `{"name":"a","ttl":60}`, `unknown field "ttl" in the bucket config (did you mean "ttl_seconds"?)` + known},
		{"camelCase", `{"maxBytes":1}`, `unknown field "maxBytes" in the bucket config (did you mean "max_bytes"?)` + known},
		{"wrong case", `{"Name":"a"}`, `unknown field "Name" in the bucket config (did you mean "name"?)` + known},
		{"unknown null field", `{"extra":null}`, `unknown field "extra" in the bucket config` + known},
		{"duplicate field", `{"name":"a","name":"b"}`, `field "name" appears twice in the bucket config`},
		{"fractional ttl", `{"ttl_seconds":1.5}`, `ttl_seconds 1.5: must be a whole number of seconds, without a fraction`},
		{"negative ttl", `{"ttl_seconds":-5}`, `ttl_seconds -5: must not be negative; use 0 for values that never expire`},
		{"string ttl", `{"ttl_seconds":"60"}`, `ttl_seconds: must be a whole number of seconds, not a string`},
		{"duration string ttl", `{"ttl_seconds":"1h"}`, `ttl_seconds: must be a whole number of seconds, not a string`},
		{"ttl too large", `{"ttl_seconds":9223372037}`, `ttl_seconds 9223372037: out of range; must be 0..9223372036`},
		{"ttl huge", `{"ttl_seconds":1e300}`, `ttl_seconds 1e300: out of range; must be 0..9223372036`},
		{"ttl beyond float", `{"ttl_seconds":1e400}`, `ttl_seconds 1e400: out of range; must be 0..9223372036`},
		{"history overflow", `{"history":1e10}`, `history 1e10: out of range; must be 1..64`},
		{"replicas overflow", `{"replicas":-99999999999}`, `replicas -99999999999: out of range; must be 1, 3 or 5`},
		{"bool history", `{"history":true}`, `history: must be an integer, not a boolean`},
		{"string history", `{"history":"3"}`, `history: must be an integer, not a string`},
		{"fractional replicas", `{"replicas":2.5}`, `replicas 2.5: must be an integer, without a fraction`},
		{"max_value_size overflow", `{"max_value_size":2147483648}`, `max_value_size 2147483648: out of range; must be 0..2147483647`},
		{"max_bytes overflow", `{"max_bytes":9223372036854775808}`, `max_bytes 9223372036854775808: out of range; must be 0..9223372036854775807`},
		{"max_bytes array", `{"max_bytes":[1]}`, `max_bytes: must be an integer number of bytes, not an array`},
		{"name number", `{"name":42}`, `name: must be a JSON string, not a number`},
		{"description object", `{"description":{}}`, `description: must be a JSON string, not an object`},
		{"storage bool", `{"storage":false}`, `storage: must be a JSON string, not a boolean`},
		{"array", `[]`, `bucket config must be a JSON object, not an array`},
		{"string", `"a"`, `bucket config must be a JSON object, not a string`},
		{"number", `1`, `bucket config must be a JSON object, not a number`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c bucket.Config
			err := json.Unmarshal([]byte(tc.in), &c)
			if !errors.Is(err, bucket.ErrInvalidConfig) {
				t.Fatalf("Unmarshal(%s) = %v, want an error wrapping ErrInvalidConfig", tc.in, err)
			}
			if want := "invalid bucket config: " + tc.want; err.Error() != want {
				t.Errorf("Unmarshal(%s) error\n got: %s\nwant: %s", tc.in, err, want)
			}
		})
	}
}

// TestConfigUnmarshalJSONDirect calls UnmarshalJSON on bytes that
// encoding/json has not checked first.
func TestConfigUnmarshalJSONDirect(t *testing.T) {
	for _, in := range []string{``, `{`, `{"name":}`, `{"name":"a"`, `{"name":"a"} {}`, `{"name" "a"}`,
		`nul`, `null x`, `{1:2}`, `}`, `{"a":1,}`, "\xff"} {
		t.Run(in, func(t *testing.T) {
			var c bucket.Config
			err := c.UnmarshalJSON([]byte(in))
			if !errors.Is(err, bucket.ErrInvalidConfig) {
				t.Errorf("UnmarshalJSON(%q) = %v, want an error wrapping ErrInvalidConfig", in, err)
			}
		})
	}
}
