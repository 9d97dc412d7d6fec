package kv_test

import (
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
)

// BenchmarkOneWriterPaired compares one writer's Puts under group commit
// and under SyncAlways, as BenchmarkPutDurability's 1writers cases do, but
// paired: each iteration runs a batch of Puts on a group-commit server and
// a batch on a sync-always server in the same process, in alternating
// order, so that slow phases of the disk (other processes' writeback) hit
// both alike. It reports the mean time of a Put in each mode and the ratio
// of their speeds, group commit ÷ sync-always.
func BenchmarkOneWriterPaired(b *testing.B) {
	ctx := benchCtx(b)
	gcStore, _ := kvtest.NewFileStore(b, embedded.GroupCommit)
	saStore, _ := kvtest.NewFileStore(b, embedded.SyncAlways)
	buckets := [2]*pairedBucket{
		{b: kvtest.NewBucket(b, gcStore, bucket.Config{Name: "pgc", Storage: bucket.FileStorage})},
		{b: kvtest.NewBucket(b, saStore, bucket.Config{Name: "psa", Storage: bucket.FileStorage})},
	}
	const batch = 200
	n := 0
	for b.Loop() {
		for k := range buckets {
			kb := buckets[(k+n)%2]
			t0 := time.Now()
			for i := range batch {
				if _, err := kb.b.Put(ctx, benchKeyNames[i%benchKeys], benchValue); err != nil {
					b.Fatal(err)
				}
			}
			kb.t += time.Since(t0)
		}
		n++
	}
	gc, sa := buckets[0].t, buckets[1].t
	b.ReportMetric(float64(gc.Microseconds())/float64(n*batch), "µs/put-gc")
	b.ReportMetric(float64(sa.Microseconds())/float64(n*batch), "µs/put-sa")
	b.ReportMetric(float64(sa)/float64(gc), "gc/sa")
}

// pairedBucket is a bucket of BenchmarkOneWriterPaired and the time spent in
// its Puts.
type pairedBucket struct {
	b *kv.Bucket
	t time.Duration
}
