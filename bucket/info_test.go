package bucket_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
)

func TestInfoMarshalJSON(t *testing.T) {
	info := bucket.Info{
		Config:    bucket.Config{Name: "orders", TTL: time.Minute, History: 5},
		Values:    42,
		Bytes:     4096,
		CreatedAt: time.Date(2025, 3, 4, 5, 6, 7, 890, time.FixedZone("CET", 3600)),
	}
	want := `{"name":"orders","description":"","ttl_seconds":60,"max_value_size":0,"max_bytes":0,"history":5,"replicas":1,"storage":"file",` +
		`"values":42,"bytes":4096,"created_at":"2025-03-04T04:06:07Z"}`
	for _, v := range []any{info, &info} {
		b, err := json.Marshal(v)
		if err != nil || string(b) != want {
			t.Errorf("json.Marshal(%T) = %s, %v\nwant %s", v, b, err, want)
		}
	}
	// The live key count, when known, comes last.
	info.Keys = new(int64(3))
	want = want[:len(want)-1] + `,"keys":3}`
	if b, err := json.Marshal(info); err != nil || string(b) != want {
		t.Errorf("json.Marshal with keys = %s, %v\nwant %s", b, err, want)
	}
}

func TestInfoJSONRoundTrip(t *testing.T) {
	tests := []bucket.Info{
		{Config: bucket.Config{Name: "a"}},
		{
			Config: bucket.Config{Name: "orders", Description: "d", TTL: time.Hour, MaxValueSize: 1,
				MaxBytes: 2, History: 64, Replicas: 3, Storage: bucket.MemoryStorage},
			Values:    1<<64 - 1,
			Bytes:     1 << 40,
			CreatedAt: time.Date(2024, 12, 31, 23, 59, 59, 999999999, time.UTC),
			Keys:      new(int64(7)),
		},
	}
	for _, in := range tests {
		t.Run(in.Name, func(t *testing.T) {
			b, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			var got bucket.Info
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("Unmarshal(%s) = %v", b, err)
			}
			want := in
			want.Config = in.Config.WithDefaults()
			want.CreatedAt = in.CreatedAt.UTC().Truncate(time.Second)
			if (got.Keys == nil) != (in.Keys == nil) || got.Keys != nil && *got.Keys != *in.Keys {
				t.Errorf("keys: round trip gave %v, want %v", got.Keys, in.Keys)
			}
			got.Keys, want.Keys = nil, nil
			if got != want {
				t.Errorf("round trip gave %+v, want %+v", got, want)
			}
		})
	}
}

func TestInfoUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name, in string
		want     bucket.Info
	}{
		{"unknown fields ignored", `{"name":"a","values":1,"future":{"x":[1,2]},"state":null}`,
			bucket.Info{Config: bucket.Config{Name: "a"}, Values: 1}},
		{"explicit zero history kept", `{"name":"a","history":0,"replicas":0}`,
			bucket.Info{Config: bucket.Config{Name: "a"}}},
		{"fractional seconds and offset", `{"created_at":"2025-01-02T03:04:05.5+02:00"}`,
			bucket.Info{CreatedAt: time.Date(2025, 1, 2, 1, 4, 5, 5e8, time.UTC)}},
		{"nulls", `{"values":null,"bytes":null,"created_at":null}`, bucket.Info{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got bucket.Info
			if err := json.Unmarshal([]byte(tc.in), &got); err != nil {
				t.Fatalf("Unmarshal(%s) = %v", tc.in, err)
			}
			if got != tc.want || got.CreatedAt.Location() != time.UTC {
				t.Errorf("Unmarshal(%s) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestInfoUnmarshalJSONErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"negative values", `{"values":-1}`, `values -1: must be a non-negative integer up to 18446744073709551615`},
		{"string bytes", `{"bytes":"1"}`, `bytes: must be a non-negative integer, not a string`},
		{"bad time", `{"created_at":"yesterday"}`, `created_at "yesterday": must be an RFC 3339 time such as "2006-01-02T15:04:05Z"`},
		{"numeric time", `{"created_at":1700000000}`, `created_at: must be a JSON string, not a number`},
		{"bad config field", `{"ttl_seconds":"x"}`, `ttl_seconds: must be a whole number of seconds, not a string`},
		{"not an object", `[1]`, `bucket info must be a JSON object, not an array`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got bucket.Info
			err := json.Unmarshal([]byte(tc.in), &got)
			if !errors.Is(err, bucket.ErrInvalidConfig) {
				t.Fatalf("Unmarshal(%s) = %v, want an error wrapping ErrInvalidConfig", tc.in, err)
			}
			if want := "invalid bucket config: " + tc.want; err.Error() != want {
				t.Errorf("Unmarshal(%s) error\n got: %s\nwant: %s", tc.in, err, want)
			}
		})
	}
}
