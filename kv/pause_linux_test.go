package kv_test

import (
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kvtest"
	"golang.org/x/sys/unix"
)

// BenchmarkPublishAfterPause shows where a lone writer's time goes under
// group commit beyond the sync itself: a JetStream publish to the
// in-process server (file storage, periodic sync) right after a pause of
// 150 µs, about what a sync of the file system takes, against back to back.
// Whatever the pause (a syncfs, a sleep, or a spin that keeps the caller's
// thread busy), the server's threads go idle during it, and waking them
// lengthens the next round trip; see BENCHMARKS.md.
func BenchmarkPublishAfterPause(b *testing.B) {
	ctx := benchCtx(b)
	dir := b.TempDir()
	srv := kvtest.NewServer(b, embedded.Config{DataDir: dir, Durability: embedded.SyncPeriodicLosesRecentWrites})
	js := rawJetStream(b, srv)
	kvtest.NewBucket(b, kvtest.StoreOn(b, srv), bucket.Config{Name: "pause", Storage: bucket.FileStorage})
	d, err := os.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	const pause = 150 * time.Microsecond
	for _, c := range []struct {
		name  string
		pause func() error
	}{
		{"none", func() error { return nil }},
		{"syncfs", func() error { return unix.Syncfs(int(d.Fd())) }},
		// A yield after the pause lets the runtime wake an idle thread
		// before the publish needs one, as embedded's group commit does
		// after a lone caller's sync.
		{"syncfs-gosched", func() error { err := unix.Syncfs(int(d.Fd())); runtime.Gosched(); return err }},
		{"sleep", func() error { time.Sleep(pause); return nil }},
		{"spin", func() error {
			for t0 := time.Now(); time.Since(t0) < pause; {
			}
			return nil
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var rtt, ptime time.Duration
			for i := 0; b.Loop(); i++ {
				p0 := time.Now()
				if err := c.pause(); err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				ptime += t0.Sub(p0)
				if _, err := js.Publish(ctx, "$KV.APP_pause."+benchKeyNames[i%benchKeys], benchValue); err != nil {
					b.Fatal(err)
				}
				rtt += time.Since(t0)
			}
			b.ReportMetric(float64(rtt.Microseconds())/float64(b.N), "µs/publish")
			b.ReportMetric(float64(ptime.Microseconds())/float64(b.N), "µs/pause")
		})
	}
}
