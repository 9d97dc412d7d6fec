package kv_test

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ironkv/ironkv/bucket"
	"github.com/ironkv/ironkv/embedded"
	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/kvtest"
)

// BenchmarkCommitDelayPaired measures what embedded.Config.CommitDelay
// buys under group commit: Puts from 4, 16 and 64 concurrent writers on a
// server with the default delay and on one with the delay off, in the same
// process. Each iteration gives each server a 200 ms slice of load, in
// alternating order, so that slow phases of the disk and of the machine
// hit both alike. It reports the Puts a second of each, the ratio of the
// two (delay ÷ off) and the writes each sync served.
//
//	go test -run '^$' -bench CommitDelayPaired -benchtime 20x ./kv
func BenchmarkCommitDelayPaired(b *testing.B) {
	ctx := benchCtx(b)
	sides := [2]*delaySide{{name: "delay"}, {name: "off"}}
	for i, cfg := range []embedded.Config{{}, {CommitDelay: -1}} {
		srv := kvtest.NewServer(b, cfg)
		store := kvtest.StoreOn(b, srv)
		sides[i].srv = srv
		sides[i].b = kvtest.NewBucket(b, store, bucket.Config{Name: "delay" + strconv.Itoa(i), Storage: bucket.FileStorage})
	}
	const slice = 200 * time.Millisecond
	for _, writers := range []int{4, 16, 64} {
		b.Run(strconv.Itoa(writers)+"writers", func(b *testing.B) {
			for _, s := range sides {
				s.reset()
			}
			n := 0
			for b.Loop() {
				for k := range sides {
					s := sides[(k+n)%2]
					before := s.srv.SyncStats()
					var puts atomic.Int64
					var wg sync.WaitGroup
					t0 := time.Now()
					end := t0.Add(slice)
					for w := range writers {
						wg.Go(func() {
							for i := w; time.Now().Before(end); i += writers {
								if _, err := s.b.Put(ctx, benchKeyNames[i%benchKeys], benchValue); err != nil {
									b.Error(err)
									return
								}
								puts.Add(1)
							}
						})
					}
					wg.Wait()
					s.t += time.Since(t0)
					s.puts += puts.Load()
					after := s.srv.SyncStats()
					s.syncs += after.Syncs - before.Syncs
					s.waiters += after.Waiters - before.Waiters
				}
				n++
			}
			for _, s := range sides {
				b.ReportMetric(s.rate(), "puts/s-"+s.name)
				if s.syncs > 0 {
					b.ReportMetric(float64(s.waiters)/float64(s.syncs), "writes/sync-"+s.name)
				}
			}
			b.ReportMetric(sides[0].rate()/sides[1].rate(), "delay/off")
		})
	}
}

// A delaySide is one server of BenchmarkCommitDelayPaired and its totals.
type delaySide struct {
	name           string
	srv            *embedded.Server
	b              *kv.Bucket
	puts           int64
	t              time.Duration
	syncs, waiters uint64
}

func (s *delaySide) reset() { s.puts, s.t, s.syncs, s.waiters = 0, 0, 0, 0 }

func (s *delaySide) rate() float64 { return float64(s.puts) / s.t.Seconds() }
