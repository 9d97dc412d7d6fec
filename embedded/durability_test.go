package embedded_test

import (
	"errors"
	"flag"
	"testing"

	"github.com/ironkv/ironkv/embedded"
)

func TestParseDurability(t *testing.T) {
	tests := []struct {
		in      string
		want    embedded.Durability
		wantErr bool
	}{
		{"group-commit", embedded.GroupCommit, false},
		{"sync-always", embedded.SyncAlways, false},
		{"sync-periodic-loses-recent-writes", embedded.SyncPeriodicLosesRecentWrites, false},
		{" Sync-Always ", embedded.SyncAlways, false},
		{"", 0, true},
		{"always", 0, true},
		{"sync-periodic", 0, true},
		{"1", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := embedded.ParseDurability(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseDurability(%q) = %v, want error", tt.in, got)
				}
				if !errors.Is(err, embedded.ErrInvalidConfig) {
					t.Errorf("error %q does not wrap ErrInvalidConfig", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseDurability(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestDurabilityString(t *testing.T) {
	for _, d := range []embedded.Durability{embedded.GroupCommit, embedded.SyncAlways, embedded.SyncPeriodicLosesRecentWrites} {
		got, err := embedded.ParseDurability(d.String())
		if err != nil || got != d {
			t.Errorf("ParseDurability(%q) = %v, %v; want %v", d.String(), got, err, d)
		}
	}
	if got := embedded.Durability(9).String(); got != "Durability(9)" {
		t.Errorf("String of unknown = %q", got)
	}
	if _, err := embedded.Durability(9).MarshalText(); !errors.Is(err, embedded.ErrInvalidConfig) {
		t.Errorf("MarshalText of unknown: err = %v, want ErrInvalidConfig", err)
	}
}

func TestDurabilityFlag(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var d embedded.Durability
	fs.TextVar(&d, "durability", embedded.SyncAlways, "fsync policy")
	if d != embedded.SyncAlways {
		t.Fatalf("default = %v", d)
	}
	if err := fs.Parse([]string{"-durability", "sync-periodic-loses-recent-writes"}); err != nil {
		t.Fatal(err)
	}
	if d != embedded.SyncPeriodicLosesRecentWrites {
		t.Errorf("after Parse: %v", d)
	}
	fs.SetOutput(discard{})
	if err := fs.Parse([]string{"-durability", "fast"}); err == nil {
		t.Error("Parse accepted an unknown durability")
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
