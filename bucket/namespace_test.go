package bucket_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ironkv/ironkv/bucket"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name, in, want string // want "" for a valid name
	}{
		{"letters", "orders", ""},
		{"all classes", "Order_2024-q1", ""},
		{"one char", "a", ""},
		{"64 chars", strings.Repeat("a", 64), ""},
		{"empty", "", `invalid bucket name: bucket name "": empty; use 1..64 characters from [A-Za-z0-9_-]`},
		{"65 chars", strings.Repeat("a", 65), `invalid bucket name: bucket name "` + strings.Repeat("a", 64) + `"...: 65 characters long; use at most 64`},
		{"space", "my bucket", `invalid bucket name: bucket name "my bucket": character ' ' at byte 2 is not allowed; use only [A-Za-z0-9_-]`},
		{"dot", "a.b", `invalid bucket name: bucket name "a.b": character '.' at byte 1 is not allowed; use only [A-Za-z0-9_-]`},
		{"wildcard", "a*", `invalid bucket name: bucket name "a*": character '*' at byte 1 is not allowed; use only [A-Za-z0-9_-]`},
		{"non-ASCII", "café", `invalid bucket name: bucket name "café": character 'é' at byte 3 is not allowed; use only [A-Za-z0-9_-]`},
		{"invalid UTF-8", "a\xff", `invalid bucket name: bucket name "a\xff": character byte 0xFF at byte 1 is not allowed; use only [A-Za-z0-9_-]`},
		{"slash", "a/b", `invalid bucket name: bucket name "a/b": character '/' at byte 1 is not allowed; use only [A-Za-z0-9_-]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := bucket.ValidateName(tc.in)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ValidateName(%q) = %v, want nil", tc.in, err)
				}
				return
			}
			if !errors.Is(err, bucket.ErrInvalidBucketName) {
				t.Fatalf("ValidateName(%q) = %v, want an error wrapping ErrInvalidBucketName", tc.in, err)
			}
			if err.Error() != tc.want {
				t.Errorf("ValidateName(%q) error\n got: %s\nwant: %s", tc.in, err, tc.want)
			}
			if _, qerr := bucket.App.Qualify(tc.in); qerr == nil || qerr.Error() != err.Error() {
				t.Errorf("App.Qualify(%q) = %v, want the ValidateName error", tc.in, qerr)
			}
		})
	}
}

func TestQualifyStripStreamName(t *testing.T) {
	tests := []struct {
		ns         bucket.Namespace
		name, full string
		stream     string
	}{
		{bucket.App, "orders", "APP_orders", "KV_APP_orders"},
		{bucket.SysConfig, "default", "SYS_config_default", "KV_SYS_config_default"},
		{bucket.SysSecrets, "prod", "SYS_secrets_prod", "KV_SYS_secrets_prod"},
		{bucket.App, "SYS_config_x", "APP_SYS_config_x", "KV_APP_SYS_config_x"},
	}
	for _, tc := range tests {
		t.Run(tc.full, func(t *testing.T) {
			full, err := tc.ns.Qualify(tc.name)
			if err != nil || full != tc.full {
				t.Fatalf("Qualify(%q) = %q, %v; want %q", tc.name, full, err, tc.full)
			}
			name, ok := tc.ns.Strip(full)
			if !ok || name != tc.name {
				t.Errorf("Strip(%q) = %q, %v; want %q, true", full, name, ok, tc.name)
			}
			if got := tc.ns.StreamName(tc.name); got != tc.stream {
				t.Errorf("StreamName(%q) = %q, want %q", tc.name, got, tc.stream)
			}
		})
	}
}

func TestStripRejects(t *testing.T) {
	tests := []struct {
		ns   bucket.Namespace
		full string
	}{
		{bucket.App, "orders"},     // no prefix
		{bucket.App, "APP_"},       // empty name
		{bucket.App, "app_orders"}, // case matters
		{bucket.App, "APP_a.b"},    // not a name Qualify can produce
		{bucket.App, "APP_" + strings.Repeat("a", 65)},
		{bucket.App, "SYS_config_default"},     // another namespace
		{bucket.SysConfig, "SYS_secrets_prod"}, // the sibling SYS_ namespace
		{bucket.SysSecrets, "SYS_config_default"},
		{bucket.SysConfig, "APP_SYS_config_x"},           // a user bucket with a SYS-like name
		{bucket.Namespace("SYS_"), "SYS_config_default"}, // a longer known namespace owns it
		{bucket.Namespace("SYS_"), "SYS_secrets_prod"},
	}
	for _, tc := range tests {
		t.Run(string(tc.ns)+"/"+shortName(tc.full), func(t *testing.T) {
			if name, ok := tc.ns.Strip(tc.full); ok {
				t.Errorf("%q.Strip(%q) = %q, true; want false", tc.ns, tc.full, name)
			}
		})
	}
	// A namespace that is a prefix of no other still claims its own names.
	if name, ok := bucket.Namespace("SYS_").Strip("SYS_other"); !ok || name != "other" {
		t.Errorf(`Namespace("SYS_").Strip("SYS_other") = %q, %v; want "other", true`, name, ok)
	}
}

// TestNamespacesAreDisjoint checks that no valid name qualified in one
// namespace is claimed by another.
func TestNamespacesAreDisjoint(t *testing.T) {
	all := []bucket.Namespace{bucket.App, bucket.SysConfig, bucket.SysSecrets}
	names := []string{"a", "config_x", "secrets_x", "SYS_config_x", "APP_x", "default", "-", "_"}
	for _, ns := range all {
		for _, n := range names {
			full, err := ns.Qualify(n)
			if err != nil {
				t.Fatal(err)
			}
			for _, other := range all {
				name, ok := other.Strip(full)
				if want := other == ns; ok != want || ok && name != n {
					t.Errorf("%q.Strip(%q) = %q, %v; want ok = %v", other, full, name, ok, want)
				}
			}
		}
	}
}
