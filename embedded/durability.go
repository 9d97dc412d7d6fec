package embedded

import (
	"fmt"
	"strings"
)

// Durability says when the embedded JetStream server fsyncs file-storage
// writes, and so which failures can lose a write it has already
// acknowledged.
type Durability int

const (
	// SyncAlways, the zero value, makes the server fsync every write before
	// acknowledging it (JetStream's sync_always). An acknowledged write
	// survives a process crash, a kernel crash and a power loss.
	SyncAlways Durability = iota

	// SyncPeriodicLosesRecentWrites is JetStream's own default: a write
	// reaches the operating system before it is acknowledged but is fsynced
	// only every Config.SyncInterval (two minutes unless set). It survives a
	// process crash; a power loss or kernel crash can lose up to the last
	// interval of acknowledged writes. It is opt-in and named for what it
	// risks.
	SyncPeriodicLosesRecentWrites
)

var durabilityNames = [...]string{
	SyncAlways:                    "sync-always",
	SyncPeriodicLosesRecentWrites: "sync-periodic-loses-recent-writes",
}

// String returns the mode's flag spelling, "sync-always" or
// "sync-periodic-loses-recent-writes", or "Durability(N)" for a value that
// is not a known mode.
func (d Durability) String() string {
	if d.valid() {
		return durabilityNames[d]
	}
	return fmt.Sprintf("Durability(%d)", int(d))
}

func (d Durability) valid() bool {
	return d >= 0 && int(d) < len(durabilityNames)
}

// ParseDurability returns the mode whose String is s, ignoring case and
// surrounding space. Any other input is an error wrapping ErrInvalidConfig
// that lists the accepted spellings.
func ParseDurability(s string) (Durability, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for d, name := range durabilityNames {
		if t == name {
			return Durability(d), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown durability %q (want %q or %q)",
		ErrInvalidConfig, s, SyncAlways.String(), SyncPeriodicLosesRecentWrites.String())
}

// MarshalText returns the mode's String, so a Durability can be written as
// JSON or used with flag.TextVar. It returns an error wrapping
// ErrInvalidConfig for a value that is not a known mode.
func (d Durability) MarshalText() ([]byte, error) {
	if !d.valid() {
		return nil, fmt.Errorf("%w: %v is not a known durability", ErrInvalidConfig, d)
	}
	return []byte(d.String()), nil
}

// UnmarshalText sets d from its String spelling, as ParseDurability does,
// and returns the same errors.
func (d *Durability) UnmarshalText(text []byte) error {
	v, err := ParseDurability(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
