package embedded

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkSyncCost compares what one writer pays per write for each way
// of making it durable: append 128 bytes to a file in a temporary
// directory, then fsync the file (what nats-server's sync-always does per
// message), fdatasync it, or syncfs its file system (what GroupCommit does
// once for every write waiting). With a single writer there is nothing to
// share: this is the sync alone, and BENCHMARKS.md says where the rest of
// the two modes' difference at one writer lies.
func BenchmarkSyncCost(b *testing.B) {
	dir := b.TempDir()
	f, err := os.OpenFile(filepath.Join(dir, "1.blk"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	d, err := os.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	record := make([]byte, 128)
	for _, c := range []struct {
		name string
		sync func() error
	}{
		{"fsync", f.Sync},
		{"fdatasync", func() error { return unix.Fdatasync(int(f.Fd())) }},
		{"syncfs", func() error { return syncFS(d) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := f.Write(record); err != nil {
					b.Fatal(err)
				}
				if err := c.sync(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
