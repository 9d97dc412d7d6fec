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
	// GroupCommit, the zero value, acknowledges a write made through a
	// kv.Store only once it is on stable storage, and shares one sync among
	// all the writes that wait at that moment, as the group commit of etcd
	// and PostgreSQL shares one log flush. The server itself runs with
	// JetStream's periodic sync: each write reaches the operating system
	// before JetStream acknowledges it (R1 file streams in the default
	// persist mode), then the kv.Store waits on Server.Sync, which syncs the
	// store's file system once for every writer waiting.
	//
	// An acknowledged write survives a process crash, a kernel crash and a
	// power loss, where the disk honours flushes. A watcher or a reader can
	// see a write a moment before it is durable, as with Redis. Writes made
	// by plain NATS clients (the nats CLI, another program on ClientListen)
	// get the periodic mode's promise unless the client calls Sync itself.
	// Put the data dir on a file system of its own, so that a sync does not
	// also flush unrelated files. Config.CommitDelay lets a sync wait a
	// moment for more writes to share it.
	//
	// A cluster member, and a system without syncfs(2) (anything but
	// Linux), runs SyncAlways instead; Server.Durability says which.
	GroupCommit Durability = iota

	// SyncAlways makes the server fsync every write before acknowledging it
	// (JetStream's sync_always): it protects every acknowledged write, from
	// any client, against process crash, kernel crash and power loss, at one
	// fsync per write.
	SyncAlways

	// SyncPeriodicLosesRecentWrites is JetStream's own default: a write
	// reaches the operating system before it is acknowledged but is fsynced
	// only every Config.SyncInterval (two minutes unless set). It protects
	// acknowledged writes against a process crash only; a power loss or
	// kernel crash can lose up to the last interval of them. It is opt-in
	// and named for what it risks.
	SyncPeriodicLosesRecentWrites
)

var durabilityNames = [...]string{
	GroupCommit:                   "group-commit",
	SyncAlways:                    "sync-always",
	SyncPeriodicLosesRecentWrites: "sync-periodic-loses-recent-writes",
}

// String returns the mode's flag spelling, "group-commit", "sync-always"
// or "sync-periodic-loses-recent-writes", or "Durability(N)" for a value
// that is not a known mode.
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
	return 0, fmt.Errorf("%w: unknown durability %q (want %q, %q or %q)",
		ErrInvalidConfig, s, GroupCommit, SyncAlways, SyncPeriodicLosesRecentWrites)
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
